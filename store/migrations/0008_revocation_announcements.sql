-- Revocations are announced by the database itself, inside the revoking transaction: every
-- instance LISTENs on "chainloop_revocations" (store/postgres/postgres_notifier.h) and drops the
-- credential with this hash from its cache. A NOTIFY is delivered when, and only if, the
-- transaction commits, so an acknowledged revocation is always announced and a rolled-back one
-- never is, whichever code path (or operator's SQL) ended the credential and whatever the state
-- of the instance's own notification connection.
--
-- A credential is announced when its revoked_at is first set, and when a live row is deleted.
-- The payload is the stored token_hash (64 lower-case hex characters, not a secret).
-- SQLite deployments are a single instance: their cache is told in-process.
{{POSTGRES_ONLY}}
CREATE FUNCTION chainloop_announce_revocation() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('chainloop_revocations', OLD.token_hash);
    RETURN OLD;
  END IF;
  PERFORM pg_notify('chainloop_revocations', NEW.token_hash);
  RETURN NEW;
END;
$body$;

CREATE TRIGGER api_tokens_announce_revocation
  AFTER UPDATE OF revoked_at ON api_tokens FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();
CREATE TRIGGER api_tokens_announce_deletion
  AFTER DELETE ON api_tokens FOR EACH ROW WHEN (OLD.revoked_at IS NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();

CREATE TRIGGER sessions_announce_revocation
  AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();
CREATE TRIGGER sessions_announce_deletion
  AFTER DELETE ON sessions FOR EACH ROW WHEN (OLD.revoked_at IS NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();

CREATE TRIGGER federated_tokens_announce_revocation
  AFTER UPDATE OF revoked_at ON federated_tokens FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();
CREATE TRIGGER federated_tokens_announce_deletion
  AFTER DELETE ON federated_tokens FOR EACH ROW WHEN (OLD.revoked_at IS NULL)
  EXECUTE FUNCTION chainloop_announce_revocation();
{{END_POSTGRES_ONLY}}
