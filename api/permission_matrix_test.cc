// The permission matrix: every token-grantable permission guards at least one operation of the
// HTTP API, and every operation names what it needs. Generated from the permission table
// (domain::TokenGrantablePermissions) and the router's own route list, run through the real
// handlers, domain services and a SQLite store:
// - a token holding exactly what an operation needs succeeds;
// - a token holding every grantable permission except one it needs is refused, 403
//   permission_denied;
// - a grantable permission that no operation needs fails the test (it would guard nothing);
// - a route under /v1/organizations/{org} that is neither in the table nor listed as
//   people-only fails the test, and the people-only ones refuse a token holding everything.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/api_testing.h"
#include "common/json.h"
#include "domain/api_tokens.h"
#include "domain/authorization.h"

namespace cl::api {
namespace {

using PermSet = std::set<std::string>;

constexpr char kOrg[] = "acme";
constexpr char kProject[] = "web";
using testing::kStatement;

using testing::Answer;

class PermissionMatrixTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    owner_ = LoginAs("owner", "owner@example.com");
    ASSERT_FALSE(owner_.empty());
    ASSERT_EQ(Call("POST", "/v1/organizations", owner_, R"({"name":"acme"})").status, 201);
    ASSERT_EQ(Call("POST", Org("/projects"), owner_, R"({"name":"web"})").status, 201);
    ASSERT_EQ(
        Call("POST", Org("/workflow-runs"), owner_, R"({"workflow":"existing","project":"web"})")
            .status,
        201);
  }
  static std::string Org(const std::string& rest) {
    return std::string("/v1/organizations/") + kOrg + rest;
  }

  // An organization-scoped API token created by the owner with exactly `perms`.
  std::string Token(const PermSet& perms) {
    auto owner = authn_->Authenticate("Bearer " + owner_);
    EXPECT_TRUE(owner);
    domain::CreateApiTokenRequest req;
    req.name = "m" + std::to_string(++serial_);
    req.permissions = std::vector<std::string>(perms.begin(), perms.end());
    auto created = tokens_->Create(*owner, kOrg, req);
    EXPECT_TRUE(created) << created.error().ToString();
    return created ? created->token : "";
  }

  std::string Unique(const char* prefix) { return prefix + std::to_string(++serial_); }

  // The owner's user id (the target of the people-only membership changes).
  std::string OwnerId() {
    auto owner = authn_->Authenticate("Bearer " + owner_);
    EXPECT_TRUE(owner);
    return owner ? owner->id : "";
  }

  // A run opened by `token` when it may, else by the owner (then only the authorization check
  // can refuse the push: the refusal must come from the permission, not from "not yours").
  std::string RunFor(const std::string& token) {
    for (const std::string& who : {token, owner_}) {
      auto a =
          Call("POST", Org("/workflow-runs"), who, R"({"workflow":"existing","project":"web"})");
      if (a.status == 201) {
        return std::string(a.body.at("workflow_run").at("id").as_string());
      }
    }
    ADD_FAILURE() << "could not open a run";
    return "";
  }

  // A project-scoped token of the owner's (with `permissions`, a JSON array, when given), for the
  // revoke and rotate operations to end.
  std::string VictimTokenId(const std::string& permissions = "") {
    auto a = Call("POST", Org("/api-tokens"), owner_,
                  R"({"name":")" + Unique("victim") + R"(","project":"web")" +
                      (permissions.empty() ? "" : R"(,"permissions":)" + permissions) + "}");
    EXPECT_EQ(a.status, 201);
    return a.status == 201 ? std::string(a.body.at("api_token").at("id").as_string()) : "";
  }

  // One operation of the API: the route it exercises, what it needs and how to call it with a
  // given token (some operations prepare state first).
  struct Operation {
    std::string name;
    std::string route;  // "METHOD pattern", as registered
    PermSet needs;
    int ok_status;
    std::function<Answer(PermissionMatrixTest&, const std::string& token)> call;
  };

  std::vector<Operation> Operations() {
    namespace perm = domain::perm;
    auto s = [](std::string_view p) { return std::string(p); };
    return {
        {"describe organization",
         "GET /v1/organizations/{org}",
         {s(perm::kOrganizationRead)},
         200,
         [](auto& t, auto& tok) { return t.Call("GET", Org(""), tok); }},
        {"list projects",
         "GET /v1/organizations/{org}/projects",
         {s(perm::kProjectRead)},
         200,
         [](auto& t, auto& tok) { return t.Call("GET", Org("/projects"), tok); }},
        {"create project",
         "POST /v1/organizations/{org}/projects",
         {s(perm::kProjectCreate)},
         201,
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/projects"), tok,
                         R"({"name":")" + t.Unique("proj") + R"("})");
         }},
        {"list workflows",
         "GET /v1/organizations/{org}/workflows",
         {s(perm::kWorkflowRead), s(perm::kProjectRead)},
         200,
         [](auto& t, auto& tok) { return t.Call("GET", Org("/workflows"), tok); }},
        {"attestation init, existing workflow",
         "POST /v1/organizations/{org}/workflow-runs",
         {s(perm::kWorkflowRunCreate)},
         201,
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/workflow-runs"), tok,
                         R"({"workflow":"existing","project":"web"})");
         }},
        {"attestation init, new workflow",
         "POST /v1/organizations/{org}/workflow-runs",
         {s(perm::kWorkflowRunCreate), s(perm::kWorkflowCreate)},
         201,
         [](auto& t, auto& tok) {
           std::string wf = t.Unique("brand-new-");
           auto a = t.Call("POST", Org("/workflow-runs"), tok,
                           R"({"workflow":")" + wf + R"(","project":"web"})");
           // A refused init must not have created the workflow either.
           if (a.status != 201) {
             auto list = t.Call("GET", Org("/workflows"), t.owner_);
             EXPECT_EQ(SerializeJson(list.body).find(wf), std::string::npos)
                 << "a refused init created workflow " << wf;
           }
           return a;
         }},
        {"attestation push",
         "POST /v1/organizations/{org}/workflow-runs/{id}/attestation",
         {s(perm::kWorkflowRunCreate)},
         200,
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/workflow-runs/" + t.RunFor(tok) + "/attestation"), tok,
                         kStatement);
         }},
        {"list runs",
         "GET /v1/organizations/{org}/workflow-runs",
         {s(perm::kWorkflowRunRead)},
         200,
         [](auto& t, auto& tok) { return t.Call("GET", Org("/workflow-runs"), tok); }},
        {"describe run",
         "GET /v1/organizations/{org}/workflow-runs/{id}",
         {s(perm::kWorkflowRunRead)},
         200,
         [](auto& t, auto& tok) {
           return t.Call("GET", Org("/workflow-runs/" + t.RunFor(t.owner_)), tok);
         }},
        {"create API token",
         "POST /v1/organizations/{org}/api-tokens",
         {s(perm::kApiTokenCreate)},
         201,
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/api-tokens"), tok,
                         R"({"name":")" + t.Unique("child") +
                             R"(","project":"web","permissions":["api_token:create"]})");
         }},
        {"list API tokens",
         "GET /v1/organizations/{org}/api-tokens",
         {s(perm::kApiTokenRead)},
         200,
         [](auto& t, auto& tok) { return t.Call("GET", Org("/api-tokens"), tok); }},
        {"get API token",
         "GET /v1/organizations/{org}/api-tokens/{id}",
         {s(perm::kApiTokenRead)},
         200,
         [](auto& t, auto& tok) {
           return t.Call("GET", Org("/api-tokens/" + t.VictimTokenId()), tok);
         }},
        {"list trust policies",
         "GET /v1/organizations/{org}/federation-policies",
         {s(perm::kOrganizationRead)},
         200,
         [](auto& t, auto& tok) { return t.Call("GET", Org("/federation-policies"), tok); }},
        {"revoke API token",
         "POST /v1/organizations/{org}/api-tokens/{id}/revoke",
         {s(perm::kApiTokenRevoke)},
         200,
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/api-tokens/" + t.VictimTokenId() + "/revoke"), tok, "{}");
         }},
        // The caller also needs every permission of the rotated token: the victim holds only
        // one of these.
        {"rotate API token",
         "POST /v1/organizations/{org}/api-tokens/{id}/rotate",
         {s(perm::kApiTokenCreate), s(perm::kApiTokenRevoke)},
         201,
         [](auto& t, auto& tok) {
           return t.Call(
               "POST", Org("/api-tokens/" + t.VictimTokenId(R"(["api_token:create"])") + "/rotate"),
               tok, R"({"grace_seconds":0})");
         }},
    };
  }

  // Routes under an organization that only people may use: a token holding every grantable
  // permission is refused.
  std::map<std::string, std::function<Answer(PermissionMatrixTest&, const std::string&)>>
  PeopleOnly() {
    return {
        {"PATCH /v1/organizations/{org}",
         [](auto& t, auto& tok) {
           return t.Call("PATCH", Org(""), tok, R"({"api_token_max_days_inactive":30})");
         }},
        {"GET /v1/organizations/{org}/members",
         [](auto& t, auto& tok) { return t.Call("GET", Org("/members"), tok); }},
        {"POST /v1/organizations/{org}/invitations",
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/invitations"), tok,
                         R"({"receiver_email":"x@example.com","role":"viewer"})");
         }},
        {"GET /v1/organizations/{org}/invitations",
         [](auto& t, auto& tok) { return t.Call("GET", Org("/invitations"), tok); }},
        {"DELETE /v1/organizations/{org}/invitations/{id}",
         [](auto& t, auto& tok) {
           return t.Call("DELETE", Org("/invitations/00000000-0000-4000-8000-000000000000"), tok);
         }},
        {"PATCH /v1/organizations/{org}/members/{user_id}",
         [](auto& t, auto& tok) {
           return t.Call("PATCH", Org("/members/" + t.OwnerId()), tok, R"({"role":"viewer"})");
         }},
        {"DELETE /v1/organizations/{org}/members/{user_id}",
         [](auto& t, auto& tok) { return t.Call("DELETE", Org("/members/" + t.OwnerId()), tok); }},
        {"GET /v1/organizations/{org}/audit-events",
         [](auto& t, auto& tok) { return t.Call("GET", Org("/audit-events"), tok); }},
        {"POST /v1/organizations/{org}/federation-policies",
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/federation-policies"), tok,
                         R"({"name":"p","issuer":"https://gitlab.com",)"
                         R"("bound_claims":{"project_id":"4711"}})");
         }},
        {"DELETE /v1/organizations/{org}/federation-policies/{id}",
         [](auto& t, auto& tok) {
           return t.Call("DELETE", Org("/federation-policies/00000000-0000-4000-8000-000000000000"),
                         tok);
         }},
        // Webhooks: a real one of the owner's, so a refusal can only come from the permission.
        {"POST /v1/organizations/{org}/webhooks",
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/webhooks"), tok,
                         R"({"url":"https://hooks.example.com/)" + t.Unique("h") +
                             R"(","events":["token.created"]})");
         }},
        {"GET /v1/organizations/{org}/webhooks",
         [](auto& t, auto& tok) { return t.Call("GET", Org("/webhooks"), tok); }},
        {"GET /v1/organizations/{org}/webhooks/{id}",
         [](auto& t, auto& tok) { return t.Call("GET", Org("/webhooks/" + t.WebhookId()), tok); }},
        {"DELETE /v1/organizations/{org}/webhooks/{id}",
         [](auto& t, auto& tok) {
           return t.Call("DELETE", Org("/webhooks/" + t.WebhookId()), tok);
         }},
        {"GET /v1/organizations/{org}/webhooks/{id}/deliveries",
         [](auto& t, auto& tok) {
           return t.Call("GET", Org("/webhooks/" + t.WebhookId() + "/deliveries"), tok);
         }},
        {"POST /v1/organizations/{org}/webhooks/{id}/ping",
         [](auto& t, auto& tok) {
           return t.Call("POST", Org("/webhooks/" + t.WebhookId() + "/ping"), tok, "{}");
         }},
    };
  }

  // A webhook of the owner's.
  std::string WebhookId() {
    auto a = Call(
        "POST", Org("/webhooks"), owner_,
        R"({"url":"https://hooks.example.com/)" + Unique("w") + R"(","events":["token.created"]})");
    EXPECT_EQ(a.status, 201) << SerializeJson(a.body);
    return a.status == 201 ? std::string(a.body.at("webhook").at("id").as_string()) : "";
  }

  std::string owner_;
  int serial_ = 0;
};

TEST_F(PermissionMatrixTest, EveryGrantablePermissionGuardsAnOperation) {
  std::set<std::string> guarded;
  for (const auto& op : Operations()) guarded.insert(op.needs.begin(), op.needs.end());
  for (const auto& p : domain::TokenGrantablePermissions()) {
    EXPECT_TRUE(guarded.count(p)) << p << " is grantable to tokens but guards no operation";
  }
  for (const auto& p : guarded) {
    EXPECT_TRUE(domain::TokenGrantablePermissions().count(p))
        << p << " is needed by an operation but cannot be granted to a token";
  }
}

TEST_F(PermissionMatrixTest, EveryOrganizationRouteIsClassified) {
  std::set<std::string> known;
  for (const auto& op : Operations()) known.insert(op.route);
  for (const auto& [route, call] : PeopleOnly()) known.insert(route);
  for (const auto& route : router_.routes()) {
    if (route.pattern.rfind("/v1/organizations/{org}", 0) != 0) continue;
    std::string key = route.method + " " + route.pattern;
    EXPECT_TRUE(known.count(key)) << key
                                  << " is not in the permission matrix: name the permission it "
                                     "needs (Operations) or list it as people-only";
  }
}

TEST_F(PermissionMatrixTest, ExactlyWhatAnOperationNeedsIsEnough) {
  for (auto& op : Operations()) {
    std::string token = Token(op.needs);
    Answer a = op.call(*this, token);
    EXPECT_EQ(a.status, op.ok_status)
        << op.name << " with exactly its permissions: " << a.code << " " << SerializeJson(a.body);
  }
}

TEST_F(PermissionMatrixTest, EveryNeededPermissionIsChecked) {
  const auto& all = domain::TokenGrantablePermissions();
  for (auto& op : Operations()) {
    for (const auto& missing : op.needs) {
      PermSet held(all.begin(), all.end());
      held.erase(missing);
      std::string token = Token(held);
      Answer a = op.call(*this, token);
      EXPECT_EQ(a.status, 403) << op.name << " without " << missing << ": "
                               << SerializeJson(a.body);
      EXPECT_EQ(a.code, "permission_denied") << op.name << " without " << missing;
    }
  }
}

TEST_F(PermissionMatrixTest, PeopleOnlyRoutesRefuseEveryToken) {
  const auto& all = domain::TokenGrantablePermissions();
  std::string token = Token(PermSet(all.begin(), all.end()));
  for (auto& [route, call] : PeopleOnly()) {
    Answer a = call(*this, token);
    EXPECT_EQ(a.status, 403) << route << ": " << SerializeJson(a.body);
    EXPECT_EQ(a.code, "permission_denied") << route;
  }
}

// The regression the review found: workflow_run:create alone used to create workflows.
TEST_F(PermissionMatrixTest, InitWithoutWorkflowCreateCreatesNoWorkflow) {
  std::string token = Token({std::string(domain::perm::kWorkflowRunCreate)});
  Answer a =
      Call("POST", Org("/workflow-runs"), token, R"({"workflow":"brand-new","project":"web"})");
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.code, "permission_denied");
  EXPECT_NE(SerializeJson(a.body).find("workflow:create"), std::string::npos);
  auto list = Call("GET", Org("/workflows"), owner_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(SerializeJson(list.body).find("brand-new"), std::string::npos);
  // The same token still attests to workflows that exist.
  EXPECT_EQ(Call("POST", Org("/workflow-runs"), token, R"({"workflow":"existing","project":"web"})")
                .status,
            201);
}

}  // namespace
}  // namespace cl::api
