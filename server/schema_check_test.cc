// PrepareSchema (server/schema_check.h) on SQLite and PostgreSQL: which instance logs a
// migration, and whether a server starts on a schema that a later build moved ahead.
#include "server/schema_check.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/log.h"
#include "store/store_test_fixture.h"

namespace cl::server {
namespace {

using store::testing::BackendNames;
using store::testing::ExecBehindTheStore;

// Another instance's Migrate() runs between this instance's check and its own Migrate().
class OtherInstanceMigratesFirst : public store::SchemaStore {
 public:
  OtherInstanceMigratesFirst(store::Database& self, store::Database& other)
      : self_(self), other_(other) {}
  Result<int> SchemaVersion() override { return self_.SchemaVersion(); }
  Result<store::MigrationReport> Migrate() override {
    auto theirs = other_.Migrate();
    if (!theirs) return theirs;
    return self_.Migrate();
  }
  int LatestKnownSchemaVersion() const override { return self_.LatestKnownSchemaVersion(); }
  Result<store::SchemaCompatibility> CheckSchemaCompatibility() override {
    return self_.CheckSchemaCompatibility();
  }

 private:
  store::Database& self_;
  store::Database& other_;
};

template <typename Backend>
class SchemaCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = backend_.Create(&skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    ASSERT_FALSE(url_.empty());
    db_ = Open();
    SetMinLogLevel(LogLevel::kDebug);
    SetLogSinkForTest(&log_);
  }
  void TearDown() override {
    SetLogSinkForTest(nullptr);
    SetMinLogLevel(LogLevel::kInfo);
    db_.reset();
    backend_.Destroy();
  }
  std::unique_ptr<store::Database> Open() {
    auto db = store::OpenDatabase(url_);
    EXPECT_TRUE(db) << db.error().ToString();
    return db ? std::move(*db) : nullptr;
  }
  // The log lines written so far; clears the sink.
  std::string TakeLog() {
    FlushLog();
    std::string out;
    out.swap(log_);
    return out;
  }
  static bool Has(const std::string& log, const std::string& text) {
    return log.find(text) != std::string::npos;
  }
  // A row as a later build would have recorded it.
  void RecordLaterMigration(int version, const std::string& breaks_readers_below) {
    ASSERT_TRUE(ExecBehindTheStore(
        url_, "INSERT INTO schema_migrations (version, applied_at, breaks_readers_below) VALUES (" +
                  std::to_string(version) + ", 0, " + breaks_readers_below + ")"));
  }
  void MigratedNow() {
    ASSERT_TRUE(PrepareSchema(*db_, /*migrate=*/true));
    TakeLog();
  }

  Backend backend_;
  std::string url_;
  std::unique_ptr<store::Database> db_;
  std::string log_;
};
using Backends = ::testing::Types<store::testing::SqliteBackend, store::testing::PostgresBackend>;
TYPED_TEST_SUITE(SchemaCheckTest, Backends, BackendNames);

TYPED_TEST(SchemaCheckTest, WithoutMigrateAnOutOfDateSchemaIsRefused) {
  auto r = PrepareSchema(*this->db_, /*migrate=*/false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_TRUE(this->Has(r.error().message(), "run `chainloop-controlplane migrate`"))
      << r.error().message();
  EXPECT_EQ(*this->db_->SchemaVersion(), 0);
}

TYPED_TEST(SchemaCheckTest, OnlyTheInstanceThatMigratesLogsIt) {
  auto first = PrepareSchema(*this->db_, /*migrate=*/true);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(first->migrated.applied.empty());
  const std::string first_log = this->TakeLog();
  EXPECT_TRUE(this->Has(first_log, "\"msg\":\"database migrated\"")) << first_log;
  EXPECT_TRUE(this->Has(first_log, "\"from\":0")) << first_log;
  EXPECT_TRUE(
      this->Has(first_log, "\"to\":" + std::to_string(this->db_->LatestKnownSchemaVersion())))
      << first_log;

  // A second instance, started after the first: nothing to do, said at debug level only.
  auto other = this->Open();
  auto second = PrepareSchema(*other, /*migrate=*/true);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_TRUE(second->migrated.applied.empty());
  const std::string second_log = this->TakeLog();
  EXPECT_FALSE(this->Has(second_log, "database migrated")) << second_log;
  EXPECT_TRUE(this->Has(second_log, "\"level\":\"debug\",\"msg\":\"schema up to date\""))
      << second_log;
}

TYPED_TEST(SchemaCheckTest, BehindAtStartButMigratedByAnotherInstance) {
  auto other = this->Open();
  OtherInstanceMigratesFirst racing(*this->db_, *other);
  auto r = PrepareSchema(racing, /*migrate=*/true);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->at_start.pending.empty());
  EXPECT_TRUE(r->migrated.applied.empty());
  const std::string log = this->TakeLog();
  EXPECT_FALSE(this->Has(log, "database migrated")) << log;
  EXPECT_TRUE(this->Has(log, "\"msg\":\"schema already at " +
                                 std::to_string(this->db_->LatestKnownSchemaVersion()) +
                                 " (migrated by another instance)\""))
      << log;
}

TYPED_TEST(SchemaCheckTest, StartsOnASchemaOneAdditiveMigrationAhead) {
  this->MigratedNow();
  const int known = this->db_->LatestKnownSchemaVersion();
  this->RecordLaterMigration(known + 1, "NULL");
  for (bool migrate : {false, true}) {
    auto r = PrepareSchema(*this->db_, migrate);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_TRUE(r->migrated.applied.empty());
    const std::string log = this->TakeLog();
    EXPECT_TRUE(this->Has(log, "\"level\":\"warn\"")) << log;
    EXPECT_TRUE(this->Has(log, "\"database_version\":" + std::to_string(known + 1))) << log;
    EXPECT_TRUE(this->Has(log, "\"server_version\":" + std::to_string(known))) << log;
  }
}

TYPED_TEST(SchemaCheckTest, StartsWhenTheMarkerOnlyExcludesOlderServers) {
  this->MigratedNow();
  const int known = this->db_->LatestKnownSchemaVersion();
  this->RecordLaterMigration(known + 1, std::to_string(known));
  EXPECT_TRUE(PrepareSchema(*this->db_, /*migrate=*/false));
}

TYPED_TEST(SchemaCheckTest, RefusesASchemaWithABreakingMigrationAhead) {
  this->MigratedNow();
  const int known = this->db_->LatestKnownSchemaVersion();
  this->RecordLaterMigration(known + 1, "NULL");
  this->RecordLaterMigration(known + 2, std::to_string(known + 1));
  for (bool migrate : {false, true}) {
    auto r = PrepareSchema(*this->db_, migrate);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Error::Code::kFailedPrecondition);
    const std::string expected = "the database schema (version " + std::to_string(known + 2) +
                                 ") includes migration " + std::to_string(known + 2) +
                                 ", which servers knowing fewer than " + std::to_string(known + 1) +
                                 " migrations cannot run on; this server knows " +
                                 std::to_string(known) + ": upgrade the server";
    EXPECT_EQ(r.error().message(), expected);
  }
}

}  // namespace
}  // namespace cl::server
