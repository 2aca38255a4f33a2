// BackupDatabase: a copy that opens with the rows of the source, mode 0600, never over an
// existing file, nothing left behind on failure, PostgreSQL refused with the pg_dump pointer.
#include "server/backup.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace cl::server {
namespace {

std::filesystem::path TempDir() {
  char tmpl[] = "/tmp/cl-backup-test-XXXXXX";
  return mkdtemp(tmpl);
}

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

int64_t Count(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST(Backup, CopiesAWalDatabaseToANewPrivateFile) {
  auto dir = TempDir();
  const std::string db = (dir / "controlplane.db").string();
  Exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);");
  const std::string to = (dir / "backup.db").string();
  auto report = BackupDatabase("sqlite:" + db, to);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_GT(report->pages, 0);
  EXPECT_GT(report->bytes, 0);
  struct stat st {};
  ASSERT_EQ(stat(to.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(Count(to), 3);
  EXPECT_FALSE(std::filesystem::exists(to + "-wal"));

  // Never over an existing file, which is left as it is.
  Exec(db, "INSERT INTO t VALUES (4)");
  auto again = BackupDatabase("sqlite:" + db, to);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Error::Code::kAlreadyExists);
  EXPECT_EQ(Count(to), 3);
  std::filesystem::remove_all(dir);
}

TEST(Backup, RefusalsLeaveNothingBehind) {
  auto dir = TempDir();
  const std::string to = (dir / "backup.db").string();
  auto missing = BackupDatabase("sqlite:" + (dir / "absent.db").string(), to);
  ASSERT_FALSE(missing);
  EXPECT_FALSE(std::filesystem::exists(to));
  EXPECT_FALSE(std::filesystem::exists(dir / "absent.db"));

  const std::string garbage = (dir / "garbage.db").string();
  std::ofstream(garbage) << std::string(8192, 'x');
  EXPECT_FALSE(BackupDatabase("sqlite:" + garbage, to));
  EXPECT_FALSE(std::filesystem::exists(to));

  auto pg = BackupDatabase("postgres://cl:hunter2@127.0.0.1:5432/cl", to);
  ASSERT_FALSE(pg);
  EXPECT_NE(pg.error().message().find("pg_dump"), std::string::npos);
  EXPECT_EQ(pg.error().message().find("hunter2"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(to));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cl::server
