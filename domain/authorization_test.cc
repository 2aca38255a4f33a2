// The role table, interned permission lists, and authorization through the services against a real
// store.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "domain/testing/fake_stores.h"
#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

TEST(Authorization, RoleTable) {
  EXPECT_TRUE(OrgRolePermissions("owner").count(perm::kInvitationCreate));
  EXPECT_TRUE(OrgRolePermissions("admin").count(perm::kOrganizationUpdate));
  EXPECT_FALSE(OrgRolePermissions("member").count(perm::kWorkflowRunCreate));
  EXPECT_TRUE(OrgRolePermissions("member").count(perm::kProjectCreate));
  EXPECT_FALSE(OrgRolePermissions("viewer").count(perm::kProjectCreate));
  EXPECT_TRUE(OrgRolePermissions("viewer").count(perm::kWorkflowRunRead));
  EXPECT_TRUE(ProjectRolePermissions("admin").count(perm::kWorkflowRunCreate));
  EXPECT_FALSE(ProjectRolePermissions("viewer").count(perm::kWorkflowRunCreate));
  EXPECT_TRUE(OrgRolePermissions("nobody").empty());
}

TEST(PermissionList, InternSharesIdenticalListsAndCopiesArePointers) {
  std::vector<std::string> v = {"workflow:read", "workflow_run:create"};
  PermissionList a = PermissionList::Intern(v);
  PermissionList b = PermissionList::Intern(v);
  EXPECT_EQ(a.begin(), b.begin());  // one copy of the strings for both
  PermissionList c = PermissionList::Intern({"workflow:read"});
  EXPECT_NE(a.begin(), c.begin());
  PermissionList copy = a;
  EXPECT_EQ(copy.begin(), a.begin());
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(a.Contains("workflow_run:create"));
  EXPECT_FALSE(a.Contains("workflow_run"));
  EXPECT_FALSE(c.Contains("workflow_run:create"));
  PermissionList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Contains(""));
  EXPECT_EQ(empty.begin(), empty.end());
  // Lists no one holds any more are not kept alive by the intern table.
  const std::string* first = nullptr;
  {
    PermissionList once = PermissionList::Intern({"audit:read", "x:y"});
    first = once.begin();
    EXPECT_EQ(PermissionList::Intern({"audit:read", "x:y"}).begin(), first);
  }
  PermissionList again = PermissionList::Intern({"audit:read", "x:y"});
  EXPECT_TRUE(again.Contains("x:y"));
}

TEST_F(DomainTest, MembersActOnlyInTheirProjects) {
  Principal owner = Auth(LoginAs("owner", "owner@example.com"));
  ASSERT_TRUE(orgs_->Create(owner, "acme"));
  ASSERT_TRUE(orgs_->CreateProject(owner, "acme", "backend"));
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "m@example.com", "member"));
  Principal m = Auth(LoginAs("m", "m@example.com"));
  EXPECT_TRUE(atts_->Init(m, "acme", "build", "backend").error().IsPermissionDenied());
  ASSERT_TRUE(orgs_->CreateProject(m, "acme", "frontend"));  // becomes its project admin
  EXPECT_TRUE(atts_->Init(m, "acme", "build", "frontend"));
  EXPECT_TRUE(atts_->ListRuns(m, "acme", std::nullopt, 10));
}

// The Authorizer's decisions on in-memory memberships: no database needed.
class AuthorizerTest : public ::testing::Test {
 protected:
  static Principal User(const std::string& id) {
    Principal p;
    p.kind = Principal::Kind::kUser;
    p.id = id;
    return p;
  }
  static Principal Token(std::optional<std::string> project, std::vector<std::string> perms) {
    Principal p;
    p.kind = Principal::Kind::kApiToken;
    p.id = "tok";
    p.org_id = "org";
    p.project_id = std::move(project);
    p.permissions = PermissionList::Intern(perms);
    return p;
  }
  testing::FakeMembershipStore stores_;
  Authorizer authz_{stores_, stores_};
};

TEST_F(AuthorizerTest, NonMembersSeeNotFoundAndRolesGrantTheirTable) {
  stores_.SetOrgRole("org", "viewer", "viewer");
  stores_.SetOrgRole("org", "member", "member");
  const Resource org{"org", std::nullopt};
  const Resource backend{"org", std::string("backend")};
  EXPECT_TRUE(authz_.Authorize(User("stranger"), perm::kProjectRead, org).error().IsNotFound());
  EXPECT_TRUE(authz_.Authorize(User("viewer"), perm::kWorkflowRunRead, org));
  EXPECT_EQ(authz_.Authorize(User("viewer"), perm::kProjectCreate, org).error().code(),
            Error::Code::kPermissionDenied);
  // Members act only in projects where they hold a project role.
  EXPECT_FALSE(authz_.Authorize(User("member"), perm::kWorkflowRunCreate, backend));
  stores_.SetProjectRole("backend", "member", "admin");
  EXPECT_TRUE(authz_.Authorize(User("member"), perm::kWorkflowRunCreate, backend));
  EXPECT_EQ(*authz_.OrgRole(User("member"), "org"), "member");
}

TEST_F(AuthorizerTest, TokensHoldTheirListWithinTheirScope) {
  const Resource org{"org", std::nullopt};
  const Resource backend{"org", std::string("backend")};
  const Resource other_org{"other", std::nullopt};
  Principal global = Token(std::nullopt, {"workflow_run:create"});
  EXPECT_TRUE(authz_.Authorize(global, perm::kWorkflowRunCreate, backend));
  EXPECT_FALSE(authz_.Authorize(global, perm::kWorkflowRunRead, backend));
  EXPECT_TRUE(authz_.Authorize(global, perm::kWorkflowRunCreate, other_org).error().IsNotFound());
  Principal scoped = Token(std::string("backend"), {"workflow_run:create"});
  EXPECT_TRUE(authz_.Authorize(scoped, perm::kWorkflowRunCreate, backend));
  EXPECT_FALSE(authz_.Authorize(scoped, perm::kWorkflowRunCreate, org));
  // Tokens have no organization role.
  EXPECT_TRUE(authz_.OrgRole(global, "org").error().IsNotFound());
}

TEST_F(AuthorizerTest, AStoreFailureIsNotADenial) {
  stores_.SetOrgRole("org", "alice", "viewer");
  stores_.down = true;
  auto st = authz_.Authorize(User("alice"), perm::kWorkflowRunRead, Resource{"org", std::nullopt});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kUnavailable);
}

}  // namespace
}  // namespace cl::domain
