// One typed test suite run against both store implementations: SQLite (a temp file) and
// PostgreSQL (a fresh database on the server named by CL_TEST_POSTGRES_URL; skipped without it).
#include "store/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "common/random.h"
#include "store/postgres/postgres_database.h"
#include "store/sql_database.h"
#include "store/test_backends.h"

namespace cl::store {
namespace {

using testing::BackendNames;
using testing::PostgresBackend;
using testing::RandomHex;
using testing::SqliteBackend;

std::string Id() {
  SystemRandom rnd;
  return NewUuid(rnd);
}

std::string Hash() { return RandomHex(32); }

Membership Member(const std::string& org_id, const std::string& user_id, const std::string& role,
                  UnixMillis at) {
  Membership m;
  m.org_id = org_id;
  m.user_id = user_id;
  m.role = role;
  m.created_at = at;
  return m;
}

Invitation Invite(const std::string& id, const std::string& org_id, const std::string& email,
                  const std::string& role, const std::string& inviter, const std::string& status,
                  UnixMillis at) {
  Invitation i;
  i.id = id;
  i.org_id = org_id;
  i.email = email;
  i.role = role;
  i.inviter_user_id = inviter;
  i.status = status;
  i.created_at = at;
  return i;
}

template <typename Backend>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = backend_.Create(&skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    ASSERT_FALSE(url_.empty());
    auto db = OpenDatabase(url_);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    backend_.Destroy();
  }

  void Migrated() {
    auto st = db_->Migrate();
    ASSERT_TRUE(st) << st.error().ToString();
  }

  User NewUser(const std::string& email, const std::string& name = "") {
    User u;
    u.id = Id();
    u.issuer = "https://idp.example";
    u.subject = "sub-" + email;
    u.email = email;
    u.name = name;
    u.created_at = u.updated_at = now_;
    auto r = db_->UpsertUser(u);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : u;
  }

  AuditEvent Event(const std::string& org_id, const std::string& action, UnixMillis at = 0) {
    AuditEvent e;
    e.id = Id();
    e.org_id = org_id;
    e.actor_kind = "user";
    e.actor_id = "actor";
    e.actor_name = "actor@example.com";
    e.action = action;
    e.target_kind = "organization";
    e.target_id = org_id;
    e.message = action;
    e.created_at = at != 0 ? at : now_;
    return e;
  }

  // Creates an organization owned by `owner`; returns its id.
  std::string NewOrg(const std::string& name, const User& owner) {
    Organization o{Id(), name, now_, std::nullopt};
    Membership m;
    m.org_id = o.id;
    m.user_id = owner.id;
    m.role = "owner";
    m.created_at = now_;
    auto st = db_->CreateOrganization(o, m, Event(o.id, "organization.created"));
    EXPECT_TRUE(st) << st.error().ToString();
    return o.id;
  }

  std::string NewProject(const std::string& org_id, const std::string& name) {
    Project p{Id(), org_id, name, now_};
    auto st = db_->CreateProject(p, std::nullopt, Event(org_id, "project.created"));
    EXPECT_TRUE(st) << st.error().ToString();
    return p.id;
  }

  Backend backend_;
  std::string url_;
  std::unique_ptr<Database> db_;
  UnixMillis now_ = 1'700'000'000'000;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(StoreTest, Backends, BackendNames);

TYPED_TEST(StoreTest, MigrateEmptyDatabaseReachesLatestVersion) {
  auto before = this->db_->SchemaVersion();
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_EQ(*before, 0);
  EXPECT_GE(this->db_->LatestKnownSchemaVersion(), 1);
  this->Migrated();
  auto after = this->db_->SchemaVersion();
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, this->db_->LatestKnownSchemaVersion());
  EXPECT_EQ(this->db_->Dialect(), TypeParam::Name() == "Sqlite" ? "sqlite" : "postgres");
}

TYPED_TEST(StoreTest, MigrateTwiceIsNoOpAndKeepsData) {
  this->Migrated();
  User u = this->NewUser("a@example.com");
  this->Migrated();
  auto v = this->db_->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, this->db_->LatestKnownSchemaVersion());
  auto got = this->db_->GetUser(u.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->email, "a@example.com");
}

TYPED_TEST(StoreTest, ReopenKeepsDataAndVersion) {
  this->Migrated();
  User u = this->NewUser("keep@example.com");
  this->db_.reset();
  auto db = OpenDatabase(this->url_);
  ASSERT_TRUE(db) << db.error().ToString();
  this->db_ = std::move(*db);
  EXPECT_EQ(*this->db_->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
  EXPECT_TRUE(this->db_->GetUser(u.id));
}

TYPED_TEST(StoreTest, Ping) {
  auto st = this->db_->Ping();
  EXPECT_TRUE(st) << st.error().ToString();
}

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
  EXPECT_EQ(m->role, "owner");
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
  Membership m = Member(dup.id, b.id, "owner", this->now_);
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
  Membership m = Member(org.id, Id(), "owner", this->now_);
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
  st = this->db_->CreateOrganization(second, Member(second.id, u.id, "owner", this->now_), clash);
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
  Invitation inv = Invite(Id(), beta, "amy@example.com", "member", owner.id, "pending", this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(beta, "invitation.created")));
  ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(beta, member.id, "member", 0),
                                          this->now_ + 1,
                                          this->Event(beta, "invitation.accepted")));

  auto members = this->db_->ListMembers(beta);
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].user_email, "amy@example.com");
  EXPECT_EQ((*members)[0].user_name, "Amy");
  EXPECT_EQ((*members)[0].role, "member");
  EXPECT_EQ((*members)[1].user_email, "zed@example.com");
  EXPECT_EQ((*members)[1].role, "owner");
  EXPECT_EQ(this->db_->ListMembers(alpha)->size(), 1u);
}

TYPED_TEST(StoreTest, ProjectsAreUniquePerOrganization) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org1 = this->NewOrg("one", u);
  std::string org2 = this->NewOrg("two", u);

  Project p{Id(), org1, "web", this->now_};
  ProjectMembership creator{p.id, u.id, "admin", this->now_};
  auto st = this->db_->CreateProject(p, creator, this->Event(org1, "project.created"));
  ASSERT_TRUE(st) << st.error().ToString();
  this->NewProject(org1, "api");
  this->NewProject(org2, "web");  // same name, other organization: fine

  Project dup{Id(), org1, "web", this->now_};
  st = this->db_->CreateProject(dup, ProjectMembership{dup.id, u.id, "admin", this->now_},
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
  EXPECT_EQ(pm->role, "admin");
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
  ASSERT_TRUE(this->db_->SetProjectMembership({a, u.id, "viewer", this->now_}));
  EXPECT_EQ(this->db_->GetProjectMembership(a, u.id)->role, "viewer");
  ASSERT_TRUE(this->db_->SetProjectMembership({a, u.id, "admin", this->now_}));
  EXPECT_EQ(this->db_->GetProjectMembership(a, u.id)->role, "admin");
  ASSERT_TRUE(this->db_->SetProjectMembership({b, u.id, "viewer", this->now_}));
  ASSERT_TRUE(this->db_->SetProjectMembership({c, u.id, "viewer", this->now_}));

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

  Invitation inv = Invite(Id(), org, "bob@example.com", "admin", owner.id, "pending", this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
  Invitation dup = inv;
  dup.id = Id();
  auto st = this->db_->CreateInvitation(dup, this->Event(org, "invitation.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists());
  // The failed create left no audit event: organization.created + one invitation.created.
  EXPECT_EQ(this->db_->ListAuditEvents(org, 10)->size(), 2u);

  Invitation elsewhere =
      Invite(Id(), other, "bob@example.com", "viewer", owner.id, "pending", this->now_);
  ASSERT_TRUE(this->db_->CreateInvitation(elsewhere, this->Event(other, "invitation.created")));

  auto pending = this->db_->ListPendingInvitations(org);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, inv.id);
  EXPECT_EQ((*pending)[0].status, "pending");
  auto for_bob = this->db_->ListPendingInvitationsForEmail("bob@example.com");
  ASSERT_TRUE(for_bob);
  ASSERT_EQ(for_bob->size(), 2u);
  EXPECT_EQ((*for_bob)[0].org_name, "acme");
  EXPECT_EQ((*for_bob)[1].org_name, "other");

  ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(org, bob.id, "admin", 0), this->now_ + 5,
                                          this->Event(org, "invitation.accepted")));
  auto m = this->db_->GetMembership(org, bob.id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, "admin");
  EXPECT_TRUE(this->db_->ListPendingInvitations(org)->empty());
  EXPECT_EQ(this->db_->ListPendingInvitationsForEmail("bob@example.com")->size(), 1u);

  st = this->db_->AcceptInvitation(inv.id, Member(org, bob.id, "admin", 0), this->now_ + 6,
                                   this->Event(org, "invitation.accepted"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsNotFound());
  EXPECT_TRUE(this->db_
                  ->AcceptInvitation(Id(), Member(org, bob.id, "admin", 0), this->now_,
                                     this->Event(org, "invitation.accepted"))
                  .error()
                  .IsNotFound());

  // Accepted invitations do not block a new pending one for the same email; accepting it while
  // already a member keeps the existing membership and only marks the invitation accepted.
  Invitation again =
      Invite(Id(), org, "bob@example.com", "viewer", owner.id, "pending", this->now_ + 7);
  ASSERT_TRUE(this->db_->CreateInvitation(again, this->Event(org, "invitation.created")));
  ASSERT_TRUE(this->db_->AcceptInvitation(again.id, Member(org, bob.id, "viewer", 0),
                                          this->now_ + 8, this->Event(org, "invitation.accepted")));
  EXPECT_EQ(this->db_->GetMembership(org, bob.id)->role, "admin");
  EXPECT_TRUE(this->db_->ListPendingInvitations(org)->empty());
  EXPECT_EQ(this->db_->ListMembers(org)->size(), 2u);
}

TYPED_TEST(StoreTest, GetOrCreateWorkflowIsIdempotent) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org = this->NewOrg("acme", u);
  std::string proj = this->NewProject(org, "web");
  std::string proj2 = this->NewProject(org, "api");

  Workflow wf{Id(), org, proj, "build", this->now_};
  EXPECT_TRUE(this->db_->GetWorkflow(proj, "build").error().IsNotFound());
  auto first = this->db_->GetOrCreateWorkflow(wf);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->id, wf.id);
  Workflow again = wf;
  again.id = Id();
  again.created_at = this->now_ + 100;
  auto second = this->db_->GetOrCreateWorkflow(again);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, wf.id);
  EXPECT_EQ(second->created_at, this->now_);
  auto third = this->db_->GetOrCreateWorkflow({Id(), org, proj2, "build", this->now_});
  ASSERT_TRUE(third);
  EXPECT_NE(third->id, wf.id);
  auto found = this->db_->GetWorkflow(proj, "build");
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->id, wf.id);
  EXPECT_EQ(found->project_id, proj);
  EXPECT_TRUE(this->db_->GetWorkflow(proj, "release").error().IsNotFound());

  auto list = this->db_->ListWorkflows(org);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
}

TYPED_TEST(StoreTest, WorkflowRuns) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org = this->NewOrg("acme", u);
  std::string web = this->NewProject(org, "web");
  std::string api = this->NewProject(org, "api");
  auto wf_web = *this->db_->GetOrCreateWorkflow({Id(), org, web, "build", this->now_});
  auto wf_api = *this->db_->GetOrCreateWorkflow({Id(), org, api, "release", this->now_});

  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    WorkflowRun r;
    r.id = Id();
    r.org_id = org;
    r.project_id = i % 2 == 0 ? web : api;
    r.workflow_id = i % 2 == 0 ? wf_web.id : wf_api.id;
    r.state = "initialized";
    r.created_at = this->now_ + i * 1000;
    r.actor_kind = "user";
    r.actor_id = u.id;
    r.actor_name = "u@example.com";
    auto st = this->db_->CreateRun(r);
    ASSERT_TRUE(st) << st.error().ToString();
    ids.push_back(r.id);
  }

  WorkflowRun done;
  done.id = ids[0];
  done.org_id = org;
  done.finished_at = this->now_ + 10'000;
  done.statement = R"({"_type":"https://in-toto.io/Statement/v1"})";
  done.predicate_type = "https://slsa.dev/provenance/v1";
  done.statement_digest = "sha256:abc";
  done.actor_kind = "api_token";
  done.actor_id = "tok";
  done.actor_name = "ci";
  auto st = this->db_->CompleteRun(done);
  ASSERT_TRUE(st) << st.error().ToString();
  st = this->db_->CompleteRun(done);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kFailedPrecondition);
  WorkflowRun unknown = done;
  unknown.id = Id();
  EXPECT_TRUE(this->db_->CompleteRun(unknown).error().IsNotFound());

  auto got = this->db_->GetRun(org, ids[0]);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->state, "succeeded");
  EXPECT_EQ(got->finished_at, this->now_ + 10'000);
  EXPECT_EQ(got->statement, done.statement);
  EXPECT_EQ(got->predicate_type, done.predicate_type);
  EXPECT_EQ(got->statement_digest, "sha256:abc");
  EXPECT_EQ(got->actor_kind, "api_token");
  EXPECT_EQ(got->workflow_name, "build");
  EXPECT_EQ(got->project_name, "web");
  auto open = this->db_->GetRun(org, ids[1]);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->state, "initialized");
  EXPECT_FALSE(open->finished_at.has_value());
  EXPECT_EQ(open->workflow_name, "release");
  // Runs are scoped to their organization.
  User other_owner = this->NewUser("o@example.com");
  std::string other = this->NewOrg("other", other_owner);
  EXPECT_TRUE(this->db_->GetRun(other, ids[0]).error().IsNotFound());

  auto all = this->db_->ListRuns(org, std::nullopt, 3);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, ids[3]);
  EXPECT_EQ((*all)[1].id, ids[2]);
  EXPECT_EQ((*all)[2].id, ids[1]);
  auto web_runs = this->db_->ListRuns(org, web, 10);
  ASSERT_TRUE(web_runs);
  ASSERT_EQ(web_runs->size(), 2u);
  EXPECT_EQ((*web_runs)[0].id, ids[2]);
  EXPECT_EQ((*web_runs)[1].id, ids[0]);
  EXPECT_TRUE((*web_runs)[1].statement.empty());
  EXPECT_EQ((*web_runs)[1].statement_digest, "sha256:abc");
  EXPECT_EQ((*web_runs)[1].project_name, "web");
  EXPECT_TRUE(this->db_->ListRuns(other, std::nullopt, 10)->empty());
}

TYPED_TEST(StoreTest, Sessions) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  Session s{Id(), u.id, Hash(), this->now_, this->now_ + kMillisPerDay, std::nullopt};
  ASSERT_TRUE(this->db_->CreateSession(s));
  Session clash{Id(), u.id, s.token_hash, this->now_, this->now_ + 1, std::nullopt};
  auto st = this->db_->CreateSession(clash);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists());
  EXPECT_EQ(st.error().message().find(s.token_hash), std::string::npos);

  auto got = this->db_->GetSessionByHash(s.token_hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, s.id);
  EXPECT_EQ(got->user_id, u.id);
  EXPECT_EQ(got->expires_at, s.expires_at);
  EXPECT_FALSE(got->revoked_at.has_value());
  EXPECT_TRUE(this->db_->GetSessionByHash(Hash()).error().IsNotFound());

  ASSERT_TRUE(this->db_->RevokeSession(s.id, this->now_ + 5));
  ASSERT_TRUE(this->db_->RevokeSession(s.id, this->now_ + 9));  // keeps the first time
  EXPECT_EQ(this->db_->GetSessionByHash(s.token_hash)->revoked_at, this->now_ + 5);
  EXPECT_TRUE(this->db_->RevokeSession(Id(), this->now_).error().IsNotFound());
}

TYPED_TEST(StoreTest, LoginRequestsAndAuthCodesAreSingleUse) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  const UnixMillis now = this->now_;
  LoginRequest r{Hash(),      "nonce",     "verifier",  "http://127.0.0.1:5555/cb",
                 "cli-state", "challenge", now + 60'000};
  ASSERT_TRUE(this->db_->PutLoginRequest(r));
  EXPECT_TRUE(this->db_->PutLoginRequest(r).error().IsAlreadyExists());
  auto taken = this->db_->TakeLoginRequest(r.state_hash, now);
  ASSERT_TRUE(taken) << taken.error().ToString();
  EXPECT_EQ(taken->nonce, "nonce");
  EXPECT_EQ(taken->upstream_code_verifier, "verifier");
  EXPECT_EQ(taken->cli_redirect_uri, r.cli_redirect_uri);
  EXPECT_EQ(taken->cli_state, "cli-state");
  EXPECT_EQ(taken->cli_code_challenge, "challenge");
  EXPECT_EQ(taken->expires_at, now + 60'000);
  EXPECT_TRUE(this->db_->TakeLoginRequest(r.state_hash, now).error().IsNotFound());

  LoginRequest old = r;
  old.state_hash = Hash();
  old.expires_at = now - 1;
  ASSERT_TRUE(this->db_->PutLoginRequest(old));
  EXPECT_TRUE(this->db_->TakeLoginRequest(old.state_hash, now).error().IsNotFound());

  AuthCode c{Hash(), u.id, "challenge", now + 30'000};
  ASSERT_TRUE(this->db_->PutAuthCode(c));
  auto code = this->db_->TakeAuthCode(c.code_hash, now);
  ASSERT_TRUE(code) << code.error().ToString();
  EXPECT_EQ(code->user_id, u.id);
  EXPECT_EQ(code->cli_code_challenge, "challenge");
  EXPECT_TRUE(this->db_->TakeAuthCode(c.code_hash, now).error().IsNotFound());
  AuthCode expired{Hash(), u.id, "x", now + 10};
  ASSERT_TRUE(this->db_->PutAuthCode(expired));
  EXPECT_TRUE(this->db_->TakeAuthCode(expired.code_hash, now + 10).error().IsNotFound());
}

TYPED_TEST(StoreTest, PurgeRemovesOnlyExpiredLoginState) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  const UnixMillis now = this->now_;
  LoginRequest live{Hash(), "n", "v", "u", "s", "c", now + 1000};
  LoginRequest dead{Hash(), "n", "v", "u", "s", "c", now - 1000};
  AuthCode live_code{Hash(), u.id, "c", now + 1000};
  AuthCode dead_code{Hash(), u.id, "c", now - 1000};
  DeviceRequest live_dev{Hash(), "dc", now + 1000, 5};
  DeviceRequest dead_dev{Hash(), "dc", now - 1000, 5};
  ASSERT_TRUE(this->db_->PutLoginRequest(live));
  ASSERT_TRUE(this->db_->PutLoginRequest(dead));
  ASSERT_TRUE(this->db_->PutAuthCode(live_code));
  ASSERT_TRUE(this->db_->PutAuthCode(dead_code));
  ASSERT_TRUE(this->db_->PutDeviceRequest(live_dev));
  ASSERT_TRUE(this->db_->PutDeviceRequest(dead_dev));

  ASSERT_TRUE(this->db_->PurgeExpiredLoginState(now));
  // Expired rows are gone even for a caller whose clock is behind.
  EXPECT_TRUE(this->db_->TakeLoginRequest(dead.state_hash, now - 5000).error().IsNotFound());
  EXPECT_TRUE(this->db_->TakeAuthCode(dead_code.code_hash, now - 5000).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetDeviceRequest(dead_dev.handle_hash, now - 5000).error().IsNotFound());
  EXPECT_TRUE(this->db_->TakeLoginRequest(live.state_hash, now));
  EXPECT_TRUE(this->db_->TakeAuthCode(live_code.code_hash, now));
  EXPECT_TRUE(this->db_->GetDeviceRequest(live_dev.handle_hash, now));
}

TYPED_TEST(StoreTest, CountPendingLoginsCountsLoginAndDeviceRequestsUntilPurged) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  const UnixMillis now = this->now_;
  auto count = [&] {
    auto n = this->db_->CountPendingLogins();
    EXPECT_TRUE(n) << n.error().ToString();
    return n ? *n : -1;
  };
  EXPECT_EQ(count(), 0);
  LoginRequest live{Hash(), "n", "v", "u", "s", "c", now + 1000};
  LoginRequest dead{Hash(), "n", "v", "u", "s", "c", now - 1000};
  ASSERT_TRUE(this->db_->PutLoginRequest(live));
  ASSERT_TRUE(this->db_->PutLoginRequest(dead));
  EXPECT_EQ(count(), 2);
  DeviceRequest live_dev{Hash(), "dc", now + 1000, 5};
  DeviceRequest dead_dev{Hash(), "dc", now - 1000, 5};
  ASSERT_TRUE(this->db_->PutDeviceRequest(live_dev));
  ASSERT_TRUE(this->db_->PutDeviceRequest(dead_dev));
  EXPECT_EQ(count(), 4);
  // One-time codes belong to people the IdP verified: not pending anonymous state.
  ASSERT_TRUE(this->db_->PutAuthCode(AuthCode{Hash(), u.id, "c", now + 1000}));
  EXPECT_EQ(count(), 4);
  // Expired rows count until purged (they take space), then not.
  ASSERT_TRUE(this->db_->PurgeExpiredLoginState(now));
  EXPECT_EQ(count(), 2);
  ASSERT_TRUE(this->db_->TakeLoginRequest(live.state_hash, now));
  ASSERT_TRUE(this->db_->DeleteDeviceRequest(live_dev.handle_hash));
  EXPECT_EQ(count(), 0);
}

TYPED_TEST(StoreTest, DeviceRequests) {
  this->Migrated();
  const UnixMillis now = this->now_;
  DeviceRequest d{Hash(), "upstream-device-code", now + 600'000, 7};
  ASSERT_TRUE(this->db_->PutDeviceRequest(d));
  for (int poll = 0; poll < 2; ++poll) {  // polling does not consume it
    auto got = this->db_->GetDeviceRequest(d.handle_hash, now);
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(got->upstream_device_code, "upstream-device-code");
    EXPECT_EQ(got->interval_seconds, 7);
    EXPECT_EQ(got->expires_at, now + 600'000);
  }
  EXPECT_TRUE(this->db_->GetDeviceRequest(d.handle_hash, now + 600'000).error().IsNotFound());
  ASSERT_TRUE(this->db_->DeleteDeviceRequest(d.handle_hash));
  EXPECT_TRUE(this->db_->GetDeviceRequest(d.handle_hash, now).error().IsNotFound());
  EXPECT_TRUE(this->db_->DeleteDeviceRequest(d.handle_hash).error().IsNotFound());
}

TYPED_TEST(StoreTest, AuditEventsNewestFirstWithLimit) {
  this->Migrated();
  const std::string org = Id();
  const std::string other = Id();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(this->db_->AppendAuditEvent(
        this->Event(org, "action." + std::to_string(i), this->now_ + i * 10)));
  }
  ASSERT_TRUE(this->db_->AppendAuditEvent(this->Event(other, "elsewhere", this->now_ + 100)));
  auto events = this->db_->ListAuditEvents(org, 3);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].action, "action.4");
  EXPECT_EQ((*events)[1].action, "action.3");
  EXPECT_EQ((*events)[2].action, "action.2");
  EXPECT_EQ((*events)[0].created_at, this->now_ + 40);
  EXPECT_EQ((*events)[0].actor_name, "actor@example.com");
  EXPECT_EQ((*events)[0].target_id, org);
  EXPECT_EQ(this->db_->ListAuditEvents(org, 100)->size(), 5u);
  EXPECT_TRUE(this->db_->ListAuditEvents(org, 0)->empty());
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

  EXPECT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 0, this->Event(org, "org.updated"))
                  .error()
                  .IsInvalidArgument());
  EXPECT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 366, this->Event(org, "org.updated"))
                  .error()
                  .IsInvalidArgument());
  const std::string missing = Id();
  EXPECT_TRUE(this->db_->SetApiTokenMaxDaysInactive(missing, 30, this->Event(missing, "x"))
                  .error()
                  .IsNotFound());
  EXPECT_TRUE(this->db_->ListAuditEvents(missing, 10)->empty());
}

TYPED_TEST(StoreTest, ConcurrentWritersAndReaders) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Session s{Id(), u.id, Hash(), this->now_, this->now_ + 1000, std::nullopt};
        if (!this->db_->CreateSession(s)) ++failures;
        if (!this->db_->GetSessionByHash(s.token_hash)) ++failures;
        // Everyone races on the same workflow: exactly one creates it.
        (void)t;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  std::string org = this->NewOrg("acme", u);
  std::string proj = this->NewProject(org, "web");
  std::vector<std::string> got(kThreads);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto wf = this->db_->GetOrCreateWorkflow({Id(), org, proj, "build", this->now_});
      if (wf) got[t] = wf->id;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(got[t], got[0]);
  EXPECT_FALSE(got[0].empty());
}

TYPED_TEST(StoreTest, TwoInstancesMigratingTogetherApplyEachMigrationOnce) {
  auto second = OpenDatabase(this->url_);
  ASSERT_TRUE(second) << second.error().ToString();
  Status results[2];
  std::thread a([&] { results[0] = this->db_->Migrate(); });
  std::thread b([&] { results[1] = (*second)->Migrate(); });
  a.join();
  b.join();
  EXPECT_TRUE(results[0]) << results[0].error().ToString();
  EXPECT_TRUE(results[1]) << results[1].error().ToString();
  EXPECT_EQ(*this->db_->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
  EXPECT_EQ(*(*second)->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
}

// ---- API tokens

// A project-less token of `org_id` named `name`, created at `at`.
ApiToken Token(const std::string& org_id, const std::string& name, UnixMillis at,
               std::optional<std::string> project_id = std::nullopt) {
  ApiToken t;
  t.id = Id();
  t.org_id = org_id;
  t.project_id = std::move(project_id);
  t.name = name;
  t.description = "for " + name;
  t.token_hash = Hash();
  t.permissions = {"workflow_run:create", "workflow_run:read"};
  t.created_by_kind = "user";
  t.created_by_id = "creator-id";
  t.created_by_name = "creator@example.com";
  t.created_at = at;
  return t;
}

std::vector<std::string> Names(const std::vector<ApiToken>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(t.name);
  return out;
}

TYPED_TEST(StoreTest, ApiTokenCreateAndGet) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");

  ApiToken t = Token(org, "ci", this->now_);
  t.expires_at = this->now_ + kMillisPerDay;
  auto st = this->db_->CreateApiToken(t, this->Event(org, "api_token.created"));
  ASSERT_TRUE(st) << st.error().ToString();

  auto got = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->org_id, org);
  EXPECT_FALSE(got->project_id.has_value());
  EXPECT_EQ(got->name, "ci");
  EXPECT_EQ(got->description, "for ci");
  EXPECT_EQ(got->token_hash, t.token_hash);
  EXPECT_EQ(got->permissions, t.permissions);
  EXPECT_EQ(got->created_by_kind, "user");
  EXPECT_EQ(got->created_by_id, "creator-id");
  EXPECT_EQ(got->created_by_name, "creator@example.com");
  EXPECT_EQ(got->created_at, this->now_);
  EXPECT_EQ(got->expires_at, this->now_ + kMillisPerDay);
  EXPECT_FALSE(got->last_used_at.has_value());
  EXPECT_FALSE(got->revoked_at.has_value());
  EXPECT_EQ(got->revocation_reason, "");
  EXPECT_EQ(got->revoked_by_name, "");
  EXPECT_EQ(got->project_name, "");

  ApiToken pt = Token(org, "deploy", this->now_ + 1, proj);
  pt.permissions = {};
  ASSERT_TRUE(this->db_->CreateApiToken(pt, this->Event(org, "api_token.created")));
  auto byid = this->db_->GetApiToken(org, pt.id);
  ASSERT_TRUE(byid) << byid.error().ToString();
  EXPECT_EQ(byid->project_id, proj);
  EXPECT_EQ(byid->project_name, "web");
  EXPECT_TRUE(byid->permissions.empty());
  EXPECT_FALSE(byid->expires_at.has_value());

  // Another organization cannot read it by id; unknown hash and id are NotFound.
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);
  EXPECT_TRUE(this->db_->GetApiToken(org2, pt.id).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetApiToken(org, Id()).error().IsNotFound());
  auto missing = this->db_->GetApiTokenByHash(Hash());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());

  // Token and audit event were written together.
  auto events = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(events);
  int created = 0;
  for (const auto& e : *events) created += e.action == "api_token.created";
  EXPECT_EQ(created, 2);
}

TYPED_TEST(StoreTest, ApiTokenPermissionsRoundTripInGivenOrder) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "perms", this->now_);
  // Stored exactly as given: sorting is the caller's job.
  t.permissions = {"z:last", "a:first", "api_token:revoke", "m:middle"};
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  auto got = this->db_->GetApiToken(org, t.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->permissions, t.permissions);

  ApiToken bad = Token(org, "bad", this->now_);
  bad.permissions = {"a:b c:d"};
  auto st = this->db_->CreateApiToken(bad, this->Event(org, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsInvalidArgument());
  bad.permissions = {""};
  EXPECT_TRUE(this->db_->CreateApiToken(bad, this->Event(org, "x")).error().IsInvalidArgument());
  EXPECT_TRUE(this->db_->GetApiToken(org, bad.id).error().IsNotFound());
}

TYPED_TEST(StoreTest, ApiTokenNamesUniqueAmongActiveTokensPerScope) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string web = this->NewProject(org, "web");
  const std::string api = this->NewProject(org, "api");
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);

  ASSERT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_), this->Event(org, "x")));
  auto before = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(before);

  // Same name, same scope: AlreadyExists, and neither the token nor its event is written.
  ApiToken dup = Token(org, "ci", this->now_);
  AuditEvent dup_event = this->Event(org, "api_token.created");
  auto st = this->db_->CreateApiToken(dup, dup_event);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists()) << st.error().ToString();
  EXPECT_NE(st.error().message().find("ci"), std::string::npos);
  EXPECT_EQ(st.error().message().find(dup.token_hash), std::string::npos);
  EXPECT_TRUE(this->db_->GetApiToken(org, dup.id).error().IsNotFound());
  auto after = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), before->size());
  for (const auto& e : *after) EXPECT_NE(e.id, dup_event.id);

  // The same name is fine at project level, in each project, and in another organization.
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_, web), this->Event(org, "x")));
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_, api), this->Event(org, "x")));
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org2, "ci", this->now_), this->Event(org2, "x")));
  // ...but not twice in one project.
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_, web), this->Event(org, "x"))
                  .error()
                  .IsAlreadyExists());

  // A hash collision is AlreadyExists too, without the hash in the message.
  ApiToken same_hash = Token(org, "other-name", this->now_);
  same_hash.token_hash = dup.token_hash;
  ASSERT_TRUE(this->db_->CreateApiToken(same_hash, this->Event(org, "x")));
  ApiToken clash = Token(org, "third-name", this->now_);
  clash.token_hash = dup.token_hash;
  auto hc = this->db_->CreateApiToken(clash, this->Event(org, "x"));
  ASSERT_FALSE(hc);
  EXPECT_TRUE(hc.error().IsAlreadyExists());
  EXPECT_EQ(hc.error().message().find(dup.token_hash), std::string::npos);

  // A project of another organization, or an unknown organization, is refused.
  const std::string proj2 = this->NewProject(org2, "web");
  auto cross =
      this->db_->CreateApiToken(Token(org, "cross", this->now_, proj2), this->Event(org, "x"));
  ASSERT_FALSE(cross);
  EXPECT_TRUE(cross.error().IsNotFound()) << cross.error().ToString();
  EXPECT_FALSE(this->db_->CreateApiToken(Token(Id(), "orphan", this->now_), this->Event(org, "x")));
}

TYPED_TEST(StoreTest, ApiTokenRevokeThenReuseName) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));

  AuditEvent ev = this->Event(org, "api_token.revoked", this->now_ + 5);
  auto st = this->db_->RevokeApiToken(org, t.id, this->now_ + 5, "manual", "owner@example.com", ev);
  ASSERT_TRUE(st) << st.error().ToString();
  auto got = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->revoked_at, this->now_ + 5);
  EXPECT_EQ(got->revocation_reason, "manual");
  EXPECT_EQ(got->revoked_by_name, "owner@example.com");
  auto events = this->db_->ListAuditEvents(org, 1);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().id, ev.id);

  // Twice: FailedPrecondition and nothing written.
  AuditEvent ev2 = this->Event(org, "api_token.revoked", this->now_ + 9);
  auto again = this->db_->RevokeApiToken(org, t.id, this->now_ + 9, "inactive", "system", ev2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Error::Code::kFailedPrecondition);
  got = this->db_->GetApiToken(org, t.id);
  EXPECT_EQ(got->revoked_at, this->now_ + 5);
  EXPECT_EQ(got->revocation_reason, "manual");
  EXPECT_EQ(this->db_->ListAuditEvents(org, 1)->front().id, ev.id);

  // Unknown id, or another organization's token: NotFound.
  EXPECT_TRUE(this->db_->RevokeApiToken(org, Id(), this->now_, "manual", "x", this->Event(org, "y"))
                  .error()
                  .IsNotFound());
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);
  ApiToken t2 = Token(org2, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t2, this->Event(org2, "x")));
  EXPECT_TRUE(
      this->db_->RevokeApiToken(org, t2.id, this->now_, "manual", "x", this->Event(org, "y"))
          .error()
          .IsNotFound());
  EXPECT_FALSE(this->db_->GetApiToken(org2, t2.id)->revoked_at.has_value());

  // The revoked token's name is free again.
  ApiToken reuse = Token(org, "ci", this->now_ + 10);
  auto created = this->db_->CreateApiToken(reuse, this->Event(org, "api_token.created"));
  EXPECT_TRUE(created) << created.error().ToString();
  // And can be revoked and reused once more (several revoked tokens share a name).
  ASSERT_TRUE(this->db_->RevokeApiToken(org, reuse.id, this->now_ + 11, "manual", "x",
                                        this->Event(org, "api_token.revoked")));
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_ + 12), this->Event(org, "x")));
}

TYPED_TEST(StoreTest, ApiTokenListFiltersAndOrder) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string web = this->NewProject(org, "web");
  const std::string api = this->NewProject(org, "api");
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);
  const UnixMillis t0 = this->now_;

  // g1 and g2 share created_at: the id breaks the tie (ascending).
  ApiToken g1 = Token(org, "g1", t0 + 10);
  ApiToken g2 = Token(org, "g2", t0 + 10);
  if (g2.id < g1.id) std::swap(g1.id, g2.id);
  ApiToken g3 = Token(org, "g3", t0 + 30);
  ApiToken w1 = Token(org, "w1", t0 + 20, web);
  ApiToken w2 = Token(org, "w2", t0 + 40, web);
  ApiToken a1 = Token(org, "a1", t0 + 5, api);
  for (const ApiToken* t : {&g1, &g2, &g3, &w1, &w2, &a1}) {
    ASSERT_TRUE(this->db_->CreateApiToken(*t, this->Event(org, "x")));
  }
  ASSERT_TRUE(this->db_->CreateApiToken(Token(org2, "foreign", t0), this->Event(org2, "x")));
  ASSERT_TRUE(this->db_->RevokeApiToken(org, g3.id, t0 + 50, "manual", "x", this->Event(org, "y")));
  ASSERT_TRUE(
      this->db_->RevokeApiToken(org, w1.id, t0 + 50, "inactive", "system", this->Event(org, "y")));

  auto list = [&](ApiTokenFilter::Status status, ApiTokenFilter::Scope scope,
                  std::optional<std::string> project) {
    ApiTokenFilter f;
    f.org_id = org;
    f.status = status;
    f.scope = scope;
    f.project_id = std::move(project);
    auto r = this->db_->ListApiTokens(f);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? Names(*r) : std::vector<std::string>{};
  };
  using S = ApiTokenFilter::Status;
  using Sc = ApiTokenFilter::Scope;
  using V = std::vector<std::string>;
  EXPECT_EQ(list(S::kActive, Sc::kAny, std::nullopt), (V{"w2", g1.name, g2.name, "a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kAny, std::nullopt), (V{"w2", "g3", "w1", "g1", "g2", "a1"}));
  EXPECT_EQ(list(S::kRevoked, Sc::kAny, std::nullopt), (V{"g3", "w1"}));
  EXPECT_EQ(list(S::kActive, Sc::kGlobal, std::nullopt), (V{"g1", "g2"}));
  EXPECT_EQ(list(S::kAll, Sc::kGlobal, std::nullopt), (V{"g3", "g1", "g2"}));
  EXPECT_EQ(list(S::kActive, Sc::kProject, std::nullopt), (V{"w2", "a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kProject, std::nullopt), (V{"w2", "w1", "a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kAny, web), (V{"w2", "w1"}));
  EXPECT_EQ(list(S::kRevoked, Sc::kAny, web), (V{"w1"}));
  EXPECT_EQ(list(S::kActive, Sc::kProject, api), (V{"a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kGlobal, web), (V{}));
  EXPECT_EQ(list(S::kAll, Sc::kAny, Id()), (V{}));

  // Reads fill project_name and keep the revocation fields.
  ApiTokenFilter f;
  f.org_id = org;
  f.status = S::kRevoked;
  auto revoked = this->db_->ListApiTokens(f);
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->size(), 2u);
  EXPECT_EQ((*revoked)[0].project_name, "");
  EXPECT_EQ((*revoked)[0].revocation_reason, "manual");
  EXPECT_EQ((*revoked)[1].project_name, "web");
  EXPECT_EQ((*revoked)[1].revocation_reason, "inactive");
  EXPECT_EQ((*revoked)[1].revoked_by_name, "system");
  EXPECT_EQ((*revoked)[1].revoked_at, t0 + 50);

  ApiTokenFilter none;
  none.org_id = Id();
  none.status = S::kAll;
  EXPECT_TRUE(this->db_->ListApiTokens(none)->empty());
}

TYPED_TEST(StoreTest, ApiTokenUsageKeepsTheLatestTime) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken a = Token(org, "a", this->now_);
  ApiToken b = Token(org, "b", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(a, this->Event(org, "x")));
  ASSERT_TRUE(this->db_->CreateApiToken(b, this->Event(org, "x")));
  const UnixMillis t = this->now_ + kMillisPerHour;

  EXPECT_TRUE(this->db_->RecordApiTokenUsage({}));
  // Unknown ids are ignored; duplicates within a batch keep the latest time.
  auto st = this->db_->RecordApiTokenUsage({{a.id, t}, {Id(), t}, {b.id, t + 5}, {b.id, t + 1}});
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t);
  EXPECT_EQ(this->db_->GetApiToken(org, b.id)->last_used_at, t + 5);

  // An older time never moves last_used_at back; a newer one moves it forward.
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t - 1000}, {b.id, t + 10}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t);
  EXPECT_EQ(this->db_->GetApiToken(org, b.id)->last_used_at, t + 10);

  // A use before the revocation, flushed after it, is kept; a time after the revocation (a
  // request that overlapped it) is not a use.
  ASSERT_TRUE(this->db_->RevokeApiToken(org, a.id, t + 20, "manual", "x", this->Event(org, "y")));
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 15}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t + 15);
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 20}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t + 20);
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 21}, {b.id, t + 21}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t + 20);
  EXPECT_EQ(this->db_->GetApiToken(org, b.id)->last_used_at, t + 21);
}

TYPED_TEST(StoreTest, ApiTokenUsageBatchOfThousandInOneCall) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  constexpr int kTokens = 50;
  std::vector<ApiToken> tokens;
  for (int i = 0; i < kTokens; ++i) {
    tokens.push_back(Token(org, "t" + std::to_string(i), this->now_));
    ASSERT_TRUE(this->db_->CreateApiToken(tokens.back(), this->Event(org, "x")));
  }
  // 1000 entries: 20 per token at increasing times, plus unknown ids mixed in.
  std::vector<std::pair<std::string, UnixMillis>> usage;
  for (int round = 0; round < 19; ++round) {
    for (int i = 0; i < kTokens; ++i)
      usage.emplace_back(tokens[i].id, this->now_ + round * 100 + i);
  }
  for (int i = 0; i < kTokens; ++i) usage.emplace_back(Id(), this->now_ + 99'999);
  ASSERT_EQ(usage.size(), 1000u);
  const auto start = std::chrono::steady_clock::now();
  auto st = this->db_->RecordApiTokenUsage(usage);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_LT(took, std::chrono::seconds(5));
  for (int i = 0; i < kTokens; ++i) {
    EXPECT_EQ(this->db_->GetApiToken(org, tokens[i].id)->last_used_at, this->now_ + 1800 + i);
  }

  // 1000 distinct known tokens in one call.
  std::vector<std::pair<std::string, UnixMillis>> distinct;
  std::vector<ApiToken> many;
  for (int i = 0; i < 1000; ++i) {
    ApiToken t = Token(org, "m" + std::to_string(i), this->now_);
    many.push_back(t);
  }
  for (const auto& t : many) {
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "x")));
    distinct.emplace_back(t.id, this->now_ + 7);
  }
  ASSERT_TRUE(this->db_->RecordApiTokenUsage(distinct));
  ApiTokenFilter f;
  f.org_id = org;
  auto all = this->db_->ListApiTokens(f);
  ASSERT_TRUE(all);
  int updated = 0;
  for (const auto& t : *all) updated += t.last_used_at == this->now_ + 7;
  EXPECT_EQ(updated, 1000);
}

TYPED_TEST(StoreTest, MigrationFromVersionOneKeepsDataAndAddsApiTokens) {
  auto* sql = dynamic_cast<SqlDatabase*>(this->db_.get());
  ASSERT_NE(sql, nullptr);
  ASSERT_TRUE(sql->MigrateTo(1));
  EXPECT_EQ(*this->db_->SchemaVersion(), 1);
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");
  // The table does not exist yet.
  EXPECT_FALSE(this->db_->CreateApiToken(Token(org, "early", this->now_), this->Event(org, "x")));

  // A new process upgrades the existing database.
  this->db_.reset();
  auto db = OpenDatabase(this->url_);
  ASSERT_TRUE(db) << db.error().ToString();
  this->db_ = std::move(*db);
  auto st = this->db_->Migrate();
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(*this->db_->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
  EXPECT_GE(this->db_->LatestKnownSchemaVersion(), 2);

  auto got_org = this->db_->GetOrganization(org);
  ASSERT_TRUE(got_org);
  EXPECT_EQ(got_org->name, "acme");
  EXPECT_EQ(this->db_->GetProject(proj)->name, "web");
  EXPECT_EQ(this->db_->GetUser(u.id)->email, "owner@example.com");
  EXPECT_EQ(this->db_->ListMembers(org)->size(), 1u);
  ApiToken t = Token(org, "late", this->now_, proj);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "x")));
  EXPECT_EQ(this->db_->GetApiTokenByHash(t.token_hash)->project_name, "web");
}

// ---- inactivity sweep (RevokeInactiveApiTokens)

// The audit event the sweep's caller builds for each revoked token (the job does the same).
AuditEvent SweepEvent(const RevokedToken& t, UnixMillis now) {
  AuditEvent e;
  e.id = Id();
  e.org_id = t.org_id;
  e.actor_kind = "system";
  e.actor_id = "system";
  e.actor_name = "system";
  e.action = "api_token.revoked";
  e.target_kind = "api_token";
  e.target_id = t.id;
  e.message = "system has revoked the API token " + t.name + " after " + std::to_string(t.days) +
              " days of inactivity";
  e.created_at = now;
  return e;
}

std::vector<AuditEvent> SweepEvents(AuditStore& db, const std::string& org_id) {
  std::vector<AuditEvent> out;
  auto all = db.ListAuditEvents(org_id, 100000);
  EXPECT_TRUE(all) << all.error().ToString();
  if (!all) return out;
  for (const AuditEvent& e : *all) {
    if (e.actor_kind == "system") out.push_back(e);
  }
  return out;
}

TYPED_TEST(StoreTest, SweepBoundariesAreStrict) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string acme = this->NewOrg("acme", u);
  const std::string max = this->NewOrg("max", u);
  const std::string off = this->NewOrg("off", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(acme, 90, this->Event(acme, "x")));
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(max, 365, this->Event(max, "x")));

  const UnixMillis now = this->now_ + 400 * kMillisPerDay;
  const UnixMillis cutoff = now - 90 * kMillisPerDay;
  const UnixMillis year_cutoff = now - 365 * kMillisPerDay;
  std::vector<ApiToken> kept, revoked;
  auto add = [&](ApiToken t, bool expect_revoked) {
    auto st = this->db_->CreateApiToken(t, this->Event(t.org_id, "api_token.created"));
    ASSERT_TRUE(st) << st.error().ToString();
    (expect_revoked ? revoked : kept).push_back(t);
  };
  ApiToken t = Token(acme, "used-at-cutoff", this->now_);
  t.last_used_at = cutoff;
  add(t, false);
  t = Token(acme, "used-1ms-before-cutoff", this->now_);
  t.last_used_at = cutoff - 1;
  add(t, true);
  add(Token(acme, "never-used-created-at-cutoff", cutoff), false);
  add(Token(acme, "never-used-created-1ms-before", cutoff - 1), true);
  t = Token(acme, "old-but-used-yesterday", this->now_);
  t.last_used_at = now - kMillisPerDay;
  add(t, false);
  t = Token(acme, "expired-and-inactive", this->now_);
  t.expires_at = this->now_ + kMillisPerDay;
  add(t, true);
  t = Token(acme, "manually-revoked", this->now_);
  t.revoked_at = this->now_ + 5;
  t.revocation_reason = "manual";
  t.revoked_by_name = "owner@example.com";
  add(t, false);
  // 365 days in milliseconds overflow a 32-bit integer: the cut-off must still be exact.
  add(Token(max, "year-at-cutoff", year_cutoff), false);
  add(Token(max, "year-1ms-before", year_cutoff - 1), true);
  add(Token(off, "ancient-without-threshold", 0), false);

  auto sweep = this->db_->RevokeInactiveApiTokens(
      now, [&](const RevokedToken& r) { return SweepEvent(r, now); });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  EXPECT_FALSE(sweep->skipped_locked);

  std::vector<std::string> want_ids, got_ids;
  for (const ApiToken& r : revoked) want_ids.push_back(r.id);
  for (const RevokedToken& r : sweep->revoked) {
    got_ids.push_back(r.id);
    ApiToken orig = *this->db_->GetApiToken(r.org_id, r.id);
    EXPECT_EQ(r.token_hash, orig.token_hash);
    EXPECT_EQ(r.name, orig.name);
    EXPECT_EQ(r.org_name, r.org_id == acme ? "acme" : "max");
    EXPECT_EQ(r.days, r.org_id == acme ? 90 : 365);
  }
  std::sort(want_ids.begin(), want_ids.end());
  std::sort(got_ids.begin(), got_ids.end());
  EXPECT_EQ(got_ids, want_ids);

  for (const ApiToken& r : revoked) {
    ApiToken got = *this->db_->GetApiToken(r.org_id, r.id);
    EXPECT_EQ(got.revoked_at, now) << r.name;
    EXPECT_EQ(got.revocation_reason, "inactive") << r.name;
    EXPECT_EQ(got.revoked_by_name, "system") << r.name;
  }
  for (const ApiToken& k : kept) {
    ApiToken got = *this->db_->GetApiToken(k.org_id, k.id);
    EXPECT_EQ(got.revoked_at, k.revoked_at) << k.name;
    EXPECT_EQ(got.revocation_reason, k.revocation_reason) << k.name;
    EXPECT_EQ(got.revoked_by_name, k.revoked_by_name) << k.name;
  }

  // One audit event per revoked token, with the system as actor.
  auto acme_events = SweepEvents(*this->db_, acme);
  ASSERT_EQ(acme_events.size(), 3u);
  for (const AuditEvent& e : acme_events) {
    EXPECT_EQ(e.actor_name, "system");
    EXPECT_EQ(e.action, "api_token.revoked");
    EXPECT_EQ(e.created_at, now);
    EXPECT_NE(e.message.find("after 90 days of inactivity"), std::string::npos) << e.message;
  }
  auto max_events = SweepEvents(*this->db_, max);
  ASSERT_EQ(max_events.size(), 1u);
  EXPECT_EQ(max_events[0].message,
            "system has revoked the API token year-1ms-before after 365 days of inactivity");
  EXPECT_TRUE(SweepEvents(*this->db_, off).empty());

  // A second sweep at the same time finds nothing left to do.
  auto again = this->db_->RevokeInactiveApiTokens(
      now, [&](const RevokedToken& r) { return SweepEvent(r, now); });
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->revoked.empty());
  EXPECT_EQ(SweepEvents(*this->db_, acme).size(), 3u);
}

TYPED_TEST(StoreTest, SweepWithoutThresholdsOrTokensIsEmpty) {
  this->Migrated();
  auto empty = this->db_->RevokeInactiveApiTokens(
      this->now_, [&](const RevokedToken& r) { return SweepEvent(r, this->now_); });
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->revoked.empty());
  EXPECT_FALSE(empty->skipped_locked);
}

TYPED_TEST(StoreTest, SweepWritesEventsForMoreTokensThanOneInsertBatch) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x")));
  constexpr int kTokens = 603;  // 512 + 64 + 8 + 8 + 8 + 3 x 1 rows
  std::vector<std::pair<std::string, UnixMillis>> usage;
  for (int i = 0; i < kTokens; ++i) {
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_);
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  }
  const UnixMillis now = this->now_ + kMillisPerDay + 1;
  // Text the bulk paths must carry unchanged (PostgreSQL sends it inside array literals).
  const std::string odd = " \"quoted\", back\\slash {braces} NULL\n\ttab";
  auto sweep = this->db_->RevokeInactiveApiTokens(now, [&](const RevokedToken& r) {
    AuditEvent e = SweepEvent(r, now);
    e.message += odd + r.id;
    return e;
  });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  EXPECT_EQ(sweep->revoked.size(), static_cast<size_t>(kTokens));
  auto events = SweepEvents(*this->db_, org);
  ASSERT_EQ(events.size(), static_cast<size_t>(kTokens));
  std::set<std::string> targets;
  for (const AuditEvent& e : events) {
    targets.insert(e.target_id);
    EXPECT_EQ(e.message, "system has revoked the API token " +
                             this->db_->GetApiToken(org, e.target_id)->name +
                             " after 1 days of inactivity" + odd + e.target_id);
    EXPECT_EQ(e.created_at, now);
    EXPECT_EQ(e.actor_name, "system");
  }
  EXPECT_EQ(targets.size(), static_cast<size_t>(kTokens));
}

TYPED_TEST(StoreTest, SweepFailureRollsBackTheRevocations) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x")));
  ApiToken t = Token(org, "old", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  const UnixMillis now = this->now_ + 2 * kMillisPerDay;
  // A duplicate audit id makes the INSERT fail after the UPDATE: nothing may stay revoked.
  const AuditEvent existing = this->Event(org, "dup");
  ASSERT_TRUE(this->db_->AppendAuditEvent(existing));
  auto sweep = this->db_->RevokeInactiveApiTokens(now, [&](const RevokedToken& r) {
    AuditEvent e = SweepEvent(r, now);
    e.id = existing.id;
    return e;
  });
  ASSERT_FALSE(sweep);
  EXPECT_FALSE(this->db_->GetApiToken(org, t.id)->revoked_at.has_value());
  EXPECT_TRUE(SweepEvents(*this->db_, org).empty());
}

// Two instances (two Database objects on one database) sweeping at the same moment: each token
// is revoked once and gets one audit event, whichever instance did it.
TYPED_TEST(StoreTest, TwoInstancesSweepingTogetherRevokeEachTokenOnce) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  std::vector<std::string> orgs = {this->NewOrg("a", u), this->NewOrg("b", u)};
  constexpr int kPerOrg = 60;
  for (const std::string& org : orgs) {
    ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 30, this->Event(org, "x")));
    for (int i = 0; i < kPerOrg; ++i) {
      ASSERT_TRUE(this->db_->CreateApiToken(Token(org, "t" + std::to_string(i), this->now_),
                                            this->Event(org, "api_token.created")));
    }
  }
  auto second = OpenDatabase(this->url_);
  ASSERT_TRUE(second) << second.error().ToString();
  const UnixMillis now = this->now_ + 31 * kMillisPerDay;
  auto make = [&](const RevokedToken& r) { return SweepEvent(r, now); };
  constexpr int kRounds = 3;  // later rounds find nothing: still one revocation per token
  std::vector<Result<InactiveTokenSweep>> results(2 * kRounds, Fail(Error::Internal("not run")));
  std::thread a([&] {
    for (int i = 0; i < kRounds; ++i) results[i] = this->db_->RevokeInactiveApiTokens(now, make);
  });
  std::thread b([&] {
    for (int i = 0; i < kRounds; ++i) {
      results[kRounds + i] = (*second)->RevokeInactiveApiTokens(now, make);
    }
  });
  a.join();
  b.join();
  std::multiset<std::string> revoked;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().ToString();
    for (const RevokedToken& t : r->revoked) revoked.insert(t.id);
  }
  EXPECT_EQ(revoked.size(), 2u * kPerOrg);
  EXPECT_EQ(std::set<std::string>(revoked.begin(), revoked.end()).size(), 2u * kPerOrg);
  for (const std::string& org : orgs) {
    auto events = SweepEvents(*this->db_, org);
    EXPECT_EQ(events.size(), static_cast<size_t>(kPerOrg));
    std::set<std::string> targets;
    for (const AuditEvent& e : events) targets.insert(e.target_id);
    EXPECT_EQ(targets.size(), static_cast<size_t>(kPerOrg));
  }
}

// ---- keyless CI federation

TrustPolicyRecord Policy(const std::string& org_id, const std::string& name,
                         const std::string& issuer, UnixMillis at) {
  TrustPolicyRecord t;
  t.id = Id();
  t.org_id = org_id;
  t.name = name;
  t.issuer = issuer;
  t.provider = "gitlab";
  t.audience = "https://cp.example.com";
  t.bound_claims = {{"project_path", "acme/*"}, {"ref", "main"}};
  t.permissions = {"workflow_run:create", "project:read"};
  t.created_by_kind = "user";
  t.created_by_id = "u1";
  t.created_by_name = "owner@example.com";
  t.created_at = at;
  return t;
}

TYPED_TEST(StoreTest, TrustPoliciesRoundTripAreUniquePerOrgAndDeletable) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  const std::string proj = this->NewProject(org, "web");
  TrustPolicyRecord a = Policy(org, "gitlab-main", "https://gitlab.com", this->now_);
  a.project_id = proj;
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  TrustPolicyRecord b = Policy(org, "another", "https://gitlab.example.org", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(b, this->Event(org, "trust_policy.created")));
  // Same name in another organization is fine, in the same one is not.
  ASSERT_TRUE(
      this->db_->CreateTrustPolicy(Policy(other, "gitlab-main", "https://gitlab.com", this->now_),
                                   this->Event(other, "trust_policy.created")));
  auto dup =
      this->db_->CreateTrustPolicy(Policy(org, "gitlab-main", "https://gitlab.com", this->now_),
                                   this->Event(org, "trust_policy.created"));
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().IsAlreadyExists());
  // A project of another organization is refused by the composite key.
  TrustPolicyRecord cross = Policy(other, "cross", "https://gitlab.com", this->now_);
  cross.project_id = proj;
  EXPECT_FALSE(this->db_->CreateTrustPolicy(cross, this->Event(other, "trust_policy.created")));

  auto list = this->db_->ListTrustPolicies(org);
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "another");
  const TrustPolicyRecord& got = (*list)[1];
  EXPECT_EQ(got.id, a.id);
  EXPECT_EQ(got.issuer, "https://gitlab.com");
  EXPECT_EQ(got.provider, "gitlab");
  EXPECT_EQ(got.audience, "https://cp.example.com");
  EXPECT_EQ(got.bound_claims, a.bound_claims);  // order kept
  ASSERT_TRUE(got.project_id.has_value());
  EXPECT_EQ(*got.project_id, proj);
  EXPECT_EQ(got.project_name, "web");
  EXPECT_EQ(got.permissions, a.permissions);
  EXPECT_EQ(got.created_by_name, "owner@example.com");
  EXPECT_FALSE((*list)[0].project_id.has_value());

  auto by_issuer = this->db_->ListTrustPoliciesByIssuer("https://gitlab.com");
  ASSERT_TRUE(by_issuer);
  EXPECT_EQ(by_issuer->size(), 2u);  // both organizations

  auto missing = this->db_->DeleteTrustPolicy(other, a.id, this->Event(other, "x"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());
  ASSERT_TRUE(this->db_->DeleteTrustPolicy(
      org, a.id, this->Event(org, "trust_policy.deleted", this->now_ + 1000)));
  EXPECT_EQ(this->db_->ListTrustPolicies(org)->size(), 1u);
  auto events = this->db_->ListAuditEvents(org, 10);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[0].action, "trust_policy.deleted");
}

TYPED_TEST(StoreTest, CiTokenJtiIsSingleUseAndExpiredOnesArePurged) {
  this->Migrated();
  const UnixMillis now = this->now_;
  ASSERT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j1"}, now + 1000, now));
  auto again = this->db_->RecordCiTokenJti("https://gitlab.com", {"j1"}, now + 1000, now);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().IsAlreadyExists());
  EXPECT_EQ(again.error().reason(), "replayed_token");
  // The same jti from another issuer is another token.
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.example.org", {"j1"}, now + 1000, now));
  // Once past its expiry the row is purged by the next call.
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j2"}, now + 5000, now + 2000));
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j1"}, now + 9000, now + 2000));
  // Several uses at once are all or nothing: one already recorded records none of them.
  auto some = this->db_->RecordCiTokenJti("https://gitlab.com", {"k1", "j2"}, now + 9000, now);
  ASSERT_FALSE(some);
  EXPECT_TRUE(some.error().IsAlreadyExists());
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"k1", "k2"}, now + 9000, now));
}

TYPED_TEST(StoreTest, FederatedTokensAreFoundByHash) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");
  TrustPolicyRecord policy = Policy(org, "gitlab-main", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(policy, this->Event(org, "trust_policy.created")));
  FederatedToken t;
  t.id = Id();
  t.org_id = org;
  t.project_id = proj;
  t.policy_id = policy.id;
  t.token_hash = Hash();
  t.permissions = {"workflow_run:create"};
  t.issuer = "https://gitlab.com";
  t.subject = "project_path:acme/web:ref_type:branch:ref:main";
  t.display_name = "gitlab: acme/web@main";
  t.created_at = this->now_;
  t.expires_at = this->now_ + 900'000;
  ASSERT_TRUE(this->db_->CreateFederatedToken(t, this->Event(org, "federation.exchanged")));
  auto dup = this->db_->CreateFederatedToken(t, this->Event(org, "federation.exchanged"));
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().IsAlreadyExists());
  auto got = this->db_->GetFederatedTokenByHash(t.token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->org_id, org);
  EXPECT_EQ(got->project_id, t.project_id);
  EXPECT_EQ(got->policy_id, t.policy_id);
  EXPECT_EQ(got->permissions, t.permissions);
  EXPECT_EQ(got->issuer, t.issuer);
  EXPECT_EQ(got->subject, t.subject);
  EXPECT_EQ(got->display_name, t.display_name);
  EXPECT_EQ(got->expires_at, t.expires_at);
  auto missing = this->db_->GetFederatedTokenByHash(Hash());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());
}

// A federated token of `org_id` issued under `policy_id`, valid 15 minutes from `at`.
FederatedToken FedToken(const std::string& org_id, const std::string& policy_id, UnixMillis at) {
  FederatedToken t;
  t.id = Id();
  t.org_id = org_id;
  t.policy_id = policy_id;
  t.token_hash = Hash();
  t.permissions = {"workflow_run:create"};
  t.issuer = "https://gitlab.com";
  t.subject = "project_path:acme/web:ref_type:branch:ref:main";
  t.display_name = "gitlab: acme/web@main";
  t.created_at = at;
  t.expires_at = at + 15 * kMillisPerMinute;
  return t;
}

TYPED_TEST(StoreTest, DeletingATrustPolicyRevokesItsFederatedTokensAndReturnsTheirHashes) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  TrustPolicyRecord b = Policy(org, "b", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  ASSERT_TRUE(this->db_->CreateTrustPolicy(b, this->Event(org, "trust_policy.created")));
  FederatedToken a1 = FedToken(org, a.id, this->now_);
  FederatedToken a2 = FedToken(org, a.id, this->now_ - kMillisPerHour);  // expired: still ended
  FederatedToken b1 = FedToken(org, b.id, this->now_);
  for (const auto* t : {&a1, &a2, &b1}) {
    ASSERT_TRUE(this->db_->CreateFederatedToken(*t, this->Event(org, "federation.exchanged")));
  }

  auto ended = this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "trust_policy.deleted"));
  ASSERT_TRUE(ended) << ended.error().ToString();
  std::vector<std::string> want = {a1.token_hash, a2.token_hash};
  std::sort(want.begin(), want.end());
  std::sort(ended->begin(), ended->end());
  EXPECT_EQ(*ended, want);
  // Kept, marked revoked at the deletion's time, so they answer "revoked", not "unknown".
  const UnixMillis deleted_at = this->Event(org, "x").created_at;
  for (const auto* t : {&a1, &a2}) {
    auto row = this->db_->GetFederatedTokenByHash(t->token_hash);
    ASSERT_TRUE(row) << row.error().ToString();
    EXPECT_EQ(row->revoked_at, std::optional<UnixMillis>(deleted_at));
  }
  auto kept = this->db_->GetFederatedTokenByHash(b1.token_hash);  // another policy's: untouched
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->revoked_at);

  // A policy without tokens: nothing to end. An unknown one: NotFound, as before.
  TrustPolicyRecord c = Policy(org, "c", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(c, this->Event(org, "trust_policy.created")));
  auto none = this->db_->DeleteTrustPolicy(org, c.id, this->Event(org, "trust_policy.deleted"));
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "x")).error().IsNotFound());
}

TYPED_TEST(StoreTest, FederatedTokenForADeletedOrForeignPolicyIsRefusedAndWritesNothing) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  ASSERT_TRUE(this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "trust_policy.deleted")));
  const size_t events_before = this->db_->ListAuditEvents(org, 100)->size();

  // The exchange read the policy before the delete committed: its insert must not land.
  FederatedToken late = FedToken(org, a.id, this->now_);
  auto st = this->db_->CreateFederatedToken(late, this->Event(org, "federation.exchanged"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_EQ(st.error().reason(), "trust_policy_deleted");
  EXPECT_EQ(st.error().message().find(late.token_hash), std::string::npos);
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(late.token_hash).error().IsNotFound());
  EXPECT_EQ(this->db_->ListAuditEvents(org, 100)->size(), events_before);

  // A live policy of another organization does not count either.
  TrustPolicyRecord theirs = Policy(other, "theirs", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(theirs, this->Event(other, "trust_policy.created")));
  FederatedToken cross = FedToken(org, theirs.id, this->now_);
  st = this->db_->CreateFederatedToken(cross, this->Event(org, "federation.exchanged"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "trust_policy_deleted");
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(cross.token_hash).error().IsNotFound());
}

TYPED_TEST(StoreTest, ApiTokenCreatedByAnUnusableTokenWritesNothing) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  ApiToken creator = Token(org, "creator", this->now_);
  creator.expires_at = this->now_ + kMillisPerDay;
  ASSERT_TRUE(this->db_->CreateApiToken(creator, this->Event(org, "api_token.created")));
  auto by = [&](const ApiToken& c, const std::string& name, UnixMillis at) {
    ApiToken t = Token(org, name, at);
    t.created_by_kind = "api_token";
    t.created_by_id = c.id;
    t.created_by_name = c.name;
    return t;
  };
  auto refused = [&](const ApiToken& t, const std::string& reason) {
    const size_t events_before = this->db_->ListAuditEvents(org, 1000)->size();
    auto st = this->db_->CreateApiToken(t, this->Event(org, "api_token.created"));
    ASSERT_FALSE(st) << t.name;
    EXPECT_TRUE(st.error().IsUnauthenticated()) << st.error().ToString();
    EXPECT_EQ(st.error().reason(), reason);
    EXPECT_TRUE(this->db_->GetApiTokenByHash(t.token_hash).error().IsNotFound());
    EXPECT_EQ(this->db_->ListAuditEvents(org, 1000)->size(), events_before);
  };

  // While the creator is usable its children are created.
  ApiToken child = by(creator, "child", this->now_ + 1);
  auto st = this->db_->CreateApiToken(child, this->Event(org, "api_token.created"));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(this->db_->GetApiTokenByHash(child.token_hash)->created_by_id, creator.id);

  // At its expiry (the child's created_at is the request's "now"), and after its revocation.
  refused(by(creator, "at-expiry", *creator.expires_at), "token_expired");
  ASSERT_TRUE(this->db_->RevokeApiToken(org, creator.id, this->now_ + 2, "manual", "owner",
                                        this->Event(org, "api_token.revoked")));
  refused(by(creator, "after-revocation", this->now_ + 3), "token_revoked");

  // A creator that does not exist, or exists in another organization.
  ApiToken ghost = Token(org, "ghost", this->now_);
  refused(by(ghost, "by-ghost", this->now_ + 3), "invalid_token");
  ApiToken foreign = Token(other, "foreign", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(foreign, this->Event(other, "api_token.created")));
  refused(by(foreign, "by-foreign", this->now_ + 3), "invalid_token");
}

// A CI job's federated principal (id: its trust policy) may create API tokens only while the
// policy, and so the federated token, exists.
TYPED_TEST(StoreTest, ApiTokenCreatedByAFederatedPrincipalNeedsItsTrustPolicy) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  TrustPolicyRecord policy = Policy(org, "ci", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(policy, this->Event(org, "trust_policy.created")));
  auto by_ci = [&](const std::string& policy_id, const std::string& name) {
    ApiToken t = Token(org, name, this->now_ + 1);
    t.created_by_kind = "federated";
    t.created_by_id = policy_id;
    t.created_by_name = "https://gitlab.com: project_path:acme/app";
    return t;
  };

  ApiToken child = by_ci(policy.id, "child");
  auto st = this->db_->CreateApiToken(child, this->Event(org, "api_token.created"));
  ASSERT_TRUE(st) << st.error().ToString();

  // A policy of another organization does not count.
  TrustPolicyRecord foreign = Policy(other, "ci", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(foreign, this->Event(other, "trust_policy.created")));
  const size_t events_before = this->db_->ListAuditEvents(org, 1000)->size();
  ApiToken cross = by_ci(foreign.id, "cross");
  st = this->db_->CreateApiToken(cross, this->Event(org, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "token_revoked");

  ASSERT_TRUE(
      this->db_->DeleteTrustPolicy(org, policy.id, this->Event(org, "trust_policy.deleted")));
  ApiToken late = by_ci(policy.id, "late");
  st = this->db_->CreateApiToken(late, this->Event(org, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsUnauthenticated()) << st.error().ToString();
  EXPECT_EQ(st.error().reason(), "token_revoked");
  for (const ApiToken* t : {&cross, &late}) {
    EXPECT_TRUE(this->db_->GetApiTokenByHash(t->token_hash).error().IsNotFound()) << t->name;
  }
  // Only the deletion's event was added.
  EXPECT_EQ(this->db_->ListAuditEvents(org, 1000)->size(), events_before + 1);
  // What was created before stays: it is an API token of its own.
  EXPECT_TRUE(this->db_->GetApiTokenByHash(child.token_hash));
}

// ---- pepper rotation

TYPED_TEST(StoreTest, PepperIdsRoundTripAndRehashMovesOnlyFromTheOldHash) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  t.pepper_id = "aaaaaaaa";
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  Session s{Id(), u.id, Hash(), this->now_, this->now_ + kMillisPerDay, std::nullopt, "aaaaaaaa"};
  ASSERT_TRUE(this->db_->CreateSession(s));
  EXPECT_EQ(this->db_->GetApiTokenByHash(t.token_hash)->pepper_id, "aaaaaaaa");
  EXPECT_EQ(this->db_->GetSessionByHash(s.token_hash)->pepper_id, "aaaaaaaa");

  const std::string new_token_hash = Hash();
  auto moved = this->db_->RehashApiToken(t.id, t.token_hash, new_token_hash, "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_TRUE(*moved);
  EXPECT_TRUE(this->db_->GetApiTokenByHash(t.token_hash).error().IsNotFound());
  auto got = this->db_->GetApiTokenByHash(new_token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->pepper_id, "bbbbbbbb");
  EXPECT_EQ(got->name, "ci");
  // A second (racing) re-hash from the old hash changes nothing; neither does an unknown id.
  moved = this->db_->RehashApiToken(t.id, t.token_hash, Hash(), "cccccccc");
  ASSERT_TRUE(moved);
  EXPECT_FALSE(*moved);
  EXPECT_EQ(this->db_->GetApiTokenByHash(new_token_hash)->pepper_id, "bbbbbbbb");
  EXPECT_FALSE(*this->db_->RehashApiToken(Id(), new_token_hash, Hash(), "cccccccc"));

  const std::string new_session_hash = Hash();
  moved = this->db_->RehashSession(s.id, s.token_hash, new_session_hash, "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_TRUE(*moved);
  EXPECT_TRUE(this->db_->GetSessionByHash(s.token_hash).error().IsNotFound());
  EXPECT_EQ(this->db_->GetSessionByHash(new_session_hash)->id, s.id);
  EXPECT_EQ(this->db_->GetSessionByHash(new_session_hash)->pepper_id, "bbbbbbbb");
  EXPECT_FALSE(*this->db_->RehashSession(s.id, s.token_hash, Hash(), "cccccccc"));
  // Same hash, new id: only records the pepper (a hash from before ids were kept).
  EXPECT_TRUE(*this->db_->RehashSession(s.id, new_session_hash, new_session_hash, "dddddddd"));
  EXPECT_EQ(this->db_->GetSessionByHash(new_session_hash)->pepper_id, "dddddddd");

  // Moving onto a hash another row holds is refused without naming the hash.
  ApiToken other = Token(org, "other", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(other, this->Event(org, "api_token.created")));
  auto clash = this->db_->RehashApiToken(other.id, other.token_hash, new_token_hash, "bbbbbbbb");
  ASSERT_FALSE(clash);
  EXPECT_TRUE(clash.error().IsAlreadyExists());
  EXPECT_EQ(clash.error().message().find(new_token_hash), std::string::npos);
  EXPECT_EQ(this->db_->GetApiTokenByHash(other.token_hash)->id, other.id);
}

// A revoked row's hash is frozen: the revoker announces the hash the row holds after the
// revocation, so no later re-hash (an instance that read the row before) may change it.
TYPED_TEST(StoreTest, RevokedCredentialsAreNeverRehashed) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  t.pepper_id = "aaaaaaaa";
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  ASSERT_TRUE(this->db_->RevokeApiToken(org, t.id, this->now_ + 1, "manual", "owner",
                                        this->Event(org, "api_token.revoked")));
  auto moved = this->db_->RehashApiToken(t.id, t.token_hash, Hash(), "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_FALSE(*moved);
  EXPECT_EQ(this->db_->GetApiTokenByHash(t.token_hash)->pepper_id, "aaaaaaaa");

  Session s{Id(), u.id, Hash(), this->now_, this->now_ + kMillisPerDay, std::nullopt, "aaaaaaaa"};
  ASSERT_TRUE(this->db_->CreateSession(s));
  ASSERT_TRUE(this->db_->RevokeSession(s.id, this->now_ + 1));
  moved = this->db_->RehashSession(s.id, s.token_hash, Hash(), "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_FALSE(*moved);
  EXPECT_EQ(this->db_->GetSessionByHash(s.token_hash)->pepper_id, "aaaaaaaa");
}

TYPED_TEST(StoreTest, CountCredentialsByPepperCountsOnlyLiveOnes) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const UnixMillis now = this->now_ + 1000;
  auto token = [&](const std::string& name, const std::string& pepper) {
    ApiToken t = Token(org, name, this->now_);
    t.pepper_id = pepper;
    EXPECT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    return t;
  };
  token("a1", "aaaaaaaa");
  token("a2", "aaaaaaaa");
  token("b1", "bbbbbbbb");
  token("legacy", "");  // written before pepper ids (NULL)
  {
    ApiToken t = Token(org, "gone", this->now_);
    t.pepper_id = "aaaaaaaa";
    t.expires_at = now;  // expires exactly now: not live
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  }
  ApiToken revoked = token("revoked", "bbbbbbbb");
  ASSERT_TRUE(this->db_->RevokeApiToken(org, revoked.id, now, "manual", "owner",
                                        this->Event(org, "api_token.revoked")));
  auto session = [&](const std::string& pepper, UnixMillis expires) {
    Session s{Id(), u.id, Hash(), this->now_, expires, std::nullopt, pepper};
    EXPECT_TRUE(this->db_->CreateSession(s));
    return s;
  };
  session("bbbbbbbb", now + kMillisPerHour);
  session("cccccccc", now + kMillisPerHour);
  session("cccccccc", now);  // expired
  Session ended = session("cccccccc", now + kMillisPerHour);
  ASSERT_TRUE(this->db_->RevokeSession(ended.id, now));

  auto usage = this->db_->CountCredentialsByPepper(now);
  ASSERT_TRUE(usage) << usage.error().ToString();
  ASSERT_EQ(usage->size(), 4u);
  EXPECT_EQ((*usage)[0].pepper_id, "");
  EXPECT_EQ((*usage)[0].api_tokens, 1);
  EXPECT_EQ((*usage)[0].sessions, 0);
  EXPECT_EQ((*usage)[1].pepper_id, "aaaaaaaa");
  EXPECT_EQ((*usage)[1].api_tokens, 2);  // a1 and a2, not the expired one
  EXPECT_EQ((*usage)[1].sessions, 0);
  EXPECT_EQ((*usage)[2].pepper_id, "bbbbbbbb");
  EXPECT_EQ((*usage)[2].api_tokens, 1);  // b1, not the revoked one
  EXPECT_EQ((*usage)[2].sessions, 1);
  EXPECT_EQ((*usage)[3].pepper_id, "cccccccc");
  EXPECT_EQ((*usage)[3].api_tokens, 0);
  EXPECT_EQ((*usage)[3].sessions, 1);

  // Attribution fills only the unknown ones, live or not, and is idempotent.
  auto changed = this->db_->AttributeUnknownPepper("aaaaaaaa");
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(*changed, 1);
  EXPECT_EQ(*this->db_->AttributeUnknownPepper("bbbbbbbb"), 0);
  usage = this->db_->CountCredentialsByPepper(now);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 3u);
  EXPECT_EQ((*usage)[0].pepper_id, "aaaaaaaa");
  EXPECT_EQ((*usage)[0].api_tokens, 3);
}

TYPED_TEST(StoreTest, MigrationToPepperIdsKeepsCredentialsUnattributed) {
  auto* sql = dynamic_cast<SqlDatabase*>(this->db_.get());
  ASSERT_NE(sql, nullptr);
  ASSERT_TRUE(sql->MigrateTo(4));
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  // What a server before migration 5 wrote: no pepper_id column at all.
  ApiToken t = Token(org, "old", this->now_);
  EXPECT_FALSE(this->db_->CreateApiToken(t, this->Event(org, "x")));  // the column is missing

  ASSERT_TRUE(this->db_->Migrate());
  EXPECT_EQ(*this->db_->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "x")));  // pepper_id "" -> NULL
  auto got = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->pepper_id, "");
  auto usage = this->db_->CountCredentialsByPepper(this->now_);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].pepper_id, "");
  EXPECT_EQ((*usage)[0].api_tokens, 1);
}

TYPED_TEST(StoreTest, TwoInstancesRehashingTogetherMoveEachTokenOnce) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  constexpr int kTokens = 40;
  std::vector<ApiToken> tokens;
  std::vector<std::string> new_hashes;
  for (int i = 0; i < kTokens; ++i) {
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_);
    t.pepper_id = "aaaaaaaa";
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    tokens.push_back(t);
    new_hashes.push_back(Hash());  // the same HMAC under the new pepper on both instances
  }
  auto second = OpenDatabase(this->url_);
  ASSERT_TRUE(second) << second.error().ToString();
  std::vector<int> moved(2, 0);
  std::vector<int> failed(2, 0);
  auto run = [&](Database& db, int who) {
    for (int i = 0; i < kTokens; ++i) {
      auto r = db.RehashApiToken(tokens[i].id, tokens[i].token_hash, new_hashes[i], "bbbbbbbb");
      if (!r) {
        ++failed[who];
      } else if (*r) {
        ++moved[who];
      }
    }
  };
  std::thread a([&] { run(*this->db_, 0); });
  std::thread b([&] { run(**second, 1); });
  a.join();
  b.join();
  EXPECT_EQ(failed[0] + failed[1], 0);
  EXPECT_EQ(moved[0] + moved[1], kTokens);
  for (int i = 0; i < kTokens; ++i) {
    auto got = this->db_->GetApiTokenByHash(new_hashes[i]);
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(got->id, tokens[i].id);
    EXPECT_EQ(got->pepper_id, "bbbbbbbb");
  }
}

class PostgresOnlyTest : public StoreTest<PostgresBackend> {};

// A connection killed by the server is repaired on its next use.
TEST_F(PostgresOnlyTest, ReconnectsAfterServerDropsConnections) {
  this->Migrated();
  ASSERT_TRUE(this->db_->Ping());
  const std::string dbname = this->url_.substr(this->url_.rfind('/') + 1);
  PGconn* admin = PQconnectdb(std::getenv("CL_TEST_POSTGRES_URL"));
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
  const std::string sql =
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + dbname + "'";
  PGresult* r = PQexec(admin, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(admin);
  EXPECT_GE(PQntuples(r), 1);
  PQclear(r);
  PQfinish(admin);

  // The first use may notice the dead connection (Unavailable); the next one reconnects.
  auto first = this->db_->Ping();
  if (!first) {
    EXPECT_TRUE(first.error().IsUnavailable()) << first.error().ToString();
  }
  auto second = this->db_->Ping();
  EXPECT_TRUE(second) << second.error().ToString();
  EXPECT_TRUE(this->db_->GetOrganizationByName("none").error().IsNotFound());
}

// While another instance holds the sweep lock, a sweep does nothing and says so.
TEST_F(PostgresOnlyTest, SweepSkipsWhileAnotherInstanceHoldsTheLock) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x")));
  ApiToken t = Token(org, "old", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  const UnixMillis now = this->now_ + 2 * kMillisPerDay;
  auto make = [&](const RevokedToken& r) { return SweepEvent(r, now); };

  PGconn* other = PQconnectdb(this->url_.c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  const std::string lock = "SELECT pg_advisory_lock(" + std::to_string(kTokenSweepLockKey) + ")";
  PGresult* r = PQexec(other, lock.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(other);
  PQclear(r);

  auto skipped = this->db_->RevokeInactiveApiTokens(now, make);
  ASSERT_TRUE(skipped) << skipped.error().ToString();
  EXPECT_TRUE(skipped->skipped_locked);
  EXPECT_TRUE(skipped->revoked.empty());
  EXPECT_FALSE(this->db_->GetApiToken(org, t.id)->revoked_at.has_value());

  // Unlock explicitly: PQfinish alone returns before the server has released the lock.
  const std::string unlock =
      "SELECT pg_advisory_unlock(" + std::to_string(kTokenSweepLockKey) + ")";
  r = PQexec(other, unlock.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(other);
  PQclear(r);
  PQfinish(other);
  auto done = this->db_->RevokeInactiveApiTokens(now, make);
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_FALSE(done->skipped_locked);
  ASSERT_EQ(done->revoked.size(), 1u);
  EXPECT_EQ(done->revoked[0].id, t.id);
}

// Runs `sql` on a raw connection (another instance's transaction, held open by the test).
bool Exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  EXPECT_TRUE(ok) << sql << ": " << PQerrorMessage(conn);
  PQclear(r);
  return ok;
}

// Waits (up to 10 s) until some backend waits for a lock: the store call running on another
// thread is then blocked behind `conn`'s open transaction.
bool WaitForALockWaiter(PGconn* conn) {
  for (int i = 0; i < 500; ++i) {
    PGresult* r = PQexec(conn, "SELECT count(*) FROM pg_locks WHERE NOT granted");
    const bool waiting =
        PQresultStatus(r) == PGRES_TUPLES_OK && std::string(PQgetvalue(r, 0, 0)) != "0";
    PQclear(r);
    if (waiting) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Another instance's transaction overlapping a store call: a second connection runs `held`
// inside a transaction and keeps it open, `call` runs on another thread until it waits for one
// of that transaction's locks, then the transaction commits and `call` finishes. Use with
// ASSERT_NO_FATAL_FAILURE.
void WhileAnotherTransactionHolds(const std::string& url, const std::vector<std::string>& held,
                                  const std::function<void()>& call) {
  PGconn* other = PQconnectdb(url.c_str());
  std::unique_ptr<PGconn, void (*)(PGconn*)> closer(other, PQfinish);
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  ASSERT_TRUE(Exec(other, "BEGIN"));
  for (const auto& sql : held) ASSERT_TRUE(Exec(other, sql));
  std::thread caller(call);
  EXPECT_TRUE(WaitForALockWaiter(other));
  EXPECT_TRUE(Exec(other, "COMMIT"));
  caller.join();
}

// A trust policy deletion that commits while an exchange is inserting its token: the insert,
// blocked on the policy row, then finds it gone and writes nothing.
TEST_F(PostgresOnlyTest, FederatedTokenWaitingOnADeletedPolicyIsRefused) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));

  FederatedToken t = FedToken(org, a.id, this->now_);
  Status st;
  ASSERT_NO_FATAL_FAILURE(WhileAnotherTransactionHolds(
      this->url_, {"DELETE FROM trust_policies WHERE id = '" + a.id + "'"},
      [&] { st = this->db_->CreateFederatedToken(t, this->Event(org, "federation.exchanged")); }));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "trust_policy_deleted");
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(t.token_hash).error().IsNotFound());
}

// The other order: an exchange holding the policy row commits its token while the deletion
// waits; the deletion then ends that token too and returns its hash.
TEST_F(PostgresOnlyTest, PolicyDeletionWaitingOnAnExchangeEndsItsToken) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  const std::string hash = Hash();
  const std::vector<std::string> exchange = {
      "SELECT 1 FROM trust_policies WHERE id = '" + a.id + "' FOR SHARE",
      "INSERT INTO federated_tokens (id, org_id, policy_id, token_hash, issuer, subject, "
      "created_at, expires_at) VALUES ('" +
          Id() + "', '" + org + "', '" + a.id + "', '" + hash +
          "', 'https://gitlab.com', 'sub', 1, 9000000000000)"};

  Result<std::vector<std::string>> ended = std::vector<std::string>{};
  ASSERT_NO_FATAL_FAILURE(WhileAnotherTransactionHolds(this->url_, exchange, [&] {
    ended = this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "trust_policy.deleted"));
  }));
  ASSERT_TRUE(ended) << ended.error().ToString();
  EXPECT_EQ(*ended, std::vector<std::string>{hash});
  auto row = this->db_->GetFederatedTokenByHash(hash);
  ASSERT_TRUE(row) << row.error().ToString();
  EXPECT_TRUE(row->revoked_at);
}

// A revocation that commits while a token created by the revoked token is being inserted.
TEST_F(PostgresOnlyTest, ApiTokenCreationWaitingOnItsCreatorsRevocationIsRefused) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken creator = Token(org, "creator", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(creator, this->Event(org, "api_token.created")));

  ApiToken child = Token(org, "child", this->now_ + 2);
  child.created_by_kind = "api_token";
  child.created_by_id = creator.id;
  Status st;
  ASSERT_NO_FATAL_FAILURE(WhileAnotherTransactionHolds(
      this->url_,
      {"UPDATE api_tokens SET revoked_at = " + std::to_string(this->now_ + 1) +
       ", revocation_reason = 'manual' WHERE id = '" + creator.id + "'"},
      [&] { st = this->db_->CreateApiToken(child, this->Event(org, "api_token.created")); }));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "token_revoked");
  EXPECT_TRUE(this->db_->GetApiTokenByHash(child.token_hash).error().IsNotFound());
}

// A trust policy deletion that commits while a CI job's federated principal is creating an
// API token: the creation, blocked on the policy row, writes nothing.
TEST_F(PostgresOnlyTest, ApiTokenCreationWaitingOnItsTrustPolicysDeletionIsRefused) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));

  ApiToken child = Token(org, "child", this->now_ + 2);
  child.created_by_kind = "federated";
  child.created_by_id = a.id;
  Status st;
  ASSERT_NO_FATAL_FAILURE(WhileAnotherTransactionHolds(
      this->url_, {"DELETE FROM trust_policies WHERE id = '" + a.id + "'"},
      [&] { st = this->db_->CreateApiToken(child, this->Event(org, "api_token.created")); }));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "token_revoked");
  EXPECT_TRUE(this->db_->GetApiTokenByHash(child.token_hash).error().IsNotFound());
}

// The first use of an idle API token and another instance's inactivity sweep, in both orders
// (domain::Authenticator::RecordPromptUse relies on this). The use's write holds the row: the
// sweep waits, re-checks the row after the commit and revokes nothing.
TEST_F(PostgresOnlyTest, SweepWaitingOnAUseOfTheTokenKeepsIt) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x")));
  ApiToken t = Token(org, "nightly", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  const UnixMillis now = this->now_ + 2 * kMillisPerDay;

  Result<InactiveTokenSweep> sweep = InactiveTokenSweep{};
  ASSERT_NO_FATAL_FAILURE(WhileAnotherTransactionHolds(
      this->url_,
      {"UPDATE api_tokens SET last_used_at = " + std::to_string(now) + " WHERE id = '" + t.id +
       "'"},
      [&] {
        sweep = this->db_->RevokeInactiveApiTokens(
            now, [&](const RevokedToken& r) { return SweepEvent(r, now); });
      }));
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  EXPECT_TRUE(sweep->revoked.empty());
  auto got = this->db_->GetApiToken(org, t.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_FALSE(got->revoked_at.has_value());
  EXPECT_EQ(got->last_used_at, now);
}

// The other order: the sweep's revocation holds the row; the use's write waits, and a read
// after it sees the revocation (the request is then refused).
TEST_F(PostgresOnlyTest, UseWaitingOnASweepSeesTheRevocation) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "nightly", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  const UnixMillis swept_at = this->now_ + 2 * kMillisPerDay;

  Status used;
  ASSERT_NO_FATAL_FAILURE(WhileAnotherTransactionHolds(
      this->url_,
      {"UPDATE api_tokens SET revoked_at = " + std::to_string(swept_at) +
       ", revocation_reason = 'inactive', revoked_by_name = 'system' WHERE id = '" + t.id + "'"},
      [&] {
        used = this->db_->RecordApiTokenUsage({{t.id, swept_at + 1}});
      }));
  ASSERT_TRUE(used) << used.error().ToString();
  auto got = this->db_->GetApiToken(org, t.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->revoked_at, swept_at);
  EXPECT_EQ(got->revocation_reason, "inactive");
  EXPECT_EQ(got->last_used_at, std::nullopt);  // the overlapping use is not recorded
}

// ---- implementation-specific checks

TEST(OpenDatabaseTest, UnknownSchemeIsInvalidArgumentWithoutSecrets) {
  auto db = OpenDatabase("mysql://admin:hunter2@db.example/prod");
  ASSERT_FALSE(db);
  EXPECT_TRUE(db.error().IsInvalidArgument());
  EXPECT_NE(db.error().message().find("mysql"), std::string::npos);
  EXPECT_EQ(db.error().message().find("hunter2"), std::string::npos);
  auto none = OpenDatabase("/var/lib/db.sqlite");
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().IsInvalidArgument());
}

TEST(OpenDatabaseTest, UnreachablePostgresIsUnavailableWithoutPassword) {
  // Port 1 on loopback: nothing listens there.
  auto db = OpenDatabase("postgresql://u:s3cretpw@127.0.0.1:1/db?connect_timeout=2");
  ASSERT_FALSE(db);
  EXPECT_TRUE(db.error().IsUnavailable()) << db.error().ToString();
  EXPECT_EQ(db.error().message().find("s3cretpw"), std::string::npos);
}

TEST(OpenDatabaseTest, SqliteFileIsPrivate) {
  const auto dir = std::filesystem::temp_directory_path() / ("cl-store-perm-" + RandomHex(8));
  const auto path = dir / "nested" / "db.sqlite";
  {
    auto db = OpenDatabase("sqlite:" + path.string());
    ASSERT_TRUE(db) << db.error().ToString();
    ASSERT_TRUE((*db)->Migrate());
    EXPECT_EQ((*db)->Dialect(), "sqlite");
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::filesystem::remove_all(dir);
}

TEST(OpenDatabaseTest, SqliteRejectsAFileThatIsNotADatabase) {
  const auto dir = std::filesystem::temp_directory_path() / ("cl-store-junk-" + RandomHex(8));
  std::filesystem::create_directories(dir);
  const auto path = dir / "junk.db";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is definitely not an sqlite database file, just some text....", f);
    std::fclose(f);
  }
  auto db = OpenDatabase("sqlite:" + path.string());
  EXPECT_FALSE(db);
  std::filesystem::remove_all(dir);
}

TEST(PoolSizeParamTest, StrippedBeforeLibpq) {
  int n = 0;
  EXPECT_EQ(*StripPoolSize("postgresql://h/db", &n), "postgresql://h/db");
  EXPECT_EQ(n, 8);
  EXPECT_EQ(*StripPoolSize("postgresql://h/db?pool_size=3", &n), "postgresql://h/db");
  EXPECT_EQ(n, 3);
  EXPECT_EQ(*StripPoolSize("postgresql://h/db?sslmode=disable&pool_size=16&connect_timeout=5", &n),
            "postgresql://h/db?sslmode=disable&connect_timeout=5");
  EXPECT_EQ(n, 16);
  EXPECT_TRUE(StripPoolSize("postgresql://h/db?pool_size=0", &n).error().IsInvalidArgument());
  EXPECT_TRUE(StripPoolSize("postgresql://h/db?pool_size=x", &n).error().IsInvalidArgument());
}

}  // namespace
}  // namespace cl::store
