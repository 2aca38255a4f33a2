// One typed test suite run against both store implementations: SQLite (a temp file) and
// PostgreSQL (a fresh database on the server named by CL_TEST_POSTGRES_URL; skipped without it).
#include "store/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/random.h"
#include "store/postgres/postgres_database.h"

namespace cl::store {
namespace {

std::string RandomHex(size_t bytes) {
  SystemRandom rnd;
  std::vector<uint8_t> b(bytes);
  rnd.Fill(b.data(), b.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t x : b) {
    out.push_back(kHex[x >> 4]);
    out.push_back(kHex[x & 15]);
  }
  return out;
}

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

class SqliteBackend {
 public:
  static std::string Name() { return "Sqlite"; }
  // Returns the URL of a fresh database; sets *skip to skip the test instead.
  std::string Create(std::string* skip) {
    dir_ = std::filesystem::temp_directory_path() / ("cl-store-test-" + RandomHex(8));
    return "sqlite:" + (dir_ / "sub" / "cl.db").string();
  }
  void Destroy() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

 private:
  std::filesystem::path dir_;
};

class PostgresBackend {
 public:
  static std::string Name() { return "Postgres"; }
  std::string Create(std::string* skip) {
    const char* server = std::getenv("CL_TEST_POSTGRES_URL");
    if (server == nullptr || *server == '\0') {
      *skip = "CL_TEST_POSTGRES_URL not set";
      return "";
    }
    server_ = server;
    name_ = "t_" + RandomHex(8);
    if (!Admin("CREATE DATABASE " + name_)) {
      *skip = "";
      name_.clear();
      return "";
    }
    // Swap the database name in the URL's path.
    const size_t scheme_end = server_.find("://") + 3;
    const size_t path = server_.find('/', scheme_end);
    const size_t query = server_.find('?', scheme_end);
    const std::string base = server_.substr(0, std::min(path, query));
    const std::string rest = query == std::string::npos ? "" : server_.substr(query);
    return base + "/" + name_ + rest;
  }
  void Destroy() {
    if (!name_.empty()) Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }

 private:
  bool Admin(const std::string& sql) {
    PGconn* c = PQconnectdb(server_.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok) ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
      PQclear(r);
    } else {
      ADD_FAILURE() << "cannot connect to CL_TEST_POSTGRES_URL: " << PQerrorMessage(c);
    }
    PQfinish(c);
    return ok;
  }

  std::string server_;
  std::string name_;
};

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

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::Name();
  }
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

// PostgreSQL only: a connection killed by the server is repaired on its next use.
class PostgresOnlyTest : public StoreTest<PostgresBackend> {};

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
