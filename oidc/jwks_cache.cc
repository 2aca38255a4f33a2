// JwksCache: single-flight fetching, cooldown for unknown-kid refetches, last good set kept.
#include "oidc/jwks_cache.h"

#include <utility>

#include "common/log.h"

namespace cl::oidc {

JwksCache::JwksCache(std::string jwks_uri, FetchTextFn fetch, const Clock& clock,
                     UnixMillis cooldown)
    : jwks_uri_(std::move(jwks_uri)),
      fetch_(std::move(fetch)),
      clock_(clock),
      cooldown_(cooldown) {}

std::shared_ptr<const crypto::Jwks> JwksCache::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::Get() {
  if (auto keys = Current()) return keys;
  return Fetch(/*refresh=*/false);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::RefreshForUnknownKid() {
  return Fetch(/*refresh=*/true);
}

Result<std::shared_ptr<const crypto::Jwks>> JwksCache::Fetch(bool refresh) {
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
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
  }
  return *fresh;
}

}  // namespace cl::oidc
