// The Authorization header's Bearer credential and its kind.
#include "domain/credential_extractor.h"

#include <strings.h>

namespace cl::domain {

Result<std::string_view> ExtractBearer(std::string_view authorization) {
  if (authorization.empty()) {
    return Fail(Error::Unauthenticated(
        "authentication required: send Authorization: Bearer <token>", Reason::kUnauthenticated));
  }
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0) {
    return Fail(Error::Unauthenticated("the Authorization header must use the Bearer scheme",
                                       Reason::kMalformedToken));
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

Result<PresentedCredential> ExtractCredential(std::string_view authorization) {
  CL_ASSIGN_OR_RETURN(std::string_view token, ExtractBearer(authorization));
  CL_ASSIGN_OR_RETURN(crypto::CredentialKind kind, crypto::ParseCredential(token));
  return PresentedCredential{token, kind};
}

bool AuthenticatesRequests(crypto::CredentialKind kind) {
  return kind == crypto::CredentialKind::kSession || kind == crypto::CredentialKind::kApiToken ||
         kind == crypto::CredentialKind::kFederated;
}

}  // namespace cl::domain
