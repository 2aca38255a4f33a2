-- Deleting a trust policy deletes the federated tokens issued under it, in the same transaction
-- (FederationStore::DeleteTrustPolicy): find them without scanning every token.
CREATE INDEX federated_tokens_policy ON federated_tokens (policy_id);
