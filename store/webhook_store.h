// WebhookStore: organizations' event webhooks, the durable outbox of events to deliver to them,
// and the delivery log. Part of store::Database (store/store.h).
//
// An event is written to the outbox in the same transaction as the change it reports: every
// audit event whose action maps to a webhook event (store/webhook_events.h) enqueues one
// delivery per subscribed webhook inside InsertAudit / InsertAuditEventsInBulk, so no writer can
// forget it and an event is never lost when the process dies after the commit. A background job
// (jobs/webhook_dispatcher.h) claims due deliveries with a lease, sends them, and records each
// attempt: at least once, retried with backoff, given up after a window.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/page.h"

namespace cl::store {

struct AuditEvent;

struct Webhook {
  std::string id;
  std::string org_id;
  std::string url;                  // http(s) URL as registered (validated by the domain)
  std::string description;          // may be empty
  std::vector<std::string> events;  // webhook event names, sorted, unique, non-empty
  // The signing secret sealed under a pepper (crypto/secret_box.h); never the secret itself.
  std::string sealed_secret;
  std::string created_by_kind;  // principal kind of the creator
  std::string created_by_id;
  std::string created_by_name;
  UnixMillis created_at = 0;
};

// One event in the outbox.
struct WebhookEvent {
  std::string id;  // the audit event's id when it comes from one, else a fresh id
  std::string org_id;
  std::string event;    // webhook event name, e.g. "token.revoked"
  std::string payload;  // JSON object: the event's "data" (no secrets)
  UnixMillis created_at = 0;
};

// Delivery statuses as stored: "pending" (to be sent at next_attempt_at), "delivered" (a 2xx
// answer), "failed" (given up at the end of the retry window, or the webhook's address refused).
struct WebhookDelivery {
  std::string id;
  std::string webhook_id;
  std::string org_id;
  std::string event_id;
  std::string event;  // the event's name
  std::string status;
  int attempts = 0;
  UnixMillis created_at = 0;       // when the event was enqueued
  UnixMillis next_attempt_at = 0;  // meaningful while pending
  std::optional<UnixMillis> last_attempt_at;
  std::optional<int> last_response_status;  // HTTP status of the last answer, if any
  std::string last_error;                   // short, printable, no secrets; "" if none
  std::optional<UnixMillis> delivered_at;
};

// A claimed delivery with what sending it needs.
struct ClaimedDelivery {
  WebhookDelivery delivery;
  std::string url;
  std::string sealed_secret;
  std::string org_name;
  std::string payload;              // the event's payload
  UnixMillis event_created_at = 0;  // the event's created_at
};

// The outcome of one delivery attempt.
struct WebhookAttempt {
  std::string delivery_id;
  UnixMillis at = 0;
  std::string status;  // "delivered", "pending" (retry at next_attempt_at) or "failed"
  std::optional<int> response_status;
  std::string error;               // "" on success
  UnixMillis next_attempt_at = 0;  // for "pending"
};

// An API token due for a "soon" notice.
struct TokenNotice {
  std::string event;  // "token.expiring_soon" or "token.auto_revoke_soon"
  std::string org_id;
  std::string token_id;
  std::string token_name;
  std::optional<std::string> project_id;
  UnixMillis due_at = 0;  // when it expires / will be auto-revoked
};

class WebhookStore {
 public:
  virtual ~WebhookStore() = default;

  // Webhook and audit event atomically. NotFound when the organization does not exist;
  // AlreadyExists when the organization already has a webhook with the same URL.
  virtual Status CreateWebhook(const Webhook& webhook, const AuditEvent& event) = 0;
  // One page, newest first (created_at descending, then id descending; key {created_at, id}).
  virtual Result<Page<Webhook, TimeKey>> ListWebhooks(const std::string& org_id,
                                                      const PageRequest<TimeKey>& page) = 0;
  // NotFound when unknown in that organization.
  virtual Result<Webhook> GetWebhook(const std::string& org_id, const std::string& id) = 0;
  // Deletes the webhook with its deliveries and appends the event, atomically. NotFound when
  // unknown in that organization.
  virtual Status DeleteWebhook(const std::string& org_id, const std::string& id,
                               const AuditEvent& event) = 0;
  // Replaces the sealed secret of webhook `id` while it is still `old_sealed` (re-sealing under
  // the newest pepper). Returns whether this call changed it.
  virtual Result<bool> ResealWebhookSecret(const std::string& id, const std::string& old_sealed,
                                           const std::string& new_sealed) = 0;
  // Webhooks whose secret is sealed under each pepper id (for `pepper status`), by pepper id.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> CountWebhookSecretsByPepper() = 0;

  // Inserts the event and one pending delivery (next_attempt_at = event.created_at) for each
  // webhook of event.org_id subscribed to event.event, or only for webhook `only_webhook` when
  // given (the "ping" event goes to one webhook whatever it subscribes to), atomically. Nothing
  // is written when no webhook takes it. Returns the number of deliveries created.
  virtual Result<int> EnqueueWebhookEvent(const WebhookEvent& event,
                                          const std::optional<std::string>& only_webhook) = 0;

  // Claims up to `limit` pending deliveries with next_attempt_at <= now, oldest first: sets
  // their next_attempt_at to now + lease_ms, so no other instance (or this one's next poll)
  // takes them while they are being sent. PostgreSQL: FOR UPDATE SKIP LOCKED.
  virtual Result<std::vector<ClaimedDelivery>> ClaimWebhookDeliveries(UnixMillis now, int limit,
                                                                      int64_t lease_ms) = 0;
  // Records one attempt (attempts + 1, last_* fields, status, next_attempt_at, delivered_at on
  // "delivered"). NotFound when the delivery is gone (its webhook was deleted meanwhile).
  virtual Status RecordWebhookAttempt(const WebhookAttempt& attempt) = 0;
  // The delivery log of one webhook: one page, newest first (key {created_at, id}). NotFound
  // when the webhook is unknown in that organization.
  virtual Result<Page<WebhookDelivery, TimeKey>> ListWebhookDeliveries(
      const std::string& org_id, const std::string& webhook_id,
      const PageRequest<TimeKey>& page) = 0;
  // Deletes delivered and failed deliveries created before `before`, and events no delivery
  // refers to any more. Returns the number of deliveries deleted.
  virtual Result<int64_t> PruneWebhookHistory(UnixMillis before) = 0;

  // In ONE transaction, at most once per token and due instant even with several instances:
  // finds active API tokens (not revoked, not rotated away) that
  //  - expire within (now, now + ahead_ms] and had no expiry notice ("token.expiring_soon"), and
  //  - belong to an organization with an inactivity threshold of N days and will be revoked for
  //    inactivity at COALESCE(last_used_at, created_at) + N days within (now, now + ahead_ms],
  //    with no notice yet for that instant ("token.auto_revoke_soon"; using the token again
  //    moves the instant, so a later notice can follow);
  // marks them noticed and enqueues make_event(notice) for each (as EnqueueWebhookEvent).
  // Returns the notices. `make_event` runs inside the transaction: quick, no store calls.
  virtual Result<std::vector<TokenNotice>> EnqueueTokenNotices(
      UnixMillis now, int64_t ahead_ms,
      const std::function<WebhookEvent(const TokenNotice&)>& make_event) = 0;
};

}  // namespace cl::store
