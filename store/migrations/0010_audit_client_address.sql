-- The address of the client whose request caused each audit event (behind trusted proxies, the
-- forwarded client's, see `trusted_proxies`). NULL for events of background jobs and for events
-- recorded before this migration.
ALTER TABLE audit_events ADD COLUMN client_address TEXT NULL;
