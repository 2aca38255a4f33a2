// `chainloop organization ...` (describe, update, members: list, update, delete; invitations:
// create, list, revoke) and `chainloop project ...`.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cctype>

#include "cli/commands.h"
#include "cli/list_pages.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/validation.h"

namespace cl::cli {
namespace {

std::string OrgPath(const std::string& org) { return "/v1/organizations/" + PathSegment(org); }

Status RequireName(const std::string& name, std::string_view flag) {
  if (name.empty()) {
    return Fail(Error::InvalidArgument(std::string(flag) + " must not be empty"));
  }
  return Ok();
}

// The `organization describe` text; `role` empty leaves the role line out.
void PrintOrganization(std::ostream& out, const boost::json::object& org, const std::string& role) {
  out << "Organization: " << Field(org, "name") << "\n";
  out << "ID: " << Field(org, "id") << "\n";
  if (!role.empty()) out << "Your role: " << role << "\n";
  out << "Created at: " << Field(org, "created_at") << "\n";
  if (const auto* days = org.if_contains("api_token_max_days_inactive");
      days != nullptr && (days->is_int64() || days->is_uint64()) &&
      FieldOrEmpty(org, "api_token_max_days_inactive") != "0") {
    const std::string n = FieldOrEmpty(org, "api_token_max_days_inactive");
    out << "API token auto-revoke after: " << n << (n == "1" ? " day" : " days") << " inactive\n";
  }
}

void PrintTableOrEmpty(CliContext& ctx, const TextTable& table, std::string_view empty_message) {
  if (table.empty()) {
    ctx.out() << empty_message << "\n";
  } else {
    ctx.out() << table.Render();
  }
}

}  // namespace

Status OrganizationCreate(CliContext& ctx, const std::string& name) {
  CL_RETURN_IF_ERROR(RequireName(name, "--name"));
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp,
                      client->Post("/v1/organizations", boost::json::object{{"name", name}}));
  CL_ASSIGN_OR_RETURN(const auto* org, ObjectField(resp, "organization", "organization"));
  bool made_current = false;
  if (ctx.config().organization.empty()) {
    std::string created = RawString(*org, "name");
    ctx.config().organization = created.empty() ? name : created;
    CL_RETURN_IF_ERROR(ctx.SaveConfig());
    made_current = true;
  }
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  ctx.out() << "Organization " << Field(*org, "name") << " created (ID " << Field(*org, "id")
            << ")\n";
  if (made_current) ctx.out() << "It is now your current organization.\n";
  return Ok();
}

Status OrganizationList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(*client, {"/v1/organizations", {}, "organizations", "organizations"}, limit));
  PrintList(ctx, list, [&] {
    std::string current = ctx.CurrentOrganization();
    // The current marker is the last column so NAME, ROLE and CREATED AT stay the first three.
    TextTable table({"NAME", "ROLE", "CREATED AT", "CURRENT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& o = v.as_object();
      std::string name = Field(o, "name");
      table.AddRow({name, Field(o, "role"), Field(o, "created_at"), name == current ? "*" : ""});
    }
    PrintTableOrEmpty(ctx, table, "No organizations found.");
  });
  return Ok();
}

Status OrganizationDescribe(CliContext& ctx) {
  CL_ASSIGN_OR_RETURN(std::string name, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp, client->Get(OrgPath(name)));
  CL_ASSIGN_OR_RETURN(const auto* org, ObjectField(resp, "organization", "organization"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  PrintOrganization(ctx.out(), *org, Field(resp.as_object(), "role"));
  return Ok();
}

Status OrganizationUpdate(CliContext& ctx, const std::string& org_name,
                          const std::optional<std::string>& max_days_inactive) {
  if (!max_days_inactive) {
    return Fail(Error::InvalidArgument(
        "nothing to update: pass --api-token-max-days-inactive N (1-365, 0 to disable)"));
  }
  CL_ASSIGN_OR_RETURN(int days, ParseMaxDaysInactive(*max_days_inactive));
  std::string name = org_name;
  if (name.empty()) {
    CL_ASSIGN_OR_RETURN(name, ctx.Organization());
  }
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto resp,
      client->Patch(OrgPath(name), boost::json::object{{"api_token_max_days_inactive", days}}));
  CL_ASSIGN_OR_RETURN(const auto* org, ObjectField(resp, "organization", "organization"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  // The PATCH answer carries no role; the line is left out rather than shown as "-".
  PrintOrganization(ctx.out(), *org, FieldOrEmpty(resp.as_object(), "role"));
  return Ok();
}

Status OrganizationSet(CliContext& ctx, const std::string& name) {
  CL_RETURN_IF_ERROR(RequireName(name, "--name"));
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  // Membership check: the server answers 404/403 for organizations the user is not part of.
  CL_ASSIGN_OR_RETURN(auto resp, client->Get(OrgPath(name)));
  ctx.config().organization = name;
  CL_RETURN_IF_ERROR(ctx.SaveConfig());
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
  } else {
    std::string role = resp.is_object() ? Field(resp.as_object(), "role") : "-";
    ctx.out() << "Current organization: " << name << " (your role: " << role << ")\n";
  }
  return Ok();
}

Status MemberList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list, FetchList(*client, {OrgPath(org) + "/members", {}, "members", "members"}, limit));
  PrintList(ctx, list, [&] {
    TextTable table({"EMAIL", "NAME", "ROLE", "JOINED"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& m = v.as_object();
      table.AddRow({Field(m, "email"), Field(m, "name"), Field(m, "role"), Field(m, "created_at")});
    }
    PrintTableOrEmpty(ctx, table, "No members found.");
  });
  return Ok();
}

Status InvitationCreate(CliContext& ctx, const std::string& receiver, const std::string& role) {
  if (receiver.find('@') == std::string::npos) {
    return Fail(Error::InvalidArgument("--receiver must be an email address"));
  }
  if (role != "owner" && role != "admin" && role != "member" && role != "viewer") {
    return Fail(Error::InvalidArgument("--role must be one of owner, admin, member, viewer"));
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto resp, client->Post(OrgPath(org) + "/invitations",
                              boost::json::object{{"receiver_email", receiver}, {"role", role}}));
  CL_ASSIGN_OR_RETURN(const auto* inv, ObjectField(resp, "invitation", "invitation"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  ctx.out() << "Invitation sent to " << Field(*inv, "email") << " as " << Field(*inv, "role")
            << " (ID " << Field(*inv, "id") << ")\n";
  return Ok();
}

Status InvitationList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(*client, {OrgPath(org) + "/invitations", {}, "invitations", "invitations"}, limit));
  PrintList(ctx, list, [&] {
    TextTable table({"ID", "EMAIL", "ROLE", "STATUS", "CREATED AT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& i = v.as_object();
      table.AddRow({Field(i, "id"), Field(i, "email"), Field(i, "role"), Field(i, "status"),
                    Field(i, "created_at")});
    }
    PrintTableOrEmpty(ctx, table, "No pending invitations found.");
  });
  return Ok();
}

namespace {

// The user id of the member of `org` with `email` (compared case-insensitively, as the server
// stores emails lower-cased), from the members list (every page, up to kMaxListLimit members):
// NotFound naming the email otherwise.
Result<boost::json::object> FindMember(ApiClient& client, const std::string& org,
                                       const std::string& email) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(client, {OrgPath(org) + "/members", {}, "members", "members"}, kMaxListLimit));
  const std::string wanted = lower(email);
  for (const auto& v : list.items()) {
    if (!v.is_object()) continue;
    if (lower(RawString(v.as_object(), "email")) == wanted &&
        !RawString(v.as_object(), "user_id").empty()) {
      return v.as_object();
    }
  }
  return Fail(Error::NotFound("no member with email " + email + " in " + org));
}

Status RequireEmail(const std::string& email) {
  if (email.find('@') == std::string::npos) {
    return Fail(Error::InvalidArgument("--email must be an email address"));
  }
  return Ok();
}

}  // namespace

Status MemberUpdate(CliContext& ctx, const std::string& email, const std::string& role) {
  CL_RETURN_IF_ERROR(RequireEmail(email));
  if (role != "owner" && role != "admin" && role != "member" && role != "viewer") {
    return Fail(Error::InvalidArgument("--role must be one of owner, admin, member, viewer"));
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto member, FindMember(*client, org, email));
  CL_ASSIGN_OR_RETURN(auto resp, client->Patch(OrgPath(org) + "/members/" +
                                                   PathSegment(RawString(member, "user_id")),
                                               boost::json::object{{"role", role}}));
  CL_ASSIGN_OR_RETURN(const auto* updated, ObjectField(resp, "member", "member"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  ctx.out() << "Member " << Field(*updated, "email") << " is now " << Field(*updated, "role")
            << "\n";
  return Ok();
}

Status MemberDelete(CliContext& ctx, const std::string& email) {
  CL_RETURN_IF_ERROR(RequireEmail(email));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto member, FindMember(*client, org, email));
  const std::string user_id = RawString(member, "user_id");
  CL_RETURN_IF_ERROR(ctx.Confirm("Remove " + email + " (" + RawString(member, "role") +
                                 ") from the organization " + org + "?"));
  CL_ASSIGN_OR_RETURN(auto resp,
                      client->Call("DELETE", OrgPath(org) + "/members/" + PathSegment(user_id)));
  (void)resp;  // 204: no body
  if (ctx.json_output()) {
    ctx.PrintJson(DeletedJson("member", {{"user_id", user_id}, {"email", email}}));
    return Ok();
  }
  ctx.out() << "Member " << email << " removed from " << org << "\n";
  return Ok();
}

Status InvitationRevoke(CliContext& ctx, const std::string& id) {
  if (id.empty()) return Fail(Error::InvalidArgument("--id must not be empty"));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_RETURN_IF_ERROR(ctx.Confirm("Cancel the invitation " + id + " to " + org + "?"));
  CL_ASSIGN_OR_RETURN(auto resp,
                      client->Call("DELETE", OrgPath(org) + "/invitations/" + PathSegment(id)));
  (void)resp;  // 204: no body
  if (ctx.json_output()) {
    ctx.PrintJson(DeletedJson("invitation", {{"id", id}}));
    return Ok();
  }
  ctx.out() << "Invitation " << id << " revoked\n";
  return Ok();
}

Status ProjectCreate(CliContext& ctx, const std::string& name) {
  CL_RETURN_IF_ERROR(RequireName(name, "--name"));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto resp, client->Post(OrgPath(org) + "/projects", boost::json::object{{"name", name}}));
  CL_ASSIGN_OR_RETURN(const auto* project, ObjectField(resp, "project", "project"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  ctx.out() << "Project " << Field(*project, "name") << " created (ID " << Field(*project, "id")
            << ")\n";
  return Ok();
}

Status ProjectList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(*client, {OrgPath(org) + "/projects", {}, "projects", "projects"}, limit));
  PrintList(ctx, list, [&] {
    TextTable table({"NAME", "ID", "CREATED AT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& p = v.as_object();
      table.AddRow({Field(p, "name"), Field(p, "id"), Field(p, "created_at")});
    }
    PrintTableOrEmpty(ctx, table, "No projects found.");
  });
  return Ok();
}

}  // namespace cl::cli
