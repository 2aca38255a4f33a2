-- How old (seconds since its `iat`) a CI ID token may be and still match a trust policy: GitLab
-- issues a job's ID tokens when the job starts, so this bounds how long a job can authenticate.
-- Policies stored before it keep the old fixed bound of one hour.
ALTER TABLE trust_policies ADD COLUMN max_token_age_seconds BIGINT NOT NULL DEFAULT 3600;
