-- Deleting a trust policy revokes the federated tokens issued under it instead of deleting them,
-- so a client presenting one is told "token_revoked" (it was valid and was ended), like any
-- other ended credential, rather than "invalid_token". Rows still go at expiry (minutes).
ALTER TABLE federated_tokens ADD COLUMN revoked_at BIGINT NULL;
