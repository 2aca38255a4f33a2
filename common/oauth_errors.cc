// The table of OAuth / OpenID Connect authorization error codes and their texts.
#include "common/oauth_errors.h"

namespace cl {
namespace {

constexpr OAuthAuthorizationError kErrors[] = {
    // RFC 6749 section 4.1.2.1.
    {"access_denied", "The login was cancelled or denied at the identity provider."},
    {"invalid_request", "The identity provider refused the login request as invalid."},
    {"unauthorized_client",
     "The identity provider does not allow this application to log in this way."},
    {"unsupported_response_type", "The identity provider does not support this login request."},
    {"invalid_scope", "The identity provider refused the requested scopes."},
    {"server_error", "The identity provider met an internal error."},
    {"temporarily_unavailable",
     "The identity provider is temporarily unavailable; try again later."},
    // OpenID Connect Core 1.0 section 3.1.2.6.
    {"interaction_required", "The identity provider needs you to complete a step on its pages."},
    {"login_required", "The identity provider needs you to sign in."},
    {"account_selection_required", "The identity provider needs you to choose an account."},
    {"consent_required", "The identity provider needs your consent for this application."},
    {"invalid_request_uri", "The identity provider refused the login request as invalid."},
    {"invalid_request_object", "The identity provider refused the login request as invalid."},
    {"request_not_supported", "The identity provider does not support this login request."},
    {"request_uri_not_supported", "The identity provider does not support this login request."},
    {"registration_not_supported", "The identity provider does not support this login request."},
};

}  // namespace

const OAuthAuthorizationError* FindOAuthAuthorizationError(std::string_view code) {
  for (const auto& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

std::string_view OAuthAuthorizationErrorMessage(std::string_view code) {
  const auto* e = FindOAuthAuthorizationError(code);
  return e != nullptr ? e->message : kGenericOAuthErrorMessage;
}

std::string_view KnownOAuthAuthorizationErrorOr(std::string_view code) {
  const auto* e = FindOAuthAuthorizationError(code);
  return e != nullptr ? e->code : std::string_view("server_error");
}

}  // namespace cl
