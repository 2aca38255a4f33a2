// UpstreamIdp: the control plane as an OpenID Connect client of the people's identity provider.
//
// Authorization code + PKCE (browser login) and the device authorization grant (headless
// login), ending in verified ID token claims. Discovery is lazy and retried, so the server starts
// while the IdP is down; calls then fail with Unavailable("idp_unavailable") until it is back.
// Secrets (client secret, codes, tokens) never appear in errors or logs.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "oidc/discovery.h"
#include "oidc/jwks_cache.h"

namespace cl::oidc {

struct UpstreamConfig {
  std::string issuer;  // exact; must pass IsAllowedIssuerUrl
  std::string client_id;
  std::string client_secret;
  std::string redirect_uri;
  std::string scopes = "openid email profile";
  FetchOptions fetch;  // transport, timeout (5 s) and size cap (256 KiB) for every IdP call
  // After a failed discovery, calls fail fast for this long before trying again.
  UnixMillis discovery_retry_ms = 5 * kMillisPerSecond;
  // Least time between two key-set refetches for an ID token naming an unknown kid. Short,
  // unlike a CI issuer's: ID tokens come from the token endpoint over the back channel, so only
  // the IdP itself can send an unknown kid, and a login right after a rotation must work.
  UnixMillis jwks_unknown_kid_cooldown = 5 * kMillisPerSecond;
  // An ID token whose iat is older than this (plus the 60 s leeway) is refused, even if its exp
  // is later: a login's ID token is issued moments before the code exchange.
  UnixMillis id_token_max_age = 10 * kMillisPerMinute;
};

struct IdTokenClaims {
  std::string issuer, subject, email, name;
  bool email_verified = false;
};

struct DeviceAuthorization {
  std::string device_code;  // secret: the poller's handle
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;  // may be empty
  int64_t expires_in = 0;                 // seconds
  int64_t interval = 5;                   // seconds between polls
};

struct DevicePoll {
  enum class State { kPending, kSlowDown, kExpired, kDenied, kSuccess };
  State state = State::kPending;
  std::optional<IdTokenClaims> claims;  // set iff state == kSuccess
};

class UpstreamIdp {
 public:
  // REQUIRES: `clock` outlives this object. Thread-safe after construction.
  UpstreamIdp(UpstreamConfig config, const Clock& clock);
  UpstreamIdp(const UpstreamIdp&) = delete;
  UpstreamIdp& operator=(const UpstreamIdp&) = delete;

  // Runs discovery if not done yet. Errors: Unavailable ("idp_unavailable" or
  // "idp_discovery_invalid"); InvalidArgument("bad_issuer_url") for a refused issuer URL.
  Status Init();

  const std::string& issuer() const { return config_.issuer; }

  // The URL to send the browser to: response_type=code, PKCE S256 with `code_challenge`.
  Result<std::string> AuthorizationUrl(const std::string& state, const std::string& nonce,
                                       const std::string& code_challenge);

  // Redeems `code` at the token endpoint and verifies the ID token (signature, iss, exp, iat
  // with 60 s leeway and at most `id_token_max_age` old, nonce == expected_nonce; every `aud`
  // entry must be our client id, and `azp`, when present, too: OIDC Core 3.1.3.7 items 3-5).
  // Email/name missing from the ID token are read from the userinfo endpoint. Errors:
  // InvalidArgument("invalid_grant") when the IdP rejects the code; Unauthenticated(<jose reason>
  // or "bad_nonce") for a bad ID token; Unavailable("idp_unavailable") when the IdP cannot be
  // reached.
  Result<IdTokenClaims> ExchangeCode(const std::string& code, const std::string& code_verifier,
                                     const std::string& expected_nonce);

  // Device authorization grant (RFC 8628). FailedPrecondition("device_flow_unsupported") when
  // the IdP has no device_authorization_endpoint.
  Result<DeviceAuthorization> StartDeviceAuthorization();
  // One poll of the token endpoint. The ID token is verified like ExchangeCode's, without nonce.
  Result<DevicePoll> PollDeviceToken(const std::string& device_code);

 private:
  struct Discovered {
    ProviderMetadata metadata;
    std::shared_ptr<JwksCache> jwks;
  };
  Result<std::shared_ptr<const Discovered>> Discover();
  Result<HttpClientResponse> PostForm(const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& form);
  // Parses a successful token response, verifies its ID token, fills email/name from userinfo.
  Result<IdTokenClaims> ClaimsFromTokenResponse(const Discovered& d, const HttpClientResponse& r,
                                                const std::string* expected_nonce);
  Result<crypto::Jwt> VerifyIdToken(const Discovered& d, const std::string& id_token);
  Status FillFromUserinfo(const Discovered& d, const std::string& access_token,
                          IdTokenClaims& claims);

  const UpstreamConfig config_;
  const Clock& clock_;

  std::mutex mu_;
  std::shared_ptr<const Discovered> discovered_;  // GUARDED_BY(mu_)
  UnixMillis last_failure_ = 0;                   // GUARDED_BY(mu_)
  std::optional<Error> last_error_;               // GUARDED_BY(mu_)
};

}  // namespace cl::oidc
