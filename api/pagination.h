// Cursor pagination of the API's list endpoints (docs/api.md, "Pagination"): the `limit` and
// `cursor` query parameters in, `next_cursor` out. A cursor is opaque to clients: base64url of
// a small JSON array that names the list it belongs to and holds the key values of the last row
// of its page (store::NameKey, TimeKey, WorkflowKey). It comes back from the client, so decoding
// checks everything: length, encoding, shape, list and value types; any mismatch is
// InvalidArgument "invalid_cursor" (400), never a crash or a 500.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/http.h"
#include "store/store.h"

namespace cl::api {

// Each list endpoint: a cursor of one is refused by every other.
enum class ListKind {
  kOrganizations,
  kApiTokens,
  kMembers,
  kInvitations,
  kAuditEvents,
  kProjects,
  kWorkflows,
  kWorkflowRuns,
  kFederationPolicies,
  kWebhooks,
  kWebhookDeliveries,
};

inline constexpr int kDefaultPageLimit = 100;
inline constexpr int kMaxPageLimit = 1000;
inline constexpr size_t kMaxCursorLength = 1024;

// The cursor of `kind` whose page ends at `key`.
std::string EncodeCursor(ListKind kind, const store::NameKey& key);
std::string EncodeCursor(ListKind kind, const store::TimeKey& key);
std::string EncodeCursor(ListKind kind, const store::WorkflowKey& key);

// The key a cursor of `kind` holds; InvalidArgument "invalid_cursor" otherwise.
template <typename Key>
Result<Key> DecodeCursor(ListKind kind, std::string_view cursor);

// The `limit` query parameter of a list: 1..1000, 100 when absent; else InvalidArgument.
Result<int> ParseLimit(const http::Request& req);

// The page a list request asks for: `limit` (1..1000, default 100; else InvalidArgument) and
// `cursor` (absent: the first page; else DecodeCursor).
template <typename Key>
Result<store::PageRequest<Key>> ReadPage(const http::Request& req, ListKind kind);

// Sets body["next_cursor"]: the cursor of `next`, or null when there is none.
template <typename Key>
void SetNextCursor(boost::json::object& body, ListKind kind, const std::optional<Key>& next) {
  if (next) {
    body["next_cursor"] = EncodeCursor(kind, *next);
  } else {
    body["next_cursor"] = nullptr;
  }
}

}  // namespace cl::api
