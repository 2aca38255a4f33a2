// Keyless CI credentials: recognising a CI ID token (a JWT from GitLab's `id_tokens` or GitHub
// Actions), finding one in the CI environment, and exchanging it at the control plane
// (POST /v1/auth/federated/exchange, shaped after RFC 8693) for a short-lived clfed_ token.
//
// The ID token and the exchanged token are secrets: they never appear in messages or debug
// output. Only the issuer, decoded without verification, is ever shown.
#pragma once

#include <string>
#include <string_view>

#include "cli/api_client.h"
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
};

// Keyless discovery, used when no other credential is set. In order:
//   1. $CHAINLOOP_OIDC_TOKEN (GitLab: `id_tokens: CHAINLOOP_OIDC_TOKEN: aud: <control plane>`);
//   2. inside GitLab CI ($GITLAB_CI and $CI_JOB_URL set), $GITLAB_OIDC;
//   3. inside GitHub Actions ($ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN set): GET that URL with
//      `audience=<audience>` and `Authorization: bearer <request token>`; the JSON answer's
//      "value" is the ID token.
// Returns a CiIdToken with an empty jwt when none applies (not an error). A value that is present
// but unusable (not a JWT, a failed GitHub request) is an Unauthenticated/Unavailable error.
Result<CiIdToken> DiscoverCiIdToken(const CliEnvironment& env, const std::string& audience,
                                    long timeout_ms = 30'000);

// Exchanges `jwt` for a control plane token of organization `org` using `client` (which
// carries no credential). Returns the access token. Server refusals keep their code as
// reason() and are reported as "keyless authentication failed: <message> (<code>)", plus a
// hint for the codes a CI author can act on.
Result<std::string> ExchangeCiIdToken(ApiClient& client, const std::string& jwt,
                                      const std::string& org);

inline constexpr char kTokenExchangeGrant[] = "urn:ietf:params:oauth:grant-type:token-exchange";
inline constexpr char kIdTokenType[] = "urn:ietf:params:oauth:token-type:id_token";

}  // namespace cl::cli
