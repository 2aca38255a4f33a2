// SqlDatabase's TokenRevocationStore: the sweep that revokes API tokens inactive for longer
// than their organization allows, and the one that records the end of rotated tokens' grace
// periods, each with one audit event per revoked token.
#include <algorithm>
#include <functional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {

Result<InactiveTokenSweep> SqlDatabase::RevokeInactiveApiTokens(
    UnixMillis now, const std::function<AuditEvent(const RevokedToken&)>& make_event) {
  // One set-based UPDATE: the planner walks the organizations with a threshold
  // (organizations_auto_revoke) and range-scans each one's active tokens by last activity
  // (api_tokens_active_last_activity), which is why COALESCE(...) is spelled exactly as in the
  // index. Tokens already expired at `now` are left alone: they are dead, and revoking them
  // "for inactivity" would only be noise in the audit log. The cut-off is computed in BIGINT: 365
  // days of milliseconds overflow an INTEGER. RETURNING may name the joined organization only on
  // PostgreSQL; SQLite reads the organizations first instead, consistent with the UPDATE under
  // BEGIN IMMEDIATE.
  const bool returning_sees_orgs = ReturningSeesJoinedTables();
  std::string update =
      "UPDATE api_tokens SET revoked_at = $1, revocation_reason = " +
      SqlLiteral(RevocationReason::kInactive) +
      ", revoked_by_name = 'system' FROM organizations o "
      "WHERE o.id = api_tokens.org_id AND o.api_token_max_days_inactive IS NOT NULL "
      "AND api_tokens.revoked_at IS NULL "
      "AND (api_tokens.expires_at IS NULL OR api_tokens.expires_at > $1) "
      "AND COALESCE(api_tokens.last_used_at, api_tokens.created_at) < "
      "CAST($1 AS BIGINT) - CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000 "
      "RETURNING api_tokens.id, api_tokens.org_id, api_tokens.name, api_tokens.token_hash";
  if (returning_sees_orgs) update += ", o.name, o.api_token_max_days_inactive";

  return RunInTransactionReturning([&](SqlConnection& c) -> Result<InactiveTokenSweep> {
    InactiveTokenSweep out;
    CL_ASSIGN_OR_RETURN(bool locked, TryLockTokenSweep(c));
    if (!locked) {
      out.skipped_locked = true;
      return out;
    }
    std::unordered_map<std::string, std::pair<std::string, int>> orgs;  // id -> (name, days)
    if (!returning_sees_orgs) {
      CL_ASSIGN_OR_RETURN(SqlResult r,
                          c.Query("SELECT id, name, api_token_max_days_inactive FROM organizations "
                                  "WHERE api_token_max_days_inactive IS NOT NULL",
                                  {}));
      for (const SqlRow& row : r.rows) {
        orgs.emplace(row.Str(0), std::make_pair(row.Str(1), static_cast<int>(row.Int(2))));
      }
    }
    CL_ASSIGN_OR_RETURN(SqlResult revoked, c.Query(update, {now}));
    out.revoked.reserve(revoked.rows.size());
    for (const SqlRow& row : revoked.rows) {
      RevokedToken t;
      t.id = row.Str(0);
      t.org_id = row.Str(1);
      t.name = row.Str(2);
      t.token_hash = row.Str(3);
      if (returning_sees_orgs) {
        t.org_name = row.Str(4);
        t.days = static_cast<int>(row.Int(5));
      } else if (auto it = orgs.find(t.org_id); it != orgs.end()) {
        t.org_name = it->second.first;
        t.days = it->second.second;
      }
      out.revoked.push_back(std::move(t));
    }
    std::sort(out.revoked.begin(), out.revoked.end(),
              [](const RevokedToken& a, const RevokedToken& b) {
                return std::tie(a.org_name, a.name, a.id) < std::tie(b.org_name, b.name, b.id);
              });
    std::vector<AuditEvent> events;
    events.reserve(out.revoked.size());
    for (const RevokedToken& t : out.revoked) events.push_back(make_event(t));
    CL_RETURN_IF_ERROR(InsertAuditEventsInBulk(c, events));
    return out;
  });
}

Result<std::vector<RevokedToken>> SqlDatabase::RevokeRotatedApiTokens(
    UnixMillis now, const std::function<AuditEvent(const RevokedToken&)>& make_event) {
  // A concurrent run on another instance waits for this one's row locks, then re-checks
  // revoked_at IS NULL and skips what this one revoked: each token is revoked once.
  const std::string update =
      "UPDATE api_tokens SET revoked_at = rotation_deadline, revocation_reason = " +
      SqlLiteral(RevocationReason::kRotated) +
      ", revoked_by_name = 'system' "
      "WHERE revoked_at IS NULL AND rotation_deadline IS NOT NULL AND rotation_deadline <= $1 "
      "RETURNING id, org_id, name, token_hash";
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<std::vector<RevokedToken>> {
    CL_ASSIGN_OR_RETURN(SqlResult revoked, c.Query(update, {now}));
    std::vector<RevokedToken> out;
    out.reserve(revoked.rows.size());
    for (const SqlRow& row : revoked.rows) {
      RevokedToken t;
      t.id = row.Str(0);
      t.org_id = row.Str(1);
      t.name = row.Str(2);
      t.token_hash = row.Str(3);
      out.push_back(std::move(t));
    }
    std::sort(out.begin(), out.end(), [](const RevokedToken& a, const RevokedToken& b) {
      return std::tie(a.org_id, a.name, a.id) < std::tie(b.org_id, b.name, b.id);
    });
    std::vector<AuditEvent> events;
    events.reserve(out.size());
    for (const RevokedToken& t : out) events.push_back(make_event(t));
    CL_RETURN_IF_ERROR(InsertAuditEventsInBulk(c, events));
    return out;
  });
}

}  // namespace cl::store
