// StoreTest (SQLite and PostgreSQL): users, organizations, memberships, projects and
// invitations.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, UpsertUserCreatesThenUpdatesKeepingId) {
  this->Migrated();
  User u;
  u.id = Id();
  u.issuer = "https://idp.example";
  u.subject = "alice";
  u.email = "alice@old.example";
  u.email_verified = false;
  u.name = "Alice";
  u.created_at = u.updated_at = 1000;
  auto created = this->db_->UpsertUser(u);
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(created->id, u.id);
  EXPECT_EQ(created->created_at, 1000);

  User again = u;
  again.id = Id();  // ignored: the (issuer, subject) row exists
  again.email = "alice@new.example";
  again.email_verified = true;
  again.name = "Alice B";
  again.created_at = again.updated_at = 2000;
  auto updated = this->db_->UpsertUser(again);
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_EQ(updated->id, u.id);
  EXPECT_EQ(updated->email, "alice@new.example");
  EXPECT_TRUE(updated->email_verified);
  EXPECT_EQ(updated->name, "Alice B");
  EXPECT_EQ(updated->created_at, 1000);
  EXPECT_EQ(updated->updated_at, 2000);

  auto got = this->db_->GetUser(u.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->subject, "alice");
  EXPECT_TRUE(got->email_verified);

  // Same subject at another issuer is another user.
  User other = u;
  other.id = Id();
  other.issuer = "https://other.example";
  auto third = this->db_->UpsertUser(other);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->id, other.id);

  auto missing = this->db_->GetUser(Id());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());
}

TYPED_TEST(StoreTest, CreateOrganizationWritesOrgMembershipAndEvent) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com", "Owner");
  std::string org_id = this->NewOrg("acme", owner);

  auto org = this->db_->GetOrganization(org_id);
  ASSERT_TRUE(org);
  EXPECT_EQ(org->name, "acme");
  EXPECT_FALSE(org->api_token_max_days_inactive.has_value());
  auto by_name = this->db_->GetOrganizationByName("acme");
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->id, org_id);

  auto m = this->db_->GetMembership(org_id, owner.id);
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_EQ(m->role, OrgRole::kOwner);
  EXPECT_EQ(m->org_name, "acme");
  EXPECT_EQ(m->user_email, "owner@example.com");

  auto events = this->db_->ListAuditEvents(org_id, 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].action, "organization.created");

  EXPECT_TRUE(this->db_->GetOrganizationByName("nope").error().IsNotFound());
}

TYPED_TEST(StoreTest, DuplicateOrganizationNameWritesNothing) {
  this->Migrated();
  User a = this->NewUser("a@example.com");
  User b = this->NewUser("b@example.com");
  this->NewOrg("acme", a);

  Organization dup{Id(), "acme", this->now_, std::nullopt};
  Membership m = Member(dup.id, b.id, OrgRole::kOwner, this->now_);
  auto st = this->db_->CreateOrganization(dup, m, this->Event(dup.id, "organization.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists()) << st.error().ToString();

  EXPECT_TRUE(this->db_->GetOrganization(dup.id).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetMembership(dup.id, b.id).error().IsNotFound());
  EXPECT_TRUE(this->db_->ListMembershipsForUser(b.id)->empty());
  EXPECT_TRUE(this->db_->ListAuditEvents(dup.id, 10)->empty());
}

TYPED_TEST(StoreTest, FailureAfterFirstInsertRollsBackOrganization) {
  this->Migrated();
  // The organization row goes in first; the owner's membership then fails (no such user).
  Organization org{Id(), "half", this->now_, std::nullopt};
  Membership m = Member(org.id, Id(), OrgRole::kOwner, this->now_);
  auto st = this->db_->CreateOrganization(org, m, this->Event(org.id, "organization.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(this->db_->GetOrganizationByName("half").error().IsNotFound());
  EXPECT_TRUE(this->db_->ListAuditEvents(org.id, 10)->empty());

  // An audit event id clash also undoes the organization and membership.
  User u = this->NewUser("u@example.com");
  std::string first = this->NewOrg("first", u);
  auto events = this->db_->ListAuditEvents(first, 1);
  ASSERT_EQ(events->size(), 1u);
  Organization second{Id(), "second", this->now_, std::nullopt};
  AuditEvent clash = (*events)[0];
  st = this->db_->CreateOrganization(second, Member(second.id, u.id, OrgRole::kOwner, this->now_),
                                     clash);
  ASSERT_FALSE(st);
  EXPECT_TRUE(this->db_->GetOrganizationByName("second").error().IsNotFound());
  EXPECT_EQ(this->db_->ListMembershipsForUser(u.id)->size(), 1u);
}

TYPED_TEST(StoreTest, MembershipListingsJoinNames) {
  this->Migrated();
  User owner = this->NewUser("zed@example.com", "Zed");
  User member = this->NewUser("amy@example.com", "Amy");
  std::string beta = this->NewOrg("beta", owner);
  std::string alpha = this->NewOrg("alpha", owner);

  auto mine = this->db_->ListMembershipsForUser(owner.id);
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].org_name, "alpha");
  EXPECT_EQ((*mine)[0].org_id, alpha);
  EXPECT_EQ((*mine)[1].org_name, "beta");
  EXPECT_EQ((*mine)[1].org_id, beta);

  // Add a member through an accepted invitation.
  Invitation inv = Invite(Id(), beta, "amy@example.com", OrgRole::kMember, owner.id,
                          InvitationStatus::kPending, this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(beta, "invitation.created")));
  ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(beta, member.id, OrgRole::kMember, 0),
                                          this->now_ + 1,
                                          this->Event(beta, "invitation.accepted")));

  auto members = this->db_->ListMembers(beta);
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].user_email, "amy@example.com");
  EXPECT_EQ((*members)[0].user_name, "Amy");
  EXPECT_EQ((*members)[0].role, OrgRole::kMember);
  EXPECT_EQ((*members)[1].user_email, "zed@example.com");
  EXPECT_EQ((*members)[1].role, OrgRole::kOwner);
  EXPECT_EQ(this->db_->ListMembers(alpha)->size(), 1u);
}

TYPED_TEST(StoreTest, ProjectsAreUniquePerOrganization) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org1 = this->NewOrg("one", u);
  std::string org2 = this->NewOrg("two", u);

  Project p{Id(), org1, "web", this->now_};
  ProjectMembership creator{p.id, u.id, ProjectRole::kAdmin, this->now_};
  auto st = this->db_->CreateProject(p, creator, this->Event(org1, "project.created"));
  ASSERT_TRUE(st) << st.error().ToString();
  this->NewProject(org1, "api");
  this->NewProject(org2, "web");  // same name, other organization: fine

  Project dup{Id(), org1, "web", this->now_};
  st = this->db_->CreateProject(dup,
                                ProjectMembership{dup.id, u.id, ProjectRole::kAdmin, this->now_},
                                this->Event(org1, "project.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists());
  EXPECT_TRUE(this->db_->GetProject(dup.id).error().IsNotFound());

  auto got = this->db_->GetProjectByName(org1, "web");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, p.id);
  EXPECT_EQ(this->db_->GetProject(p.id)->name, "web");
  auto list = this->db_->ListProjects(org1);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "api");
  EXPECT_EQ((*list)[1].name, "web");

  auto pm = this->db_->GetProjectMembership(p.id, u.id);
  ASSERT_TRUE(pm);
  EXPECT_EQ(pm->role, ProjectRole::kAdmin);
  // Organization created + 3 projects created.
  EXPECT_EQ(this->db_->ListAuditEvents(org1, 10)->size(), 3u);
}

TYPED_TEST(StoreTest, ProjectMemberships) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org1 = this->NewOrg("one", u);
  std::string org2 = this->NewOrg("two", u);
  std::string a = this->NewProject(org1, "a");
  std::string b = this->NewProject(org1, "b");
  std::string c = this->NewProject(org2, "c");

  EXPECT_TRUE(this->db_->GetProjectMembership(a, u.id).error().IsNotFound());
  ASSERT_TRUE(this->db_->SetProjectMembership({a, u.id, ProjectRole::kViewer, this->now_}));
  EXPECT_EQ(this->db_->GetProjectMembership(a, u.id)->role, ProjectRole::kViewer);
  ASSERT_TRUE(this->db_->SetProjectMembership({a, u.id, ProjectRole::kAdmin, this->now_}));
  EXPECT_EQ(this->db_->GetProjectMembership(a, u.id)->role, ProjectRole::kAdmin);
  ASSERT_TRUE(this->db_->SetProjectMembership({b, u.id, ProjectRole::kViewer, this->now_}));
  ASSERT_TRUE(this->db_->SetProjectMembership({c, u.id, ProjectRole::kViewer, this->now_}));

  auto in_org1 = this->db_->ListProjectMembershipsForUser(org1, u.id);
  ASSERT_TRUE(in_org1);
  ASSERT_EQ(in_org1->size(), 2u);
  EXPECT_EQ((*in_org1)[0].project_id, a);
  EXPECT_EQ((*in_org1)[1].project_id, b);
  EXPECT_EQ(this->db_->ListProjectMembershipsForUser(org2, u.id)->size(), 1u);
}

TYPED_TEST(StoreTest, Invitations) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  User bob = this->NewUser("bob@example.com");
  std::string org = this->NewOrg("acme", owner);
  std::string other = this->NewOrg("other", owner);

  Invitation inv = Invite(Id(), org, "bob@example.com", OrgRole::kAdmin, owner.id,
                          InvitationStatus::kPending, this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
  Invitation dup = inv;
  dup.id = Id();
  auto st = this->db_->CreateInvitation(dup, this->Event(org, "invitation.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists());
  // The failed create left no audit event: organization.created + one invitation.created.
  EXPECT_EQ(this->db_->ListAuditEvents(org, 10)->size(), 2u);

  Invitation elsewhere = Invite(Id(), other, "bob@example.com", OrgRole::kViewer, owner.id,
                                InvitationStatus::kPending, this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(elsewhere, this->Event(other, "invitation.created")));

  auto pending = this->db_->ListPendingInvitations(org);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, inv.id);
  EXPECT_EQ((*pending)[0].status, InvitationStatus::kPending);
  auto for_bob = this->db_->ListPendingInvitationsForEmail("bob@example.com");
  ASSERT_TRUE(for_bob);
  ASSERT_EQ(for_bob->size(), 2u);
  EXPECT_EQ((*for_bob)[0].org_name, "acme");
  EXPECT_EQ((*for_bob)[1].org_name, "other");

  ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(org, bob.id, OrgRole::kAdmin, 0),
                                          this->now_ + 5, this->Event(org, "invitation.accepted")));
  auto m = this->db_->GetMembership(org, bob.id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, OrgRole::kAdmin);
  EXPECT_TRUE(this->db_->ListPendingInvitations(org)->empty());
  EXPECT_EQ(this->db_->ListPendingInvitationsForEmail("bob@example.com")->size(), 1u);

  st = this->db_->AcceptInvitation(inv.id, Member(org, bob.id, OrgRole::kAdmin, 0), this->now_ + 6,
                                   this->Event(org, "invitation.accepted"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsNotFound());
  EXPECT_TRUE(this->db_
                  ->AcceptInvitation(Id(), Member(org, bob.id, OrgRole::kAdmin, 0), this->now_,
                                     this->Event(org, "invitation.accepted"))
                  .error()
                  .IsNotFound());

  // Accepted invitations do not block a new pending one for the same email; accepting it while
  // already a member keeps the existing membership and only marks the invitation accepted.
  Invitation again = Invite(Id(), org, "bob@example.com", OrgRole::kViewer, owner.id,
                            InvitationStatus::kPending, this->now_ + 7);
  ASSERT_TRUE(this->db_->CreateInvitation(again, this->Event(org, "invitation.created")));
  ASSERT_TRUE(this->db_->AcceptInvitation(again.id, Member(org, bob.id, OrgRole::kViewer, 0),
                                          this->now_ + 8, this->Event(org, "invitation.accepted")));
  EXPECT_EQ(this->db_->GetMembership(org, bob.id)->role, OrgRole::kAdmin);
  EXPECT_TRUE(this->db_->ListPendingInvitations(org)->empty());
  EXPECT_EQ(this->db_->ListMembers(org)->size(), 2u);
}

TYPED_TEST(StoreTest, SetApiTokenMaxDaysInactive) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 90, this->Event(org, "org.updated")));
  EXPECT_EQ(this->db_->GetOrganization(org)->api_token_max_days_inactive, 90);
  ASSERT_TRUE(
      this->db_->SetApiTokenMaxDaysInactive(org, std::nullopt, this->Event(org, "org.updated")));
  EXPECT_FALSE(this->db_->GetOrganization(org)->api_token_max_days_inactive.has_value());
  EXPECT_EQ(this->db_->ListAuditEvents(org, 10)->size(), 3u);

  // The store trusts the domain for the range; a value outside it that gets here anyway is
  // refused by the schema, and neither the value nor the event is written.
  for (int days : {0, -1, 366}) {
    EXPECT_FALSE(this->db_->SetApiTokenMaxDaysInactive(org, days, this->Event(org, "org.updated")))
        << days;
  }
  EXPECT_FALSE(this->db_->GetOrganization(org)->api_token_max_days_inactive.has_value());
  EXPECT_EQ(this->db_->ListAuditEvents(org, 10)->size(), 3u);
  const std::string missing = Id();
  EXPECT_TRUE(this->db_->SetApiTokenMaxDaysInactive(missing, 30, this->Event(missing, "x"))
                  .error()
                  .IsNotFound());
  EXPECT_TRUE(this->db_->ListAuditEvents(missing, 10)->empty());
}

// A role this build does not know (written by hand, or by a newer build) is reported as an
// internal error on every read path, never turned into some role. The schema's CHECK
// constraints keep the store from writing one, so the rows are changed behind its back with
// the constraints off: SQLite ignores them for that connection, PostgreSQL drops them.
TYPED_TEST(StoreTest, UnknownRoleInTheDatabaseIsAnError) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string project = this->NewProject(org, "web");
  ASSERT_TRUE(this->db_->SetProjectMembership({project, u.id, ProjectRole::kAdmin, this->now_}));
  Invitation inv = Invite(Id(), org, "bob@example.com", OrgRole::kViewer, u.id,
                          InvitationStatus::kPending, this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
  const bool sqlite = this->url_.rfind("sqlite:", 0) == 0;
  const std::string checks_off =
      sqlite ? "PRAGMA ignore_check_constraints = ON; "
             : "ALTER TABLE memberships DROP CONSTRAINT memberships_role_check; "
               "ALTER TABLE project_memberships DROP CONSTRAINT project_memberships_role_check; "
               "ALTER TABLE invitations DROP CONSTRAINT invitations_role_check; ";
  ASSERT_TRUE(ExecBehindTheStore(this->url_, checks_off +
                                                 "UPDATE memberships SET role = 'Owner'; "
                                                 "UPDATE project_memberships SET role = 'owner'; "
                                                 "UPDATE invitations SET role = 'superuser'"));

  auto internal = [](const Error& e, const char* column) {
    EXPECT_EQ(e.code(), Error::Code::kInternal) << e.ToString();
    EXPECT_NE(e.message().find(column), std::string::npos) << e.ToString();
  };
  auto membership = this->db_->GetMembership(org, u.id);
  ASSERT_FALSE(membership);
  internal(membership.error(), "memberships.role");
  auto mine = this->db_->ListMembershipsForUser(u.id);
  ASSERT_FALSE(mine);
  internal(mine.error(), "memberships.role");
  auto members = this->db_->ListMembers(org);
  ASSERT_FALSE(members);
  internal(members.error(), "memberships.role");

  auto in_project = this->db_->GetProjectMembership(project, u.id);
  ASSERT_FALSE(in_project);
  internal(in_project.error(), "project_memberships.role");
  auto projects = this->db_->ListProjectMembershipsForUser(org, u.id);
  ASSERT_FALSE(projects);
  internal(projects.error(), "project_memberships.role");

  auto pending = this->db_->ListPendingInvitations(org);
  ASSERT_FALSE(pending);
  internal(pending.error(), "invitations.role");
  auto for_email = this->db_->ListPendingInvitationsForEmail("bob@example.com");
  ASSERT_FALSE(for_email);
  internal(for_email.error(), "invitations.role");
}

}  // namespace
}  // namespace cl::store::testing
