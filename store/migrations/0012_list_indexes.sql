-- Indexes for the keyset-paginated listings (ORDER BY ... LIMIT after a row-value comparison):
-- each matches its listing's order, after the organization, so a page reads only its rows.
-- The audit log's filters (action, target, actor) each get one, in the same order.
CREATE INDEX audit_events_org_created_id ON audit_events (org_id, created_at, id);
CREATE INDEX audit_events_org_action_created ON audit_events (org_id, action, created_at, id);
CREATE INDEX audit_events_org_target_created ON audit_events (org_id, target_id, created_at, id);
CREATE INDEX audit_events_org_actor_id_created ON audit_events (org_id, actor_id, created_at, id);
CREATE INDEX audit_events_org_actor_name_created ON audit_events (org_id, actor_name, created_at, id);
CREATE INDEX api_tokens_org_created_id ON api_tokens (org_id, created_at, id);
CREATE INDEX workflow_runs_org_created_id ON workflow_runs (org_id, created_at, id);
