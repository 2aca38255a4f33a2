// CiTokenVerifier: in-process verification of CI ID tokens (GitLab CI `id_tokens`, GitHub
// Actions) against organizations' trust policies, for keyless authentication of CI jobs.
//
// Only issuers on the instance allow-list are ever contacted. Per issuer, discovery runs once
// (retried after a failure, not on every request) and its keys live in a JwksCache: an unknown
// `kid` triggers one refetch per cooldown, and the last good key set keeps tokens verifying while
// the issuer is down. A cold issuer that cannot be reached is Unavailable("issuer_unavailable").
// Error messages name claims and their values, never the token.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/call_gate.h"
#include "common/clock.h"
#include "common/result.h"
#include "oidc/discovery.h"
#include "oidc/jwks_cache.h"
#include "oidc/trust_policy.h"

namespace cl::oidc {

struct CiVerifierOptions {
  // Issuers organizations may trust at all, compared byte for byte with `iss`.
  std::vector<std::string> allowed_issuers = {std::string(kGitLabComIssuer),
                                              std::string(kGitHubActionsIssuer)};
  int64_t leeway_seconds = 60;  // capped to [0, 60]
  // iat older than this is refused ("jwt_too_old") when no policy names the token's issuer;
  // otherwise each policy's TrustPolicy::max_token_age_seconds applies.
  int64_t max_token_age_seconds = kDefaultMaxTokenAgeSeconds;
  FetchOptions fetch;  // transport, timeout and size cap of every issuer call
  UnixMillis jwks_refresh_cooldown = JwksCache::kDefaultCooldown;  // unknown-kid refetch bound
  UnixMillis jwks_max_age = JwksCache::kDefaultMaxAge;   // withdrawn keys stop verifying after
  UnixMillis discovery_retry_ms = 5 * kMillisPerSecond;  // fail fast this long after a failure
  // Requests that may fetch, or wait for another request's fetch of, an issuer's discovery
  // document or keys, at once (a cold cache, an unknown kid). Anyone can send a token naming an
  // allowed issuer, so beyond this they are refused at once with 503 issuer_unavailable rather
  // than hold server workers while an issuer is slow. Verifications from cached keys never count.
  int max_concurrent_fetches = 4;
  std::function<void()> on_fetch_refused;  // optional, e.g. a metric; must not block
  // Optional, e.g. a metric; must not block. Called after each fetch from an issuer with the
  // issuer (one of allowed_issuers), the document ("discovery" or "jwks") and whether it
  // succeeded (a discovery document also needs a usable jwks_uri).
  std::function<void(const std::string& issuer, std::string_view document, bool ok)> on_fetch;
};

// Who a verified CI token says it is, and the policy that admitted it.
struct CiIdentity {
  std::string issuer, subject, jti;
  std::string audience;      // the matched policy's audience (one of the token's `aud`)
  int64_t exp = 0, iat = 0;  // seconds since the epoch
  // When this verifier stops accepting the token: `exp` plus the leeway, or `iat` plus the
  // matched policy's max_token_age_seconds plus the leeway if sooner. Whatever the token
  // is used for (attestation directly, or an exchange) ends here, so every use applies the same
  // rule.
  UnixMillis accepted_until = 0;
  // The verified token's claims, as decoded (moved, not copied: this is the hot path).
  boost::json::object claims;
  std::string policy_id;
  // Points into the `policies` argument of the Verify call that returned this identity.
  const TrustPolicy* policy = nullptr;

  // A top-level claim as policies see it: a string as is, a number printed, a boolean
  // "true"/"false"; nullopt when absent, null, an object or an array.
  std::optional<std::string> Claim(std::string_view name) const;
};

// The one answer for every case in which no trust policy applies to a genuine CI token (no
// policy for its issuer or audience, none whose claims match, an unknown organization, a policy
// deleted meanwhile): the same code and message, so an answer never tells these apart.
Error NoMatchingPolicyError();

class CiTokenVerifier {
 public:
  static constexpr size_t kMaxTokenBytes = 16 * 1024;
  static constexpr size_t kMaxJtiLength = 256;

  // REQUIRES: `clock` outlives the verifier.
  CiTokenVerifier(CiVerifierOptions options, const Clock& clock);
  CiTokenVerifier(const CiTokenVerifier&) = delete;
  CiTokenVerifier& operator=(const CiTokenVerifier&) = delete;
  ~CiTokenVerifier();

  // Verifies `token` and returns the identity with the first policy (in `policies` order) whose
  // issuer equals `iss`, whose audience is in `aud` and whose bound claims all match. Policies
  // failing ValidateTrustPolicy never match. The caller must still refuse a replayed `jti`.
  // Errors:
  //   Unauthenticated: "jwt_malformed" (also over 16 KiB), "untrusted_issuer" (nothing is
  //     fetched for it), "bad_signature", "token_expired", "jwt_bad_alg",
  //     "jwt_key_alg_mismatch", "jwt_unknown_kid", "jwt_not_yet_valid", "jwt_issued_in_future",
  //     "jwt_too_old" (also when a policy would match but the token's `iat` is older than
  //     that policy's max_token_age_seconds), "jwt_missing_claim" (including a missing `jti`);
  //   PermissionDenied "no_matching_trust_policy" (NoMatchingPolicyError): no policy for the
  //     issuer, none for the token's audience, or none whose claims match; the details go to the
  //     log, never into the answer;
  //   Unavailable "issuer_unavailable": discovery or keys cannot be fetched and none are cached.
  // Thread-safe.
  Result<CiIdentity> Verify(std::string_view token, const std::vector<TrustPolicy>& policies);

  bool IsAllowedIssuer(std::string_view issuer) const;
  // The instance's allow-list, in the operator's order (what a trust policy may name).
  const std::vector<std::string>& allowed_issuers() const { return options_.allowed_issuers; }

  // Requests now fetching or waiting for an issuer's discovery or keys (for tests and metrics).
  int fetches_in_flight() const { return fetch_gate_.in_flight(); }

 private:
  struct IssuerState;
  // The issuer's key cache, running discovery first if needed (through fetch_gate_).
  // REQUIRES: IsAllowedIssuer(issuer).
  Result<std::shared_ptr<JwksCache>> KeysFor(const std::string& issuer);
  // Discovery under the issuer's lock; concurrent callers share one fetch.
  Result<std::shared_ptr<JwksCache>> Discover(const std::string& issuer, IssuerState& state);

  const CiVerifierOptions options_;
  const Clock& clock_;
  CallGate fetch_gate_;  // every path that may wait on an issuer passes it

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<IssuerState>, std::less<>> issuers_;  // GUARDED_BY(mu_)
};

}  // namespace cl::oidc
