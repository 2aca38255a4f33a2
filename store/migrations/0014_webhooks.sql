-- Event webhooks: organizations' webhooks and the events they subscribe to, the outbox of events
-- to deliver (written in the same transaction as the audit event they report), one delivery per
-- webhook and event with its attempts, and the "soon" notices already sent for API tokens.

-- `sealed_secret` is the signing secret sealed under a pepper (crypto/secret_box.h), never the
-- secret itself; its second dot-separated field is the pepper's id.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  sealed_secret TEXT NOT NULL,
  created_by_kind TEXT NOT NULL,
  created_by_id TEXT NOT NULL,
  created_by_name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhooks_org_url ON webhooks (org_id, url);
-- The listing: WHERE org_id = ? ORDER BY created_at DESC, id DESC.
CREATE INDEX webhooks_org_created_id ON webhooks (org_id, created_at, id);

-- Enqueueing looks up the webhooks of one organization subscribed to one event.
CREATE TABLE webhook_subscriptions (
  webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  PRIMARY KEY (webhook_id, event)
);
CREATE INDEX webhook_subscriptions_event ON webhook_subscriptions (event, webhook_id);

-- The outbox. `payload` is the JSON object sent as the event's "data" (no secrets). Rows stay
-- while a delivery refers to them (PruneWebhookHistory removes the rest).
CREATE TABLE webhook_events (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

-- status: 'pending' (sent at next_attempt_at; a claim moves next_attempt_at to the end of its
-- lease), 'delivered' or 'failed'.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  org_id TEXT NOT NULL,
  event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  last_attempt_at BIGINT NULL,
  last_response_status INTEGER NULL,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_at BIGINT NULL
);
-- Claiming: the due pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_claim ON webhook_deliveries (status, next_attempt_at);
-- The delivery log of one webhook, newest first.
CREATE INDEX webhook_deliveries_webhook_created_id
  ON webhook_deliveries (webhook_id, created_at, id);
-- Pruning the outbox: events no delivery refers to.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- "Soon" notices, each sent once: the expiry notice (when it was enqueued), and the instant of
-- inactivity revocation an auto-revoke notice was enqueued for (a later use moves the instant,
-- and a notice for the new one may follow).
ALTER TABLE api_tokens ADD COLUMN expiry_noticed_at BIGINT NULL;
ALTER TABLE api_tokens ADD COLUMN inactivity_noticed_for BIGINT NULL;
-- Expiry notices: active tokens by expiry.
CREATE INDEX api_tokens_active_expires ON api_tokens (expires_at)
  WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
