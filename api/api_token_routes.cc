// API token routes: create and rotate (rate-limited per organization; the secret is answered
// once), list and revoke the API tokens of an organization.
#include <boost/json/array.hpp>

#include "api/encoders.h"
#include "api/routes.h"
#include "common/json.h"

namespace cl::api {

namespace json = boost::json;
using http::Request;
using http::Response;

void RegisterApiTokenRoutes(http::Router& r, const RouteContext& ctx) {
  Add(r, "POST", "/v1/organizations/{org}/api-tokens",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        domain::CreateApiTokenRequest in;
        CL_ASSIGN_OR_RETURN(in.name, body.RequiredString("name"));
        CL_ASSIGN_OR_RETURN(auto description, body.OptionalString("description"));
        in.description = description.value_or("");
        CL_ASSIGN_OR_RETURN(in.expires_in_seconds, body.OptionalInt("expires_in_seconds"));
        CL_ASSIGN_OR_RETURN(in.project, body.OptionalString("project"));
        CL_ASSIGN_OR_RETURN(in.permissions, body.OptionalStringArray("permissions"));
        CL_RETURN_IF_ERROR(body.Finish());
        std::string org_name = req.PathParam("org");
        if (auto limited = ctx.limits.OverRateLimit(ctx.deps.token_create_limit, org_name,
                                                    "api_token_create", "API token creation")) {
          return std::move(*limited);
        }
        CL_ASSIGN_OR_RETURN(auto created, ctx.deps.api_tokens->Create(p, org_name, in));
        if (ctx.deps.token_create_limit) ctx.deps.token_create_limit->Charge(org_name);
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.api_tokens->Organization(p, org_name));
        json::object j;
        j["api_token"] = EncodeApiToken(created.record, org, ctx.deps.api_tokens->Now());
        j["token"] = created.token;
        return NoStore(JsonOk(201, j));
      }));
  Add(r, "GET", "/v1/organizations/{org}/api-tokens",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        std::string org_name = req.PathParam("org");
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::TimeKey>(req, ListKind::kApiTokens));
        CL_ASSIGN_OR_RETURN(auto listing, ctx.deps.api_tokens->List(
                                              p, org_name, req.QueryParam("status").value_or(""),
                                              req.QueryParam("project"),
                                              req.QueryParam("scope").value_or(""), page));
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.api_tokens->Organization(p, org_name));
        json::array arr;
        for (const auto& t : listing.tokens) arr.push_back(EncodeApiToken(t, org, listing.now));
        json::object j;
        j["api_tokens"] = std::move(arr);
        SetNextCursor(j, ListKind::kApiTokens, listing.next);
        return JsonOk(200, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/api-tokens/{id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        std::string org_name = req.PathParam("org");
        CL_ASSIGN_OR_RETURN(auto token, ctx.deps.api_tokens->Get(p, org_name, req.PathParam("id")));
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.api_tokens->Organization(p, org_name));
        json::object j;
        j["api_token"] = EncodeApiToken(token, org, ctx.deps.api_tokens->Now());
        return JsonOk(200, j);
      }));
  Add(r, "POST", "/v1/organizations/{org}/api-tokens/{id}/revoke",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_RETURN_IF_ERROR(body.Finish());
        std::string org_name = req.PathParam("org");
        CL_ASSIGN_OR_RETURN(auto token,
                            ctx.deps.api_tokens->Revoke(p, org_name, req.PathParam("id")));
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.api_tokens->Organization(p, org_name));
        json::object j;
        j["api_token"] = EncodeApiToken(token, org, ctx.deps.api_tokens->Now());
        return JsonOk(200, j);
      }));
  Add(r, "POST", "/v1/organizations/{org}/api-tokens/{id}/rotate",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_ASSIGN_OR_RETURN(auto grace, body.OptionalInt("grace_seconds"));
        CL_RETURN_IF_ERROR(body.Finish());
        std::string org_name = req.PathParam("org");
        // Rotation mints a token: it counts against the same limit as creation.
        if (auto limited = ctx.limits.OverRateLimit(ctx.deps.token_create_limit, org_name,
                                                    "api_token_create", "API token creation")) {
          return std::move(*limited);
        }
        CL_ASSIGN_OR_RETURN(auto rotated, ctx.deps.api_tokens->Rotate(
                                              p, org_name, req.PathParam("id"), grace.value_or(0)));
        if (ctx.deps.token_create_limit) ctx.deps.token_create_limit->Charge(org_name);
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.api_tokens->Organization(p, org_name));
        const UnixMillis now = ctx.deps.api_tokens->Now();
        json::object j;
        j["api_token"] = EncodeApiToken(rotated.record, org, now);
        j["token"] = rotated.token;
        j["rotated"] = EncodeApiToken(rotated.rotated, org, now);
        return NoStore(JsonOk(201, j));
      }));
}

}  // namespace cl::api
