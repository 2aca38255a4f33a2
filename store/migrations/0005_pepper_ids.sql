-- Pepper rotation: the id of the pepper each long-lived credential hash was computed with (the
-- first 8 hex characters of SHA-256(pepper), see crypto::CredentialHasher::PepperIdOf). NULL
-- for rows written before this migration: the server fills it in at start when it runs with a
-- single pepper (which then is the one those hashes use), or when the credential is next used.
-- Short-lived hashes (login state, federated tokens) are not tracked: they expire within
-- minutes, and lookups try every configured pepper anyway.
ALTER TABLE api_tokens ADD COLUMN pepper_id TEXT NULL;
ALTER TABLE sessions ADD COLUMN pepper_id TEXT NULL;
