// Event webhook routes: an organization's webhooks (create, list, describe, delete), each one's
// delivery log and ping, and the catalogue of events a webhook may subscribe to.
#include <boost/json/array.hpp>

#include "api/encoders.h"
#include "api/routes.h"
#include "common/json.h"
#include "domain/webhooks.h"

namespace cl::api {
namespace {

namespace json = boost::json;
using http::Request;
using http::Response;

Result<domain::WebhookService*> Service(const RouteContext& ctx) {
  if (ctx.deps.webhooks == nullptr) {
    return Fail(Error::Unavailable("event webhooks are not configured"));
  }
  return ctx.deps.webhooks;
}

}  // namespace

void RegisterWebhookRoutes(http::Router& r, const RouteContext& ctx) {
  Add(r, "GET", "/v1/webhook-events",
      ctx.mw.Authed([](Request&, const domain::Principal&) -> Result<Response> {
        json::array events;
        for (const auto& e : domain::SubscribableWebhookEvents()) {
          events.push_back(json::object{{"name", e.name}, {"description", e.description}});
        }
        json::object j;
        j["events"] = std::move(events);
        return JsonOk(200, j);
      }));
  Add(r, "POST", "/v1/organizations/{org}/webhooks",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto* webhooks, Service(ctx));
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        domain::CreateWebhookRequest in;
        CL_ASSIGN_OR_RETURN(in.url, body.RequiredString("url"));
        CL_ASSIGN_OR_RETURN(auto events, body.OptionalStringArray("events"));
        CL_ASSIGN_OR_RETURN(auto description, body.OptionalString("description"));
        CL_RETURN_IF_ERROR(body.Finish());
        in.events = events.value_or(std::vector<std::string>{});
        in.description = description.value_or("");
        CL_ASSIGN_OR_RETURN(auto created, webhooks->Create(p, req.PathParam("org"), in));
        json::object j;
        j["webhook"] = EncodeWebhook(created.webhook);
        j["secret"] = created.secret;
        return NoStore(JsonOk(201, j));
      }));
  Add(r, "GET", "/v1/organizations/{org}/webhooks",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto* webhooks, Service(ctx));
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::TimeKey>(req, ListKind::kWebhooks));
        CL_ASSIGN_OR_RETURN(auto list, webhooks->List(p, req.PathParam("org"), page));
        json::array arr;
        for (const auto& w : list.items) arr.push_back(EncodeWebhook(w));
        json::object j;
        j["webhooks"] = std::move(arr);
        SetNextCursor(j, ListKind::kWebhooks, list.next);
        return JsonOk(200, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/webhooks/{id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto* webhooks, Service(ctx));
        CL_ASSIGN_OR_RETURN(auto w, webhooks->Get(p, req.PathParam("org"), req.PathParam("id")));
        json::object j;
        j["webhook"] = EncodeWebhook(w);
        return JsonOk(200, j);
      }));
  Add(r, "DELETE", "/v1/organizations/{org}/webhooks/{id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto* webhooks, Service(ctx));
        CL_RETURN_IF_ERROR(webhooks->Delete(p, req.PathParam("org"), req.PathParam("id")));
        return Response::NoContent();
      }));
  Add(r, "GET", "/v1/organizations/{org}/webhooks/{id}/deliveries",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto* webhooks, Service(ctx));
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::TimeKey>(req, ListKind::kWebhookDeliveries));
        CL_ASSIGN_OR_RETURN(
            auto list, webhooks->Deliveries(p, req.PathParam("org"), req.PathParam("id"), page));
        json::array arr;
        for (const auto& d : list.items) arr.push_back(EncodeWebhookDelivery(d));
        json::object j;
        j["deliveries"] = std::move(arr);
        SetNextCursor(j, ListKind::kWebhookDeliveries, list.next);
        return JsonOk(200, j);
      }));
  Add(r, "POST", "/v1/organizations/{org}/webhooks/{id}/ping",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto* webhooks, Service(ctx));
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_RETURN_IF_ERROR(body.Finish());
        CL_ASSIGN_OR_RETURN(auto event_id,
                            webhooks->Ping(p, req.PathParam("org"), req.PathParam("id")));
        json::object j;
        j["event_id"] = event_id;
        return JsonOk(202, j);
      }));
}

}  // namespace cl::api
