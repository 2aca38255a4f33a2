#include "server/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace cl::server {
namespace {

const char* NoEnv(const char*) { return nullptr; }

std::filesystem::path TempDir() {
  char tmpl[] = "/tmp/cl-config-test-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(ServerConfig, DefaultsDeriveFromDataDir) {
  auto c = LoadServerConfig(std::nullopt, {{"data_dir", "/tmp/x"}}, NoEnv);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->database, "sqlite:/tmp/x/controlplane.db");
  EXPECT_EQ(c->pepper_file, "/tmp/x/pepper");
  EXPECT_EQ(c->external_url, "http://127.0.0.1:8000");
  EXPECT_EQ(c->session_lifetime, 24 * kMillisPerHour);
}

TEST(ServerConfig, FederationIssuers) {
  auto dflt = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(dflt) << dflt.error().ToString();
  EXPECT_EQ(dflt->federation_issuers,
            (std::vector<std::string>{"https://gitlab.com",
                                      "https://token.actions.githubusercontent.com"}));
  auto listed = LoadServerConfig(
      std::nullopt,
      {{"federation_issuers", "https://gitlab.example.org, http://127.0.0.1:9999 ,"}}, NoEnv);
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->federation_issuers,
            (std::vector<std::string>{"https://gitlab.example.org", "http://127.0.0.1:9999"}));
  // Plain http only for loopback issuers.
  auto plain = LoadServerConfig(std::nullopt, {{"federation_issuers", "http://gitlab.example.org"}},
                                NoEnv);
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message().find("federation_issuers"), std::string::npos);
  auto off = LoadServerConfig(std::nullopt, {{"federation_issuers", ""}}, NoEnv);
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->federation_issuers.empty());
}

TEST(ServerConfig, FlagsBeatEnvBeatToml) {
  auto dir = TempDir();
  auto file = dir / "c.toml";
  std::ofstream(file) << "listen = \"127.0.0.1:1\"\nsession_lifetime = \"2h\"\nlog_level = \"warn\"\n";
  auto env = [](const char* n) -> const char* {
    if (std::string(n) == "CHAINLOOP_LISTEN") return "127.0.0.1:2";
    if (std::string(n) == "CHAINLOOP_SESSION_LIFETIME") return "3h";
    return nullptr;
  };
  auto c = LoadServerConfig(file.string(), {{"session_lifetime", "5s"}}, env);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:2");
  EXPECT_EQ(c->session_lifetime, 5 * kMillisPerSecond);
  EXPECT_EQ(c->log_level, "warn");
  std::filesystem::remove_all(dir);
}

TEST(ServerConfig, RejectsUnknownKeysAndBadValues) {
  auto dir = TempDir();
  auto file = dir / "c.toml";
  std::ofstream(file) << "lisen = \"x\"\n";
  auto c = LoadServerConfig(file.string(), {}, NoEnv);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("lisen"), std::string::npos);
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"session_lifetime", "forever"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"listen", "nohostport"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"worker_threads", "0"}}, NoEnv));
  std::filesystem::remove_all(dir);
}

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("24h"), 24 * kMillisPerHour);
  EXPECT_EQ(*ParseDuration("90d"), 90 * kMillisPerDay);
  EXPECT_EQ(*ParseDuration("1500ms"), 1500);
  EXPECT_FALSE(ParseDuration("0s"));
  EXPECT_FALSE(ParseDuration("-1h"));
  EXPECT_FALSE(ParseDuration("h"));
  EXPECT_FALSE(ParseDuration("10y"));
}

TEST(Pepper, CreatedOnceWithMode0600AndLoosePermissionsRefused) {
  auto dir = TempDir();
  auto path = (dir / "sub" / "pepper").string();
  auto first = LoadOrCreatePepper(path);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->size(), 64u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = LoadOrCreatePepper(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  chmod(path.c_str(), 0644);
  auto loose = LoadOrCreatePepper(path);
  ASSERT_FALSE(loose);
  EXPECT_EQ(loose.error().message().find(*first), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cl::server
