// Operations routes: liveness (/healthz), the build's version (/v1/version), readiness (/readyz:
// the database answers; whether the instance hears other instances' revocations is reported, not
// required) and the Prometheus metrics (/metrics).
#include "api/errors.h"
#include "api/routes.h"
#include "common/json.h"
#include "common/version.h"
#include "store/notifications.h"

namespace cl::api {

using http::Request;
using http::Response;

namespace {

void SetListenerGauges(http::Metrics& m, const store::RevocationNotifier& notifier) {
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

}  // namespace

void RegisterOpsRoutes(http::Router& r, const RouteContext& ctx) {
  Add(
      r, "GET", "/healthz", [](Request&) { return Response::Json(200, R"({"status":"ok"})"); },
      false);
  Add(r, "GET", "/readyz", [&ctx](Request&) {
    auto st = ctx.deps.db->Ping();
    if (!st) return ErrorResponse(Error::Unavailable("database unreachable"));
    boost::json::object checks{{"database", "ok"}};
    if (ctx.deps.notifier) {
      // A deaf instance is still ready: it fails closed (every request re-reads its credential),
      // which is slower, not wrong. The problem is named so that an operator can act.
      const store::ListenerHealth h = ctx.deps.notifier->Health();
      checks["revocation_listener"] = h.hearing ? "hearing" : "deaf";
      if (!h.hearing) checks["revocation_listener_problem"] = h.problem;
    }
    return Response::Json(
        200, SerializeJson(boost::json::object{{"status", "ready"}, {"checks", checks}}));
  });
  Add(
      r, "GET", "/v1/version",
      [](Request&) {
        return Response::Json(
            200, SerializeJson(boost::json::object{{"version", Version()}, {"commit", Commit()}}));
      },
      false);
  Add(
      r, "GET", "/metrics",
      [&ctx](Request&) {
        if (ctx.deps.metrics) {
          ctx.deps.metrics->SetGauge("chainloop_build_info",
                                     "The running build: always 1, labelled with its version and "
                                     "commit.",
                                     {{"version", Version()}, {"commit", Commit()}}, 1);
        }
        if (ctx.deps.metrics && ctx.deps.authenticator) {
          ctx.deps.metrics->SetGauge("chainloop_auth_cache_entries",
                                     "Credentials held in the authentication cache.",
                                     static_cast<double>(ctx.deps.authenticator->CachedEntries()));
        }
        if (ctx.deps.metrics && ctx.deps.notifier)
          SetListenerGauges(*ctx.deps.metrics, *ctx.deps.notifier);
        return Response::Text(200, ctx.deps.metrics ? ctx.deps.metrics->RenderPrometheus() : "",
                              "text/plain; version=0.0.4");
      },
      false);
}

}  // namespace cl::api
