// The webhook outbox's writes, shared by the audit inserts and the WebhookStore: an event and one
// pending delivery per webhook that takes it, in the caller's transaction, and the "data" payload
// of an event written for an audit event (store/webhook_store.h).
#include <boost/json/object.hpp>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/random.h"
#include "store/sql_database.h"
#include "store/sql_internal.h"
#include "store/webhook_events.h"

namespace cl::store {
namespace {

// Delivery ids are the store's own (an audit write has no caller to give them).
std::string NewDeliveryId() {
  static SystemRandom random;
  return NewUuid(random);
}

boost::json::value OptJson(const SqlRow& row, size_t i) {
  if (row.IsNull(i)) return nullptr;
  return boost::json::value(row.Str(i));
}

// The event's "data" for audit event `e`, reading its API token (if it is about one) in the
// caller's transaction, so the payload shows the token as this change left it.
Result<std::string> AuditPayload(SqlConnection& c, const AuditEvent& e) {
  boost::json::object data;
  data["action"] = e.action;
  data["message"] = e.message;
  data["actor"] = {{"kind", e.actor_kind}, {"id", e.actor_id}, {"name", e.actor_name}};
  data["target"] = {{"kind", e.target_kind}, {"id", e.target_id}};
  if (e.target_kind == "api_token") {
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("SELECT id, name, project_id, revocation_reason, "
                                             "expires_at FROM api_tokens "
                                             "WHERE id = $1 AND org_id = $2",
                                             {e.target_id, e.org_id}));
    if (!r.rows.empty()) {
      const SqlRow& row = r.rows.front();
      boost::json::object token;
      token["id"] = row.Str(0);
      token["name"] = row.Str(1);
      token["project_id"] = OptJson(row, 2);
      // '' while active (the column's default).
      token["revocation_reason"] =
          row.Str(3).empty() ? boost::json::value(nullptr) : boost::json::value(row.Str(3));
      if (auto expires_at = row.OptInt(4)) {
        token["expires_at"] = FormatRfc3339(*expires_at);
      } else {
        token["expires_at"] = nullptr;
      }
      data["api_token"] = std::move(token);
    }
  }
  return SerializeJson(data);
}

// The statement that finds the webhooks of one organization subscribed to one event.
constexpr const char* kSubscribersSql =
    "SELECT w.id FROM webhook_subscriptions s JOIN webhooks w ON w.id = s.webhook_id "
    "WHERE w.org_id = $1 AND s.event = $2 ORDER BY w.id";

}  // namespace

Result<std::vector<std::string>> SubscribedWebhooks(SqlConnection& c, const std::string& org_id,
                                                    const std::string& event) {
  CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(kSubscribersSql, {org_id, event}));
  std::vector<std::string> ids;
  ids.reserve(r.rows.size());
  for (const SqlRow& row : r.rows) ids.push_back(row.Str(0));
  return ids;
}

Result<int> InsertWebhookEvent(SqlConnection& c, const WebhookEvent& event,
                               const std::vector<std::string>& webhook_ids) {
  if (webhook_ids.empty()) return 0;
  CL_RETURN_IF_ERROR(
      c.Query("INSERT INTO webhook_events (id, org_id, event, payload, created_at) "
              "VALUES ($1, $2, $3, $4, $5)",
              {event.id, event.org_id, event.event, event.payload, event.created_at}));
  for (const std::string& webhook_id : webhook_ids) {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO webhook_deliveries (id, webhook_id, org_id, event_id, status, "
                "attempts, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, 'pending', 0, "
                "$5, $5)",
                {NewDeliveryId(), webhook_id, event.org_id, event.id, event.created_at}));
  }
  return static_cast<int>(webhook_ids.size());
}

namespace {

Status EnqueueAudit(SqlConnection& c, const AuditEvent& e, std::string_view name,
                    const std::vector<std::string>& webhook_ids) {
  CL_ASSIGN_OR_RETURN(std::string payload, AuditPayload(c, e));
  WebhookEvent event{e.id, e.org_id, std::string(name), std::move(payload), e.created_at};
  CL_RETURN_IF_ERROR(InsertWebhookEvent(c, event, webhook_ids));
  return Ok();
}

}  // namespace

Status EnqueueWebhooksForAudit(SqlConnection& c, const AuditEvent& e) {
  const auto name = WebhookEventForAuditAction(e.action);
  if (!name) return Ok();
  // One indexed SELECT when the organization has no webhook for it; nothing is written then.
  CL_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                      SubscribedWebhooks(c, e.org_id, std::string(*name)));
  if (ids.empty()) return Ok();
  return EnqueueAudit(c, e, *name, ids);
}

Result<WebhookSubscribers> SubscribersOf(SqlConnection& c, const std::set<std::string>& events) {
  WebhookSubscribers out;
  if (events.empty()) return out;
  std::string sql =
      "SELECT w.org_id, s.event, w.id FROM webhook_subscriptions s "
      "JOIN webhooks w ON w.id = s.webhook_id WHERE s.event IN (";
  std::vector<SqlParam> params;
  for (const std::string& name : events) {
    params.emplace_back(name);
    sql += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
  }
  sql += ") ORDER BY w.id";
  CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(sql, params));
  for (const SqlRow& row : r.rows) out[{row.Str(0), row.Str(1)}].push_back(row.Str(2));
  return out;
}

Status EnqueueWebhooksForAudits(SqlConnection& c, const std::vector<AuditEvent>& events) {
  std::set<std::string> names;
  for (const AuditEvent& e : events) {
    if (auto name = WebhookEventForAuditAction(e.action)) names.emplace(*name);
  }
  CL_ASSIGN_OR_RETURN(WebhookSubscribers subscribers, SubscribersOf(c, names));
  if (subscribers.empty()) return Ok();
  for (const AuditEvent& e : events) {
    const auto name = WebhookEventForAuditAction(e.action);
    if (!name) continue;
    auto it = subscribers.find({e.org_id, std::string(*name)});
    if (it == subscribers.end()) continue;
    CL_RETURN_IF_ERROR(EnqueueAudit(c, e, *name, it->second));
  }
  return Ok();
}

}  // namespace cl::store
