// Keyless CI credentials: recognising a CI ID token (a JWT from GitLab's `id_tokens` or GitHub
// Actions), finding one in the CI environment, and exchanging it at the control plane
// (POST /v1/auth/federated/exchange, shaped after RFC 8693) for a short-lived clfed_ token.
//
// The ID token and the exchanged token are secrets: they never appear in messages or debug
// output. Only the issuer, decoded without verification, is ever shown.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "cli/api_client.h"
#include "common/clock.h"
#include "common/result.h"
#include "crypto/jose.h"

namespace cl::cli {

struct CliEnvironment;

// A CI ID token rather than one of the control plane's credentials (crypto/jose.h).
using crypto::LooksLikeJwt;

// The payload's "iss" claim, decoded WITHOUT verifying anything: for messages only. Empty
// when the token cannot be decoded or has no string issuer.
std::string UnverifiedJwtIssuer(std::string_view jwt);

// A CI ID token found in the environment and where it came from (for messages).
struct CiIdToken {
  std::string jwt;
  std::string source;  // e.g. "$CHAINLOOP_OIDC_TOKEN", "GitHub Actions"
  // Set when $GITLAB_OIDC was passed over because this does not look like a GitLab CI job:
  // what was ignored and why, for stderr.
  std::string ignored;
};

// Keyless discovery, used when no other credential is set. In order:
//   1. $CHAINLOOP_OIDC_TOKEN (GitLab: `id_tokens: CHAINLOOP_OIDC_TOKEN: aud: <control plane>`);
//   2. inside GitLab CI ($GITLAB_CI and $CI_JOB_URL set), $GITLAB_OIDC;
//   3. inside GitHub Actions ($ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN set): GET that URL with
//      `audience=<audience>` and `Authorization: bearer <request token>`; the JSON answer's
//      "value" is the ID token.
// Returns a CiIdToken with an empty jwt when none applies (not an error). A value that is present
// but unusable (not a JWT, a failed GitHub request) is an Unauthenticated/Unavailable error.
// $GITLAB_OIDC set outside GitLab CI is not an error either: CiIdToken::ignored says so.
Result<CiIdToken> DiscoverCiIdToken(const CliEnvironment& env, const std::string& audience,
                                    long timeout_ms = 30'000);

// A short-lived control plane token (`clfed_`) from a token exchange.
struct ExchangedCiToken {
  std::string access_token;
  int64_t expires_in_seconds = 0;  // as the server said; 0 when it did not say
};

// Exchanges `jwt` for a control plane token of organization `org` using `client` (which
// carries no credential). Server refusals keep their code as reason() and are reported as
// "keyless authentication failed: <message> (<code>)", plus a hint for the codes a CI author
// can act on.
Result<ExchangedCiToken> ExchangeCiIdToken(ApiClient& client, const std::string& jwt,
                                           const std::string& org);

// The exchanged token of a CI job, kept between the job's chainloop commands so that the job's
// ID token is exchanged once (GitLab issues one ID token per job, and each can be exchanged only
// once) and every later command reuses the short-lived token until shortly before it expires.
//
// It lives in a directory of its own, `chainloop-keyless-<uid>` under $RUNNER_TEMP (GitHub
// Actions: emptied after each job) or else the system temp dir ($TMPDIR, /tmp), created 0700;
// one file per (control plane, organization, ID token), named by their SHA-256, mode 0600.
// Never in the user's config. A directory or file that is a symlink, belongs to another user
// or is open to group or others is ignored (and the directory never written), so another
// account on a shared runner can neither read the token nor plant one.
class ExchangedTokenCache {
 public:
  // Refuses to hand out a token this close to its expiry: a command must not start with a
  // token that ends while it runs.
  static constexpr UnixMillis kExpiryMargin = 60 * kMillisPerSecond;

  // `base_dir` empty: caching is off (Load finds nothing, Store does nothing). `owner`: the uid
  // the directory and files must belong to (the process's effective uid outside tests).
  ExchangedTokenCache(const std::string& base_dir, uid_t owner);

  // The cache of this process: $RUNNER_TEMP, else $TMPDIR, else /tmp (env.tmpdir is filled with
  // "/tmp" by CliEnvironment::FromProcess when $TMPDIR is unset; empty in tests: no cache).
  static ExchangedTokenCache ForEnvironment(const CliEnvironment& env);

  // The token cached for (control plane, org, jwt) that is still valid for kExpiryMargin after
  // `now`, else nullopt. `*why` (when not null) says why a cache entry was ignored, for
  // --debug; never a secret.
  std::optional<std::string> Load(const std::string& control_plane_key, const std::string& org,
                                  const std::string& jwt, UnixMillis now,
                                  std::string* why = nullptr) const;

  // Stores `token`, valid until `expires_at`, replacing any earlier entry (written to a temp
  // file and renamed). Fails when the directory is unusable; callers carry on without a cache.
  Status Store(const std::string& control_plane_key, const std::string& org, const std::string& jwt,
               const std::string& token, UnixMillis expires_at) const;

  // Creates the directory if missing; Ok when caching is on and the directory belongs to the
  // owner and is closed to group and others (a symlink never is).
  Status Usable() const;
  // The directory (for tests and messages).
  const std::string& dir() const { return dir_; }

 private:
  std::string PathFor(const std::string& control_plane_key, const std::string& org,
                      const std::string& jwt) const;

  std::string dir_;  // <base>/chainloop-keyless-<uid>; empty: off
  uid_t owner_;
};

inline constexpr char kTokenExchangeGrant[] = "urn:ietf:params:oauth:grant-type:token-exchange";
inline constexpr char kIdTokenType[] = "urn:ietf:params:oauth:token-type:id_token";

}  // namespace cl::cli
