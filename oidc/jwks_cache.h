// JwksCache: the signing keys of one issuer, fetched on first use and refetched when a token
// names a key we do not have (key rotation), at most once per cooldown period counted from the
// previous unknown-kid refetch: a rotation right after a fetch (the first one, or the periodic
// one below) is picked up by the next token that names the new key, while tokens with made-up
// kids still cost the issuer at most one fetch per cooldown.
//
// A held key set is also refetched once it is older than `max_age`: a key the issuer withdraws
// (after a compromise, say) stops verifying within that bound, even if every token an attacker
// sends names a kid we already hold. One caller refetches while the others go on with the held
// set. The last good key set is kept when a refetch fails, so an IdP outage does not break the
// verification of tokens signed with keys we already know. Concurrent callers share one fetch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/jose.h"

namespace cl::oidc {

class JwksCache {
 public:
  // Returns the JWKS document at `url` (status 200 body), or an error (usually Unavailable).
  using FetchTextFn = std::function<Result<std::string>(const std::string& url)>;

  static constexpr UnixMillis kDefaultCooldown = 60 * kMillisPerSecond;
  static constexpr UnixMillis kDefaultMaxAge = 10 * 60 * kMillisPerSecond;

  // REQUIRES: `clock` outlives the cache.
  JwksCache(std::string jwks_uri, FetchTextFn fetch, const Clock& clock,
            UnixMillis cooldown = kDefaultCooldown, UnixMillis max_age = kDefaultMaxAge);
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // The current key set; fetches it when none is held yet, and refetches it when it is older
  // than `max_age` (keeping it if that fails; a failed refetch is retried after `cooldown`). A
  // cold cache whose fetch fails answers Unavailable("idp_unavailable"); a failed cold fetch is
  // not retried within `cooldown / 12` (5 s by default) so a dead IdP is not hit by every
  // request. Thread-safe.
  Result<std::shared_ptr<const crypto::Jwks>> Get();

  // Refetches because a token named an unknown kid, unless the previous unknown-kid refetch was
  // less than `cooldown` ago (other fetches do not count), or a fetch completed while this call
  // waited for another caller's (whose set is as new as ours would be). On fetch failure the
  // last good set is returned (Ok); only a cold cache fails (Unavailable, "idp_unavailable").
  // Thread-safe.
  Result<std::shared_ptr<const crypto::Jwks>> RefreshForUnknownKid();

  const std::string& jwks_uri() const { return jwks_uri_; }

  // True when a key set is held: Get() then never waits for a fetch (an old set is refetched by
  // one caller while the others go on with it). Thread-safe.
  bool HasKeys() const { return Current() != nullptr; }

 private:
  // First fetch (nothing held), failing fast within `cooldown / 12` of a failed attempt.
  Result<std::shared_ptr<const crypto::Jwks>> FetchCold();
  // REQUIRES: fetch_mu_ held. Fetches unconditionally; `held` answers when the fetch fails.
  Result<std::shared_ptr<const crypto::Jwks>> FetchLocked(std::shared_ptr<const crypto::Jwks> held);
  std::shared_ptr<const crypto::Jwks> Current() const;

  const std::string jwks_uri_;
  const FetchTextFn fetch_;
  const Clock& clock_;
  const UnixMillis cooldown_;
  const UnixMillis max_age_;

  std::mutex fetch_mu_;  // one fetch at a time; held while fetching, never while mu_ is wanted
                         // by the fetch itself
  UnixMillis last_attempt_ = 0;  // GUARDED_BY(fetch_mu_); any fetch attempt
  bool attempted_ = false;       // GUARDED_BY(fetch_mu_)
  // The previous refetch made for an unknown kid: the only one the unknown-kid cooldown counts
  // from.
  UnixMillis last_unknown_kid_refetch_ = 0;  // GUARDED_BY(fetch_mu_)
  bool unknown_kid_refetched_ = false;       // GUARDED_BY(fetch_mu_)
  std::string last_error_;                   // GUARDED_BY(fetch_mu_)

  mutable std::mutex mu_;
  std::shared_ptr<const crypto::Jwks> keys_;  // GUARDED_BY(mu_)
  UnixMillis fetched_at_ = 0;                 // GUARDED_BY(mu_); when keys_ was fetched
  uint64_t generation_ = 0;  // GUARDED_BY(mu_); completed fetch attempts (success or failure)
};

}  // namespace cl::oidc
