// Scrape-time metrics (see the header): one function per source, each a handful of SetCounter /
// SetGauge / SetHistogram calls on the registry.
#include "api/scrape_metrics.h"

#include <vector>

#include "api/middleware.h"
#include "common/version.h"
#include "http/process_metrics.h"
#include "store/notifications.h"

namespace cl::api {
namespace {

void CollectListener(http::Metrics& m, const store::RevocationNotifier& notifier) {
  const store::ListenerHealth h = notifier.Health();
  m.SetGauge("chainloop_revocation_listener_connected",
             "1 while the revocation listener holds a LISTENing database connection.",
             h.connected ? 1 : 0);
  m.SetGauge("chainloop_revocation_listener_hearing",
             "1 while this instance hears its own heartbeat, i.e. other instances' revocations; "
             "0: deaf, every request re-reads its credential from the database.",
             h.hearing ? 1 : 0);
  m.SetGauge("chainloop_revocation_listener_through_pooler",
             "1 when the listen connection goes through a connection pooler (must be session "
             "mode).",
             h.through_pooler ? 1 : 0);
  m.SetGauge("chainloop_revocation_heartbeat_lag_seconds",
             "Time from sending to hearing the last heartbeat heard (-1: none heard yet).",
             h.heartbeat_lag_ms < 0 ? -1 : static_cast<double>(h.heartbeat_lag_ms) / 1000);
  m.SetGauge("chainloop_revocation_listener_deaf_periods",
             "Times this instance went from hearing to deaf since it started.",
             static_cast<double>(h.deaf_periods));
}

void CollectDatabase(http::Metrics& m, const store::Database& db) {
  const store::DatabaseStats s = db.Stats();
  static const std::vector<double> kBounds(store::kDbLatencyBuckets.begin(),
                                           store::kDbLatencyBuckets.end());
  for (size_t u = 0; u < store::kDbUnitCount; ++u) {
    const char* unit = store::DbUnitName(static_cast<store::DbUnit>(u));
    const store::DbUnitStats& us = s.units[u];
    m.SetHistogram("chainloop_db_duration_seconds",
                   "Time units of work held a database connection, by operation (query: one "
                   "statement on its own; transaction: BEGIN to COMMIT or ROLLBACK).",
                   "operation", unit, kBounds, {us.counts.begin(), us.counts.end()},
                   us.sum_seconds);
    m.SetCounter("chainloop_db_errors_total",
                 "Units of work that failed in the database (connection lost, timeout, SQL "
                 "error), by operation.",
                 {{"operation", unit}}, static_cast<double>(us.errors));
  }
  m.SetGauge("chainloop_db_pool_size", "Database connections the pool may open.",
             static_cast<double>(s.pool_size));
  m.SetGauge("chainloop_db_pool_open", "Database connections open.",
             static_cast<double>(s.pool_open));
  m.SetGauge("chainloop_db_pool_in_use", "Database connections held by a unit of work.",
             static_cast<double>(s.pool_in_use));
  m.SetGauge("chainloop_db_pool_waiting",
             "Units of work waiting for a database connection (all are in use).",
             static_cast<double>(s.pool_waiting));
}

void CollectAuthenticator(http::Metrics& m, const domain::Authenticator& a) {
  const domain::Authenticator::Stats s = a.GetStats();
  for (size_t k = 0; k < domain::kPrincipalKindCount; ++k) {
    const auto kind = static_cast<domain::Principal::Kind>(k);
    if (kind == domain::Principal::Kind::kSystem) continue;  // never from a credential
    m.SetCounter(kAuthSuccesses, kAuthSuccessesHelp, {{"kind", domain::PrincipalKindName(kind)}},
                 static_cast<double>(s.successes[k]));
  }
  m.SetCounter("chainloop_auth_cache_requests_total",
               "Credential lookups, by result: hit (a fresh cache entry answered) or miss (read "
               "from the database).",
               {{"result", "hit"}}, static_cast<double>(s.cache_hits));
  m.SetCounter("chainloop_auth_cache_requests_total", "", {{"result", "miss"}},
               static_cast<double>(s.cache_misses));
  m.SetCounter("chainloop_auth_cache_refreshes_total",
               "Cached API tokens in use re-read in bulk before their entries aged out (no "
               "request waited for these reads).",
               {}, static_cast<double>(s.cache_refreshes));
}

void CollectLogin(http::Metrics& m, const domain::LoginService& login) {
  const domain::LoginService::Stats s = login.GetStats();
  constexpr std::string_view kFlows = "chainloop_login_flows_total";
  constexpr std::string_view kFlowsHelp =
      "Login flows, by flow (browser, device) and event: started, completed (a session issued) "
      "or failed (refused, cancelled, denied or expired).";
  for (const auto& [flow, c] : {std::pair{"browser", s.browser}, std::pair{"device", s.device}}) {
    m.SetCounter(kFlows, kFlowsHelp, {{"flow", flow}, {"event", "started"}},
                 static_cast<double>(c.started));
    m.SetCounter(kFlows, kFlowsHelp, {{"flow", flow}, {"event", "completed"}},
                 static_cast<double>(c.completed));
    m.SetCounter(kFlows, kFlowsHelp, {{"flow", flow}, {"event", "failed"}},
                 static_cast<double>(c.failed));
  }
  m.SetCounter("chainloop_sessions_created_total", "Login sessions issued.", {},
               static_cast<double>(s.sessions_created));
  m.SetCounter("chainloop_sessions_revoked_total", "Login sessions ended by logout.", {},
               static_cast<double>(s.sessions_revoked));
}

}  // namespace

void CollectScrapeMetrics(const ApiDeps& deps) {
  http::Metrics& m = *deps.metrics;
  m.SetGauge("chainloop_build_info",
             "The running build: always 1, labelled with its version and commit.",
             {{"version", Version()}, {"commit", Commit()}}, 1);
  http::PublishProcessMetrics(m);
  if (deps.db) CollectDatabase(m, *deps.db);
  if (deps.authenticator) {
    m.SetGauge("chainloop_auth_cache_entries", "Credentials held in the authentication cache.",
               static_cast<double>(deps.authenticator->CachedEntries()));
    CollectAuthenticator(m, *deps.authenticator);
  }
  if (deps.login) CollectLogin(m, *deps.login);
  if (deps.notifier) CollectListener(m, *deps.notifier);
}

}  // namespace cl::api
