#include "server/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

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
      std::nullopt, {{"federation_issuers", "https://gitlab.example.org, http://127.0.0.1:9999 ,"}},
      NoEnv);
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->federation_issuers,
            (std::vector<std::string>{"https://gitlab.example.org", "http://127.0.0.1:9999"}));
  // Plain http only for loopback issuers.
  auto plain =
      LoadServerConfig(std::nullopt, {{"federation_issuers", "http://gitlab.example.org"}}, NoEnv);
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message().find("federation_issuers"), std::string::npos);
  auto off = LoadServerConfig(std::nullopt, {{"federation_issuers", ""}}, NoEnv);
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->federation_issuers.empty());
}

TEST(ServerConfig, FlagsBeatEnvBeatToml) {
  auto dir = TempDir();
  auto file = dir / "c.toml";
  std::ofstream(file)
      << "listen = \"127.0.0.1:1\"\nsession_lifetime = \"2h\"\nlog_level = \"warn\"\n";
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
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"admin_listen", "9090"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"admin_listen", ":9090"}}, NoEnv));
  EXPECT_EQ(LoadServerConfig(std::nullopt, {}, NoEnv)->admin_listen, "");
  auto admin = LoadServerConfig(std::nullopt, {{"admin_listen", "[::1]:9090"}}, NoEnv);
  ASSERT_TRUE(admin) << admin.error().ToString();
  EXPECT_EQ(admin->AdminListenHost(), "::1");
  EXPECT_EQ(admin->AdminListenPort(), 9090);
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"worker_threads", "0"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"log_format", "xml"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"log_format", "TEXT"}}, NoEnv));
  EXPECT_EQ(LoadServerConfig(std::nullopt, {{"log_format", "text"}}, NoEnv)->log_format, "text");
  EXPECT_EQ(LoadServerConfig(std::nullopt, {}, NoEnv)->log_format, "json");
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"sqlite_cache_mib", "0"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"sqlite_cache_mib", "4097"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"sqlite_cache_mib", "lots"}}, NoEnv));
  auto small = LoadServerConfig(std::nullopt, {{"sqlite_cache_mib", "4"}}, NoEnv);
  ASSERT_TRUE(small) << small.error().ToString();
  EXPECT_EQ(small->sqlite_cache_mib, 4);
  EXPECT_EQ(LoadServerConfig(std::nullopt, {}, NoEnv)->sqlite_cache_mib, 64);
  // Both at most an hour (what keeps an inactivity sweep from missing a use).
  for (const char* key : {"auth_cache_revalidate", "usage_flush_interval"}) {
    auto over = LoadServerConfig(std::nullopt, {{key, "61m"}}, NoEnv);
    ASSERT_FALSE(over) << key;
    EXPECT_NE(over.error().message().find("at most 1h"), std::string::npos) << key;
    auto hour = LoadServerConfig(std::nullopt, {{key, "1h"}}, NoEnv);
    ASSERT_TRUE(hour) << key << ": " << hour.error().ToString();
  }
  EXPECT_EQ(
      LoadServerConfig(std::nullopt, {{"usage_flush_interval", "1h"}}, NoEnv)->usage_flush_interval,
      kMillisPerHour);
  EXPECT_EQ(LoadServerConfig(std::nullopt, {{"auth_cache_revalidate", "2s"}}, NoEnv)
                ->auth_cache_revalidate,
            2 * kMillisPerSecond);
  std::filesystem::remove_all(dir);
}

TEST(ServerConfig, OidcIdTokenMaxAge) {
  auto dflt = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(dflt) << dflt.error().ToString();
  EXPECT_EQ(dflt->oidc_id_token_max_age, 10 * kMillisPerMinute);
  const std::pair<const char*, UnixMillis> ok[] = {
      {"1m", kMillisPerMinute}, {"5m", 5 * kMillisPerMinute}, {"1h", kMillisPerHour}};
  for (const auto& [text, want] : ok) {
    auto c = LoadServerConfig(std::nullopt, {{"oidc_id_token_max_age", text}}, NoEnv);
    ASSERT_TRUE(c) << text << ": " << c.error().ToString();
    EXPECT_EQ(c->oidc_id_token_max_age, want) << text;
  }
  for (const char* bad : {"59s", "61m", "2h", "30d", "forever", "0", ""}) {
    auto c = LoadServerConfig(std::nullopt, {{"oidc_id_token_max_age", bad}}, NoEnv);
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message().find("oidc_id_token_max_age"), std::string::npos) << bad;
  }
  auto env = [](const char* n) -> const char* {
    return std::string(n) == "CHAINLOOP_OIDC_ID_TOKEN_MAX_AGE" ? "3m" : nullptr;
  };
  auto from_env = LoadServerConfig(std::nullopt, {}, env);
  ASSERT_TRUE(from_env) << from_env.error().ToString();
  EXPECT_EQ(from_env->oidc_id_token_max_age, 3 * kMillisPerMinute);
}

TEST(ServerConfig, BodyLimitsAndBudget) {
  auto defaults = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->max_body_bytes, 1 << 20);
  EXPECT_EQ(defaults->default_max_body_bytes, 64 * 1024);
  EXPECT_EQ(defaults->body_budget_bytes, 64 << 20);
  auto set = LoadServerConfig(std::nullopt,
                              {{"default_max_body_bytes", "4096"},
                               {"max_body_bytes", "2097152"},
                               {"body_budget_bytes", "8388608"}},
                              NoEnv);
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_EQ(set->default_max_body_bytes, 4096);
  EXPECT_EQ(set->body_budget_bytes, 8 << 20);
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"default_max_body_bytes", "1023"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"body_budget_bytes", "lots"}}, NoEnv));
  // Pairs that cannot work together are refused, whichever source set them.
  auto above = LoadServerConfig(std::nullopt, {{"default_max_body_bytes", "2097152"}}, NoEnv);
  ASSERT_FALSE(above);
  EXPECT_NE(above.error().message().find("must not exceed max_body_bytes"), std::string::npos);
  auto tight = LoadServerConfig(std::nullopt, {{"body_budget_bytes", "65536"}}, NoEnv);
  ASSERT_FALSE(tight);
  EXPECT_NE(tight.error().message().find("at least max_body_bytes"), std::string::npos);
}

TEST(ServerConfig, TrustedProxiesFromFlagsEnvAndToml) {
  auto dflt = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(dflt);
  EXPECT_TRUE(dflt->trusted_proxies.empty());
  EXPECT_EQ(dflt->trusted_proxy_header, "x-forwarded-for");

  auto c = LoadServerConfig(std::nullopt,
                            {{"trusted_proxies", " 10.0.0.0/8 , fd00::/8,127.0.0.1 "}}, NoEnv);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "127.0.0.1"}));

  auto env = [](const char* name) -> const char* {
    std::string n(name);
    if (n == "CHAINLOOP_TRUSTED_PROXIES") return "192.168.0.0/16";
    if (n == "CHAINLOOP_TRUSTED_PROXY_HEADER") return "forwarded";
    return nullptr;
  };
  c = LoadServerConfig(std::nullopt, {}, env);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"192.168.0.0/16"}));
  EXPECT_EQ(c->trusted_proxy_header, "forwarded");

  auto dir = TempDir();
  auto toml = (dir / "server.toml").string();
  std::ofstream(toml) << "trusted_proxies = [\"10.1.0.0/16\", \"10.2.0.0/16\"]\n";
  c = LoadServerConfig(toml, {}, NoEnv);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.1.0.0/16", "10.2.0.0/16"}));
  std::ofstream(toml) << "trusted_proxies = \"10.3.0.0/16\"\n";
  c = LoadServerConfig(toml, {}, NoEnv);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.3.0.0/16"}));
  std::filesystem::remove_all(dir);

  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"trusted_proxies", "10.0.0.0/33"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"trusted_proxies", "proxy.internal"}}, NoEnv));
  EXPECT_FALSE(LoadServerConfig(std::nullopt, {{"trusted_proxy_header", "x-real-ip"}}, NoEnv));
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

// Writes `content` to dir/name with `mode`; returns the path.
std::string WritePepper(const std::filesystem::path& dir, const std::string& name,
                        const std::string& content, mode_t mode = 0600) {
  auto path = (dir / name).string();
  std::ofstream(path) << content;
  chmod(path.c_str(), mode);
  return path;
}

TEST(Pepper, FilesListNewestFirstFromFlagsEnvAndToml) {
  auto dir = TempDir();
  auto c = LoadServerConfig(std::nullopt, {{"pepper_files", " /p/new , /p/old "}}, NoEnv);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->pepper_files, (std::vector<std::string>{"/p/new", "/p/old"}));
  EXPECT_EQ(c->pepper_file, "");  // no default pepper file when the list is set

  auto env = [](const char* name) -> const char* {
    return std::string(name) == "CHAINLOOP_PEPPER_FILES" ? "/e/new,/e/old" : nullptr;
  };
  c = LoadServerConfig(std::nullopt, {}, env);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->pepper_files, (std::vector<std::string>{"/e/new", "/e/old"}));

  auto toml = (dir / "server.toml").string();
  std::ofstream(toml) << "pepper_files = [\"/t/new\", \"/t/old\"]\n";
  c = LoadServerConfig(toml, {}, NoEnv);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->pepper_files, (std::vector<std::string>{"/t/new", "/t/old"}));
  std::ofstream(toml) << "pepper_files = [\"/t/a,b\"]\n";
  EXPECT_FALSE(LoadServerConfig(toml, {}, NoEnv));
  std::ofstream(toml) << "pepper_files = [1]\n";
  EXPECT_FALSE(LoadServerConfig(toml, {}, NoEnv));
  std::filesystem::remove_all(dir);
}

TEST(Pepper, LoadPeppersKeepsOrderAndRefusesLooseMissingAndDuplicateFiles) {
  auto dir = TempDir();
  const std::string a(40, 'a');
  const std::string b(40, 'b');
  ServerConfig c;
  c.pepper_files = {WritePepper(dir, "new", b + "\n"), WritePepper(dir, "old", a)};
  auto loaded = LoadPeppers(c, /*create=*/true);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].pepper, b);  // trailing newline dropped
  EXPECT_EQ((*loaded)[0].path, c.pepper_files[0]);
  EXPECT_EQ((*loaded)[1].pepper, a);

  // Files of a list are never generated.
  ServerConfig missing;
  missing.pepper_files = {(dir / "absent").string()};
  auto r = LoadPeppers(missing, /*create=*/true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("absent"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "absent"));

  // Readable by the group (or others): refused, naming the file but never its contents.
  for (mode_t mode : {0640, 0604, 0620, 0644}) {
    ServerConfig loose;
    loose.pepper_files = {c.pepper_files[0], WritePepper(dir, "loose", a, mode)};
    r = LoadPeppers(loose, true);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_NE(r.error().message().find("loose"), std::string::npos);
    EXPECT_NE(r.error().message().find("chmod 600"), std::string::npos);
    EXPECT_EQ(r.error().message().find(a), std::string::npos);
  }
  // Stricter than 0600 is fine.
  ServerConfig strict;
  strict.pepper_files = {WritePepper(dir, "strict", a, 0400)};
  EXPECT_TRUE(LoadPeppers(strict, true));

  ServerConfig dup;
  dup.pepper_files = {c.pepper_files[1], WritePepper(dir, "copy", a)};
  r = LoadPeppers(dup, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("same pepper"), std::string::npos);
  EXPECT_EQ(r.error().message().find(a), std::string::npos);

  ServerConfig short_one;
  short_one.pepper_files = {WritePepper(dir, "short", "too-short")};
  EXPECT_FALSE(LoadPeppers(short_one, true));

  ServerConfig not_a_file;
  not_a_file.pepper_files = {dir.string()};
  r = LoadPeppers(not_a_file, true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("regular file"), std::string::npos);

  // Without a list: the single pepper_file, generated only when asked to.
  ServerConfig single;
  single.pepper_file = (dir / "generated").string();
  EXPECT_FALSE(LoadPeppers(single, /*create=*/false));
  EXPECT_FALSE(std::filesystem::exists(single.pepper_file));
  loaded = LoadPeppers(single, /*create=*/true);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].pepper.size(), 64u);
  std::filesystem::remove_all(dir);
}

// The OIDC client secret from a file (a systemd credential): read only by ResolveSecretFiles,
// held to the pepper file's rules, and never together with the inline setting.
TEST(SecretFiles, ClientSecretFileIsReadWithThePepperFilesRules) {
  auto dir = TempDir();
  const std::string secret = "s3cret-from-a-credential";
  auto path = WritePepper(dir, "oidc-client-secret", secret + "\n", 0400);
  auto env = [&path](const char* name) -> const char* {
    return std::string(name) == "CHAINLOOP_OIDC_CLIENT_SECRET_FILE" ? path.c_str() : nullptr;
  };
  auto c = LoadServerConfig(std::nullopt, {}, env);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->oidc_client_secret_file, path);
  EXPECT_EQ(c->oidc_client_secret, "");  // not read until a command needs it
  ASSERT_TRUE(ResolveSecretFiles(*c));
  EXPECT_EQ(c->oidc_client_secret, secret);

  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    chmod(path.c_str(), mode);
    auto loose = LoadServerConfig(std::nullopt, {{"oidc_client_secret_file", path}}, NoEnv);
    ASSERT_TRUE(loose);
    auto resolved = ResolveSecretFiles(*loose);
    ASSERT_FALSE(resolved) << std::oct << mode;
    EXPECT_NE(resolved.error().message().find("readable by group or others"), std::string::npos);
    EXPECT_NE(resolved.error().message().find(path), std::string::npos);
    EXPECT_EQ(resolved.error().message().find(secret), std::string::npos);
  }
  chmod(path.c_str(), 0600);

  auto empty = LoadServerConfig(
      std::nullopt, {{"oidc_client_secret_file", WritePepper(dir, "empty", "\n")}}, NoEnv);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(ResolveSecretFiles(*empty));
  auto missing = LoadServerConfig(std::nullopt,
                                  {{"oidc_client_secret_file", (dir / "absent").string()}}, NoEnv);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(ResolveSecretFiles(*missing));
  auto directory =
      LoadServerConfig(std::nullopt, {{"oidc_client_secret_file", dir.string()}}, NoEnv);
  ASSERT_TRUE(directory);
  EXPECT_FALSE(ResolveSecretFiles(*directory));

  auto both = LoadServerConfig(
      std::nullopt, {{"oidc_client_secret_file", path}, {"oidc_client_secret", "inline"}}, NoEnv);
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message().find("oidc_client_secret_file"), std::string::npos);
  EXPECT_EQ(both.error().message().find("inline"), std::string::npos);

  // Without the file setting the inline secret is left as it is.
  auto inline_only = LoadServerConfig(std::nullopt, {{"oidc_client_secret", "inline"}}, NoEnv);
  ASSERT_TRUE(inline_only);
  ASSERT_TRUE(ResolveSecretFiles(*inline_only));
  EXPECT_EQ(inline_only->oidc_client_secret, "inline");
  std::filesystem::remove_all(dir);
}

}  // namespace
TEST(ServerConfig, LoginLimits) {
  auto dflt = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(dflt) << dflt.error().ToString();
  EXPECT_EQ(dflt->IdpMaxConcurrentCalls(), 4);  // 16 workers / 4
  EXPECT_EQ(dflt->idp_timeout, 5 * kMillisPerSecond);
  EXPECT_EQ(dflt->login_start_per_minute, 20);
  EXPECT_EQ(dflt->login_start_burst, 10);
  EXPECT_EQ(dflt->max_pending_logins, 10'000);

  // The IdP cap is always strictly below the worker count, explicit or automatic.
  struct Case {
    const char* workers;
    const char* cap;  // nullptr: automatic
    int effective;    // -1: refused
  } cases[] = {
      {"16", nullptr, 4}, {"2", nullptr, -1}, {"3", nullptr, 1}, {"40", nullptr, 10},
      {"16", "13", 13},   {"16", "14", -1},   {"16", "16", -1},  {"16", "17", -1},
      {"8", "1", 1},      {"1", nullptr, -1}, {"2", "1", -1},    {"3", "2", -1},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> flags = {{"worker_threads", c.workers}};
    if (c.cap) flags["idp_max_concurrent_calls"] = c.cap;
    auto got = LoadServerConfig(std::nullopt, flags, NoEnv);
    SCOPED_TRACE(std::string(c.workers) + " workers, cap " + (c.cap ? c.cap : "auto"));
    if (c.effective < 0) {
      EXPECT_FALSE(got);
      continue;
    }
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(got->IdpMaxConcurrentCalls(), c.effective);
    EXPECT_LT(got->IdpMaxConcurrentCalls() + got->FederationMaxConcurrentFetches(),
              got->worker_threads);
  }
  // The CI issuer gate: a worker_threads/8 share by default, and with the IdP's always below
  // the worker count.
  struct FedCase {
    const char* workers;
    const char* idp;
    const char* fed;
    int effective;  // -1: refused
  } fed_cases[] = {
      {"16", nullptr, nullptr, 2}, {"3", nullptr, nullptr, 1}, {"64", nullptr, nullptr, 8},
      {"16", "4", "11", 11},       {"16", "4", "12", -1},      {"16", nullptr, "12", -1},
  };
  for (const FedCase& c : fed_cases) {
    std::map<std::string, std::string> flags = {{"worker_threads", c.workers}};
    if (c.idp) flags["idp_max_concurrent_calls"] = c.idp;
    if (c.fed) flags["federation_max_concurrent_fetches"] = c.fed;
    auto got = LoadServerConfig(std::nullopt, flags, NoEnv);
    SCOPED_TRACE(std::string(c.workers) + " workers, fed " + (c.fed ? c.fed : "auto"));
    if (c.effective < 0) {
      ASSERT_FALSE(got);
      EXPECT_NE(got.error().message().find("federation_max_concurrent_fetches"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(got->FederationMaxConcurrentFetches(), c.effective);
  }

  auto set = LoadServerConfig(std::nullopt,
                              {{"idp_timeout", "1500ms"},
                               {"login_start_per_minute", "0"},
                               {"login_start_burst", "3"},
                               {"max_pending_logins", "0"}},
                              NoEnv);
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_EQ(set->idp_timeout, 1500);
  EXPECT_EQ(set->login_start_per_minute, 0);
  EXPECT_EQ(set->login_start_burst, 3);
  EXPECT_EQ(set->max_pending_logins, 0);
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"idp_timeout", "50ms"},
           {"idp_timeout", "2m"},
           {"idp_max_concurrent_calls", "-1"},
           {"login_start_per_minute", "-1"},
           {"login_start_burst", "0"},
           {"max_pending_logins", "-5"},
           {"max_pending_logins", "many"},
       }) {
    EXPECT_FALSE(LoadServerConfig(std::nullopt, {{key, value}}, NoEnv)) << key << "=" << value;
  }
}

TEST(ServerConfig, EveryKeyHasAHelpPlaceholder) {
  // `--help` shows the placeholder instead of CLI11's generic TEXT.
  for (const auto& [key, help] : ConfigKeysWithHelp()) {
    EXPECT_FALSE(ConfigPlaceholder(key).empty()) << "no --help placeholder for " << key;
  }
  EXPECT_EQ(ConfigPlaceholder("session_lifetime"), "DURATION");
  EXPECT_EQ(ConfigPlaceholder("no_such_key"), "");
}

}  // namespace cl::server

namespace cl::server {
namespace {

TEST(SecretScanningConfig, OffByDefaultAndTheKeyListUrlIsAllowListedLikeIssuers) {
  auto dflt = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(dflt);
  EXPECT_EQ(dflt->secret_scanning_github_keys_url, "");
  EXPECT_EQ(dflt->secret_scanning_hmac_secret_file, "");
  for (const char* ok :
       {"https://api.github.com/meta/public_keys/secret_scanning", "http://127.0.0.1:9999/keys"}) {
    auto c = LoadServerConfig(std::nullopt, {{"secret_scanning_github_keys_url", ok}}, NoEnv);
    ASSERT_TRUE(c) << ok;
    EXPECT_EQ(c->secret_scanning_github_keys_url, ok);
  }
  for (const char* bad : {"http://api.github.com/keys", "ftp://x/keys", "https://u@x/keys"}) {
    auto c = LoadServerConfig(std::nullopt, {{"secret_scanning_github_keys_url", bad}}, NoEnv);
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message().find("secret_scanning_github_keys_url"), std::string::npos);
  }
}

TEST(SecretScanningConfig, TheHmacSecretFileFollowsThePepperFilesRules) {
  auto dir = TempDir();
  const std::string secret(40, 'k');
  auto path = WritePepper(dir, "scan-secret", secret + "\n", 0600);
  auto c = LoadServerConfig(std::nullopt, {{"secret_scanning_hmac_secret_file", path}}, NoEnv);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->secret_scanning_hmac_secret, "");  // not read until serving
  ASSERT_TRUE(ResolveSecretFiles(*c));
  EXPECT_EQ(c->secret_scanning_hmac_secret, secret);
  chmod(path.c_str(), 0644);
  auto loose = LoadServerConfig(std::nullopt, {{"secret_scanning_hmac_secret_file", path}}, NoEnv);
  ASSERT_TRUE(loose);
  auto refused = ResolveSecretFiles(*loose);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("readable by group or others"), std::string::npos);
  EXPECT_EQ(refused.error().message().find(secret), std::string::npos);
  auto short_path = WritePepper(dir, "short", "too-short", 0600);
  auto too_short =
      LoadServerConfig(std::nullopt, {{"secret_scanning_hmac_secret_file", short_path}}, NoEnv);
  ASSERT_TRUE(too_short);
  EXPECT_FALSE(ResolveSecretFiles(*too_short));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cl::server

namespace cl::server {
namespace {

TEST(WebhookConfig, DefaultsOfTheContract) {
  auto c = LoadServerConfig(std::nullopt, {}, NoEnv);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->webhook_allowed_networks.empty());
  EXPECT_EQ(c->webhook_timeout, 10 * kMillisPerSecond);
  EXPECT_EQ(c->webhook_retry_initial_delay, 30 * kMillisPerSecond);
  EXPECT_EQ(c->webhook_retry_window, kMillisPerDay);
  EXPECT_EQ(c->webhook_poll_interval, kMillisPerSecond);
}

TEST(WebhookConfig, AllowedNetworksFromFlagsEnvAndTomlLists) {
  auto flags = LoadServerConfig(
      std::nullopt, {{"webhook_allowed_networks", "127.0.0.1/32, 10.1.0.0/16,fd00::/8"}}, NoEnv);
  ASSERT_TRUE(flags) << flags.error().ToString();
  EXPECT_EQ(flags->webhook_allowed_networks,
            (std::vector<std::string>{"127.0.0.1/32", "10.1.0.0/16", "fd00::/8"}));
  auto env = LoadServerConfig(std::nullopt, {}, [](const char* n) -> const char* {
    return std::string(n) == "CHAINLOOP_WEBHOOK_ALLOWED_NETWORKS" ? "127.0.0.1/32" : nullptr;
  });
  ASSERT_TRUE(env);
  EXPECT_EQ(env->webhook_allowed_networks, std::vector<std::string>{"127.0.0.1/32"});
  auto dir = TempDir();
  std::ofstream(dir / "c.toml") << "webhook_allowed_networks = [\"127.0.0.1/32\", \"::1\"]\n";
  auto toml = LoadServerConfig((dir / "c.toml").string(), {}, NoEnv);
  ASSERT_TRUE(toml) << toml.error().ToString();
  EXPECT_EQ(toml->webhook_allowed_networks, (std::vector<std::string>{"127.0.0.1/32", "::1"}));
  std::filesystem::remove_all(dir);

  auto bad = LoadServerConfig(std::nullopt, {{"webhook_allowed_networks", "127.0.0.1/33"}}, NoEnv);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("webhook_allowed_networks"), std::string::npos);
}

TEST(WebhookConfig, DurationsArePositiveBoundedAndTheWindowHoldsARetry) {
  auto ok = LoadServerConfig(std::nullopt,
                             {{"webhook_timeout", "2s"},
                              {"webhook_retry_initial_delay", "1s"},
                              {"webhook_retry_window", "1m"},
                              {"webhook_poll_interval", "200ms"}},
                             NoEnv);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->webhook_timeout, 2000);
  EXPECT_EQ(ok->webhook_retry_initial_delay, 1000);
  EXPECT_EQ(ok->webhook_retry_window, 60'000);
  EXPECT_EQ(ok->webhook_poll_interval, 200);
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"webhook_timeout", "0s"},
           {"webhook_timeout", "50ms"},
           {"webhook_timeout", "31s"},
           {"webhook_retry_initial_delay", "0s"},
           {"webhook_retry_window", "-1h"},
           {"webhook_poll_interval", "0ms"},
           {"webhook_poll_interval", "soon"},
       }) {
    EXPECT_FALSE(LoadServerConfig(std::nullopt, {{key, value}}, NoEnv)) << key << "=" << value;
  }
  auto short_window = LoadServerConfig(
      std::nullopt, {{"webhook_retry_initial_delay", "2h"}, {"webhook_retry_window", "1h"}}, NoEnv);
  ASSERT_FALSE(short_window);
  EXPECT_NE(short_window.error().message().find("webhook_retry_window"), std::string::npos);
}

}  // namespace
}  // namespace cl::server
