// LoginService keeps its short-lived state bounded: expired login requests, one-time codes and
// device requests are deleted by later logins, and the loopback redirect URI is tightly checked.
// Rows are counted straight in the SQLite file: a Take* refusing an expired row proves nothing
// about whether the row is still stored.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/log.h"
#include "crypto/hash.h"
#include "domain/authenticator.h"
#include "domain/idp_testing.h"
#include "domain/login.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

constexpr const char* kCliRedirect = "http://127.0.0.1:5555/callback";

class LoginPurgeTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(LoginConfig{}); }
  void TearDown() override {
    login_.reset();
    authn_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open(LoginConfig config) {
    char tmpl[] = "/tmp/cl-login-purge-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = store::OpenDatabase("sqlite:" + DbPath());
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    authn_ = std::make_unique<Authenticator>(
        Authenticator::Stores{
            .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
        hasher_, clock_);
    login_ = std::make_unique<LoginService>(
        LoginService::Stores{
            .users = *db_, .invitations = *db_, .sessions = *db_, .login_state = *db_},
        idp_, hasher_, *authn_, clock_, random_, std::move(config));
  }

  std::string DbPath() const { return (dir_ / "db.sqlite").string(); }

  // Runs `sql` on its own connection to the database file; returns the first column of the
  // first row (or -1 on error).
  int64_t Scalar(const std::string& sql) {
    sqlite3* conn = nullptr;
    int64_t out = -1;
    if (sqlite3_open_v2(DbPath().c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(conn, 5000);
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(conn, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) out = sqlite3_column_int64(stmt, 0);
        if (rc == SQLITE_DONE) out = 0;
      } else {
        ADD_FAILURE() << sqlite3_errmsg(conn);
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(conn);
    return out;
  }
  int64_t Count(const std::string& table) { return Scalar("SELECT COUNT(*) FROM " + table); }

  std::string Challenge() { return crypto::PkceS256Challenge(std::string(43, 'v')); }

  void StartBrowser() {
    auto url = login_->StartBrowserLogin(kCliRedirect, "cli-state", Challenge(), "S256");
    ASSERT_TRUE(url) << url.error().ToString();
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  crypto::CredentialHasher hasher_{"test-pepper-test-pepper-test-pepper"};
  FakeIdp idp_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<LoginService> login_;
};

TEST_F(LoginPurgeTest, ExpiredLoginRequestsAreDeletedByALaterLogin) {
  constexpr int kAbandoned = 200;  // e.g. unauthenticated GET /auth/login, never completed
  for (int i = 0; i < kAbandoned; ++i) StartBrowser();
  EXPECT_EQ(Count("login_requests"), kAbandoned);

  clock_.Advance(LoginConfig{}.login_request_ttl + kMillisPerSecond);
  StartBrowser();
  EXPECT_EQ(Count("login_requests"), 1);
}

TEST_F(LoginPurgeTest, ExpiredDeviceRequestsAndCodesAreDeletedByALaterLogin) {
  constexpr int kAbandoned = 50;
  for (int i = 0; i < kAbandoned; ++i) {
    ASSERT_TRUE(login_->StartDevice());
    StartBrowser();
    // The IdP came back, but the CLI never exchanged the one-time code.
    ASSERT_TRUE(login_->CompleteCallback("idp-code", idp_.last_state));
  }
  EXPECT_EQ(Count("device_requests"), kAbandoned);
  EXPECT_EQ(Count("auth_codes"), kAbandoned);
  EXPECT_EQ(Count("login_requests"), 0);  // taken by the callbacks

  clock_.Advance(600 * kMillisPerSecond + kMillisPerSecond);  // past the device lifetime
  ASSERT_TRUE(login_->StartDevice());
  EXPECT_EQ(Count("device_requests"), 1);
  EXPECT_EQ(Count("auth_codes"), 0);
  EXPECT_EQ(Count("login_requests"), 0);
}

TEST_F(LoginPurgeTest, CallbackWritingACodePurgesToo) {
  StartBrowser();
  ASSERT_TRUE(login_->CompleteCallback("idp-code", idp_.last_state));
  StartBrowser();
  std::string pending_state = idp_.last_state;
  EXPECT_EQ(Count("auth_codes"), 1);

  // The code (60 s) expired; the login request (10 min) still lives.
  clock_.Advance(kLoginStatePurgeInterval + kMillisPerSecond);
  ASSERT_TRUE(login_->CompleteCallback("idp-code", pending_state));
  EXPECT_EQ(Count("auth_codes"), 1);  // only the new one
}

TEST_F(LoginPurgeTest, PurgesAtMostOncePerInterval) {
  LoginConfig config;
  config.login_request_ttl = 10 * kMillisPerSecond;
  TearDown();
  Open(config);

  StartBrowser();  // purges (nothing to delete) and starts the interval
  clock_.Advance(20 * kMillisPerSecond);
  StartBrowser();  // the first request expired, but the last purge is too recent
  EXPECT_EQ(Count("login_requests"), 2);

  clock_.Advance(kLoginStatePurgeInterval);
  StartBrowser();  // both earlier requests expired and a purge is due
  EXPECT_EQ(Count("login_requests"), 1);
}

TEST_F(LoginPurgeTest, ClockGoingBackDoesNotSuspendPurging) {
  StartBrowser();  // A, expires at t0 + 10 min; purge at t0
  clock_.Advance(-kMillisPerHour);
  StartBrowser();  // B, expires at t0 - 50 min
  clock_.Advance(LoginConfig{}.login_request_ttl + kMillisPerSecond);
  StartBrowser();  // B expired; purging must not wait for the clock to pass t0 again
  EXPECT_EQ(Count("login_requests"), 2);
}

TEST_F(LoginPurgeTest, PurgeFailureDoesNotFailTheLogin) {
  // The purge's last statement fails, so its transaction rolls back; browser logins do not use
  // this table and must go on.
  ASSERT_EQ(Scalar("DROP TABLE device_requests"), 0);
  std::string logs;
  SetLogSinkForTest(&logs);
  auto url = login_->StartBrowserLogin(kCliRedirect, "cli-state", Challenge(), "S256");
  FlushLog();
  SetLogSinkForTest(nullptr);
  ASSERT_TRUE(url) << url.error().ToString();
  EXPECT_EQ(Count("login_requests"), 1);
  EXPECT_NE(logs.find("purging expired login state failed"), std::string::npos) << logs;
}

TEST_F(LoginPurgeTest, OverlongRedirectUriIsRefusedAndNotStored) {
  std::string uri = "http://127.0.0.1:5555/" + std::string(7000, 'a');
  auto r = login_->StartBrowserLogin(uri, "cli-state", Challenge(), "S256");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "invalid_redirect_uri");
  EXPECT_EQ(Count("login_requests"), 0);
}

TEST(LoopbackRedirectUri, AcceptsTheCliListener) {
  for (const char* uri : {"http://127.0.0.1:5555/callback", "http://127.0.0.1:1/callback",
                          "http://127.0.0.1:65535/callback", "http://[::1]:5555/callback",
                          "http://[::1]:65535/callback"}) {
    EXPECT_TRUE(IsLoopbackRedirectUri(uri)) << uri;
  }
}

TEST(LoopbackRedirectUri, RefusesOtherPathsHostsAndPorts) {
  for (const char* uri : {
           "http://127.0.0.1:5555/other",
           "http://127.0.0.1:5555/callback/../x",
           "http://127.0.0.1:5555/callback/",
           "http://127.0.0.1:5555/callbackx",
           "http://127.0.0.1:5555/cb",
           "http://127.0.0.1:5555/cb/",
           "http://127.0.0.1:5555//callback",
           "http://127.0.0.1:5555/",
           "http://127.0.0.1:5555",
           "http://127.0.0.1:5555/callback?x=1",
           "http://127.0.0.1:5555/callback#frag",
           "http://127.0.0.1:5555/%63allback",
           "http://[::1]:5555/other",
           "https://127.0.0.1:5555/callback",
           "http://localhost:5555/callback",
           "http://127.0.0.1.evil.test:5555/callback",
           "https://evil.test/callback",
           "http://127.0.0.1:0/callback",
           "http://127.0.0.1:65536/callback",
           "http://127.0.0.1:/callback",
           "http://127.0.0.1:+5/callback",
           "http://127.0.0.1:123456/callback",
           "",
       }) {
    EXPECT_FALSE(IsLoopbackRedirectUri(uri)) << uri;
  }
}

TEST(LoopbackRedirectUri, RefusesControlCharactersSpacesAndNonAscii) {
  const std::string base = "http://127.0.0.1:5555/callback";
  for (char c : {'\0', '\t', '\n', '\r', ' ', '\x1f', '\x7f', '\x80', '\xff'}) {
    for (size_t at : {base.size(), base.size() - 1, std::string("http://127.0.0.1:5555/").size()}) {
      std::string uri = base;
      uri.insert(at, 1, c);
      EXPECT_FALSE(IsLoopbackRedirectUri(uri))
          << "byte " << static_cast<int>(static_cast<unsigned char>(c)) << " at " << at;
    }
  }
  EXPECT_FALSE(IsLoopbackRedirectUri(std::string_view("http://127.0.0.1:5555/callback\0", 31)));
}

TEST(LoopbackRedirectUri, RefusesMoreThan64Characters) {
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:5555/" + std::string(7000, 'a')));
  EXPECT_FALSE(IsLoopbackRedirectUri("http://127.0.0.1:5555/callback" + std::string(64, 'a')));
  std::string padded_port = "http://127.0.0.1:" + std::string(40, '0') + "5555/callback";
  ASSERT_GT(padded_port.size(), kMaxLoopbackRedirectUriLength);
  EXPECT_FALSE(IsLoopbackRedirectUri(padded_port));
}

}  // namespace
}  // namespace cl::domain
