-- The CI identity behind a keyless attestation: the key claims of the CI ID token (GitLab:
-- project_path, project_id, ref, ref_type, pipeline_id, job_id, ci_config_ref_uri; GitHub:
-- repository, repository_id, ref, workflow_ref, run_id) plus iss and sub, as a JSON object.
-- Empty object for people and API tokens.
ALTER TABLE workflow_runs ADD COLUMN actor_claims TEXT NOT NULL DEFAULT '{}';
ALTER TABLE federated_tokens ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';
