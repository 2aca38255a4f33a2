// PostgreSQL only: reconnection, the sweep lock, and the row locks that order concurrent
// transactions of several instances (another instance played by a raw libpq connection).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/postgres_database.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

class PostgresOnlyTest : public StoreTest<PostgresBackend> {};

// A connection killed by the server is replaced before its next use.
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

  // The pool replaces the dead connection (postgres_pool_test.cc has the details).
  auto first = this->db_->Ping();
  EXPECT_TRUE(first) << first.error().ToString();
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
  EXPECT_EQ(got->revocation_reason, RevocationReason::kInactive);
  EXPECT_EQ(got->last_used_at, std::nullopt);  // the overlapping use is not recorded
}

}  // namespace
}  // namespace cl::store::testing
