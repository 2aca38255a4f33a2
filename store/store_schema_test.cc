// StoreTest (SQLite and PostgreSQL): migrations, reopening, health check and concurrent use of
// one database by several threads and instances.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "store/migrations.h"
#include "store/sql_database.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

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

TYPED_TEST(StoreTest, InstancesMigratingTogetherEachReportOnlyWhatTheyApplied) {
  // Three handles on one fresh database (for SQLite: three connections to one file), started
  // together: each migration is applied, and reported, by exactly one of them.
  constexpr int kInstances = 3;
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kInstances; ++i) {
    auto db = OpenDatabase(this->url_);
    ASSERT_TRUE(db) << db.error().ToString();
    dbs.push_back(std::move(*db));
  }
  std::vector<Result<MigrationReport>> results(kInstances);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kInstances) std::this_thread::yield();
      results[i] = dbs[i]->Migrate();
    });
  }
  for (auto& th : threads) th.join();
  std::map<int, int> reported;  // version -> how many instances reported applying it
  for (int i = 0; i < kInstances; ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().ToString();
    EXPECT_TRUE(std::is_sorted(results[i]->applied.begin(), results[i]->applied.end()));
    for (int v : results[i]->applied) ++reported[v];
    EXPECT_EQ(*dbs[i]->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
  }
  std::map<int, int> expected;
  for (const Migration& m : Migrations(this->db_->Dialect())) expected[m.version] = 1;
  EXPECT_EQ(reported, expected);
}

TYPED_TEST(StoreTest, MigrateReportsWhatThisCallApplied) {
  auto* sql = dynamic_cast<SqlDatabase*>(this->db_.get());
  ASSERT_NE(sql, nullptr);
  auto first = sql->MigrateTo(3);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->applied, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(first->from_version, 0);

  auto rest = this->db_->Migrate();
  ASSERT_TRUE(rest) << rest.error().ToString();
  std::vector<int> later;
  for (const Migration& m : Migrations(this->db_->Dialect())) {
    if (m.version > 3) later.push_back(m.version);
  }
  EXPECT_EQ(rest->applied, later);
  EXPECT_EQ(rest->from_version, 3);

  auto again = this->db_->Migrate();
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->applied.empty());
}

TYPED_TEST(StoreTest, MigrationFromVersionOneKeepsDataAndAddsApiTokens) {
  auto* sql = dynamic_cast<SqlDatabase*>(this->db_.get());
  ASSERT_NE(sql, nullptr);
  ASSERT_TRUE(sql->MigrateTo(1));
  EXPECT_EQ(*this->db_->SchemaVersion(), 1);
  User u = this->NewUser("owner@example.com");
  const std::string org = this->OldOrg("acme", u);
  const std::string proj = this->OldProject(org, "web");
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

}  // namespace
}  // namespace cl::store::testing
