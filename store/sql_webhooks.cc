// SqlDatabase's WebhookStore: organizations' webhooks, enqueueing events to them, claiming and
// recording deliveries, the delivery log and its pruning (store/webhook_store.h). The "soon"
// notices of API tokens are in store/sql_token_notices.cc, the outbox writes shared with the
// audit inserts in store/sql_webhook_outbox.cc.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

constexpr const char* kWebhookCols =
    "id, org_id, url, description, sealed_secret, created_by_kind, created_by_id, "
    "created_by_name, created_at";
Webhook ToWebhook(const SqlRow& r) {
  Webhook w;
  w.id = r.Str(0);
  w.org_id = r.Str(1);
  w.url = r.Str(2);
  w.description = r.Str(3);
  w.sealed_secret = r.Str(4);
  w.created_by_kind = r.Str(5);
  w.created_by_id = r.Str(6);
  w.created_by_name = r.Str(7);
  w.created_at = r.Int(8);
  return w;
}

// Fills each webhook's events with one query (sorted by name: the listing's contract).
Status FillEvents(SqlConnection& c, std::vector<Webhook>& webhooks) {
  if (webhooks.empty()) return Ok();
  std::string sql = "SELECT webhook_id, event FROM webhook_subscriptions WHERE webhook_id IN (";
  std::vector<SqlParam> params;
  params.reserve(webhooks.size());
  for (const Webhook& w : webhooks) {
    params.emplace_back(w.id);
    sql += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
  }
  sql += ") ORDER BY webhook_id, event";
  CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(sql, params));
  std::map<std::string, std::vector<std::string>> events;
  for (const SqlRow& row : r.rows) events[row.Str(0)].push_back(row.Str(1));
  for (Webhook& w : webhooks) {
    if (auto it = events.find(w.id); it != events.end()) w.events = std::move(it->second);
  }
  return Ok();
}

const ListOrder kWebhooksNewestFirst{{"created_at", "id"}, /*descending=*/true};
const ListOrder kDeliveriesNewestFirst{{"d.created_at", "d.id"}, /*descending=*/true};

constexpr const char* kDeliveryCols =
    "d.id, d.webhook_id, d.org_id, d.event_id, e.event, d.status, d.attempts, d.created_at, "
    "d.next_attempt_at, d.last_attempt_at, d.last_response_status, d.last_error, "
    "d.delivered_at";
constexpr size_t kDeliveryColCount = 13;
WebhookDelivery ToDelivery(const SqlRow& r) {
  WebhookDelivery d;
  d.id = r.Str(0);
  d.webhook_id = r.Str(1);
  d.org_id = r.Str(2);
  d.event_id = r.Str(3);
  d.event = r.Str(4);
  d.status = r.Str(5);
  d.attempts = static_cast<int>(r.Int(6));
  d.created_at = r.Int(7);
  d.next_attempt_at = r.Int(8);
  d.last_attempt_at = r.OptInt(9);
  if (auto status = r.OptInt(10)) d.last_response_status = static_cast<int>(*status);
  d.last_error = r.Str(11);
  d.delivered_at = r.OptInt(12);
  return d;
}

// The pepper id of a sealed secret ("v1.<pepper id>.<box>"); "" when it has no such field.
std::string PepperIdOfSealed(const std::string& sealed) {
  const size_t first = sealed.find('.');
  if (first == std::string::npos) return "";
  const size_t second = sealed.find('.', first + 1);
  if (second == std::string::npos) return "";
  return sealed.substr(first + 1, second - first - 1);
}

}  // namespace

Status SqlDatabase::CreateWebhook(const Webhook& webhook, const AuditEvent& event) {
  std::vector<std::string> events = webhook.events;
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  return RunInTransaction([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO webhooks (id, org_id, url, description, sealed_secret, created_by_kind, "
        "created_by_id, created_by_name, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {webhook.id, webhook.org_id, webhook.url, webhook.description, webhook.sealed_secret,
         webhook.created_by_kind, webhook.created_by_id, webhook.created_by_name,
         webhook.created_at});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        // Both engines name the violated index in the message (never the values).
        if (r.error().message().find("webhooks_org_url") != std::string::npos) {
          return Fail(Error::AlreadyExists("the organization already has a webhook with this URL"));
        }
        return Fail(Error::AlreadyExists("webhook already exists"));
      }
      if (r.error().IsNotFound()) return Fail(Error::NotFound("organization not found"));
      return Fail(r.error());
    }
    for (const std::string& name : events) {
      CL_RETURN_IF_ERROR(
          c.Query("INSERT INTO webhook_subscriptions (webhook_id, event) VALUES ($1, $2)",
                  {webhook.id, name}));
    }
    return InsertAudit(c, event);
  });
}

Result<Page<Webhook, TimeKey>> SqlDatabase::ListWebhooks(const std::string& org_id,
                                                         const PageRequest<TimeKey>& page) {
  const std::string sql =
      std::string("SELECT ") + kWebhookCols + " FROM webhooks WHERE org_id = $1";
  return RunReturning([&](SqlConnection& c) -> Result<Page<Webhook, TimeKey>> {
    CL_ASSIGN_OR_RETURN(auto out, QueryPage<Webhook>(c, sql, {org_id}, kWebhooksNewestFirst, page,
                                                     ToWebhook, [](const Webhook& w) {
                                                       return TimeKey{w.created_at, w.id};
                                                     }));
    CL_RETURN_IF_ERROR(FillEvents(c, out.items));
    return out;
  });
}

Result<Webhook> SqlDatabase::GetWebhook(const std::string& org_id, const std::string& id) {
  return RunReturning([&](SqlConnection& c) -> Result<Webhook> {
    CL_ASSIGN_OR_RETURN(Webhook w,
                        QueryOne<Webhook>(c,
                                          std::string("SELECT ") + kWebhookCols +
                                              " FROM webhooks WHERE org_id = $1 AND id = $2",
                                          {org_id, id}, "webhook", ToWebhook));
    std::vector<Webhook> one{std::move(w)};
    CL_RETURN_IF_ERROR(FillEvents(c, one));
    return std::move(one.front());
  });
}

Status SqlDatabase::DeleteWebhook(const std::string& org_id, const std::string& id,
                                  const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    // Subscriptions and deliveries go with it (ON DELETE CASCADE); events left without a
    // delivery go at the next PruneWebhookHistory.
    CL_ASSIGN_OR_RETURN(
        SqlResult r, c.Query("DELETE FROM webhooks WHERE org_id = $1 AND id = $2", {org_id, id}));
    if (r.affected == 0) return Fail(Error::NotFound("webhook not found"));
    return InsertAudit(c, event);
  });
}

Result<bool> SqlDatabase::ResealWebhookSecret(const std::string& id, const std::string& old_sealed,
                                              const std::string& new_sealed) {
  return RunReturning([&](SqlConnection& c) -> Result<bool> {
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("UPDATE webhooks SET sealed_secret = $3 "
                                             "WHERE id = $1 AND sealed_secret = $2",
                                             {id, old_sealed, new_sealed}));
    return r.affected > 0;
  });
}

Result<std::vector<std::pair<std::string, int64_t>>> SqlDatabase::CountWebhookSecretsByPepper() {
  using Counts = std::vector<std::pair<std::string, int64_t>>;
  return RunReturning([&](SqlConnection& c) -> Result<Counts> {
    // Webhooks are few: counted here rather than by string functions the dialects spell apart.
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("SELECT sealed_secret FROM webhooks", {}));
    std::map<std::string, int64_t> by_id;
    for (const SqlRow& row : r.rows) ++by_id[PepperIdOfSealed(row.Str(0))];
    return Counts(by_id.begin(), by_id.end());
  });
}

Result<int> SqlDatabase::EnqueueWebhookEvent(const WebhookEvent& event,
                                             const std::optional<std::string>& only_webhook) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<int> {
    std::vector<std::string> ids;
    if (only_webhook) {
      CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("SELECT id FROM webhooks WHERE org_id = $1 AND "
                                               "id = $2",
                                               {event.org_id, *only_webhook}));
      if (!r.rows.empty()) ids.push_back(*only_webhook);
    } else {
      CL_ASSIGN_OR_RETURN(ids, SubscribedWebhooks(c, event.org_id, event.event));
    }
    return InsertWebhookEvent(c, event, ids);
  });
}

Result<std::vector<ClaimedDelivery>> SqlDatabase::ClaimWebhookDeliveries(UnixMillis now, int limit,
                                                                         int64_t lease_ms) {
  if (limit <= 0) return std::vector<ClaimedDelivery>{};
  // PostgreSQL: the inner SELECT locks the due rows it picks and passes over those another
  // instance's claim holds (SKIP LOCKED); a row another claim moved meanwhile is re-checked
  // against its new next_attempt_at and left out. SQLite: BEGIN IMMEDIATE serialises claims.
  const std::string claim =
      std::string(
          "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id IN ("
          "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 "
          "ORDER BY next_attempt_at, id LIMIT $3") +
      SkipLockedRowLockClause() + ") RETURNING id";
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<std::vector<ClaimedDelivery>> {
    std::vector<ClaimedDelivery> out;
    CL_ASSIGN_OR_RETURN(SqlResult claimed, c.Query(claim, {now, now + lease_ms, limit}));
    if (claimed.rows.empty()) return out;
    std::string sql = std::string("SELECT ") + kDeliveryCols +
                      ", w.url, w.sealed_secret, o.name, e.payload, e.created_at "
                      "FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
                      "JOIN webhooks w ON w.id = d.webhook_id "
                      "JOIN organizations o ON o.id = d.org_id WHERE d.id IN (";
    std::vector<SqlParam> params;
    params.reserve(claimed.rows.size());
    for (const SqlRow& row : claimed.rows) {
      params.emplace_back(row.Str(0));
      sql += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
    }
    sql += ") ORDER BY d.created_at, d.id";
    CL_ASSIGN_OR_RETURN(SqlResult rows, c.Query(sql, params));
    out.reserve(rows.rows.size());
    for (const SqlRow& row : rows.rows) {
      ClaimedDelivery d;
      d.delivery = ToDelivery(row);
      d.url = row.Str(kDeliveryColCount);
      d.sealed_secret = row.Str(kDeliveryColCount + 1);
      d.org_name = row.Str(kDeliveryColCount + 2);
      d.payload = row.Str(kDeliveryColCount + 3);
      d.event_created_at = row.Int(kDeliveryColCount + 4);
      out.push_back(std::move(d));
    }
    return out;
  });
}

Status SqlDatabase::RecordWebhookAttempt(const WebhookAttempt& attempt) {
  const bool delivered = attempt.status == "delivered";
  const bool pending = attempt.status == "pending";
  if (!delivered && !pending && attempt.status != "failed") {
    return Fail(Error::InvalidArgument("unknown webhook delivery status"));
  }
  return Run([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, "
                "last_attempt_at = $3, last_response_status = $4, last_error = $5, "
                "next_attempt_at = $6, delivered_at = $7 WHERE id = $1",
                {attempt.delivery_id, attempt.status, attempt.at, attempt.response_status,
                 attempt.error, pending ? attempt.next_attempt_at : attempt.at,
                 delivered ? SqlParam(attempt.at) : SqlParam()}));
    if (r.affected == 0) return Fail(Error::NotFound("webhook delivery not found"));
    return Ok();
  });
}

Result<Page<WebhookDelivery, TimeKey>> SqlDatabase::ListWebhookDeliveries(
    const std::string& org_id, const std::string& webhook_id, const PageRequest<TimeKey>& page) {
  const std::string sql = std::string("SELECT ") + kDeliveryCols +
                          " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
                          "WHERE d.webhook_id = $1";
  return RunReturning([&](SqlConnection& c) -> Result<Page<WebhookDelivery, TimeKey>> {
    CL_ASSIGN_OR_RETURN(
        SqlResult exists,
        c.Query("SELECT 1 FROM webhooks WHERE org_id = $1 AND id = $2", {org_id, webhook_id}));
    if (exists.rows.empty()) return Fail(Error::NotFound("webhook not found"));
    return QueryPage<WebhookDelivery>(c, sql, {webhook_id}, kDeliveriesNewestFirst, page,
                                      ToDelivery, [](const WebhookDelivery& d) {
                                        return TimeKey{d.created_at, d.id};
                                      });
  });
}

Result<int64_t> SqlDatabase::PruneWebhookHistory(UnixMillis before) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<int64_t> {
    CL_ASSIGN_OR_RETURN(SqlResult deliveries,
                        c.Query("DELETE FROM webhook_deliveries WHERE status IN ('delivered', "
                                "'failed') AND created_at < $1",
                                {before}));
    CL_RETURN_IF_ERROR(
        c.Query("DELETE FROM webhook_events WHERE NOT EXISTS "
                "(SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
                {}));
    return deliveries.affected;
  });
}

}  // namespace cl::store
