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

using store::OrgRole;
using store::ProjectRole;
using testing::FakeIdp;

TEST(Authorization, RoleTable) {
  EXPECT_TRUE(OrgRolePermissions(OrgRole::kOwner).count(perm::kInvitationCreate));
  EXPECT_TRUE(OrgRolePermissions(OrgRole::kAdmin).count(perm::kOrganizationUpdate));
  EXPECT_FALSE(OrgRolePermissions(OrgRole::kMember).count(perm::kWorkflowRunCreate));
  EXPECT_TRUE(OrgRolePermissions(OrgRole::kMember).count(perm::kProjectCreate));
  EXPECT_FALSE(OrgRolePermissions(OrgRole::kViewer).count(perm::kProjectCreate));
  EXPECT_TRUE(OrgRolePermissions(OrgRole::kViewer).count(perm::kWorkflowRunRead));
  EXPECT_TRUE(ProjectRolePermissions(ProjectRole::kAdmin).count(perm::kWorkflowRunCreate));
  EXPECT_FALSE(ProjectRolePermissions(ProjectRole::kViewer).count(perm::kWorkflowRunCreate));
  for (auto p : {perm::kMemberUpdate, perm::kMemberRemove, perm::kInvitationRevoke}) {
    EXPECT_TRUE(OrgRolePermissions(OrgRole::kAdmin).count(p)) << p;
    EXPECT_FALSE(OrgRolePermissions(OrgRole::kMember).count(p)) << p;
    EXPECT_FALSE(OrgRolePermissions(OrgRole::kViewer).count(p)) << p;
    EXPECT_FALSE(ProjectRolePermissions(ProjectRole::kAdmin).count(p)) << p;
  }
  EXPECT_EQ(OrgRolePermissions(OrgRole::kOwner), OrgRolePermissions(OrgRole::kAdmin));
  for (OrgRole role : store::AllOrgRoles()) EXPECT_FALSE(OrgRolePermissions(role).empty());
  for (ProjectRole role : store::AllProjectRoles()) {
    EXPECT_FALSE(ProjectRolePermissions(role).empty());
  }
}

TEST(PermissionList, InternSharesIdenticalListsAndCopiesArePointers) {
  std::vector<std::string> v = {"workflow:read", "workflow_run:create"};
  PermissionList a = PermissionList::Intern(v);
  PermissionList b = PermissionList::Intern(v);
  EXPECT_EQ(a.begin(), b.begin());  // one copy of the strings for both
  PermissionList c = PermissionList::Intern({"workflow:read"});
  EXPECT_NE(a.begin(), c.begin());
  // The copy is the subject. NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
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
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "m@example.com", OrgRole::kMember));
  Principal m = Auth(LoginAs("m", "m@example.com"));
  EXPECT_TRUE(atts_->Init(m, "acme", "build", "backend").error().IsPermissionDenied());
  ASSERT_TRUE(orgs_->CreateProject(m, "acme", "frontend"));  // becomes its project admin
  EXPECT_TRUE(atts_->Init(m, "acme", "build", "frontend"));
  EXPECT_TRUE(Items(atts_->ListRuns(m, "acme", std::nullopt, {.limit = 10})));
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
  static Principal Token(std::optional<std::string> project,
                         const std::vector<std::string>& perms) {
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
  stores_.SetOrgRole("org", "viewer", OrgRole::kViewer);
  stores_.SetOrgRole("org", "member", OrgRole::kMember);
  const Resource org{"org", std::nullopt};
  const Resource backend{"org", std::string("backend")};
  EXPECT_TRUE(authz_.Authorize(User("stranger"), perm::kProjectRead, org).error().IsNotFound());
  EXPECT_TRUE(authz_.Authorize(User("viewer"), perm::kWorkflowRunRead, org));
  EXPECT_EQ(authz_.Authorize(User("viewer"), perm::kProjectCreate, org).error().code(),
            Error::Code::kPermissionDenied);
  // Members act only in projects where they hold a project role.
  EXPECT_FALSE(authz_.Authorize(User("member"), perm::kWorkflowRunCreate, backend));
  stores_.SetProjectRole("backend", "member", ProjectRole::kAdmin);
  EXPECT_TRUE(authz_.Authorize(User("member"), perm::kWorkflowRunCreate, backend));
  EXPECT_EQ(*authz_.OrgRole(User("member"), "org"), OrgRole::kMember);
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

// Generated from the role table: for every organization role x project role (or none) x
// permission, Authorize succeeds exactly where the effective permissions say it is granted: on
// the organization, in the project where the role is held, and in a project where it is not.
TEST_F(AuthorizerTest, EffectivePermissionsAgreeWithAuthorizeForEveryRole) {
  stores_.AddProject("org", "p1", "alpha");
  stores_.AddProject("org", "p2", "beta");
  stores_.AddProject("elsewhere", "p3", "gamma");
  std::vector<std::string> permissions(AllRolePermissions().begin(), AllRolePermissions().end());
  permissions.push_back("made:up");
  std::vector<std::optional<ProjectRole>> project_roles = {std::nullopt};
  for (ProjectRole r : store::AllProjectRoles()) project_roles.push_back(r);
  const std::vector<std::optional<std::string>> where = {std::nullopt, "p1", "p2"};
  int checked = 0;
  for (OrgRole org_role : store::AllOrgRoles()) {
    for (const auto& project_role : project_roles) {
      const std::string user =
          std::string(store::OrgRoleName(org_role)) + "/" +
          std::string(project_role ? store::ProjectRoleName(*project_role) : "none");
      stores_.SetOrgRole("org", user, org_role);
      if (project_role) {
        stores_.SetProjectRole("p1", user, *project_role);
        stores_.SetProjectRole("p3", user, ProjectRole::kAdmin);  // another organization's project
      }
      auto effective = authz_.Permissions(User(user), "org");
      ASSERT_TRUE(effective) << effective.error().ToString();
      EXPECT_EQ(effective->organization, OrgRolePermissions(org_role)) << user;
      for (const auto& project : effective->projects) {
        EXPECT_EQ(project.project_id, "p1") << user;
        EXPECT_EQ(project.project_name, "alpha") << user;
        EXPECT_GT(project.permissions.size(), effective->organization.size()) << user;
      }
      for (const auto& permission : permissions) {
        for (const auto& project : where) {
          bool allowed =
              authz_.Authorize(User(user), permission, Resource{"org", project}).has_value();
          EXPECT_EQ(allowed, effective->Allows(permission, project))
              << user << " " << permission << " in " << project.value_or("the organization");
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(store::AllOrgRoles().size() * project_roles.size() *
                                      permissions.size() * where.size()));
  EXPECT_TRUE(authz_.Permissions(User("stranger"), "org").error().IsNotFound());
}

TEST_F(AuthorizerTest, EffectivePermissionsListOnlyProjectsThatAddSomething) {
  stores_.AddProject("org", "p1", "web");
  stores_.AddProject("org", "p2", "api");
  stores_.SetOrgRole("org", "admin", OrgRole::kAdmin);
  // Adds nothing to the org admin's set.
  stores_.SetProjectRole("p1", "admin", ProjectRole::kAdmin);
  stores_.SetOrgRole("org", "member", OrgRole::kMember);
  stores_.SetProjectRole("p1", "member", ProjectRole::kAdmin);
  // Adds nothing to the member's read set.
  stores_.SetProjectRole("p2", "member", ProjectRole::kViewer);
  stores_.SetOrgRole("org", "viewer", OrgRole::kViewer);
  stores_.SetProjectRole("p1", "viewer", ProjectRole::kAdmin);
  stores_.SetProjectRole("p2", "viewer", ProjectRole::kAdmin);

  auto admin = authz_.Permissions(User("admin"), "org");
  ASSERT_TRUE(admin);
  EXPECT_TRUE(admin->organization.count(perm::kApiTokenCreate));
  EXPECT_TRUE(admin->projects.empty());

  auto member = authz_.Permissions(User("member"), "org");
  ASSERT_TRUE(member);
  EXPECT_FALSE(member->organization.count(perm::kApiTokenCreate));
  ASSERT_EQ(member->projects.size(), 1u);
  EXPECT_EQ(member->projects[0].project_name, "web");
  EXPECT_TRUE(member->projects[0].permissions.count(perm::kApiTokenCreate));
  EXPECT_TRUE(member->projects[0].permissions.count(perm::kProjectCreate));  // the org-wide part

  auto viewer = authz_.Permissions(User("viewer"), "org");
  ASSERT_TRUE(viewer);
  ASSERT_EQ(viewer->projects.size(), 2u);
  EXPECT_EQ(viewer->projects[0].project_name, "api");  // by name
  EXPECT_EQ(viewer->projects[1].project_name, "web");
}

TEST_F(AuthorizerTest, EffectivePermissionsOfTokensAreTheirListWithinTheirScope) {
  stores_.AddProject("org", "backend", "backend");
  stores_.AddProject("org", "frontend", "frontend");
  std::vector<std::string> permissions(AllRolePermissions().begin(), AllRolePermissions().end());
  const std::vector<std::optional<std::string>> where = {std::nullopt, "backend", "frontend"};
  for (const auto& scope : where) {
    Principal t = Token(scope, {"workflow_run:create", "api_token:read"});
    auto effective = authz_.Permissions(t, "org");
    ASSERT_TRUE(effective) << effective.error().ToString();
    if (scope) {
      EXPECT_TRUE(effective->organization.empty());
      ASSERT_EQ(effective->projects.size(), 1u);
      EXPECT_EQ(effective->projects[0].project_name, *scope);
    } else {
      EXPECT_EQ(effective->organization.size(), 2u);
      EXPECT_TRUE(effective->projects.empty());
    }
    for (const auto& permission : permissions) {
      for (const auto& project : where) {
        EXPECT_EQ(authz_.Authorize(t, permission, Resource{"org", project}).has_value(),
                  effective->Allows(permission, project))
            << scope.value_or("org-wide") << " " << permission;
      }
    }
    EXPECT_TRUE(authz_.Permissions(t, "other").error().IsNotFound());
  }
}

TEST_F(AuthorizerTest, AStoreFailureIsNotADenial) {
  stores_.SetOrgRole("org", "alice", OrgRole::kViewer);
  stores_.down = true;
  auto st = authz_.Authorize(User("alice"), perm::kWorkflowRunRead, Resource{"org", std::nullopt});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kUnavailable);
  auto effective = authz_.Permissions(User("alice"), "org");
  ASSERT_FALSE(effective);
  EXPECT_EQ(effective.error().code(), Error::Code::kUnavailable);
}

}  // namespace
}  // namespace cl::domain
