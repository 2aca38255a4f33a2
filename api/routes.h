// What the route files of the HTTP API share: the context every handler refers to (the
// dependencies, the abuse limits and the middleware), the small response helpers, and one
// registration function per resource. Internal to api/: callers use api/api.h.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string>

#include "api/abuse_limits.h"
#include "api/api.h"
#include "api/middleware.h"
#include "api/pagination.h"
#include "http/http.h"

namespace cl::api {

// Owned by the object RegisterRoutes returns; handlers keep a reference to it.
struct RouteContext {
  explicit RouteContext(const ApiDeps& d) : deps(d), limits(deps), mw(deps, limits) {}
  RouteContext(const RouteContext&) = delete;
  RouteContext& operator=(const RouteContext&) = delete;

  // Cookies are Secure when the server is reached over https.
  bool Secure() const { return deps.external_url.rfind("https://", 0) == 0; }
  // `bytes` random bytes, base64url: CSRF tokens, web login state and PKCE verifier.
  // REQUIRES: deps.random.
  std::string RandomToken(size_t bytes) const;

  const ApiDeps deps;
  const AbuseLimits limits;
  const Middleware mw;
};

http::Response JsonOk(int status, const boost::json::object& body);
// `r` with Cache-Control: no-store (answers that carry a credential).
http::Response NoStore(http::Response r);

// One per resource, called by RegisterRoutes in this order.
void RegisterOpsRoutes(http::Router& r, const RouteContext& ctx);           // health, metrics
void RegisterAuthRoutes(http::Router& r, const RouteContext& ctx);          // login, sessions
void RegisterOrganizationRoutes(http::Router& r, const RouteContext& ctx);  // orgs, people
void RegisterApiTokenRoutes(http::Router& r, const RouteContext& ctx);
void RegisterFederationRoutes(http::Router& r, const RouteContext& ctx);  // keyless CI
void RegisterProjectRoutes(http::Router& r, const RouteContext& ctx);
void RegisterAttestationRoutes(http::Router& r, const RouteContext& ctx);     // workflows, runs
void RegisterSecretScanningRoutes(http::Router& r, const RouteContext& ctx);  // leak reports
void RegisterWebhookRoutes(http::Router& r, const RouteContext& ctx);         // event webhooks

// The admin listener's routes (RegisterAdminRoutes): /healthz, /readyz and /metrics only.
void RegisterAdminOpsRoutes(http::Router& r, const RouteContext& ctx);

}  // namespace cl::api
