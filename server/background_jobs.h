// The server's background jobs as the configuration sets them up, and `chainloop-controlplane
// jobs run JOB` (one pass of a job, then exit: for operators and tests).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/secret_box.h"
#include "jobs/webhook_dispatcher.h"
#include "server/config.h"
#include "store/store.h"

namespace cl::server {

// Opens the database and checks/applies the schema (server/schema_check.h). `migrate` false:
// refuse a schema that lacks a migration this server knows.
Result<std::unique_ptr<store::Database>> OpenAndCheckSchema(const ServerConfig& c, bool migrate);

// The box that seals webhook secrets under the configured peppers, newest first.
crypto::SecretBox WebhookSecretBox(const std::vector<LoadedPepper>& peppers);

// The dispatcher's settings from the webhook_* keys (validated by LoadServerConfig).
jobs::WebhookDispatcherOptions WebhookDispatcherOptionsOf(const ServerConfig& c);

// `jobs run token-revoker` (one inactivity sweep) or `jobs run webhook-dispatcher` (token
// notices, pruning and one batch of due deliveries). Prints what it did; returns the exit code.
int RunJob(const ServerConfig& c, const std::string& job);

}  // namespace cl::server
