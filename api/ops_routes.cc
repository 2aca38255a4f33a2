// Operations routes: liveness (/healthz), readiness (/readyz: the database answers) and the
// Prometheus metrics (/metrics).
#include "api/errors.h"
#include "api/routes.h"

namespace cl::api {

using http::Request;
using http::Response;

void RegisterOpsRoutes(http::Router& r, const RouteContext& ctx) {
  Add(
      r, "GET", "/healthz", [](Request&) { return Response::Json(200, R"({"status":"ok"})"); },
      false);
  Add(r, "GET", "/readyz", [&ctx](Request&) {
    auto st = ctx.deps.db->Ping();
    if (!st) return ErrorResponse(Error::Unavailable("database unreachable"));
    return Response::Json(200, R"({"status":"ready"})");
  });
  Add(
      r, "GET", "/metrics",
      [&ctx](Request&) {
        if (ctx.deps.metrics && ctx.deps.authenticator) {
          ctx.deps.metrics->SetGauge("chainloop_auth_cache_entries",
                                     "Credentials held in the authentication cache.",
                                     static_cast<double>(ctx.deps.authenticator->CachedEntries()));
        }
        return Response::Text(200, ctx.deps.metrics ? ctx.deps.metrics->RenderPrometheus() : "",
                              "text/plain; version=0.0.4");
      },
      false);
}

}  // namespace cl::api
