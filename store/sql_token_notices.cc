// SqlDatabase's "soon" notices of API tokens (WebhookStore::EnqueueTokenNotices): tokens that
// expire, or will be revoked for inactivity, within the notice window, each noticed once per
// due instant, with the webhook event enqueued in the same transaction.
#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

constexpr const char* kExpiringSoon = "token.expiring_soon";
constexpr const char* kAutoRevokeSoon = "token.auto_revoke_soon";

// Each UPDATE marks what it notices and returns it. Its condition on the noticed column is
// re-checked by PostgreSQL against a row another instance's transaction changed meanwhile (the
// second waits for the first's row lock, then sees the mark and passes over the row), so a token
// is noticed once per due instant however many instances run this; SQLite's BEGIN IMMEDIATE
// serialises them. "Active" leaves out revoked tokens and rotated ones (their replacement holds
// the name and gets its own notices).
constexpr const char* kNoticeExpiring =
    "UPDATE api_tokens SET expiry_noticed_at = $1 "
    "WHERE revoked_at IS NULL AND rotated_to IS NULL AND expiry_noticed_at IS NULL "
    "AND expires_at > $1 AND expires_at <= $2 "
    "RETURNING id, org_id, name, project_id, expires_at";

// The instant of revocation for inactivity is COALESCE(last_used_at, created_at) + N days; the
// range on it is written on COALESCE(...) alone, spelled as in api_tokens_active_last_activity,
// so the sweep's index serves it. A token that expires first will not be revoked for inactivity.
constexpr const char* kNoticeInactive =
    "UPDATE api_tokens SET inactivity_noticed_for = "
    "COALESCE(api_tokens.last_used_at, api_tokens.created_at) + "
    "CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000 "
    "FROM organizations o "
    "WHERE o.id = api_tokens.org_id AND o.api_token_max_days_inactive IS NOT NULL "
    "AND api_tokens.revoked_at IS NULL AND api_tokens.rotated_to IS NULL "
    "AND COALESCE(api_tokens.last_used_at, api_tokens.created_at) > "
    "CAST($1 AS BIGINT) - CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000 "
    "AND COALESCE(api_tokens.last_used_at, api_tokens.created_at) <= "
    "CAST($2 AS BIGINT) - CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000 "
    "AND (api_tokens.expires_at IS NULL OR api_tokens.expires_at > "
    "COALESCE(api_tokens.last_used_at, api_tokens.created_at) + "
    "CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000) "
    "AND (api_tokens.inactivity_noticed_for IS NULL OR api_tokens.inactivity_noticed_for <> "
    "COALESCE(api_tokens.last_used_at, api_tokens.created_at) + "
    "CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000) "
    "RETURNING api_tokens.id, api_tokens.org_id, api_tokens.name, api_tokens.project_id, "
    "api_tokens.inactivity_noticed_for";

void AppendNotices(const SqlResult& r, const char* event, std::vector<TokenNotice>& out) {
  for (const SqlRow& row : r.rows) {
    TokenNotice n;
    n.event = event;
    n.token_id = row.Str(0);
    n.org_id = row.Str(1);
    n.token_name = row.Str(2);
    if (!row.IsNull(3)) n.project_id = row.Str(3);
    n.due_at = row.Int(4);
    out.push_back(std::move(n));
  }
}

}  // namespace

Result<std::vector<TokenNotice>> SqlDatabase::EnqueueTokenNotices(
    UnixMillis now, int64_t ahead_ms,
    const std::function<WebhookEvent(const TokenNotice&)>& make_event) {
  const UnixMillis until = now + ahead_ms;
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<std::vector<TokenNotice>> {
    std::vector<TokenNotice> out;
    CL_ASSIGN_OR_RETURN(SqlResult expiring, c.Query(kNoticeExpiring, {now, until}));
    AppendNotices(expiring, kExpiringSoon, out);
    CL_ASSIGN_OR_RETURN(SqlResult inactive, c.Query(kNoticeInactive, {now, until}));
    AppendNotices(inactive, kAutoRevokeSoon, out);
    if (out.empty()) return out;
    std::sort(out.begin(), out.end(), [](const TokenNotice& a, const TokenNotice& b) {
      return std::tie(a.due_at, a.org_id, a.token_name, a.token_id, a.event) <
             std::tie(b.due_at, b.org_id, b.token_name, b.token_id, b.event);
    });
    CL_ASSIGN_OR_RETURN(WebhookSubscribers subscribers,
                        SubscribersOf(c, {kExpiringSoon, kAutoRevokeSoon}));
    for (const TokenNotice& notice : out) {
      const WebhookEvent event = make_event(notice);
      auto it = subscribers.find({event.org_id, event.event});
      if (it == subscribers.end()) continue;
      CL_RETURN_IF_ERROR(InsertWebhookEvent(c, event, it->second));
    }
    return out;
  });
}

}  // namespace cl::store
