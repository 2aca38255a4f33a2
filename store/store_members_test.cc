// StoreTest (SQLite and PostgreSQL): changing and removing memberships and cancelling
// invitations, each with its audit event in the same transaction, and the last owner kept even
// when two owners step down at the same time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

// How many events of `action` the organization's audit log holds.
template <typename Db>
size_t CountEvents(Db& db, const std::string& org, const std::string& action) {
  auto events = db.ListAuditEvents(org, 1000);
  EXPECT_TRUE(events) << events.error().ToString();
  if (!events) return 0;
  return static_cast<size_t>(std::count_if(
      events->begin(), events->end(), [&](const AuditEvent& e) { return e.action == action; }));
}

TYPED_TEST(StoreTest, UpdateMemberRoleKeepsAnOwner) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  User bob = this->NewUser("bob@example.com");
  const std::string org = this->NewOrg("acme", owner);
  Invitation inv = Invite(Id(), org, "bob@example.com", OrgRole::kAdmin, owner.id,
                          InvitationStatus::kPending, this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
  ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(org, bob.id, OrgRole::kAdmin, 0),
                                          this->now_, this->Event(org, "invitation.accepted")));

  ASSERT_TRUE(this->db_->UpdateMemberRole(org, bob.id, OrgRole::kViewer,
                                          this->Event(org, "member.role_changed")));
  EXPECT_EQ(this->db_->GetMembership(org, bob.id)->role, OrgRole::kViewer);
  EXPECT_EQ(CountEvents(*this->db_, org, "member.role_changed"), 1u);

  // The only owner: refused, nothing written.
  auto st = this->db_->UpdateMemberRole(org, owner.id, OrgRole::kAdmin,
                                        this->Event(org, "member.role_changed"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_EQ(st.error().reason(), "last_owner");
  EXPECT_EQ(this->db_->GetMembership(org, owner.id)->role, OrgRole::kOwner);
  EXPECT_EQ(CountEvents(*this->db_, org, "member.role_changed"), 1u);
  // An owner "changed" to owner keeps the organization's owner.
  EXPECT_TRUE(this->db_->UpdateMemberRole(org, owner.id, OrgRole::kOwner,
                                          this->Event(org, "member.role_changed")));

  // With a second owner, either may step down, but not both.
  ASSERT_TRUE(this->db_->UpdateMemberRole(org, bob.id, OrgRole::kOwner,
                                          this->Event(org, "member.role_changed")));
  EXPECT_TRUE(this->db_->UpdateMemberRole(org, owner.id, OrgRole::kMember,
                                          this->Event(org, "member.role_changed")));
  st = this->db_->UpdateMemberRole(org, bob.id, OrgRole::kAdmin,
                                   this->Event(org, "member.role_changed"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "last_owner");

  // Unknown member or organization.
  EXPECT_TRUE(this->db_->UpdateMemberRole(org, Id(), OrgRole::kViewer, this->Event(org, "x"))
                  .error()
                  .IsNotFound());
  EXPECT_TRUE(this->db_->UpdateMemberRole(Id(), bob.id, OrgRole::kViewer, this->Event(org, "x"))
                  .error()
                  .IsNotFound());
}

TYPED_TEST(StoreTest, RemoveMemberTakesTheirProjectRolesInThatOrganizationOnly) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  User amy = this->NewUser("amy@example.com");
  const std::string acme = this->NewOrg("acme", owner);
  const std::string beta = this->NewOrg("beta", amy);
  const std::string acme_web = this->NewProject(acme, "web");
  const std::string beta_web = this->NewProject(beta, "web");
  Invitation inv = Invite(Id(), acme, "amy@example.com", OrgRole::kMember, owner.id,
                          InvitationStatus::kPending, this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(acme, "invitation.created")));
  ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(acme, amy.id, OrgRole::kMember, 0),
                                          this->now_, this->Event(acme, "invitation.accepted")));
  ASSERT_TRUE(this->db_->SetProjectMembership({acme_web, amy.id, ProjectRole::kAdmin, this->now_}));
  ASSERT_TRUE(this->db_->SetProjectMembership({beta_web, amy.id, ProjectRole::kAdmin, this->now_}));

  ASSERT_TRUE(this->db_->RemoveMember(acme, amy.id, this->Event(acme, "member.removed")));
  EXPECT_TRUE(this->db_->GetMembership(acme, amy.id).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetProjectMembership(acme_web, amy.id).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetProjectMembership(beta_web, amy.id));  // another organization's
  EXPECT_TRUE(this->db_->GetMembership(beta, amy.id));
  EXPECT_EQ(CountEvents(*this->db_, acme, "member.removed"), 1u);
  EXPECT_TRUE(this->db_->RemoveMember(acme, amy.id, this->Event(acme, "member.removed"))
                  .error()
                  .IsNotFound());

  // The only owner cannot leave: nothing written.
  auto st = this->db_->RemoveMember(acme, owner.id, this->Event(acme, "member.removed"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "last_owner");
  EXPECT_TRUE(this->db_->GetMembership(acme, owner.id));
  EXPECT_EQ(CountEvents(*this->db_, acme, "member.removed"), 1u);
}

TYPED_TEST(StoreTest, RevokeInvitationDeletesOnlyAPendingOne) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  User bob = this->NewUser("bob@example.com");
  const std::string org = this->NewOrg("acme", owner);
  const std::string other = this->NewOrg("other", owner);
  Invitation pending = Invite(Id(), org, "amy@example.com", OrgRole::kViewer, owner.id,
                              InvitationStatus::kPending, this->now_);
  Invitation accepted = Invite(Id(), org, "bob@example.com", OrgRole::kViewer, owner.id,
                               InvitationStatus::kPending, this->now_);
  for (const Invitation& i : {pending, accepted}) {
    ASSERT_TRUE(this->db_->CreateInvitation(i, this->Event(org, "invitation.created")));
  }
  ASSERT_TRUE(this->db_->AcceptInvitation(accepted.id, Member(org, bob.id, OrgRole::kViewer, 0),
                                          this->now_, this->Event(org, "invitation.accepted")));

  auto got = this->db_->GetInvitation(org, pending.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->email, "amy@example.com");
  EXPECT_EQ(got->status, InvitationStatus::kPending);
  EXPECT_EQ(this->db_->GetInvitation(org, accepted.id)->status, InvitationStatus::kAccepted);
  EXPECT_TRUE(this->db_->GetInvitation(other, pending.id).error().IsNotFound());

  for (const auto& [in_org, id] : std::vector<std::pair<std::string, std::string>>{
           {other, pending.id}, {org, accepted.id}, {org, Id()}}) {
    EXPECT_TRUE(this->db_->RevokeInvitation(in_org, id, this->Event(org, "invitation.revoked"))
                    .error()
                    .IsNotFound());
  }
  EXPECT_EQ(CountEvents(*this->db_, org, "invitation.revoked"), 0u);
  ASSERT_TRUE(this->db_->RevokeInvitation(org, pending.id, this->Event(org, "invitation.revoked")));
  EXPECT_TRUE(this->db_->ListPendingInvitations(org)->empty());
  EXPECT_EQ(CountEvents(*this->db_, org, "invitation.revoked"), 1u);
  EXPECT_TRUE(this->db_->RevokeInvitation(org, pending.id, this->Event(org, "invitation.revoked"))
                  .error()
                  .IsNotFound());
  // The email can be invited again.
  EXPECT_TRUE(this->db_->CreateInvitation(Invite(Id(), org, "amy@example.com", OrgRole::kAdmin,
                                                 owner.id, InvitationStatus::kPending, this->now_),
                                          this->Event(org, "invitation.created")));
}

// Two owners stepping down at the same moment: the organization's row lock orders them, so
// exactly one succeeds and one owner remains.
TYPED_TEST(StoreTest, ConcurrentDemotionsOfTheLastTwoOwnersLeaveOne) {
  this->Migrated();
  for (int round = 0; round < 5; ++round) {
    User a = this->NewUser("a" + std::to_string(round) + "@example.com");
    User b = this->NewUser("b" + std::to_string(round) + "@example.com");
    const std::string org = this->NewOrg("org" + std::to_string(round), a);
    Invitation inv =
        Invite(Id(), org, b.email, OrgRole::kOwner, a.id, InvitationStatus::kPending, this->now_);
    ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
    ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(org, b.id, OrgRole::kOwner, 0),
                                            this->now_, this->Event(org, "invitation.accepted")));
    std::atomic<int> ready{0};
    std::atomic<int> ok{0};
    auto step_down = [&](const std::string& user_id, bool remove) {
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      auto st = remove ? this->db_->RemoveMember(org, user_id, this->Event(org, "member.removed"))
                       : this->db_->UpdateMemberRole(org, user_id, OrgRole::kAdmin,
                                                     this->Event(org, "member.role_changed"));
      if (st) {
        ok.fetch_add(1);
      } else {
        EXPECT_EQ(st.error().reason(), "last_owner") << st.error().ToString();
      }
    };
    std::thread t1(step_down, a.id, round % 2 == 0);
    std::thread t2(step_down, b.id, false);
    t1.join();
    t2.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    auto members = this->db_->ListMembers(org);
    ASSERT_TRUE(members);
    EXPECT_EQ(std::count_if(members->begin(), members->end(),
                            [](const Membership& m) { return m.role == OrgRole::kOwner; }),
              1)
        << "round " << round;
  }
}

}  // namespace
}  // namespace cl::store::testing
