// JwksCache: single-flight fetching, cooldown for unknown-kid refetches, last good set kept.
#include "oidc/jwks_cache.h"

#include <utility>

#include "common/log.h"

namespace cl::oidc {

JwksCache::JwksCache(std::string jwks_uri, FetchTextFn fetch, const Clock& clock,
                     UnixMillis cooldown, UnixMillis max_age)
    : jwks_uri_(std::move(jwks_uri)),
      fetch_(std::move(fetch)),
      clock_(clock),
      cooldown_(cooldown),
      max_age_(max_age) {}

std::shared_ptr<const crypto::Jwks> JwksCache::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::Get() {
  std::shared_ptr<const crypto::Jwks> keys;
  UnixMillis fetched_at;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys = keys_;
    fetched_at = fetched_at_;
  }
  if (!keys) return FetchCold();
  if (clock_.Now() - fetched_at < max_age_) return keys;
  // Too old: one caller refetches; the others go on with the held set meanwhile rather than
  // queue behind a network call.
  std::unique_lock<std::mutex> fetch_lock(fetch_mu_, std::try_to_lock);
  if (!fetch_lock.owns_lock()) return keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (clock_.Now() - fetched_at_ < max_age_) return keys_;  // refreshed meanwhile
    keys = keys_;
  }
  // A failed refetch of an old set is retried once `cooldown` has passed, not on every call.
  if (attempted_ && clock_.Now() - last_attempt_ < cooldown_) return keys;
  return FetchLocked(keys);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::RefreshForUnknownKid() {
  uint64_t seen;
  bool cold;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cold = keys_ == nullptr;
    seen = generation_;
  }
  if (cold) return FetchCold();
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  std::shared_ptr<const crypto::Jwks> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = keys_;
    // Concurrent tokens naming the same new kid share one refetch: whoever waited for it
    // uses its result.
    if (generation_ != seen) return held;
  }
  // The cooldown counts from the previous unknown-kid refetch only. Counting from any fetch
  // (the cold one, the periodic one) made a rotation right after such a fetch fail every login
  // for a whole cooldown without a refetch.
  const UnixMillis now = clock_.Now();
  if (unknown_kid_refetched_ && now - last_unknown_kid_refetch_ < cooldown_) return held;
  unknown_kid_refetched_ = true;
  last_unknown_kid_refetch_ = now;
  return FetchLocked(std::move(held));
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::FetchCold() {
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  // Another caller may have fetched while we waited for the lock.
  if (auto held = Current()) return held;
  if (attempted_ && clock_.Now() - last_attempt_ < cooldown_ / 12) {
    return Fail(
        Error::Unavailable("identity provider keys unavailable (retrying later): " + last_error_,
                           Reason::kIdpUnavailable));
  }
  return FetchLocked(nullptr);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::FetchLocked(
    std::shared_ptr<const crypto::Jwks> held) {
  const UnixMillis now = clock_.Now();
  attempted_ = true;
  last_attempt_ = now;

  Result<std::shared_ptr<const crypto::Jwks>> fresh =
      [&]() -> Result<std::shared_ptr<const crypto::Jwks>> {
    auto body = fetch_ ? fetch_(jwks_uri_)
                       : Result<std::string>(Fail(Error::Internal("no JWKS fetcher configured")));
    if (!body) return Fail(body.error());
    auto parsed = crypto::Jwks::Parse(*body);
    if (!parsed) return Fail(parsed.error());
    if (parsed->keys.empty()) {
      return Fail(Error::Unavailable("JWKS has no usable keys", Reason::kIdpUnavailable));
    }
    return std::make_shared<const crypto::Jwks>(std::move(*parsed));
  }();

  if (!fresh) {
    last_error_ = fresh.error().message();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
    }
    Log(LogLevel::kWarn, "jwks fetch failed",
        {{"jwks_uri", jwks_uri_},
         {"reason", fresh.error().reason()},
         {"kept_last_good", held != nullptr}});
    if (held) return held;
    return Fail(Error::Unavailable("identity provider keys unavailable: " + last_error_,
                                   Reason::kIdpUnavailable));
  }
  last_error_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = *fresh;
    fetched_at_ = now;
    ++generation_;
  }
  return *fresh;
}

}  // namespace cl::oidc
