// StoreTest (SQLite and PostgreSQL): CheckSchemaCompatibility, what a build reads from
// schema_migrations to decide whether it may run on a schema that a later build moved ahead
// (rolling upgrades), including databases from before the breaks_readers_below column.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/migrations.h"
#include "store/sql_database.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

std::vector<int> KnownVersionsAbove(const std::string& dialect, int version) {
  std::vector<int> out;
  for (const Migration& m : Migrations(dialect)) {
    if (m.version > version) out.push_back(m.version);
  }
  return out;
}

template <typename Backend>
class SchemaCompatTest : public StoreTest<Backend> {
 protected:
  SqlDatabase& Sql() { return *dynamic_cast<SqlDatabase*>(this->db_.get()); }
  int Known() { return this->db_->LatestKnownSchemaVersion(); }
  // Plays a later build: applies the embedded migrations, then `later` (which this build
  // does not know) through the same code path, markers included.
  void MigrateLikeALaterBuild(const std::vector<Migration>& later) {
    auto st = this->db_->Migrate();
    ASSERT_TRUE(st) << st.error().ToString();
    auto more = Sql().MigrateWith(later);
    ASSERT_TRUE(more) << more.error().ToString();
    ASSERT_EQ(more->applied.size(), later.size());
  }
};
TYPED_TEST_SUITE(SchemaCompatTest, Backends, BackendNames);

TYPED_TEST(SchemaCompatTest, EmptyDatabaseHasEveryKnownMigrationPending) {
  auto c = this->db_->CheckSchemaCompatibility();
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database_version, 0);
  EXPECT_EQ(c->known_version, this->Known());
  EXPECT_EQ(c->pending, KnownVersionsAbove(this->db_->Dialect(), 0));
  EXPECT_FALSE(c->blocker);
}

TYPED_TEST(SchemaCompatTest, UpToDateDatabaseHasNothingPending) {
  this->Migrated();
  auto c = this->db_->CheckSchemaCompatibility();
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database_version, this->Known());
  EXPECT_TRUE(c->pending.empty());
  EXPECT_FALSE(c->blocker);
}

TYPED_TEST(SchemaCompatTest, AdditiveMigrationsAheadLeaveThisBuildCompatible) {
  const int later = this->Known() + 1;
  this->MigrateLikeALaterBuild(
      {{later, "later_additive.sql", "CREATE TABLE later_things (id TEXT PRIMARY KEY);", 0}});
  auto c = this->db_->CheckSchemaCompatibility();
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database_version, later);
  EXPECT_TRUE(c->pending.empty());
  EXPECT_FALSE(c->blocker);
}

TYPED_TEST(SchemaCompatTest, BreakingMigrationAheadBlocksBuildsThatKnowFewer) {
  const int known = this->Known();
  this->MigrateLikeALaterBuild({
      {known + 1, "later_additive.sql", "CREATE TABLE later_things (id TEXT PRIMARY KEY);", 0},
      // Breaks builds that know fewer than known + 2: this one.
      {known + 2, "later_breaking.sql", "DROP TABLE later_things;", known + 2},
      {known + 3, "later_additive_again.sql", "CREATE TABLE later_others (id TEXT);", 0},
  });
  auto c = this->db_->CheckSchemaCompatibility();
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database_version, known + 3);
  ASSERT_TRUE(c->blocker);
  EXPECT_EQ(c->blocker->version, known + 2);
  EXPECT_EQ(c->blocker->breaks_readers_below, known + 2);
}

TYPED_TEST(SchemaCompatTest, BreakingOnlyForOlderBuildsLeavesThisOneCompatible) {
  // Servers knowing fewer than `known` migrations cannot run; this one knows `known`.
  const int known = this->Known();
  this->MigrateLikeALaterBuild(
      {{known + 1, "later_breaking_older.sql", "CREATE TABLE later_things (id TEXT);", known}});
  auto c = this->db_->CheckSchemaCompatibility();
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database_version, known + 1);
  EXPECT_FALSE(c->blocker);
}

TYPED_TEST(SchemaCompatTest, SchemaFromBeforeTheMarkerColumnIsReadable) {
  // Version 7 predates the breaks_readers_below column; a later row without it must not make
  // the check fail, and cannot block (nothing recorded a marker).
  ASSERT_TRUE(this->Sql().MigrateTo(7));
  ASSERT_TRUE(ExecBehindTheStore(
      this->url_, "INSERT INTO schema_migrations (version, applied_at) VALUES (500, 0)"));
  auto c = this->db_->CheckSchemaCompatibility();
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database_version, 500);
  EXPECT_EQ(c->pending, KnownVersionsAbove(this->db_->Dialect(), 7));
  EXPECT_FALSE(c->blocker);
}

TYPED_TEST(SchemaCompatTest, AMarkedMigrationNeedsTheMarkerColumn) {
  ASSERT_TRUE(this->Sql().MigrateTo(7));
  auto r = this->Sql().MigrateWith({{8, "marked_too_early.sql", "CREATE TABLE t8 (id TEXT);", 8}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no column to record it"), std::string::npos);
  // Rolled back with its transaction: neither the table nor the row exists.
  EXPECT_EQ(*this->db_->SchemaVersion(), 7);
}

}  // namespace
}  // namespace cl::store::testing
