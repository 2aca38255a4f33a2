// RegisterRoutes: the one entry point of the HTTP API. It builds the context the handlers share
// and registers each resource's routes (api/*_routes.cc) in a fixed order.
#include "api/api.h"

#include "api/routes.h"
#include "api/web.h"
#include "common/json.h"
#include "crypto/hash.h"

namespace cl::api {

std::string RouteContext::RandomToken(size_t bytes) const {
  std::string raw(bytes, '\0');
  deps.random->Fill(reinterpret_cast<uint8_t*>(raw.data()), raw.size());
  return crypto::Base64UrlEncode(raw);
}

http::Response JsonOk(int status, const boost::json::object& body) {
  return http::Response::Json(status, SerializeJson(body));
}

http::Response NoStore(http::Response r) {
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

std::shared_ptr<void> RegisterRoutes(http::Router& router, const ApiDeps& deps) {
  auto ctx = std::make_shared<RouteContext>(deps);
  RegisterOpsRoutes(router, *ctx);
  RegisterAuthRoutes(router, *ctx);
  RegisterOrganizationRoutes(router, *ctx);
  RegisterApiTokenRoutes(router, *ctx);
  RegisterFederationRoutes(router, *ctx);
  if (!deps.web_dir.empty()) router.SetFallback(StaticFilesHandler(deps.web_dir));
  RegisterProjectRoutes(router, *ctx);
  RegisterAttestationRoutes(router, *ctx);
  RegisterSecretScanningRoutes(router, *ctx);
  RegisterWebhookRoutes(router, *ctx);
  return ctx;
}

std::shared_ptr<void> RegisterAdminRoutes(http::Router& router, const ApiDeps& deps) {
  auto ctx = std::make_shared<RouteContext>(deps);
  RegisterAdminOpsRoutes(router, *ctx);
  return ctx;
}

}  // namespace cl::api
