// Principal: who is making a request, resolved once from the credential. Handlers see only this.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace cl::domain {

struct Principal {
  enum class Kind { kUser, kApiToken, kFederated, kSystem };
  Kind kind = Kind::kUser;
  std::string id;            // user id, API token id, ...
  std::string display_name;  // email for users; token name; "issuer: subject" for CI
  // Credentials bound to one organization / project (API tokens, CI tokens). Users: empty.
  std::optional<std::string> org_id;
  std::optional<std::string> project_id;
  // Explicit permission list of a token. Users: empty (their roles decide).
  std::vector<std::string> permissions;
  // Keyless CI principals: a JSON object with iss, sub and the CI token's key claims,
  // recorded on the attestations they make. Empty otherwise.
  std::string claims_json;
  // For users authenticated by a session.
  std::string session_id;
  UnixMillis session_expires_at = 0;
};

const char* PrincipalKindName(Principal::Kind kind);  // "user", "api_token", ...

}  // namespace cl::domain
