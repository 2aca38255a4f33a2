// PostgreSQL only: the connection pool after the server ended its sessions. Backends are killed
// with pg_terminate_backend between operations, or from the pool's statement hook at a chosen
// statement; the store must then serve reads and writes, run a unit of work again only when it
// cannot have committed, and never twice.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/postgres/postgres_database.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

constexpr int kPoolSize = 4;

// A connection outside the pool under test, by default to the test server's maintenance
// database.
class Admin {
 public:
  // Without a URL (no test server: the tests skip) there is no connection.
  explicit Admin(const char* url = std::getenv("CL_TEST_POSTGRES_URL"))
      : conn_(url != nullptr ? PQconnectdb(url) : nullptr) {}
  ~Admin() { PQfinish(conn_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  bool ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

  // The single integer `sql` returns (-1 on error, reported as a test failure).
  int64_t Int(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    int64_t out = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      out = std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10);
    } else {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(conn_);
    }
    PQclear(r);
    return out;
  }

  // Terminates the backends `where` selects in pg_stat_activity and waits until they are gone,
  // so their goodbye has reached the pool's sockets. Returns how many there were.
  int64_t Terminate(const std::string& where) {
    const int64_t n = Int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE " +
                          where + " AND pid <> pg_backend_pid()");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (Int("SELECT count(*) FROM pg_stat_activity WHERE " + where) != 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "backends still alive: " << where;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return n;
  }

 private:
  PGconn* conn_;
};

class PostgresPoolTest : public StoreTest<PostgresBackend> {
 protected:
  void SetUp() override {
    StoreTest<PostgresBackend>::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(admin_.ok());
    dbname_ = url_.substr(url_.rfind('/') + 1);
    db_.reset();
    PostgresPoolHooks hooks;
    hooks.before_statement = [this](std::string_view sql, int pid) { OnStatement(sql, pid); };
    auto db = OpenPostgresDatabase(url_ + "?pool_size=" + std::to_string(kPoolSize), hooks);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    Migrated();
    owner_ = NewUser("owner@example.com");
    org_ = NewOrg("acme", owner_);
  }

  // Kills the backend about to receive the first statement starting with `prefix` (every such
  // statement when `every`), before it is sent.
  void KillBefore(std::string prefix, bool every = false) {
    kill_prefix_ = std::move(prefix);
    kill_every_ = every;
    kills_ = 0;
    seen_.clear();
  }

  // Statements the pool sent since the last KillBefore that start with `prefix`.
  int Seen(std::string_view prefix) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const std::string& s : seen_) n += s.starts_with(prefix) ? 1 : 0;
    return n;
  }

  // Runs `op` on kPoolSize threads at once, each holding its own pooled connection until all
  // have one (the hook waits for the others before the first statement is sent).
  void OnEveryConnection(const std::function<void(int)>& op) {
    {
      std::lock_guard lock(mu_);
      barrier_ = kPoolSize;
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < kPoolSize; ++i) threads.emplace_back([&op, i] { op(i); });
    for (auto& t : threads) t.join();
    std::lock_guard lock(mu_);
    barrier_ = 0;
  }

  int64_t PoolBackends() {
    return admin_.Int("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + dbname_ + "'");
  }
  int64_t KillPool() { return admin_.Terminate("datname = '" + dbname_ + "'"); }
  // Rows of the test database matching `where`, counted behind the store's back.
  int64_t Rows(const std::string& table, const std::string& where) {
    Admin in_db(url_.c_str());
    return in_db.Int("SELECT count(*) FROM " + table + " WHERE " + where);
  }

  Session NewSession() {
    Session s;
    s.id = Id();
    s.user_id = owner_.id;
    s.token_hash = Hash();
    s.created_at = now_;
    s.expires_at = now_ + kMillisPerDay;
    return s;
  }

  Admin admin_;
  std::string dbname_;
  User owner_;
  std::string org_;

 private:
  void OnStatement(std::string_view sql, int pid) {
    std::unique_lock lock(mu_);
    seen_.emplace_back(sql);
    if (barrier_ > 0) {
      if (--barrier_ == 0) cv_.notify_all();
      EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20), [&] { return barrier_ == 0; }))
          << "not every pooled connection was in use at once";
      return;
    }
    if (kill_prefix_.empty() || !sql.starts_with(kill_prefix_)) return;
    if (kills_ > 0 && !kill_every_) return;
    ++kills_;
    lock.unlock();
    EXPECT_EQ(admin_.Terminate("pid = " + std::to_string(pid)), 1);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int barrier_ = 0;                // GUARDED_BY(mu_): threads still to arrive at the barrier
  std::vector<std::string> seen_;  // GUARDED_BY(mu_)
  std::string kill_prefix_;
  bool kill_every_ = false;
  int kills_ = 0;
};

// Every pooled backend killed between operations: the next read and writes succeed, each
// written once, and none of them had to be run again (no dead connection was handed out).
TEST_F(PostgresPoolTest, ServesReadsAndWritesAfterEveryPooledBackendWasKilled) {
  OnEveryConnection([&](int) { EXPECT_TRUE(db_->GetOrganizationByName("acme")); });
  ASSERT_EQ(PoolBackends(), kPoolSize);
  ASSERT_EQ(KillPool(), kPoolSize);
  KillBefore("");

  auto org = db_->GetOrganizationByName("acme");
  ASSERT_TRUE(org) << org.error().ToString();
  EXPECT_EQ(org->id, org_);
  const ApiToken t = Token(org_, "after-kill", now_);
  auto created = db_->CreateApiToken(t, Event(org_, "api_token.created"));
  ASSERT_TRUE(created) << created.error().ToString();
  const std::string beta = NewOrg("beta", owner_);
  const Session s = NewSession();
  auto session = db_->CreateSession(s);
  ASSERT_TRUE(session) << session.error().ToString();

  EXPECT_EQ(Seen("SELECT id, name"), 1);
  EXPECT_EQ(Seen("BEGIN"), 2);
  EXPECT_EQ(Seen("INSERT INTO sessions"), 1);
  EXPECT_EQ(Rows("api_tokens", "id = '" + t.id + "'"), 1);
  EXPECT_EQ(Rows("audit_events", "target_id = '" + org_ + "' AND action = 'api_token.created'"), 1);
  EXPECT_EQ(Rows("organizations", "name = 'beta'"), 1);
  EXPECT_EQ(Rows("memberships", "org_id = '" + beta + "'"), 1);
  EXPECT_EQ(Rows("sessions", "id = '" + s.id + "'"), 1);
}

// Ping after every pooled backend was killed says ready at once, and then every pooled
// connection serves: auto-commit writes are never run again, so each of these kPoolSize writes,
// made on kPoolSize connections at once, went to a live one.
TEST_F(PostgresPoolTest, PingAfterEveryPooledBackendWasKilledLeavesAPoolThatServes) {
  OnEveryConnection([&](int) { EXPECT_TRUE(db_->GetOrganizationByName("acme")); });
  ASSERT_EQ(PoolBackends(), kPoolSize);
  ASSERT_EQ(KillPool(), kPoolSize);

  auto ping = db_->Ping();
  ASSERT_TRUE(ping) << ping.error().ToString();

  KillBefore("");
  std::vector<Session> sessions;
  for (int i = 0; i < kPoolSize; ++i) sessions.push_back(NewSession());
  OnEveryConnection([&](int i) {
    auto st = db_->CreateSession(sessions[i]);
    EXPECT_TRUE(st) << st.error().ToString();
  });
  EXPECT_EQ(Seen("INSERT INTO sessions"), kPoolSize);
  EXPECT_EQ(Rows("sessions", "user_id = '" + owner_.id + "'"), kPoolSize);
}

// A transaction whose session is lost before COMMIT was sent (on BEGIN or inside it) is run
// again from scratch, once, and its rows are written once.
TEST_F(PostgresPoolTest, TransactionLosingItsSessionBeforeCommitIsRunAgainOnce) {
  int n = 0;
  for (const char* statement : {"BEGIN", "INSERT INTO organizations", "INSERT INTO memberships",
                                "INSERT INTO audit_events"}) {
    SCOPED_TRACE(statement);
    KillBefore(statement);
    const Organization o{Id(), "org-" + std::to_string(++n), now_, std::nullopt};
    auto st = db_->CreateOrganization(o, Member(o.id, owner_.id, OrgRole::kOwner, now_),
                                      Event(o.id, "organization.created"));
    ASSERT_TRUE(st) << st.error().ToString();
    EXPECT_EQ(Seen("BEGIN"), 2);
    EXPECT_EQ(Seen("COMMIT"), 1);
    EXPECT_EQ(Rows("organizations", "id = '" + o.id + "'"), 1);
    EXPECT_EQ(Rows("memberships", "org_id = '" + o.id + "'"), 1);
    EXPECT_EQ(Rows("audit_events", "org_id = '" + o.id + "'"), 1);
  }

  KillBefore("INSERT INTO api_tokens");
  const ApiToken t = Token(org_, "retried", now_);
  auto created = db_->CreateApiToken(t, Event(org_, "api_token.created"));
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(Seen("INSERT INTO api_tokens"), 2);
  ApiTokenFilter filter;
  filter.org_id = org_;
  auto listed = db_->ListApiTokens(filter);
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(Names(*listed), std::vector<std::string>{"retried"});
}

// A session lost on COMMIT leaves the outcome unknown: Unavailable, never run again. (Here the
// backend is gone before COMMIT reaches it, so nothing was written.)
TEST_F(PostgresPoolTest, SessionLostOnCommitIsUnavailableAndNotRunAgain) {
  KillBefore("COMMIT");
  const ApiToken t = Token(org_, "on-commit", now_);
  auto st = db_->CreateApiToken(t, Event(org_, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsUnavailable()) << st.error().ToString();
  EXPECT_EQ(Seen("BEGIN"), 1);
  EXPECT_EQ(Seen("COMMIT"), 1);
  EXPECT_EQ(Rows("api_tokens", "id = '" + t.id + "'"), 0);

  KillBefore("");
  auto again = db_->CreateApiToken(t, Event(org_, "api_token.created"));
  EXPECT_TRUE(again) << again.error().ToString();
}

// An auto-commit read whose session is lost is run again once; so is Ping's.
TEST_F(PostgresPoolTest, AutoCommitReadLosingItsSessionIsRunAgainOnce) {
  KillBefore("SELECT id, name");
  auto org = db_->GetOrganizationByName("acme");
  ASSERT_TRUE(org) << org.error().ToString();
  EXPECT_EQ(org->id, org_);
  EXPECT_EQ(Seen("SELECT id, name"), 2);

  KillBefore("SELECT 1");
  auto ping = db_->Ping();
  EXPECT_TRUE(ping) << ping.error().ToString();
  EXPECT_EQ(Seen("SELECT 1"), 2);
}

// An auto-commit write whose session is lost may have committed: Unavailable, not run again.
TEST_F(PostgresPoolTest, AutoCommitWriteLosingItsSessionIsUnavailableAndNotRunAgain) {
  KillBefore("INSERT INTO sessions");
  const Session s = NewSession();
  auto st = db_->CreateSession(s);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsUnavailable()) << st.error().ToString();
  EXPECT_EQ(Seen("INSERT INTO sessions"), 1);
  EXPECT_EQ(Rows("sessions", "id = '" + s.id + "'"), 0);
}

// A unit of work whose second session is lost too is not run a third time.
TEST_F(PostgresPoolTest, UnitOfWorkIsRunAgainAtMostOnce) {
  KillBefore("BEGIN", /*every=*/true);
  const ApiToken t = Token(org_, "twice", now_);
  auto st = db_->CreateApiToken(t, Event(org_, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsUnavailable()) << st.error().ToString();
  EXPECT_EQ(Seen("BEGIN"), 2);
  EXPECT_EQ(Rows("api_tokens", "id = '" + t.id + "'"), 0);

  KillBefore("SELECT id, name", /*every=*/true);
  auto org = db_->GetOrganizationByName("acme");
  ASSERT_FALSE(org);
  EXPECT_TRUE(org.error().IsUnavailable()) << org.error().ToString();
  EXPECT_EQ(Seen("SELECT id, name"), 2);
}

// Database::Stats: the pool's size and occupancy, and each failed attempt of a unit of work
// counted as a database error of its operation.
TEST_F(PostgresPoolTest, StatsReportThePoolAndFailedUnits) {
  constexpr size_t kTx = static_cast<size_t>(DbUnit::kTransaction);
  const DatabaseStats before = db_->Stats();
  EXPECT_EQ(before.pool_size, kPoolSize);
  EXPECT_GE(before.pool_open, 1);
  EXPECT_EQ(before.pool_in_use, 0);
  EXPECT_EQ(before.pool_waiting, 0);
  uint64_t transactions = 0;
  for (uint64_t n : before.units[kTx].counts) transactions += n;
  EXPECT_GT(transactions, 0u);  // NewOrg's
  KillBefore("BEGIN", /*every=*/true);
  EXPECT_FALSE(db_->CreateApiToken(Token(org_, "lost", now_), Event(org_, "api_token.created")));
  const DatabaseStats after = db_->Stats();
  EXPECT_EQ(after.units[kTx].errors, before.units[kTx].errors + 2);  // the unit and its re-run
  EXPECT_EQ(after.pool_in_use, 0);
}

}  // namespace
}  // namespace cl::store::testing
