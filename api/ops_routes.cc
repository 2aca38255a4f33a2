// Operations routes: liveness (/healthz), the build's version (/v1/version), readiness (/readyz:
// the database answers; whether the instance hears other instances' revocations is reported, not
// required) and the Prometheus metrics (/metrics, on the admin listener instead when there is
// one).
#include "api/errors.h"
#include "api/routes.h"
#include "api/scrape_metrics.h"
#include "common/json.h"
#include "common/version.h"
#include "store/notifications.h"

namespace cl::api {

using http::Request;
using http::Response;

namespace {

void AddHealthRoutes(http::Router& r, const RouteContext& ctx) {
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
}

// On the I/O thread, so that it answers while every worker is busy (when it matters most):
// collecting reads a few /proc files and holds the pool's mutex for a moment, never waits.
void AddMetricsRoute(http::Router& r, const RouteContext& ctx) {
  Add(
      r, "GET", "/metrics",
      [&ctx](Request&) {
        if (ctx.deps.metrics == nullptr) {
          return Response::Text(200, "", "text/plain; version=0.0.4");
        }
        CollectScrapeMetrics(ctx.deps);
        return Response::Text(200, ctx.deps.metrics->RenderPrometheus(),
                              "text/plain; version=0.0.4");
      },
      false);
}

}  // namespace

void RegisterOpsRoutes(http::Router& r, const RouteContext& ctx) {
  AddHealthRoutes(r, ctx);
  Add(
      r, "GET", "/v1/version",
      [](Request&) {
        return Response::Json(
            200, SerializeJson(boost::json::object{{"version", Version()}, {"commit", Commit()}}));
      },
      false);
  if (ctx.deps.metrics_on_admin_listener) {
    // Said so, rather than left to the web UI's fallback.
    Add(
        r, "GET", "/metrics",
        [](Request&) {
          return ErrorResponse(Error::NotFound("/metrics is served on the admin listener only"));
        },
        false);
  } else {
    AddMetricsRoute(r, ctx);
  }
}

void RegisterAdminOpsRoutes(http::Router& r, const RouteContext& ctx) {
  AddHealthRoutes(r, ctx);
  AddMetricsRoute(r, ctx);
}

}  // namespace cl::api
