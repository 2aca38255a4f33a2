-- API tokens. Only the HMAC of a token is stored. `permissions` holds the token's
-- "resource:action" strings separated by single spaces, in the order the caller gave them
-- (the domain sorts them); permission strings never contain whitespace.

-- A composite foreign key target, so a project-scoped token's project provably belongs to the
-- token's organization.
CREATE UNIQUE INDEX projects_id_org ON projects (id, org_id);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  project_id TEXT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  token_hash TEXT NOT NULL UNIQUE,
  permissions TEXT NOT NULL DEFAULT '',
  created_by_kind TEXT NOT NULL,
  created_by_id TEXT NOT NULL,
  created_by_name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NULL,
  last_used_at BIGINT NULL,
  revoked_at BIGINT NULL,
  revocation_reason TEXT NOT NULL DEFAULT '',
  revoked_by_name TEXT NOT NULL DEFAULT '',
  FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE
);

-- Names are unique among ACTIVE tokens of one scope: the organization-level tokens of an org
-- (project_id NULL, folded to ''), or the tokens of one project. Revoked names can be reused.
CREATE UNIQUE INDEX api_tokens_active_name
  ON api_tokens (org_id, COALESCE(project_id, ''), name) WHERE revoked_at IS NULL;

-- Listings: WHERE org_id = ? [AND project_id = ?] ORDER BY created_at DESC.
CREATE INDEX api_tokens_org_created ON api_tokens (org_id, created_at);
CREATE INDEX api_tokens_project_created ON api_tokens (project_id, created_at)
  WHERE project_id IS NOT NULL;

-- The inactivity sweep revokes, per organization with a threshold, the active tokens whose
-- COALESCE(last_used_at, created_at) is older than the cut-off: a range scan of this partial
-- expression index. The sweep must spell the expression exactly like this to use it.
CREATE INDEX api_tokens_active_last_activity
  ON api_tokens (org_id, COALESCE(last_used_at, created_at)) WHERE revoked_at IS NULL;

-- The sweep's outer loop: only organizations that turned auto-revocation on.
CREATE INDEX organizations_auto_revoke ON organizations (id, api_token_max_days_inactive)
  WHERE api_token_max_days_inactive IS NOT NULL;
