// Organization routes: organizations (create, list, describe, settings), members (list, change
// role, remove), invitations (create, list, cancel), the audit log, and the organization's
// projects.
#include <boost/json/array.hpp>

#include "api/encoders.h"
#include "api/routes.h"
#include "common/json.h"
#include "domain/token_inactivity.h"

namespace cl::api {

namespace json = boost::json;
using http::Request;
using http::Response;

void RegisterOrganizationRoutes(http::Router& r, const RouteContext& ctx) {
  Add(r, "POST", "/v1/organizations",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_ASSIGN_OR_RETURN(auto name, body.RequiredString("name"));
        CL_RETURN_IF_ERROR(body.Finish());
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.orgs->Create(p, name));
        json::object j;
        j["organization"] = EncodeOrg(org);
        return JsonOk(201, j);
      }));
  Add(r, "GET", "/v1/organizations",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::NameKey>(req, ListKind::kOrganizations));
        CL_ASSIGN_OR_RETURN(auto orgs, ctx.deps.orgs->ListMine(p, page));
        json::array arr;
        for (const auto& o : orgs.items) arr.push_back(EncodeOrgWithRole(o));
        json::object j;
        j["organizations"] = std::move(arr);
        SetNextCursor(j, ListKind::kOrganizations, orgs.next);
        return JsonOk(200, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto o, ctx.deps.orgs->Describe(p, req.PathParam("org")));
        json::object j;
        j["organization"] = EncodeOrg(o.org);
        j["role"] = EncodeCallerRole(o.role);
        EncodePermissions(o.permissions, j);
        return JsonOk(200, j);
      }));
  Add(r, "PATCH", "/v1/organizations/{org}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        bool present = body.Has("api_token_max_days_inactive");
        CL_ASSIGN_OR_RETURN(auto days, body.OptionalValue("api_token_max_days_inactive"));
        CL_RETURN_IF_ERROR(body.Finish());
        // Absent means unchanged: an update that changes nothing is refused rather than read
        // as "off". `null` (read as no value) and 0 turn auto-revocation off.
        if (!present) {
          return Fail(
              Error::InvalidArgument("nothing to update: set api_token_max_days_inactive (" +
                                         std::to_string(domain::kMinThresholdDays) + " to " +
                                         std::to_string(domain::kMaxThresholdDays) +
                                         " days; 0 or null turns auto-revocation off)",
                                     Reason::kMissingField));
        }
        std::optional<int64_t> threshold;
        if (days) {
          if (days->is_int64()) {
            threshold = days->as_int64();
          } else if (days->is_uint64()) {
            threshold = domain::kMaxThresholdDays + 1;  // beyond int64: out of range either way
          } else {
            return Fail(Error::InvalidArgument(
                "field 'api_token_max_days_inactive' must be an integer from 0 to " +
                    std::to_string(domain::kMaxThresholdDays),
                Reason::kInvalidFieldType));
          }
        }
        CL_ASSIGN_OR_RETURN(auto org, ctx.deps.orgs->SetApiTokenMaxDaysInactive(
                                          p, req.PathParam("org"), threshold));
        json::object j;
        j["organization"] = EncodeOrg(org);
        return JsonOk(200, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/members",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::NameKey>(req, ListKind::kMembers));
        CL_ASSIGN_OR_RETURN(auto members,
                            ctx.deps.orgs->ListMembers(p, req.PathParam("org"), page));
        json::array arr;
        for (const auto& m : members.items) arr.push_back(EncodeMember(m));
        json::object j;
        j["members"] = std::move(arr);
        SetNextCursor(j, ListKind::kMembers, members.next);
        return JsonOk(200, j);
      }));
  Add(r, "PATCH", "/v1/organizations/{org}/members/{user_id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_ASSIGN_OR_RETURN(auto role, body.RequiredString("role"));
        CL_RETURN_IF_ERROR(body.Finish());
        // An unknown role is refused by UpdateMemberRole, after the permission check.
        CL_ASSIGN_OR_RETURN(auto member, ctx.deps.orgs->UpdateMemberRole(
                                             p, req.PathParam("org"), req.PathParam("user_id"),
                                             store::ParseOrgRole(role)));
        json::object j;
        j["member"] = EncodeMember(member);
        return JsonOk(200, j);
      }));
  Add(r, "DELETE", "/v1/organizations/{org}/members/{user_id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_RETURN_IF_ERROR(
            ctx.deps.orgs->RemoveMember(p, req.PathParam("org"), req.PathParam("user_id")));
        return Response::NoContent();
      }));
  Add(r, "POST", "/v1/organizations/{org}/invitations",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_ASSIGN_OR_RETURN(auto email, body.RequiredString("receiver_email"));
        CL_ASSIGN_OR_RETURN(auto role, body.RequiredString("role"));
        CL_RETURN_IF_ERROR(body.Finish());
        // An unknown role is refused by Invite, after the checks that come before it.
        CL_ASSIGN_OR_RETURN(auto inv, ctx.deps.orgs->Invite(p, req.PathParam("org"), email,
                                                            store::ParseOrgRole(role)));
        json::object j;
        j["invitation"] = EncodeInvitation(inv);
        return JsonOk(201, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/invitations",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::TimeKey>(req, ListKind::kInvitations));
        CL_ASSIGN_OR_RETURN(auto invs,
                            ctx.deps.orgs->ListInvitations(p, req.PathParam("org"), page));
        json::array arr;
        for (const auto& i : invs.items) arr.push_back(EncodeInvitation(i));
        json::object j;
        j["invitations"] = std::move(arr);
        SetNextCursor(j, ListKind::kInvitations, invs.next);
        return JsonOk(200, j);
      }));
  Add(r, "DELETE", "/v1/organizations/{org}/invitations/{id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_RETURN_IF_ERROR(
            ctx.deps.orgs->RevokeInvitation(p, req.PathParam("org"), req.PathParam("id")));
        return Response::NoContent();
      }));
  Add(r, "GET", "/v1/organizations/{org}/audit-events",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::TimeKey>(req, ListKind::kAuditEvents));
        domain::AuditEventQuery query;
        query.action = req.QueryParam("action");
        query.actor = req.QueryParam("actor");
        query.target_id = req.QueryParam("target_id");
        query.since = req.QueryParam("since");
        query.until = req.QueryParam("until");
        CL_ASSIGN_OR_RETURN(auto events,
                            ctx.deps.orgs->ListAuditEvents(p, req.PathParam("org"), query, page));
        json::array arr;
        for (const auto& e : events.items) arr.push_back(EncodeAuditEvent(e));
        json::object j;
        j["audit_events"] = std::move(arr);
        SetNextCursor(j, ListKind::kAuditEvents, events.next);
        return JsonOk(200, j);
      }));
}

void RegisterProjectRoutes(http::Router& r, const RouteContext& ctx) {
  Add(r, "POST", "/v1/organizations/{org}/projects",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
        CL_ASSIGN_OR_RETURN(auto name, body.RequiredString("name"));
        CL_RETURN_IF_ERROR(body.Finish());
        CL_ASSIGN_OR_RETURN(auto project,
                            ctx.deps.orgs->CreateProject(p, req.PathParam("org"), name));
        json::object j;
        j["project"] = EncodeProject(project);
        return JsonOk(201, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/projects",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::NameKey>(req, ListKind::kProjects));
        CL_ASSIGN_OR_RETURN(auto projects,
                            ctx.deps.orgs->ListProjects(p, req.PathParam("org"), page));
        json::array arr;
        for (const auto& x : projects.items) arr.push_back(EncodeProject(x));
        json::object j;
        j["projects"] = std::move(arr);
        SetNextCursor(j, ListKind::kProjects, projects.next);
        return JsonOk(200, j);
      }));
}

}  // namespace cl::api
