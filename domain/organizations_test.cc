// OrganizationService: names, the API token inactivity setting, and membership changes (roles,
// removal, cancelled invitations) with their rules and audit events.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

TEST_F(DomainTest, OrganizationNamesAreUniqueAndValidated) {
  Principal a = Auth(LoginAs("a", "a@example.com"));
  ASSERT_TRUE(orgs_->Create(a, "acme"));
  EXPECT_TRUE(orgs_->Create(a, "acme").error().IsAlreadyExists());
  EXPECT_TRUE(orgs_->Create(a, "Not_Valid").error().IsInvalidArgument());
  auto mine = Items(orgs_->ListMine(a, {}));
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ(mine->at(0).role, store::OrgRole::kOwner);
}

TEST_F(ApiTokenTest, OnlyOwnersAndAdminsChangeTheAutoRevokeSetting) {
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "a@example.com", store::OrgRole::kAdmin));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "m@example.com", store::OrgRole::kMember));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "v@example.com", store::OrgRole::kViewer));
  Principal admin = Auth(LoginAs("a", "a@example.com"));
  Principal member = Auth(LoginAs("m", "m@example.com"));
  Principal viewer = Auth(LoginAs("v", "v@example.com"));
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(member, "acme", 30).error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(viewer, "acme", 30).error().IsPermissionDenied());
  clock_.Advance(kMillisPerSecond);  // the change is then the newest audit event
  auto set = orgs_->SetApiTokenMaxDaysInactive(admin, "acme", 30);
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_EQ(set->api_token_max_days_inactive, 30);
  // A refused change leaves the setting as it was, and each change is audited.
  auto org = orgs_->Describe(owner_, "acme");
  ASSERT_TRUE(org);
  EXPECT_EQ(org->org.api_token_max_days_inactive, 30);
  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 1}));
  ASSERT_TRUE(events);
  EXPECT_EQ(events->at(0).action, "organization.updated");
  EXPECT_NE(events->at(0).message.find("30 days"), std::string::npos);
}

TEST_F(ApiTokenTest, AutoRevokeThresholdSettingAndDate) {
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 366).error().IsInvalidArgument());
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", -1).error().IsInvalidArgument());
  auto org = orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 90);
  ASSERT_TRUE(org);
  EXPECT_EQ(org->api_token_max_days_inactive, 90);
  auto created = MustCreate(owner_, {.name = "ci"});
  EXPECT_EQ(
      AutoRevokeAt(created.record, org->api_token_max_days_inactive, created.record.created_at),
      created.record.created_at + 90 * kMillisPerDay);
  org = orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 0);
  ASSERT_TRUE(org);
  EXPECT_FALSE(org->api_token_max_days_inactive);
  EXPECT_FALSE(
      AutoRevokeAt(created.record, org->api_token_max_days_inactive, created.record.created_at));
}

// Owners and admins with one member of each other role, all signed in.
class MemberRulesTest : public ApiTokenTest {
 protected:
  void SetUp() override {
    ApiTokenTest::SetUp();
    if (HasFatalFailure()) return;
    for (const auto& [sub, role] :
         std::vector<std::pair<std::string, store::OrgRole>>{{"ada", store::OrgRole::kAdmin},
                                                             {"max", store::OrgRole::kMember},
                                                             {"vic", store::OrgRole::kViewer}}) {
      ASSERT_TRUE(orgs_->Invite(owner_, "acme", sub + "@example.com", role));
    }
    admin_ = Auth(LoginAs("ada", "ada@example.com"));
    member_ = Auth(LoginAs("max", "max@example.com"));
    viewer_ = Auth(LoginAs("vic", "vic@example.com"));
  }
  // The newest audit event's action (each change below moves the clock first).
  std::string NewestAction() {
    auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 1}));
    EXPECT_TRUE(events);
    return events && !events->empty() ? events->at(0).action : "";
  }
  std::optional<store::OrgRole> RoleOf(const Principal& p) {
    auto d = orgs_->Describe(p, "acme");
    return d ? d->role : std::nullopt;
  }

  Principal admin_, member_, viewer_;
};

TEST_F(MemberRulesTest, OwnersAndAdminsChangeRolesAndEachChangeIsAudited) {
  clock_.Advance(kMillisPerSecond);
  auto changed = orgs_->UpdateMemberRole(owner_, "acme", member_.id, store::OrgRole::kAdmin);
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(changed->role, store::OrgRole::kAdmin);
  EXPECT_EQ(changed->user_email, "max@example.com");
  EXPECT_EQ(RoleOf(member_), store::OrgRole::kAdmin);
  EXPECT_EQ(NewestAction(), "member.role_changed");
  clock_.Advance(kMillisPerSecond);
  ASSERT_TRUE(orgs_->UpdateMemberRole(admin_, "acme", member_.id, store::OrgRole::kViewer));
  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 1}));
  ASSERT_TRUE(events);
  EXPECT_EQ(events->at(0).actor_name, "ada@example.com");
  EXPECT_EQ(events->at(0).target_kind, "member");
  EXPECT_EQ(events->at(0).target_id, member_.id);
  EXPECT_NE(events->at(0).message.find("from admin to viewer"), std::string::npos)
      << events->at(0).message;
  // Members and viewers change nothing; nor do tokens, whatever they hold.
  for (const Principal* p : {&member_, &viewer_}) {
    EXPECT_TRUE(orgs_->UpdateMemberRole(*p, "acme", admin_.id, store::OrgRole::kViewer)
                    .error()
                    .IsPermissionDenied());
    EXPECT_TRUE(orgs_->RemoveMember(*p, "acme", admin_.id).error().IsPermissionDenied());
  }
  auto token = MustCreate(owner_, {.name = "ci"});
  Principal by_token = Auth(token.token);
  EXPECT_TRUE(orgs_->RemoveMember(by_token, "acme", viewer_.id).error().IsPermissionDenied());
  // An unknown role, after the permission check.
  EXPECT_TRUE(
      orgs_->UpdateMemberRole(owner_, "acme", admin_.id, std::nullopt).error().IsInvalidArgument());
  EXPECT_TRUE(orgs_->UpdateMemberRole(viewer_, "acme", admin_.id, std::nullopt)
                  .error()
                  .IsPermissionDenied());
}

TEST_F(MemberRulesTest, AdminsNeverTouchOwners) {
  Error e = orgs_->UpdateMemberRole(admin_, "acme", owner_.id, store::OrgRole::kViewer).error();
  EXPECT_TRUE(e.IsPermissionDenied()) << e.ToString();
  EXPECT_TRUE(orgs_->RemoveMember(admin_, "acme", owner_.id).error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->UpdateMemberRole(admin_, "acme", member_.id, store::OrgRole::kOwner)
                  .error()
                  .IsPermissionDenied());
  EXPECT_TRUE(orgs_->UpdateMemberRole(admin_, "acme", admin_.id, store::OrgRole::kOwner)
                  .error()
                  .IsPermissionDenied());
  EXPECT_EQ(RoleOf(owner_), store::OrgRole::kOwner);
  EXPECT_EQ(RoleOf(member_), store::OrgRole::kMember);
  // An owner may make an owner.
  ASSERT_TRUE(orgs_->UpdateMemberRole(owner_, "acme", admin_.id, store::OrgRole::kOwner));
  EXPECT_EQ(RoleOf(admin_), store::OrgRole::kOwner);
}

TEST_F(MemberRulesTest, TheLastOwnerStays) {
  for (const Error& e :
       {orgs_->UpdateMemberRole(owner_, "acme", owner_.id, store::OrgRole::kAdmin).error(),
        orgs_->RemoveMember(owner_, "acme", owner_.id).error()}) {
    EXPECT_EQ(e.code(), Error::Code::kFailedPrecondition) << e.ToString();
    EXPECT_EQ(e.reason(), "last_owner");
  }
  EXPECT_EQ(RoleOf(owner_), store::OrgRole::kOwner);
  // Keeping the role one has changes nothing and writes no event.
  clock_.Advance(kMillisPerSecond);
  ASSERT_TRUE(orgs_->UpdateMemberRole(owner_, "acme", owner_.id, store::OrgRole::kOwner));
  EXPECT_NE(NewestAction(), "member.role_changed");
  // Another owner: now the first may leave, and is out at once.
  ASSERT_TRUE(orgs_->UpdateMemberRole(owner_, "acme", admin_.id, store::OrgRole::kOwner));
  clock_.Advance(kMillisPerSecond);
  ASSERT_TRUE(orgs_->RemoveMember(owner_, "acme", owner_.id));
  EXPECT_TRUE(orgs_->Describe(owner_, "acme").error().IsNotFound());
  auto events = Items(orgs_->ListAuditEvents(admin_, "acme", {}, {.limit = 1}));
  ASSERT_TRUE(events);
  EXPECT_EQ(events->at(0).action, "member.removed");
  EXPECT_NE(events->at(0).message.find("left the organization"), std::string::npos);
  EXPECT_TRUE(orgs_->RemoveMember(admin_, "acme", owner_.id).error().IsNotFound());
}

TEST_F(MemberRulesTest, InvitationsAreCancelledByOwnersAndAdmins) {
  auto to_owner = orgs_->Invite(owner_, "acme", "olga@example.com", store::OrgRole::kOwner);
  auto to_viewer = orgs_->Invite(admin_, "acme", "bea@example.com", store::OrgRole::kViewer);
  ASSERT_TRUE(to_owner && to_viewer);
  EXPECT_TRUE(orgs_->RevokeInvitation(viewer_, "acme", to_viewer->id).error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->RevokeInvitation(admin_, "acme", to_owner->id).error().IsPermissionDenied());
  clock_.Advance(kMillisPerSecond);
  auto revoked = orgs_->RevokeInvitation(admin_, "acme", to_viewer->id);
  ASSERT_TRUE(revoked) << revoked.error().ToString();
  EXPECT_EQ(revoked->email, "bea@example.com");
  EXPECT_EQ(NewestAction(), "invitation.revoked");
  EXPECT_TRUE(orgs_->RevokeInvitation(admin_, "acme", to_viewer->id).error().IsNotFound());
  EXPECT_TRUE(orgs_->RevokeInvitation(owner_, "acme", "not-a-uuid").error().IsNotFound());
  ASSERT_TRUE(orgs_->RevokeInvitation(owner_, "acme", to_owner->id));
  auto pending = Items(orgs_->ListInvitations(owner_, "acme", {}));
  ASSERT_TRUE(pending);
  EXPECT_TRUE(pending->empty());
  // Bea signs in later: no invitation to accept.
  Principal bea = Auth(LoginAs("bea", "bea@example.com"));
  EXPECT_TRUE(orgs_->Describe(bea, "acme").error().IsNotFound());
}

}  // namespace
}  // namespace cl::domain
