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
  if (!keys) return Fetch(/*refresh=*/false);
  if (clock_.Now() - fetched_at < max_age_) return keys;
  // Too old: one caller refetches; the others go on with the held set meanwhile rather than
  // queue behind a network call.
  std::unique_lock<std::mutex> fetch_lock(fetch_mu_, std::try_to_lock);
  if (!fetch_lock.owns_lock()) return keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (clock_.Now() - fetched_at_ < max_age_) return keys_;  // refreshed meanwhile
  }
  return FetchLocked(/*refresh=*/true);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::RefreshForUnknownKid() {
  return Fetch(/*refresh=*/true);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::Fetch(bool refresh) {
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  return FetchLocked(refresh);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::FetchLocked(bool refresh) {
  auto held = Current();
  // Another caller may have fetched while we waited for the lock.
  if (!refresh && held) return held;

  const UnixMillis now = clock_.Now();
  const UnixMillis wait = held ? cooldown_ : cooldown_ / 12;
  if (attempted_ && now - last_attempt_ < wait) {
    if (held) return held;
    return Fail(Error::Unavailable(
        "identity provider keys unavailable (retrying later): " + last_error_, "idp_unavailable"));
  }
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
      return Fail(Error::Unavailable("JWKS has no usable keys", "idp_unavailable"));
    }
    return std::make_shared<const crypto::Jwks>(std::move(*parsed));
  }();

  if (!fresh) {
    last_error_ = fresh.error().message();
    Log(LogLevel::kWarn, "jwks fetch failed",
        {{"jwks_uri", jwks_uri_},
         {"reason", fresh.error().reason()},
         {"kept_last_good", held != nullptr}});
    if (held) return held;
    return Fail(Error::Unavailable("identity provider keys unavailable: " + last_error_,
                                   "idp_unavailable"));
  }
  last_error_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = *fresh;
    fetched_at_ = now;
  }
  return *fresh;
}

}  // namespace cl::oidc
