// The error codes an OAuth 2.0 / OpenID Connect authorization endpoint sends back to the
// redirect URI (RFC 6749 section 4.1.2.1, OpenID Connect Core 3.1.2.6), each with a fixed text
// for people. The `error` parameter of a callback URL can be written by anyone who sends a
// browser there; only these fixed texts are ever shown for it, never the parameter itself (nor
// `error_description`).
#pragma once

#include <string_view>

namespace cl {

struct OAuthAuthorizationError {
  std::string_view code;
  std::string_view message;  // one sentence, fixed
};

// The entry of a known code (exact, case-sensitive match), else nullptr.
const OAuthAuthorizationError* FindOAuthAuthorizationError(std::string_view code);

// The fixed text for `code`: its own for a known code, else kGenericOAuthErrorMessage.
std::string_view OAuthAuthorizationErrorMessage(std::string_view code);

inline constexpr std::string_view kGenericOAuthErrorMessage =
    "The identity provider did not complete the login.";

// `code` when known, else "server_error" (RFC 6749: the authorization server met an unexpected
// condition, which is what an unknown code is to us): what may be passed on in a URL.
std::string_view KnownOAuthAuthorizationErrorOr(std::string_view code);

}  // namespace cl
