// The secret scanning routes (domain/secret_scanning.h, docs/secret-scanning.md): POST
// /v1/secret-scanning/github (GitHub's partner protocol, ECDSA-signed) and POST
// /v1/secret-scanning/generic (any scanner, HMAC-signed). Always routed (other methods get 405
// like on any documented path); a variant that is not configured answers 404 not_found.
// Callers are anonymous: each report takes a unit of its address's bucket before any work, and a
// report that fails verification counts toward the address's failed-authentication ban.
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/routes.h"
#include "common/json.h"
#include "common/log.h"
#include "domain/secret_scanning.h"
#include "domain/throttle.h"

namespace cl::api {
namespace {

using http::Request;
using http::Response;

enum class Variant { kGithub, kGeneric };

Result<Response> HandleReport(const RouteContext& ctx, domain::SecretScanningService& scanning,
                              Variant variant, Request& req) {
  if (auto wait = scanning.Admit(domain::ClientAddressKey(req.remote_addr))) {
    return RetryLaterResponse(RateLimited("secret scanning reports from this address"), *wait);
  }
  // The signature covers the raw body: it is checked before the body is parsed at all.
  Status verified =
      variant == Variant::kGithub
          ? scanning.VerifyGithub(req.body, req.Header("github-public-key-identifier"),
                                  req.Header("github-public-key-signature"))
          : scanning.VerifyGeneric(req.body, req.Header("x-chainloop-timestamp"),
                                   req.Header("x-chainloop-signature-256"));
  if (!verified) {
    if (verified.error().code() == Error::Code::kUnauthenticated) {
      Log(LogLevel::kWarn, "secret scanning report refused",
          {{"variant", variant == Variant::kGithub ? "github" : "generic"},
           {"error", verified.error().message()}});
      if (auto wait = ctx.limits.ReportAuthFailure(req, "")) return AbuseLimits::Throttled(*wait);
    }
    return Fail(verified.error());
  }
  CL_ASSIGN_OR_RETURN(auto reports, domain::ParseLeakReports(req.body));
  CL_ASSIGN_OR_RETURN(
      auto feedback,
      scanning.Process(reports,
                       variant == Variant::kGithub ? "GitHub secret scanning" : "secret scanner",
                       req.remote_addr));
  boost::json::array out;
  out.reserve(feedback.size());
  for (const auto& f : feedback) {
    out.push_back({{"token_hash", f.token_hash},
                   {"token_type", f.token_type},
                   {"label", domain::LeakLabelName(f.label)}});
  }
  return NoStore(Response::Json(200, SerializeJson(out)));
}

}  // namespace

void RegisterSecretScanningRoutes(http::Router& r, const RouteContext& ctx) {
  domain::SecretScanningService* scanning = ctx.deps.secret_scanning;
  const struct {
    Variant variant;
    const char* path;
    bool enabled;
  } routes[] = {
      {Variant::kGithub, "/v1/secret-scanning/github",
       scanning != nullptr && scanning->github_enabled()},
      {Variant::kGeneric, "/v1/secret-scanning/generic",
       scanning != nullptr && scanning->generic_enabled()},
  };
  for (const auto& route : routes) {
    Add(r, "POST", route.path,
        ctx.mw.Plain([&ctx, scanning, variant = route.variant,
                      enabled = route.enabled](Request& req) -> Result<Response> {
          if (!enabled) {
            return Fail(
                Error::NotFound("secret scanning reports are not configured on this server (see "
                                "docs/secret-scanning.md)"));
          }
          return HandleReport(ctx, *scanning, variant, req);
        }));
    r.SetMaxBodyBytes("POST", route.path, domain::kMaxReportBytes);
  }
}

}  // namespace cl::api
