// Background jobs from the configuration, and `jobs run`; see the header.
#include "server/background_jobs.h"

#include <iostream>

#include "jobs/token_revoker.h"
#include "server/schema_check.h"

namespace cl::server {

Result<std::unique_ptr<store::Database>> OpenAndCheckSchema(const ServerConfig& c, bool migrate) {
  CL_ASSIGN_OR_RETURN(auto db,
                      store::OpenDatabase(c.database, {.sqlite_cache_mib = c.sqlite_cache_mib}));
  CL_RETURN_IF_ERROR(PrepareSchema(*db, migrate));
  return db;
}

crypto::SecretBox WebhookSecretBox(const std::vector<LoadedPepper>& peppers) {
  std::vector<std::string> secrets;
  for (const auto& p : peppers) secrets.push_back(p.pepper);
  return crypto::SecretBox(std::move(secrets));
}

jobs::WebhookDispatcherOptions WebhookDispatcherOptionsOf(const ServerConfig& c) {
  jobs::WebhookDispatcherOptions o;
  // The blocks were checked when the configuration was loaded.
  if (auto policy = AddressPolicy::Parse(c.webhook_allowed_networks)) o.address_policy = *policy;
  o.timeout_ms = c.webhook_timeout;
  o.retry_initial_delay_ms = c.webhook_retry_initial_delay;
  o.retry_window_ms = c.webhook_retry_window;
  return o;
}

namespace {

int RunTokenRevoker(store::Database& db) {
  // Running instances hear of each revocation from the database (PostgreSQL announces it at
  // commit); a SQLite server re-reads within auth_cache_revalidate.
  SystemClock clock;
  SystemRandom random;
  jobs::TokenRevoker revoker(db, clock, random, nullptr, nullptr, nullptr);
  auto report = revoker.RunOnce();
  if (!report) {
    std::cerr << "error: " << report.error().message() << "\n";
    return 1;
  }
  if (report->skipped_locked) {
    std::cout << "skipped: another instance is sweeping\n";
    return 0;
  }
  for (const auto& [org, n] : report->revoked_per_org) std::cout << org << ": " << n << "\n";
  std::cout << "total: " << report->revoked_total << "\n";
  return 0;
}

int RunWebhookDispatcher(const ServerConfig& c, store::Database& db) {
  auto peppers = LoadPeppers(c, /*create=*/false);
  if (!peppers) {
    std::cerr << "error: " << peppers.error().message() << "\n";
    return 1;
  }
  SystemClock clock;
  SystemRandom random;
  crypto::SecretBox box = WebhookSecretBox(*peppers);
  jobs::WebhookDispatcher dispatcher(db, box, clock, random, nullptr,
                                     WebhookDispatcherOptionsOf(c));
  auto report = dispatcher.RunOnce();
  if (!report) {
    std::cerr << "error: " << report.error().message() << "\n";
    return 1;
  }
  std::cout << "token notices: " << report->notices.value_or(0) << "\n"
            << "pruned deliveries: " << report->pruned.value_or(0) << "\n"
            << "claimed: " << report->claimed << "\n"
            << "delivered: " << report->delivered << "\n"
            << "to retry: " << report->retried << "\n"
            << "failed: " << report->failed << "\n";
  return 0;
}

}  // namespace

int RunJob(const ServerConfig& c, const std::string& job) {
  if (job != "token-revoker" && job != "webhook-dispatcher") {
    std::cerr << "error: unknown job '" << job << "' (known: token-revoker, webhook-dispatcher)\n";
    return 2;
  }
  auto db = OpenAndCheckSchema(c, c.migrate);
  if (!db) {
    std::cerr << "error: " << db.error().message() << "\n";
    return 1;
  }
  return job == "token-revoker" ? RunTokenRevoker(**db) : RunWebhookDispatcher(c, **db);
}

}  // namespace cl::server
