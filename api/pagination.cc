// Cursors of the list endpoints: encoding, strict decoding, and the page a request asks for.
#include "api/pagination.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdint>
#include <utility>

#include "common/json.h"
#include "crypto/hash.h"

namespace cl::api {
namespace {

namespace json = boost::json;

// The list names cursors carry; only compared, never shown.
std::string_view KindName(ListKind kind) {
  switch (kind) {
    case ListKind::kOrganizations:
      return "organizations";
    case ListKind::kApiTokens:
      return "api_tokens";
    case ListKind::kMembers:
      return "members";
    case ListKind::kInvitations:
      return "invitations";
    case ListKind::kAuditEvents:
      return "audit_events";
    case ListKind::kProjects:
      return "projects";
    case ListKind::kWorkflows:
      return "workflows";
    case ListKind::kWorkflowRuns:
      return "workflow_runs";
    case ListKind::kFederationPolicies:
      return "federation_policies";
    case ListKind::kWebhooks:
      return "webhooks";
    case ListKind::kWebhookDeliveries:
      return "webhook_deliveries";
  }
  return "";
}

Error InvalidCursor(std::string_view why) {
  return Error::InvalidArgument(
      "cursor is not valid for this list (" + std::string(why) +
          "): pass the next_cursor of a previous page of the same list, unchanged",
      Reason::kInvalidCursor);
}

std::string Encode(ListKind kind, json::array values) {
  json::array a;
  a.reserve(values.size() + 1);
  a.emplace_back(json::string(KindName(kind)));
  for (auto& v : values) a.push_back(std::move(v));
  return crypto::Base64UrlEncode(SerializeJson(a));
}

// The values of a cursor of `kind` holding `count` of them, each checked by the caller.
Result<json::array> DecodeValues(ListKind kind, std::string_view cursor, size_t count) {
  if (cursor.empty()) return Fail(InvalidCursor("empty"));
  if (cursor.size() > kMaxCursorLength) return Fail(InvalidCursor("too long"));
  auto raw = crypto::Base64UrlDecode(cursor);
  if (!raw) return Fail(InvalidCursor("not base64url"));
  auto parsed = ParseJson(*raw);
  if (!parsed || !parsed->is_array()) return Fail(InvalidCursor("malformed"));
  json::array& a = parsed->as_array();
  if (a.empty() || !a[0].is_string()) return Fail(InvalidCursor("malformed"));
  if (a[0].as_string() != KindName(kind)) return Fail(InvalidCursor("from another list"));
  if (a.size() != count + 1) return Fail(InvalidCursor("malformed"));
  a.erase(a.begin());
  return std::move(a);
}

Result<std::string> Text(const json::value& v) {
  if (!v.is_string()) return Fail(InvalidCursor("malformed"));
  return std::string(v.as_string());
}

Result<int64_t> Integer(const json::value& v) {
  if (!v.is_int64()) return Fail(InvalidCursor("malformed"));
  return v.as_int64();
}

}  // namespace

std::string EncodeCursor(ListKind kind, const store::NameKey& key) {
  return Encode(kind, json::array{json::string(key.name), json::string(key.id)});
}

std::string EncodeCursor(ListKind kind, const store::TimeKey& key) {
  return Encode(kind, json::array{key.created_at, json::string(key.id)});
}

std::string EncodeCursor(ListKind kind, const store::WorkflowKey& key) {
  return Encode(kind, json::array{json::string(key.project_name), json::string(key.workflow_name),
                                  json::string(key.id)});
}

template <>
Result<store::NameKey> DecodeCursor<store::NameKey>(ListKind kind, std::string_view cursor) {
  CL_ASSIGN_OR_RETURN(json::array v, DecodeValues(kind, cursor, 2));
  store::NameKey key;
  CL_ASSIGN_OR_RETURN(key.name, Text(v[0]));
  CL_ASSIGN_OR_RETURN(key.id, Text(v[1]));
  return key;
}

template <>
Result<store::TimeKey> DecodeCursor<store::TimeKey>(ListKind kind, std::string_view cursor) {
  CL_ASSIGN_OR_RETURN(json::array v, DecodeValues(kind, cursor, 2));
  store::TimeKey key;
  CL_ASSIGN_OR_RETURN(key.created_at, Integer(v[0]));
  CL_ASSIGN_OR_RETURN(key.id, Text(v[1]));
  return key;
}

template <>
Result<store::WorkflowKey> DecodeCursor<store::WorkflowKey>(ListKind kind,
                                                            std::string_view cursor) {
  CL_ASSIGN_OR_RETURN(json::array v, DecodeValues(kind, cursor, 3));
  store::WorkflowKey key;
  CL_ASSIGN_OR_RETURN(key.project_name, Text(v[0]));
  CL_ASSIGN_OR_RETURN(key.workflow_name, Text(v[1]));
  CL_ASSIGN_OR_RETURN(key.id, Text(v[2]));
  return key;
}

Result<int> ParseLimit(const http::Request& req) {
  auto text = req.QueryParam("limit");
  if (!text) return kDefaultPageLimit;
  int n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size() || n < 1 || n > kMaxPageLimit) {
    return Fail(Error::InvalidArgument("limit must be an integer from 1 to " +
                                       std::to_string(kMaxPageLimit)));
  }
  return n;
}

template <typename Key>
Result<store::PageRequest<Key>> ReadPage(const http::Request& req, ListKind kind) {
  store::PageRequest<Key> page;
  CL_ASSIGN_OR_RETURN(page.limit, ParseLimit(req));
  if (auto cursor = req.QueryParam("cursor")) {
    CL_ASSIGN_OR_RETURN(page.after, DecodeCursor<Key>(kind, *cursor));
  }
  return page;
}

template Result<store::PageRequest<store::NameKey>> ReadPage(const http::Request&, ListKind);
template Result<store::PageRequest<store::TimeKey>> ReadPage(const http::Request&, ListKind);
template Result<store::PageRequest<store::WorkflowKey>> ReadPage(const http::Request&, ListKind);

}  // namespace cl::api
