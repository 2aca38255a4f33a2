// Test-only: the fixture of the store's typed test suite (StoreTest, run on SQLite and
// PostgreSQL, see test_backends.h) and the builders the per-aggregate store_*_test.cc files share.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/random.h"
#include "store/store.h"
#include "store/test_backends.h"

namespace cl::store::testing {

inline std::string Id() {
  SystemRandom rnd;
  return NewUuid(rnd);
}

inline std::string Hash() { return RandomHex(32); }

inline Membership Member(const std::string& org_id, const std::string& user_id, OrgRole role,
                         UnixMillis at) {
  Membership m;
  m.org_id = org_id;
  m.user_id = user_id;
  m.role = role;
  m.created_at = at;
  return m;
}

inline Invitation Invite(const std::string& id, const std::string& org_id, const std::string& email,
                         OrgRole role, const std::string& inviter, InvitationStatus status,
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

// Runs `sql` on the test database behind the store's back (rows no build of the store writes).
inline ::testing::AssertionResult ExecBehindTheStore(const std::string& url,
                                                     const std::string& sql) {
  if (url.rfind("sqlite:", 0) == 0) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open(url.substr(7).c_str(), &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    if (rc != SQLITE_OK) return ::testing::AssertionFailure() << message;
    return ::testing::AssertionSuccess();
  }
  PGconn* conn = PQconnectdb(url.c_str());
  std::unique_ptr<PGconn, void (*)(PGconn*)> closer(conn, PQfinish);
  if (PQstatus(conn) != CONNECTION_OK) return ::testing::AssertionFailure() << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) return ::testing::AssertionFailure() << PQerrorMessage(conn);
  return ::testing::AssertionSuccess();
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
    m.role = OrgRole::kOwner;
    m.created_at = now_;
    auto st = db_->CreateOrganization(o, m, Event(o.id, "organization.created"));
    EXPECT_TRUE(st) << st.error().ToString();
    return o.id;
  }

  // An organization owned by `owner` and a project, as a server of an earlier schema wrote them
  // (tests that seed data, then migrate): inserted behind the store, because this build's
  // writes need the latest schema (its audit events name client_address, migration 10).
  std::string OldOrg(const std::string& name, const User& owner) {
    const std::string id = Id();
    const std::string at = std::to_string(now_);
    EXPECT_TRUE(ExecBehindTheStore(
        url_, "INSERT INTO organizations (id, name, created_at) VALUES ('" + id + "', '" + name +
                  "', " + at + "); INSERT INTO memberships (org_id, user_id, role, created_at) " +
                  "VALUES ('" + id + "', '" + owner.id + "', 'owner', " + at + ")"));
    return id;
  }
  std::string OldProject(const std::string& org_id, const std::string& name) {
    const std::string id = Id();
    EXPECT_TRUE(ExecBehindTheStore(url_,
                                   "INSERT INTO projects (id, org_id, name, created_at) "
                                   "VALUES ('" +
                                       id + "', '" + org_id + "', '" + name + "', " +
                                       std::to_string(now_) + ")"));
    return id;
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

// A project-less token of `org_id` named `name`, created at `at`.
inline ApiToken Token(const std::string& org_id, const std::string& name, UnixMillis at,
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

inline std::vector<std::string> Names(const std::vector<ApiToken>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) out.push_back(t.name);
  return out;
}

// The audit event the sweep's caller builds for each revoked token (the job does the same).
inline AuditEvent SweepEvent(const RevokedToken& t, UnixMillis now) {
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

inline std::vector<AuditEvent> SweepEvents(AuditStore& db, const std::string& org_id) {
  std::vector<AuditEvent> out;
  auto all = db.ListAuditEvents(org_id, 100000);
  EXPECT_TRUE(all) << all.error().ToString();
  if (!all) return out;
  for (const AuditEvent& e : *all) {
    if (e.actor_kind == "system") out.push_back(e);
  }
  return out;
}

inline TrustPolicyRecord Policy(const std::string& org_id, const std::string& name,
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

// A federated token of `org_id` issued under `policy_id`, valid 15 minutes from `at`.
inline FederatedToken FedToken(const std::string& org_id, const std::string& policy_id,
                               UnixMillis at) {
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

}  // namespace cl::store::testing
