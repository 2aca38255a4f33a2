// Internal to store/: the helpers the per-aggregate SqlDatabase files (sql_*.cc) share.
// Not part of the public sql_database.h; include it only from store/sql_*.cc.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/sql_database.h"
#include "store/vocabulary.h"

namespace cl::store {

// Empty text as SQL NULL (columns where NULL means "unknown").
SqlParam OptText(const std::string& v);

// The wall clock, for the few timestamps the store takes itself (migrations, a run completed
// without a finish time).
UnixMillis WallClockNow();

// Inserts one audit event within the caller's unit of work (store/sql_audit.cc), with the
// webhook event it maps to, if any (EnqueueWebhooksForAudit).
Status InsertAudit(SqlConnection& c, const AuditEvent& e);

// The webhook outbox (store/sql_webhook_outbox.cc), all within the caller's unit of work.
// The webhooks of `org_id` subscribed to `event`, by id.
Result<std::vector<std::string>> SubscribedWebhooks(SqlConnection& c, const std::string& org_id,
                                                    const std::string& event);
// Inserts `event` and one pending delivery (next_attempt_at = event.created_at) per webhook of
// `webhook_ids`; nothing when there is none. Returns the number of deliveries.
Result<int> InsertWebhookEvent(SqlConnection& c, const WebhookEvent& event,
                               const std::vector<std::string>& webhook_ids);
// When `e`'s action maps to a webhook event (store/webhook_events.h) and webhooks of its
// organization subscribe to it, enqueues it (id = e.id) with the payload of webhook_store.h.
// Costs one indexed SELECT otherwise.
Status EnqueueWebhooksForAudit(SqlConnection& c, const AuditEvent& e);
// The webhooks subscribed to each of `events`, of every organization, with one SELECT (webhooks
// are few next to the rows a sweep touches): by {org_id, event}, webhook ids ascending.
using WebhookSubscribers = std::map<std::pair<std::string, std::string>, std::vector<std::string>>;
Result<WebhookSubscribers> SubscribersOf(SqlConnection& c, const std::set<std::string>& events);
// The same as EnqueueWebhooksForAudit for many audit events, with one SubscribersOf for all.
Status EnqueueWebhooksForAudits(SqlConnection& c, const std::vector<AuditEvent>& events);

// Permissions are stored as one text column, joined by single spaces in the caller's order.
// InvalidArgument when a permission is empty or holds whitespace.
Result<std::string> EncodePermissions(const std::vector<std::string>& permissions);
std::vector<std::string> DecodePermissions(const std::string& text);

// Decoding a stored closed-set value (store/vocabulary.h): Internal when the text is none of
// its wire names (a row this build cannot have written), naming the column.
Result<RevocationReason> DecodeRevocationReason(std::string_view text);
Result<RunState> DecodeRunState(std::string_view text);
Result<InvitationStatus> DecodeInvitationStatus(std::string_view text);
// Roles live in more than one table: `column` names the one read ("memberships.role").
Result<OrgRole> DecodeOrgRole(std::string_view column, std::string_view text);
Result<ProjectRole> DecodeProjectRole(std::string_view text);

inline std::string_view WireName(RevocationReason v) { return RevocationReasonName(v); }
inline std::string_view WireName(RunState v) { return RunStateName(v); }
inline std::string_view WireName(InvitationStatus v) { return InvitationStatusName(v); }
inline std::string_view WireName(OrgRole v) { return OrgRoleName(v); }
inline std::string_view WireName(ProjectRole v) { return ProjectRoleName(v); }

// A closed-set value as a text parameter: its wire name.
template <typename E>
std::string WireText(E value) {
  return std::string(WireName(value));
}

// A closed-set value as an SQL string literal ('pending'), for statements that name it: the
// text comes from the one table in store/vocabulary.h, never from a caller.
template <typename E>
std::string SqlLiteral(E value) {
  return "'" + std::string(WireName(value)) + "'";
}

// Runs a query expected to return at most one row; NotFound (with `what`) when it returns none.
// `decode` turns a row into T or into Result<T> (a decoding error is returned as is).
template <typename T, typename Decode>
Result<T> QueryOne(SqlConnection& c, std::string_view sql, const std::vector<SqlParam>& params,
                   const char* what, Decode decode) {
  auto r = c.Query(sql, params);
  if (!r) return Fail(r.error());
  if (r->rows.empty()) return Fail(Error::NotFound(std::string(what) + " not found"));
  return decode(r->rows.front());
}

template <typename T, typename Decode>
Result<std::vector<T>> QueryAll(SqlConnection& c, std::string_view sql,
                                const std::vector<SqlParam>& params, Decode decode) {
  auto r = c.Query(sql, params);
  if (!r) return Fail(r.error());
  std::vector<T> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    if constexpr (std::is_same_v<std::invoke_result_t<Decode&, const SqlRow&>, Result<T>>) {
      Result<T> value = decode(row);
      if (!value) return Fail(value.error());
      out.push_back(std::move(*value));
    } else {
      out.push_back(decode(row));
    }
  }
  return out;
}

// How a list is ordered: its sort expressions, the last one unique (an id), all in one
// direction, so that one row-value comparison ("(a, b) > ($2, $3)": SQLite >= 3.15 and
// PostgreSQL) selects the rows after a key, and an index on the same columns serves it.
struct ListOrder {
  std::vector<std::string_view> columns;
  bool descending = false;
};

// Appends to `sql` (a SELECT ending in its WHERE clause) the condition that keeps only the rows
// after the key whose values are `after` (one per column; empty: from the first row), then the
// ORDER BY, then, when `limit` > 0, LIMIT limit + 1: the extra row tells whether a next page
// exists. Appends the parameters to `params`, numbered after those already there. Every list
// query of the store is ordered and paged through this one function.
void AppendKeysetPage(std::string& sql, std::vector<SqlParam>& params, const ListOrder& order,
                      const std::vector<SqlParam>& after, int limit);

// A key's values as parameters, in the order of its list's columns.
std::vector<SqlParam> KeyParams(const NameKey& key);
std::vector<SqlParam> KeyParams(const TimeKey& key);
std::vector<SqlParam> KeyParams(const WorkflowKey& key);

// One page of the list `sql` (WHERE clause open, parameters `params`) in `order`: `decode` turns a
// row into T (or Result<T>), `key_of` gives a row's key (the next page's `after`).
template <typename T, typename Key, typename Decode, typename KeyOf>
Result<Page<T, Key>> QueryPage(SqlConnection& c, std::string sql, std::vector<SqlParam> params,
                               const ListOrder& order, const PageRequest<Key>& page, Decode decode,
                               KeyOf key_of) {
  const size_t limit = static_cast<size_t>(std::max(page.limit, 1));
  AppendKeysetPage(sql, params, order,
                   page.after ? KeyParams(*page.after) : std::vector<SqlParam>{},
                   static_cast<int>(limit));
  CL_ASSIGN_OR_RETURN(std::vector<T> rows, QueryAll<T>(c, sql, params, decode));
  Page<T, Key> out;
  if (rows.size() > limit) {
    rows.resize(limit);
    out.next = key_of(rows.back());
  }
  out.items = std::move(rows);
  return out;
}

// Every row of the list `sql` in `order` (callers that need them all, not the API's listings).
template <typename T, typename Decode>
Result<std::vector<T>> QueryOrdered(SqlConnection& c, std::string sql, std::vector<SqlParam> params,
                                    const ListOrder& order, Decode decode) {
  AppendKeysetPage(sql, params, order, {}, 0);
  return QueryAll<T>(c, sql, params, decode);
}

}  // namespace cl::store
