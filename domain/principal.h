// Principal: who is making a request, resolved once from the credential. Handlers see only this.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace cl::domain {

// A token's explicit "resource:action" list, immutable and shared: copying a Principal (done
// for every request on the hot path) copies a pointer, not the strings, and identical lists
// (most tokens carry the default one) are stored once (Intern).
class PermissionList {
 public:
  PermissionList() = default;
  PermissionList(std::vector<std::string> list);  // NOLINT: implicit, like the vector it was
  PermissionList(std::initializer_list<std::string> list);

  // The shared copy of `list` if an identical list is already held somewhere, else a new one.
  static PermissionList Intern(const std::vector<std::string>& list);

  const std::string* begin() const { return list_ ? list_->data() : nullptr; }
  const std::string* end() const { return list_ ? list_->data() + list_->size() : nullptr; }
  size_t size() const { return list_ ? list_->size() : 0; }
  bool empty() const { return size() == 0; }
  bool Contains(std::string_view permission) const;

 private:
  std::shared_ptr<const std::vector<std::string>> list_;
};

struct Principal {
  enum class Kind { kUser, kApiToken, kFederated, kSystem };
  Kind kind = Kind::kUser;
  std::string id;            // user id, API token id, ...
  std::string display_name;  // email for users; token name; "issuer: subject" for CI
  // Users authenticated by a session: the person's name as last read with the session.
  std::string user_name;
  // Credentials bound to one organization / project (API tokens, CI tokens). Users: empty.
  std::optional<std::string> org_id;
  std::optional<std::string> project_id;
  // Explicit permission list of a token. Users: empty (their roles decide).
  PermissionList permissions;
  // Keyless CI principals: a JSON object with iss, sub and the CI token's key claims,
  // recorded on the attestations they make. Empty otherwise.
  std::string claims_json;
  // For users authenticated by a session.
  std::string session_id;
  UnixMillis session_expires_at = 0;
  // For API tokens and exchanged CI tokens: when the credential expires (0: never). Tokens a
  // credential creates never outlive it.
  UnixMillis token_expires_at = 0;
  // Address of the client making this request (behind trusted proxies, the forwarded client's),
  // for audit events. Set per request by the API layer, never cached with the credential.
  std::string client_address;
};

const char* PrincipalKindName(Principal::Kind kind);  // "user", "api_token", ...
inline constexpr size_t kPrincipalKindCount = 4;      // Principal::Kind values, from 0

}  // namespace cl::domain
