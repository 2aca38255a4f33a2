-- Keyless CI authentication: organizations' trust policies, the short-lived tokens
-- exchanged for CI ID tokens (only their HMAC is stored), and the CI tokens' `jti` values seen,
-- so each CI token is used once.

-- `bound_claims` is a JSON object {claim: pattern}; `permissions` "resource:action" strings
-- separated by single spaces (as in api_tokens).
CREATE TABLE trust_policies (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  provider TEXT NOT NULL,
  audience TEXT NOT NULL,
  bound_claims TEXT NOT NULL,
  project_id TEXT NULL,
  permissions TEXT NOT NULL DEFAULT '',
  created_by_kind TEXT NOT NULL,
  created_by_id TEXT NOT NULL,
  created_by_name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX trust_policies_org_name ON trust_policies (org_id, name);
-- Verification loads the policies of one issuer.
CREATE INDEX trust_policies_issuer ON trust_policies (issuer);

CREATE TABLE federated_tokens (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  project_id TEXT NULL,
  policy_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  permissions TEXT NOT NULL DEFAULT '',
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE
);
-- Expired rows are purged by expiry.
CREATE INDEX federated_tokens_expires ON federated_tokens (expires_at);

CREATE TABLE ci_token_jtis (
  issuer TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX ci_token_jtis_expires ON ci_token_jtis (expires_at);
