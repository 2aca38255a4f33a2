// Credential extraction: the credential a request presents, from its Authorization header, and
// what kind of credential it is. Offline: no hashing, no database.
//
// A request authenticates with "Authorization: Bearer <token>"; the token's prefix and checksum
// (crypto::ParseCredential) say its kind. Only sessions, API tokens and federated tokens
// authenticate requests (AuthenticatesRequests); the caller decides how to answer other kinds.
#pragma once

#include <string_view>

#include "common/result.h"
#include "crypto/credential.h"

namespace cl::domain {

// Extracts the credential from "Bearer <token>" (scheme case-insensitive, surrounding spaces
// trimmed). Errors are Unauthenticated: "unauthenticated" for an empty header, else
// "malformed_token". The result views `authorization`.
Result<std::string_view> ExtractBearer(std::string_view authorization);

// A credential found in a request: the token (a view of the header) and its kind.
struct PresentedCredential {
  std::string_view token;
  crypto::CredentialKind kind = crypto::CredentialKind::kSession;
};

// ExtractBearer, then the token's shape and checksum (crypto::ParseCredential). Errors are
// those of ExtractBearer and ParseCredential (Unauthenticated "malformed_token").
Result<PresentedCredential> ExtractCredential(std::string_view authorization);

// Sessions, API tokens and federated tokens; not other kinds of credentials.
bool AuthenticatesRequests(crypto::CredentialKind kind);

}  // namespace cl::domain
