-- Start-up records the pepper id of credentials hashed before pepper ids were (UPDATE ... WHERE
-- pepper_id IS NULL, server/main.cc with one pepper). Without an index that UPDATE reads every API
-- token and session at every start, so start time grew with the number of tokens (about 0.3 s per
-- million on SQLite in memory). These partial indexes hold only such rows: none once recorded.
CREATE INDEX api_tokens_unknown_pepper ON api_tokens (id) WHERE pepper_id IS NULL;
CREATE INDEX sessions_unknown_pepper ON sessions (id) WHERE pepper_id IS NULL;
