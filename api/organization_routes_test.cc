// Handler tests of the organization routes (api/organization_routes.cc): organizations and
// their settings, members, invitations, the audit log and projects, through the router.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "api/api_testing.h"

namespace cl::api {
namespace {

using testing::Answer;

using OrganizationRoutesTest = testing::AcmeApiTest;

TEST_F(OrganizationRoutesTest, CreateAnswersTheOrganization) {
  Answer a = Call("POST", "/v1/organizations", owner_, R"({"name":"globex"})");
  ASSERT_EQ(a.status, 201) << SerializeJson(a.body);
  const auto& o = a.body.at("organization").as_object();
  EXPECT_TRUE(o.at("id").is_string());
  EXPECT_EQ(o.at("name").as_string(), "globex");
  EXPECT_TRUE(o.at("created_at").is_string());
  EXPECT_TRUE(o.at("api_token_max_days_inactive").is_null());
  EXPECT_EQ(Call("POST", "/v1/organizations", owner_, R"({"name":"globex"})").status, 409);
}

TEST_F(OrganizationRoutesTest, CreateDecodesStrictly) {
  EXPECT_EQ(Call("POST", "/v1/organizations", owner_, R"({"name":5})").code, "invalid_field_type");
  EXPECT_EQ(Call("POST", "/v1/organizations", owner_, R"({"name":"x","owner":"y"})").code,
            "unknown_field");
  Answer missing = Call("POST", "/v1/organizations", owner_, "{}");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.code, "missing_field");
}

TEST_F(OrganizationRoutesTest, EveryRouteNeedsACredential) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/organizations"},
           {"GET", "/v1/organizations"},
           {"GET", "/v1/organizations/acme"},
           {"PATCH", "/v1/organizations/acme"},
           {"GET", "/v1/organizations/acme/members"},
           {"POST", "/v1/organizations/acme/invitations"},
           {"GET", "/v1/organizations/acme/invitations"},
           {"GET", "/v1/organizations/acme/audit-events"},
           {"POST", "/v1/organizations/acme/projects"},
           {"GET", "/v1/organizations/acme/projects"}}) {
    Answer a = Call(method, path, "", "{}");
    EXPECT_EQ(a.status, 401) << method << " " << path;
    EXPECT_EQ(a.code, "unauthenticated") << method << " " << path;
  }
}

TEST_F(OrganizationRoutesTest, ListAndDescribeCarryTheCallersRole) {
  Answer list = Call("GET", "/v1/organizations", owner_);
  ASSERT_EQ(list.status, 200);
  const auto& orgs = list.body.at("organizations").as_array();
  ASSERT_EQ(orgs.size(), 1u);
  EXPECT_EQ(orgs[0].at("name").as_string(), "acme");
  EXPECT_EQ(orgs[0].at("role").as_string(), "owner");
  Answer one = Call("GET", "/v1/organizations/acme", owner_);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.body.at("organization").at("name").as_string(), "acme");
  EXPECT_EQ(one.body.at("role").as_string(), "owner");
}

// A token holds no organization role: `role` is null (never ""), in the list and in describe.
TEST_F(OrganizationRoutesTest, ATokenCallerHasANullRole) {
  Answer created = Call("POST", "/v1/organizations/acme/api-tokens", owner_, R"({"name":"ci"})");
  ASSERT_EQ(created.status, 201);
  std::string token(created.body.at("token").as_string());
  Answer list = Call("GET", "/v1/organizations", token);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body.at("organizations").as_array().size(), 1u);
  EXPECT_TRUE(list.body.at("organizations").as_array()[0].at("role").is_null());
  Answer one = Call("GET", "/v1/organizations/acme", token);
  ASSERT_EQ(one.status, 200);
  EXPECT_TRUE(one.body.at("role").is_null());
}

// The permissions the web UI shows controls from, for each kind of member: org-wide, sorted, and
// per project only where a project role grants more.
TEST_F(OrganizationRoutesTest, DescribeCarriesTheCallersPermissions) {
  std::string admin = JoinAs(owner_, "acme", "ada", "admin");
  std::string member = JoinAs(owner_, "acme", "max", "member");
  std::string viewer = JoinAs(owner_, "acme", "vic", "viewer");
  ASSERT_EQ(Call("POST", "/v1/organizations/acme/projects", owner_, R"({"name":"backend"})").status,
            201);
  Answer created = Call("POST", "/v1/organizations/acme/projects", member, R"({"name":"web"})");
  ASSERT_EQ(created.status, 201) << SerializeJson(created.body);  // max becomes its admin
  const std::string web_id(created.body.at("project").at("id").as_string());

  auto strings = [](const boost::json::value& v) {
    std::vector<std::string> out;
    for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
    return out;
  };
  auto has = [](const std::vector<std::string>& list, std::string_view perm) {
    return std::find(list.begin(), list.end(), perm) != list.end();
  };
  for (const auto& [who, token] : std::vector<std::pair<std::string, std::string>>{
           {"owner", owner_}, {"admin", admin}, {"member", member}, {"viewer", viewer}}) {
    Answer a = Call("GET", "/v1/organizations/acme", token);
    ASSERT_EQ(a.status, 200) << who << SerializeJson(a.body);
    EXPECT_EQ(a.body.at("role").as_string(), who);
    EXPECT_EQ(a.body.at("organization").at("name").as_string(), "acme");
    auto org_wide = strings(a.body.at("permissions"));
    EXPECT_TRUE(std::is_sorted(org_wide.begin(), org_wide.end())) << who;
    const auto& granted = domain::OrgRolePermissions(*store::ParseOrgRole(who));
    std::vector<std::string> expected(granted.begin(), granted.end());
    EXPECT_EQ(org_wide, expected) << who;
    EXPECT_TRUE(has(org_wide, "organization:read")) << who;
    EXPECT_EQ(has(org_wide, "api_token:create"), who == "owner" || who == "admin") << who;
    EXPECT_EQ(has(org_wide, "organization:update"), who == "owner" || who == "admin") << who;
    const auto& projects = a.body.at("project_permissions").as_array();
    if (who != "member") {
      EXPECT_TRUE(projects.empty()) << who << SerializeJson(a.body);
      continue;
    }
    ASSERT_EQ(projects.size(), 1u) << SerializeJson(a.body);
    EXPECT_EQ(projects[0].at("project_id").as_string(), web_id);
    EXPECT_EQ(projects[0].at("project_name").as_string(), "web");
    auto in_web = strings(projects[0].at("permissions"));
    EXPECT_TRUE(std::is_sorted(in_web.begin(), in_web.end()));
    for (const char* p : {"api_token:create", "api_token:read", "api_token:revoke",
                          "workflow_run:create", "project:create", "organization:read"}) {
      EXPECT_TRUE(has(in_web, p)) << p;
    }
    EXPECT_FALSE(has(in_web, "organization:update"));
    EXPECT_FALSE(has(in_web, "invitation:create"));
  }
}

TEST_F(OrganizationRoutesTest, OutsidersAndUnknownOrganizationsGet404) {
  Answer unknown = Call("GET", "/v1/organizations/nope", owner_);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.code, "not_found");
  std::string outsider = LoginAs("eve", "eve@example.com");
  for (const char* path : {"", "/members", "/projects", "/audit-events", "/invitations"}) {
    Answer a = Call("GET", std::string("/v1/organizations/acme") + path, outsider);
    EXPECT_EQ(a.status, 404) << path;
    EXPECT_EQ(a.code, "not_found") << path;
  }
}

TEST_F(OrganizationRoutesTest, ViewersAreRefusedWrites) {
  std::string viewer = JoinAs(owner_, "acme", "vera", "viewer");
  ASSERT_FALSE(viewer.empty());
  EXPECT_EQ(Call("GET", "/v1/organizations/acme", viewer).body.at("role").as_string(), "viewer");
  Answer invite = Call("POST", "/v1/organizations/acme/invitations", viewer,
                       R"({"receiver_email":"x@example.com","role":"viewer"})");
  EXPECT_EQ(invite.status, 403);
  EXPECT_EQ(invite.code, "permission_denied");
  Answer patch =
      Call("PATCH", "/v1/organizations/acme", viewer, R"({"api_token_max_days_inactive":30})");
  EXPECT_EQ(patch.status, 403);
  Answer project = Call("POST", "/v1/organizations/acme/projects", viewer, R"({"name":"p"})");
  EXPECT_EQ(project.status, 403);
  EXPECT_EQ(project.code, "permission_denied");
}

// An unknown role is a 400 naming the roles, decided after the permission and email checks: a
// viewer is refused the invitation whatever role it names.
TEST_F(OrganizationRoutesTest, InvitationsRefuseUnknownRoles) {
  for (const char* role : {"Owner", "superuser", "", " viewer"}) {
    const std::string body =
        std::string(R"({"receiver_email":"x@example.com","role":")") + role + R"("})";
    Answer a = Call("POST", "/v1/organizations/acme/invitations", owner_, body);
    EXPECT_EQ(a.status, 400) << role;
    EXPECT_EQ(a.code, "invalid_argument") << role;
    EXPECT_NE(SerializeJson(a.body).find("role must be one of owner, admin, member, viewer"),
              std::string::npos)
        << SerializeJson(a.body);
  }
  Answer bad_email = Call("POST", "/v1/organizations/acme/invitations", owner_,
                          R"({"receiver_email":"not an email","role":"superuser"})");
  EXPECT_EQ(bad_email.status, 400);
  EXPECT_EQ(SerializeJson(bad_email.body).find("role must be"), std::string::npos)
      << SerializeJson(bad_email.body);
  std::string viewer = JoinAs(owner_, "acme", "vera", "viewer");
  ASSERT_FALSE(viewer.empty());
  Answer refused = Call("POST", "/v1/organizations/acme/invitations", viewer,
                        R"({"receiver_email":"x@example.com","role":"superuser"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.code, "permission_denied");
}

TEST_F(OrganizationRoutesTest, PatchSetsAndClearsTheInactivityThreshold) {
  Answer set =
      Call("PATCH", "/v1/organizations/acme", owner_, R"({"api_token_max_days_inactive":30})");
  ASSERT_EQ(set.status, 200) << SerializeJson(set.body);
  EXPECT_EQ(set.body.at("organization").at("api_token_max_days_inactive").as_int64(), 30);
  Answer cleared =
      Call("PATCH", "/v1/organizations/acme", owner_, R"({"api_token_max_days_inactive":null})");
  ASSERT_EQ(cleared.status, 200);
  EXPECT_TRUE(cleared.body.at("organization").at("api_token_max_days_inactive").is_null());
}

TEST_F(OrganizationRoutesTest, PatchDecodesStrictly) {
  struct Case {
    const char* body;
    const char* code;
  } cases[] = {
      {"{}", "missing_field"},
      {R"({"api_token_max_days_inactive":"30"})", "invalid_field_type"},
      {R"({"api_token_max_days_inactive":1.5})", "invalid_field_type"},
      {R"({"api_token_max_days_inactive":30,"name":"x"})", "unknown_field"},
      {R"({"api_token_max_days_inactive":366})", "invalid_argument"},
      {R"({"api_token_max_days_inactive":18446744073709551615})", "invalid_argument"},
  };
  for (const auto& c : cases) {
    Answer a = Call("PATCH", "/v1/organizations/acme", owner_, c.body);
    EXPECT_EQ(a.status, 400) << c.body;
    EXPECT_EQ(a.code, c.code) << c.body;
  }
}

TEST_F(OrganizationRoutesTest, InvitationsAndMembers) {
  Answer inv = Call("POST", "/v1/organizations/acme/invitations", owner_,
                    R"({"receiver_email":"new@example.com","role":"member"})");
  ASSERT_EQ(inv.status, 201) << SerializeJson(inv.body);
  const auto& i = inv.body.at("invitation").as_object();
  EXPECT_EQ(i.at("email").as_string(), "new@example.com");
  EXPECT_EQ(i.at("role").as_string(), "member");
  EXPECT_TRUE(i.at("status").is_string());
  EXPECT_TRUE(i.at("created_at").is_string());
  Answer invs = Call("GET", "/v1/organizations/acme/invitations", owner_);
  ASSERT_EQ(invs.status, 200);
  EXPECT_EQ(invs.body.at("invitations").as_array().size(), 1u);

  EXPECT_EQ(Call("POST", "/v1/organizations/acme/invitations", owner_,
                 R"({"receiver_email":"x@example.com"})")
                .code,
            "missing_field");
  EXPECT_EQ(Call("POST", "/v1/organizations/acme/invitations", owner_,
                 R"({"receiver_email":"x@example.com","role":["viewer"]})")
                .code,
            "invalid_field_type");

  ASSERT_FALSE(LoginAs("new", "new@example.com").empty());
  Answer members = Call("GET", "/v1/organizations/acme/members", owner_);
  ASSERT_EQ(members.status, 200);
  const auto& arr = members.body.at("members").as_array();
  ASSERT_EQ(arr.size(), 2u);
  for (const auto& m : arr) {
    for (const char* k : {"user_id", "email", "name", "role", "created_at"}) {
      EXPECT_TRUE(m.at(k).is_string()) << k;
    }
  }
}

TEST_F(OrganizationRoutesTest, AuditEventsWithALimit) {
  Answer a = Call("GET", "/v1/organizations/acme/audit-events?limit=1", owner_);
  ASSERT_EQ(a.status, 200) << SerializeJson(a.body);
  const auto& events = a.body.at("audit_events").as_array();
  ASSERT_EQ(events.size(), 1u);
  for (const char* k : {"id", "actor_kind", "actor_id", "actor_name", "action", "target_kind",
                        "target_id", "message", "created_at"}) {
    EXPECT_TRUE(events[0].at(k).is_string()) << k;
  }
  for (const char* bad : {"0", "1001", "ten", "5x"}) {
    Answer b = Call("GET", std::string("/v1/organizations/acme/audit-events?limit=") + bad, owner_);
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(b.code, "invalid_argument") << bad;
  }
}

TEST_F(OrganizationRoutesTest, AuditEventsCarryTheClientAddressOfTheRequest) {
  // Request::remote_addr is the client's address as the HTTP layer resolved it (behind trusted
  // proxies, the forwarded client's); the event a request causes records it.
  const std::string target = "/v1/organizations/acme/projects";
  http::Request req = MakeRequest("POST", target, owner_, R"({"name":"far"})", {});
  req.remote_addr = "2001:db8::42";
  auto match = router_.Match("POST", target);
  ASSERT_TRUE(match.route);
  req.path_params = match.params;
  Answer created = Parse(match.route->handler(req));
  ASSERT_EQ(created.status, 201) << SerializeJson(created.body);

  Answer a = Call("GET", "/v1/organizations/acme/audit-events?limit=1000", owner_);
  ASSERT_EQ(a.status, 200) << SerializeJson(a.body);
  int seen = 0;
  for (const auto& v : a.body.at("audit_events").as_array()) {
    const auto& e = v.as_object();
    if (e.at("action").as_string() == "project.created" &&
        e.at("message").as_string().find("far") != std::string::npos) {
      EXPECT_EQ(e.at("client_address").as_string(), "2001:db8::42");
      ++seen;
    } else {
      // Every other event of this organization came through Call(), from 127.0.0.1.
      EXPECT_EQ(e.at("client_address").as_string(), "127.0.0.1") << e.at("action").as_string();
    }
  }
  EXPECT_EQ(seen, 1);
}

TEST_F(OrganizationRoutesTest, Projects) {
  Answer created = Call("POST", "/v1/organizations/acme/projects", owner_, R"({"name":"web"})");
  ASSERT_EQ(created.status, 201) << SerializeJson(created.body);
  const auto& p = created.body.at("project").as_object();
  EXPECT_TRUE(p.at("id").is_string());
  EXPECT_EQ(p.at("name").as_string(), "web");
  EXPECT_TRUE(p.at("created_at").is_string());
  Answer list = Call("GET", "/v1/organizations/acme/projects", owner_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.at("projects").as_array().size(), 1u);
  EXPECT_EQ(Call("POST", "/v1/organizations/acme/projects", owner_, R"({"name":true})").code,
            "invalid_field_type");
  EXPECT_EQ(Call("POST", "/v1/organizations/acme/projects", owner_, "{}").code, "missing_field");
  EXPECT_EQ(Call("POST", "/v1/organizations/acme/projects", owner_, R"({"name":"a","b":1})").code,
            "unknown_field");
}

}  // namespace
}  // namespace cl::api
