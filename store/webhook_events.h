// The webhook event catalogue in one table: every event name a webhook may subscribe to, and the
// audit action each one is written for (store/webhook_store.h: the store enqueues it in the same
// transaction as the audit event). The API, the CLI and the web UI validate and list event names
// from here; a test compares the audit side with domain/audit_events.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace cl::store {

struct WebhookEventKind {
  std::string_view name;          // "token.revoked": what webhooks subscribe to and receive
  std::string_view audit_action;  // the audit action it is written for; "" for events that
                                  // are not audit events ("soon" notices, "ping")
  std::string_view description;   // one line for help texts and the web UI
  bool subscribable = true;       // false for "ping" (sent on request to one webhook)
};

// Every event, in a stable order (the order help texts list them).
std::span<const WebhookEventKind> AllWebhookEvents();
// The event named exactly `name`, if any (subscribable or not).
std::optional<WebhookEventKind> FindWebhookEvent(std::string_view name);
// The event written for audit action `action`, if any.
std::optional<std::string_view> WebhookEventForAuditAction(std::string_view action);

}  // namespace cl::store
