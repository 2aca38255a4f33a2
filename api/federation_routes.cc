// Federation routes (keyless CI): the RFC 8693 shaped exchange of a CI ID token for a short-lived
// access token, and the trust policies of an organization that decide which CI tokens are
// admitted.
#include <algorithm>
#include <boost/json/array.hpp>
#include <map>

#include "api/encoders.h"
#include "api/routes.h"
#include "common/json.h"

namespace cl::api {
namespace {

namespace json = boost::json;
using http::Request;
using http::Response;

// application/x-www-form-urlencoded body -> fields ('+' is a space; later duplicates ignored).
std::map<std::string, std::string> ParseFormBody(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view pair = body.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      std::replace(key.begin(), key.end(), '+', ' ');
      std::replace(value.begin(), value.end(), '+', ' ');
      out.emplace(http::PercentDecode(key), http::PercentDecode(value));
    }
    start = end + 1;
  }
  return out;
}

constexpr std::string_view kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr std::string_view kIdTokenType = "urn:ietf:params:oauth:token-type:id_token";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

}  // namespace

void RegisterFederationRoutes(http::Router& r, const RouteContext& ctx) {
  Add(r, "POST", "/v1/auth/federated/exchange",
      ctx.mw.Plain([&ctx](Request& req) -> Result<Response> {
        if (ctx.deps.federation == nullptr) {
          return Fail(Error::Unavailable("keyless CI authentication is not configured"));
        }
        std::map<std::string, std::string> fields;
        std::string_view type = req.Header("content-type");
        if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
          fields = ParseFormBody(req.body);
        } else {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          for (const char* name :
               {"grant_type", "subject_token", "subject_token_type", "organization"}) {
            CL_ASSIGN_OR_RETURN(auto v, body.OptionalString(name));
            if (v) fields[name] = *v;
          }
          CL_RETURN_IF_ERROR(body.Finish());
        }
        auto field = [&](const char* name) -> Result<std::string> {
          auto it = fields.find(name);
          if (it == fields.end() || it->second.empty()) {
            return Fail(Error::InvalidArgument(std::string("field '") + name + "' is required",
                                               Reason::kInvalidRequest));
          }
          return it->second;
        };
        CL_ASSIGN_OR_RETURN(auto grant_type, field("grant_type"));
        if (grant_type != kTokenExchangeGrant) {
          return Fail(
              Error::InvalidArgument("grant_type must be " + std::string(kTokenExchangeGrant),
                                     Reason::kUnsupportedGrantType));
        }
        CL_ASSIGN_OR_RETURN(auto token_type, field("subject_token_type"));
        if (token_type != kIdTokenType) {
          return Fail(Error::InvalidArgument(
              "subject_token_type must be " + std::string(kIdTokenType), Reason::kInvalidRequest));
        }
        CL_ASSIGN_OR_RETURN(auto subject_token, field("subject_token"));
        CL_ASSIGN_OR_RETURN(auto org, field("organization"));
        // The organization's budget is only spent by successful (verified) exchanges, so
        // forged tokens cannot exhaust it; once it is spent, requests wait for the refill.
        if (auto limited = ctx.limits.OverRateLimit(
                ctx.deps.exchange_limit, org, "federated_exchange", "keyless token exchange")) {
          return std::move(*limited);
        }
        auto exchanged = ctx.deps.federation->Exchange(org, subject_token, req.remote_addr);
        if (!exchanged) {
          if (auto throttled = ctx.mw.OnAuthFailure(req, exchanged.error(), subject_token)) {
            return std::move(*throttled);
          }
          return Fail(exchanged.error());
        }
        if (ctx.deps.exchange_limit) ctx.deps.exchange_limit->Charge(org);
        json::object j;
        j["access_token"] = exchanged->token;
        j["issued_token_type"] = kAccessTokenType;
        j["token_type"] = "Bearer";
        j["expires_in"] = exchanged->expires_in_seconds;
        return NoStore(JsonOk(200, j));
      }));
  Add(r, "POST", "/v1/organizations/{org}/federation-policies",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        if (ctx.deps.federation == nullptr) {
          return Fail(Error::Unavailable("keyless CI authentication is not configured"));
        }
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        domain::CreateTrustPolicyRequest in;
        CL_ASSIGN_OR_RETURN(in.name, body.RequiredString("name"));
        CL_ASSIGN_OR_RETURN(in.issuer, body.RequiredString("issuer"));
        CL_ASSIGN_OR_RETURN(auto provider, body.OptionalString("provider"));
        in.provider = provider.value_or("");
        CL_ASSIGN_OR_RETURN(in.audience, body.OptionalString("audience"));
        CL_ASSIGN_OR_RETURN(auto claims, body.OptionalValue("bound_claims"));
        CL_ASSIGN_OR_RETURN(in.project, body.OptionalString("project"));
        CL_ASSIGN_OR_RETURN(in.permissions, body.OptionalStringArray("permissions"));
        CL_ASSIGN_OR_RETURN(in.max_token_age_seconds, body.OptionalInt("max_token_age_seconds"));
        CL_RETURN_IF_ERROR(body.Finish());
        if (claims && !claims->is_null()) {
          if (!claims->is_object()) {
            return Fail(Error::InvalidArgument(
                "field 'bound_claims' must be an object of claim name to pattern",
                Reason::kInvalidFieldType));
          }
          for (const auto& kv : claims->as_object()) {
            if (!kv.value().is_string()) {
              return Fail(Error::InvalidArgument(
                  "bound_claims." + std::string(kv.key()).substr(0, 64) + " must be a string",
                  Reason::kInvalidFieldType));
            }
            in.bound_claims.emplace_back(std::string(kv.key()),
                                         std::string(kv.value().as_string()));
          }
        }
        CL_ASSIGN_OR_RETURN(auto policy,
                            ctx.deps.federation->CreatePolicy(p, req.PathParam("org"), in));
        json::object j;
        j["policy"] = EncodeTrustPolicy(policy);
        return JsonOk(201, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/federation-policies",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        if (ctx.deps.federation == nullptr) {
          return Fail(Error::Unavailable("keyless CI authentication is not configured"));
        }
        CL_ASSIGN_OR_RETURN(auto page,
                            ReadPage<store::NameKey>(req, ListKind::kFederationPolicies));
        CL_ASSIGN_OR_RETURN(auto policies,
                            ctx.deps.federation->ListPolicies(p, req.PathParam("org"), page));
        json::array arr;
        for (const auto& x : policies.items) arr.push_back(EncodeTrustPolicy(x));
        json::object j;
        j["policies"] = std::move(arr);
        SetNextCursor(j, ListKind::kFederationPolicies, policies.next);
        return JsonOk(200, j);
      }));
  Add(r, "DELETE", "/v1/organizations/{org}/federation-policies/{id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        if (ctx.deps.federation == nullptr) {
          return Fail(Error::Unavailable("keyless CI authentication is not configured"));
        }
        CL_RETURN_IF_ERROR(
            ctx.deps.federation->DeletePolicy(p, req.PathParam("org"), req.PathParam("id")));
        return Response::NoContent();
      }));
}

}  // namespace cl::api
