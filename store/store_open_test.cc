// OpenDatabase and the implementations' own checks: URL schemes, file permissions, pool size.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/postgres/postgres_database.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

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
}  // namespace cl::store::testing
