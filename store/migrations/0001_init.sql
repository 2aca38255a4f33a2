-- Initial schema. Timestamps are Unix milliseconds; ids are UUID text.
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  applied_at BIGINT NOT NULL
);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  email_verified {{BOOLEAN}} NOT NULL DEFAULT {{FALSE}},
  name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (issuer, subject)
);
CREATE INDEX users_email ON users (email);

CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  api_token_max_days_inactive INTEGER NULL
    CHECK (api_token_max_days_inactive BETWEEN 1 AND 365)
);

CREATE TABLE memberships (
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (org_id, name)
);

CREATE TABLE project_memberships (
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_memberships_user ON project_memberships (user_id);

CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  inviter_user_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted')),
  created_at BIGINT NOT NULL,
  accepted_at BIGINT NULL
);
-- At most one pending invitation per (organization, email); accepted ones may repeat.
CREATE UNIQUE INDEX invitations_pending_org_email ON invitations (org_id, email)
  WHERE status = 'pending';
CREATE INDEX invitations_email ON invitations (email);

CREATE TABLE workflows (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (project_id, name)
);
CREATE INDEX workflows_org ON workflows (org_id);

CREATE TABLE workflow_runs (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('initialized', 'succeeded')),
  created_at BIGINT NOT NULL,
  finished_at BIGINT NULL,
  actor_kind TEXT NOT NULL DEFAULT '',
  actor_id TEXT NOT NULL DEFAULT '',
  actor_name TEXT NOT NULL DEFAULT '',
  statement TEXT NOT NULL DEFAULT '',
  predicate_type TEXT NOT NULL DEFAULT '',
  statement_digest TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workflow_runs_org_created ON workflow_runs (org_id, created_at);
CREATE INDEX workflow_runs_project_created ON workflow_runs (project_id, created_at);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_requests (
  state_hash TEXT PRIMARY KEY,
  nonce TEXT NOT NULL,
  upstream_code_verifier TEXT NOT NULL,
  cli_redirect_uri TEXT NOT NULL,
  cli_state TEXT NOT NULL,
  cli_code_challenge TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX login_requests_expires ON login_requests (expires_at);

CREATE TABLE auth_codes (
  code_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  cli_code_challenge TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE device_requests (
  handle_hash TEXT PRIMARY KEY,
  upstream_device_code TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  interval_seconds INTEGER NOT NULL
);
CREATE INDEX device_requests_expires ON device_requests (expires_at);

-- No foreign key to organizations: the audit trail outlives what it describes.
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_name TEXT NOT NULL,
  action TEXT NOT NULL,
  target_kind TEXT NOT NULL,
  target_id TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_org_created ON audit_events (org_id, created_at);
