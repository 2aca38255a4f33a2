// SqlDatabase's AuditStore: appending and listing audit events, the single-row insert every
// audited write uses, and the portable bulk insert of the inactivity sweep. Both inserts also
// enqueue the webhook events their actions map to (store/sql_webhook_outbox.cc).
#include <string>
#include <unordered_map>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"
#include "store/webhook_events.h"

namespace cl::store {
namespace {

constexpr const char* kAuditCols =
    "id, org_id, actor_kind, actor_id, actor_name, action, target_kind, target_id, message, "
    "created_at, client_address";
AuditEvent ToAudit(const SqlRow& r) {
  AuditEvent e;
  e.id = r.Str(0);
  e.org_id = r.Str(1);
  e.actor_kind = r.Str(2);
  e.actor_id = r.Str(3);
  e.actor_name = r.Str(4);
  e.action = r.Str(5);
  e.target_kind = r.Str(6);
  e.target_id = r.Str(7);
  e.message = r.Str(8);
  e.created_at = r.Int(9);
  e.client_address = r.Str(10);
  return e;
}

// Audit events of a sweep go in multi-row INSERTs of these sizes, largest first: a few fixed
// statement shapes (SQLite caches one prepared statement per shape), and 512 rows x 11
// parameters stays well below both engines' parameter limits (32766 and 65535).
constexpr size_t kAuditBatchRows[] = {512, 64, 8, 1};
constexpr size_t kAuditColumnCount = 11;

const std::string& AuditInsertSql(size_t rows) {
  static const auto* const kSql = [] {
    auto* m = new std::unordered_map<size_t, std::string>();
    for (size_t n : kAuditBatchRows) {
      std::string sql =
          "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, action, "
          "target_kind, target_id, message, created_at, client_address) VALUES ";
      for (size_t r = 0; r < n; ++r) {
        sql += r == 0 ? "(" : ", (";
        for (size_t c = 0; c < kAuditColumnCount; ++c) {
          if (c > 0) sql += ", ";
          sql += "$" + std::to_string(r * kAuditColumnCount + c + 1);
        }
        sql += ")";
      }
      m->emplace(n, std::move(sql));
    }
    return m;
  }();
  return kSql->at(rows);
}

const ListOrder kAuditNewestFirst{{"created_at", "id"}, /*descending=*/true};

}  // namespace

Status InsertAudit(SqlConnection& c, const AuditEvent& e) {
  auto r = c.Query(
      "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, action, "
      "target_kind, target_id, message, created_at, client_address) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      {e.id, e.org_id, e.actor_kind, e.actor_id, e.actor_name, e.action, e.target_kind, e.target_id,
       e.message, e.created_at, OptText(e.client_address)});
  if (!r) return Fail(r.error());
  return EnqueueWebhooksForAudit(c, e);
}

Status SqlDatabase::InsertAuditEventsInBulk(SqlConnection& c,
                                            const std::vector<AuditEvent>& events) {
  CL_RETURN_IF_ERROR(InsertAuditRowsInBulk(c, events));
  return EnqueueWebhooksForAudits(c, events);
}

Status SqlDatabase::InsertAuditRowsInBulk(SqlConnection& c, const std::vector<AuditEvent>& events) {
  size_t i = 0;
  std::vector<SqlParam> params;
  while (i < events.size()) {
    const size_t left = events.size() - i;
    size_t rows = 1;
    for (size_t n : kAuditBatchRows) {
      if (n <= left) {
        rows = n;
        break;
      }
    }
    params.clear();
    params.reserve(rows * kAuditColumnCount);
    for (size_t r = 0; r < rows; ++r) {
      const AuditEvent& e = events[i + r];
      params.insert(params.end(), {e.id, e.org_id, e.actor_kind, e.actor_id, e.actor_name, e.action,
                                   e.target_kind, e.target_id, e.message, e.created_at,
                                   OptText(e.client_address)});
    }
    CL_RETURN_IF_ERROR(c.Query(AuditInsertSql(rows), params));
    i += rows;
  }
  return Ok();
}

Status SqlDatabase::AppendAuditEvent(const AuditEvent& e) {
  const Work insert = [&](SqlConnection& c) { return InsertAudit(c, e); };
  // An event webhooks may take is written with its outbox rows, all or nothing.
  if (WebhookEventForAuditAction(e.action)) return RunInTransaction(insert);
  return Run(insert);
}

Result<std::vector<AuditEvent>> SqlDatabase::ListAuditEvents(const std::string& org_id, int limit) {
  if (limit <= 0) return std::vector<AuditEvent>{};
  CL_ASSIGN_OR_RETURN(auto page, ListAuditEvents(AuditEventFilter{.org_id = org_id},
                                                 PageRequest<TimeKey>{.limit = limit}));
  return std::move(page.items);
}

Result<Page<AuditEvent, TimeKey>> SqlDatabase::ListAuditEvents(const AuditEventFilter& filter,
                                                               const PageRequest<TimeKey>& page) {
  // Fixed shapes per combination of filters; each filter is one indexed equality or range
  // (migration 0012) next to org_id.
  std::string sql = std::string("SELECT ") + kAuditCols + " FROM audit_events WHERE org_id = $1";
  std::vector<SqlParam> params = {filter.org_id};
  auto next = [&](SqlParam value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  };
  if (filter.action) sql += " AND action = " + next(*filter.action);
  if (filter.actor) {
    const std::string p = next(*filter.actor);
    sql += " AND (actor_id = " + p + " OR actor_name = " + p + ")";
  }
  if (filter.target_id) sql += " AND target_id = " + next(*filter.target_id);
  if (filter.since) sql += " AND created_at >= " + next(*filter.since);
  if (filter.until) sql += " AND created_at < " + next(*filter.until);
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<AuditEvent>(c, sql, params, kAuditNewestFirst, page, ToAudit,
                                 [](const AuditEvent& e) {
                                   return TimeKey{e.created_at, e.id};
                                 });
  });
}

}  // namespace cl::store
