-- API token rotation and last-used details.
--
-- A rotated token names its replacement (rotated_to) and the instant it stops working
-- (rotation_deadline): authentication refuses it from then on, and a background job records the
-- revocation (revoked_at = rotation_deadline, reason 'rotated'). While in its grace period the old
-- token shares its name with the replacement, so the active-name index leaves rotated tokens out:
-- the replacement holds the name.
--
-- last_used_address / last_used_user_agent: the client address and User-Agent (first 200 bytes) of
-- the use recorded in last_used_at; NULL when never used or used before this migration.
ALTER TABLE api_tokens ADD COLUMN rotated_to TEXT NULL;
ALTER TABLE api_tokens ADD COLUMN rotation_deadline BIGINT NULL;
ALTER TABLE api_tokens ADD COLUMN last_used_address TEXT NULL;
ALTER TABLE api_tokens ADD COLUMN last_used_user_agent TEXT NULL;

-- Replaced in this one transaction: a relaxation, every name an older server could store is still
-- unique among the tokens it knows to be active.
DROP INDEX api_tokens_active_name;
CREATE UNIQUE INDEX api_tokens_active_name
  ON api_tokens (org_id, COALESCE(project_id, ''), name)
  WHERE revoked_at IS NULL AND rotated_to IS NULL;

-- The rotation job: tokens in grace whose deadline has passed.
CREATE INDEX api_tokens_rotation_deadline ON api_tokens (rotation_deadline)
  WHERE revoked_at IS NULL AND rotation_deadline IS NOT NULL;

-- A rotation with a grace period changes when the old token stops working without revoking it
-- yet: announce it like a revocation, so every instance drops its cached copy and reads the
-- deadline (store/migrations/0008_revocation_announcements.sql).
{{POSTGRES_ONLY}}
CREATE TRIGGER api_tokens_announce_rotation
  AFTER UPDATE OF rotation_deadline ON api_tokens FOR EACH ROW
  WHEN (OLD.rotation_deadline IS NULL AND NEW.rotation_deadline IS NOT NULL
        AND NEW.revoked_at IS NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();
{{END_POSTGRES_ONLY}}
