// `chainloop organization webhook create|list|describe|delete|deliveries|ping` (alias
// `webhooks`): the organization's signed event webhooks and their delivery log. The signing
// secret is printed once, at creation.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "cli/commands.h"
#include "cli/control_plane_url.h"
#include "cli/list_pages.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/terminal.h"
#include "cli/validation.h"

namespace cl::cli {
namespace {

std::string WebhooksPath(const std::string& org) {
  return "/v1/organizations/" + PathSegment(org) + "/webhooks";
}

std::string WebhookPath(const std::string& org, const std::string& id) {
  return WebhooksPath(org) + "/" + PathSegment(id);
}

// The subscribed events, comma-separated and terminal-safe; "-" when none.
std::string EventsText(const boost::json::object& w) {
  const auto* v = w.if_contains("events");
  if (v == nullptr || !v->is_array() || v->as_array().empty()) return "-";
  std::string out;
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) continue;
    if (!out.empty()) out += ",";
    out += std::string(e.as_string());
  }
  return TerminalSafe(out);
}

void PrintWebhook(std::ostream& out, const boost::json::object& w) {
  out << "ID: " << Field(w, "id") << "\n";
  out << "URL: " << Field(w, "url") << "\n";
  out << "Events: " << EventsText(w) << "\n";
  std::string description = FieldOrEmpty(w, "description");
  out << "Description: " << (description.empty() ? "-" : description) << "\n";
  out << "Created at: " << Field(w, "created_at") << "\n";
  const auto* by = w.if_contains("created_by");
  if (by != nullptr && by->is_object()) {
    out << "Created by: " << Field(by->as_object(), "name") << " ("
        << Field(by->as_object(), "kind") << ")\n";
  }
}

Status RequireId(const std::string& id) {
  if (id.empty()) return Fail(Error::InvalidArgument("--id must not be empty"));
  return Ok();
}

}  // namespace

const std::vector<WebhookEventName>& WebhookEventNames() {
  static const std::vector<WebhookEventName> kEvents = {
      {"token.created", "an API token was created"},
      {"token.revoked", "an API token was revoked (by hand or for inactivity)"},
      {"token.rotated", "an API token was replaced by a rotation"},
      {"token.leaked", "an API token reported leaked by a secret scanner was revoked"},
      {"token.expiring_soon", "an API token expires within 7 days (sent once)"},
      {"token.auto_revoke_soon",
       "an API token will be revoked for inactivity within 7 days (sent once)"},
      {"credential.leaked",
       "a session or CI token reported leaked by a secret scanner was revoked"},
      {"member.role_changed", "a member's role changed"},
      {"member.removed", "a member was removed"},
      {"invitation.created", "a person was invited"},
      {"trust_policy.created", "a CI trust policy was created"},
      {"trust_policy.deleted", "a CI trust policy was deleted"},
      {"organization.updated", "the organization's settings changed"},
  };
  return kEvents;
}

Status WebhookCreate(CliContext& ctx, const WebhookCreateOptions& options) {
  bool http = options.url.rfind("http://", 0) == 0 || options.url.rfind("https://", 0) == 0;
  if (!http || UrlHost(options.url).empty()) {
    return Fail(
        Error::InvalidArgument("--url must be the receiver's http:// or https:// URL, e.g. "
                               "https://hooks.example.com/chainloop"));
  }
  boost::json::array events;
  for (const auto& e : options.events) {
    if (!e.empty()) events.emplace_back(e);
  }
  if (events.empty()) {
    return Fail(Error::InvalidArgument(
        "--event must name at least one event (see `organization webhook create --help`)"));
  }
  boost::json::object body{{"url", options.url}, {"events", std::move(events)}};
  if (!options.description.empty()) body["description"] = options.description;
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp, client->Post(WebhooksPath(org), body));
  CL_ASSIGN_OR_RETURN(const auto* webhook, ObjectField(resp, "webhook", "webhook"));
  std::string secret = FieldOrEmpty(resp.as_object(), "secret");
  if (secret.empty()) {
    return Fail(
        Error::Internal("the control plane created the webhook but returned no signing secret",
                        Reason::kBadResponse));
  }
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  auto& out = ctx.out();
  out << "Webhook created\n";
  PrintWebhook(out, *webhook);
  out << "Signing secret:\n" << secret << "\n";
  out << "Save this secret now: it will not be shown again. Receivers verify "
         "X-Chainloop-Signature-256 with it.\n";
  return Ok();
}

Status WebhookList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto list,
                      FetchList(*client, {WebhooksPath(org), {}, "webhooks", "webhooks"}, limit));
  PrintList(ctx, list, [&] {
    TextTable table({"ID", "URL", "EVENTS", "DESCRIPTION", "CREATED AT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& w = v.as_object();
      table.AddRow({Field(w, "id"), Field(w, "url"), EventsText(w), Field(w, "description"),
                    Field(w, "created_at")});
    }
    if (table.empty()) {
      ctx.out() << "No webhooks found.\n";
    } else {
      ctx.out() << table.Render();
    }
  });
  return Ok();
}

Status WebhookDescribe(CliContext& ctx, const std::string& id) {
  CL_RETURN_IF_ERROR(RequireId(id));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp, client->Get(WebhookPath(org, id)));
  CL_ASSIGN_OR_RETURN(const auto* webhook, ObjectField(resp, "webhook", "webhook"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  PrintWebhook(ctx.out(), *webhook);
  return Ok();
}

Status WebhookDelete(CliContext& ctx, const std::string& id) {
  CL_RETURN_IF_ERROR(RequireId(id));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_RETURN_IF_ERROR(ctx.Confirm("Delete the webhook " + id + " of " + org +
                                 " (its pending deliveries are dropped)?"));
  CL_ASSIGN_OR_RETURN(auto resp, client->Call("DELETE", WebhookPath(org, id)));
  (void)resp;  // 204: no body
  if (ctx.json_output()) {
    ctx.PrintJson(DeletedJson("webhook", {{"id", id}}));
    return Ok();
  }
  ctx.out() << "Webhook " << id << " deleted\n";
  return Ok();
}

Status WebhookDeliveries(CliContext& ctx, const std::string& id, ListLimit limit) {
  CL_RETURN_IF_ERROR(RequireId(id));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(*client, {WebhookPath(org, id) + "/deliveries", {}, "deliveries", "deliveries"},
                limit));
  PrintList(ctx, list, [&] {
    TextTable table({"ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED AT", "LAST ATTEMPT AT",
                     "NEXT ATTEMPT AT", "RESPONSE", "ERROR"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& d = v.as_object();
      table.AddRow({Field(d, "id"), Field(d, "event"), Field(d, "status"), Field(d, "attempts"),
                    Field(d, "created_at"), Field(d, "last_attempt_at"),
                    Field(d, "next_attempt_at"), Field(d, "response_status"), Field(d, "error")});
    }
    if (table.empty()) {
      ctx.out() << "No deliveries found.\n";
    } else {
      ctx.out() << table.Render();
    }
  });
  return Ok();
}

Status WebhookPing(CliContext& ctx, const std::string& id) {
  CL_RETURN_IF_ERROR(RequireId(id));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp,
                      client->Post(WebhookPath(org, id) + "/ping", boost::json::object{}));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  std::string event_id = resp.is_object() ? Field(resp.as_object(), "event_id") : "-";
  ctx.out() << "Ping event " << event_id << " queued for webhook " << id
            << "; see `organization webhook deliveries --id " << id << "`\n";
  return Ok();
}

}  // namespace cl::cli
