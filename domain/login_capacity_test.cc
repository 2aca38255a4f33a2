// LoginService's cap on pending logins (LoginConfig::max_pending_logins), on SQLite and on
// PostgreSQL (CL_TEST_POSTGRES_URL; skipped without it), with a fake clock: a start beyond the
// cap is refused with 503 login_capacity_exhausted before the IdP is asked anything, whatever
// the kind of start; in-flight logins are never evicted; expired ones make room; a start that
// finds the cap filled meanwhile takes its row back.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "crypto/hash.h"
#include "domain/authenticator.h"
#include "domain/idp_testing.h"
#include "domain/login.h"
#include "store/test_backends.h"

namespace cl::domain {
namespace {

using store::testing::BackendNames;
using store::testing::PostgresBackend;
using store::testing::SqliteBackend;
using testing::FakeIdp;

constexpr const char* kCliRedirect = "http://127.0.0.1:5555/callback";

template <typename Backend>
class LoginCapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = backend_.Create(&skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    ASSERT_FALSE(url_.empty());
    auto db = store::OpenDatabase(url_);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    authn_ = std::make_unique<Authenticator>(
        Authenticator::Stores{
            .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
        hasher_, clock_);
  }
  void TearDown() override {
    login_.reset();
    authn_.reset();
    db_.reset();
    backend_.Destroy();
  }

  void Start(LoginConfig config) {
    login_ = std::make_unique<LoginService>(
        LoginService::Stores{
            .users = *db_, .invitations = *db_, .sessions = *db_, .login_state = *db_},
        idp_, hasher_, *authn_, clock_, random_, std::move(config));
  }
  LoginConfig WithCap(int64_t cap) {
    LoginConfig c;
    c.max_pending_logins = cap;
    return c;
  }

  Result<std::string> BrowserStart() {
    return login_->StartBrowserLogin(kCliRedirect, "cli-state",
                                     crypto::PkceS256Challenge(std::string(43, 'v')), "S256");
  }
  void StartBrowser() {
    auto url = BrowserStart();
    ASSERT_TRUE(url) << url.error().ToString();
  }
  int64_t Pending() {
    auto n = db_->CountPendingLogins();
    EXPECT_TRUE(n) << n.error().ToString();
    return n ? *n : -1;
  }
  static void ExpectFull(const Error& e) {
    EXPECT_TRUE(e.IsUnavailable()) << e.ToString();
    EXPECT_EQ(e.reason(), "login_capacity_exhausted");
  }

  Backend backend_;
  std::string url_;
  FakeClock clock_;
  SystemRandom random_;
  crypto::CredentialHasher hasher_{"test-pepper-test-pepper-test-pepper"};
  FakeIdp idp_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<LoginService> login_;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(LoginCapacityTest, Backends, BackendNames);

TYPED_TEST(LoginCapacityTest, StartsBeyondTheCapAreRefusedWithoutCallingTheIdp) {
  constexpr int64_t kCap = 6;
  this->Start(this->WithCap(kCap));
  // Fill the cap with both kinds: browser logins and device logins count alike.
  for (int i = 0; i < kCap / 2; ++i) {
    this->StartBrowser();
    ASSERT_TRUE(this->login_->StartDevice());
  }
  ASSERT_EQ(this->Pending(), kCap);

  const int device_calls = this->idp_.device_starts;
  const std::string last_state = this->idp_.last_state;
  struct Case {
    const char* name;
    std::function<Error()> start;
  };
  const Case cases[] = {
      {"browser", [&] { return this->BrowserStart().error(); }},
      {"device", [&] { return this->login_->StartDevice().error(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (int i = 0; i < 3; ++i) this->ExpectFull(c.start());
  }
  EXPECT_EQ(this->idp_.device_starts, device_calls);  // refused before the IdP
  EXPECT_EQ(this->idp_.last_state, last_state);       // no authorization URL either
  EXPECT_EQ(this->Pending(), kCap);

  // The logins in flight were not evicted: they still complete, and each completion makes room
  // for one new start.
  ASSERT_TRUE(this->login_->CompleteCallback("idp-code", this->idp_.last_state));
  EXPECT_EQ(this->Pending(), kCap - 1);
  this->StartBrowser();
  this->ExpectFull(this->login_->StartDevice().error());
}

TYPED_TEST(LoginCapacityTest, AStartThatFindsTheCapFilledMeanwhileTakesItsRowBack) {
  this->Start(this->WithCap(3));
  this->StartBrowser();
  this->StartBrowser();
  // While this device start waits for the IdP, another start (here or on another instance)
  // takes the last free place.
  this->idp_.during_device_start = [&] {
    store::LoginRequest other;
    other.state_hash = this->hasher_.Hash("concurrent-start");
    other.expires_at = this->clock_.Now() + kMillisPerMinute;
    ASSERT_TRUE(this->db_->PutLoginRequest(other));
  };
  auto r = this->login_->StartDevice();
  ASSERT_FALSE(r);
  this->ExpectFull(r.error());
  EXPECT_EQ(this->Pending(), 3);  // its own device request is gone again
  this->idp_.during_device_start = nullptr;
  this->ExpectFull(this->login_->StartDevice().error());
}

TYPED_TEST(LoginCapacityTest, ExpiredLoginsArePurgedToMakeRoomAtTheCap) {
  LoginConfig config = this->WithCap(4);
  config.login_request_ttl = 10 * kMillisPerSecond;
  this->Start(config);
  for (int i = 0; i < 4; ++i) this->StartBrowser();  // the first start also purged (nothing)
  this->ExpectFull(this->BrowserStart().error());

  // All four expired. The regular purge interval (1 min) has not passed, but at the cap expired
  // rows are purged at once rather than refusing anyone.
  this->clock_.Advance(11 * kMillisPerSecond);
  this->StartBrowser();
  EXPECT_EQ(this->Pending(), 1);
}

TYPED_TEST(LoginCapacityTest, RefusedStartsPurgeAtMostOncePerSecond) {
  static_assert(kLoginStateFullPurgeInterval == kMillisPerSecond);
  LoginConfig config = this->WithCap(2);
  config.login_request_ttl = 10 * kMillisPerSecond;
  this->Start(config);
  this->StartBrowser();  // A, expires at t0 + 10 s; the regular purge runs at t0
  this->clock_.Advance(9'500);
  this->StartBrowser();  // B; no regular purge (interval 1 min)
  // At the cap: the refused start purges (at t0 + 9.5 s; nothing expired yet).
  this->ExpectFull(this->BrowserStart().error());
  // A expired at t0 + 10 s, but the last purge was 0.7 s ago: refused, nothing purged.
  this->clock_.Advance(700);
  this->ExpectFull(this->BrowserStart().error());
  EXPECT_EQ(this->Pending(), 2);
  // 1.1 s after the last purge: the start purges A and fits.
  this->clock_.Advance(400);
  this->StartBrowser();
  EXPECT_EQ(this->Pending(), 2);
}

TYPED_TEST(LoginCapacityTest, CapZeroMeansNoCap) {
  this->Start(this->WithCap(0));
  for (int i = 0; i < 30; ++i) this->StartBrowser();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(this->login_->StartDevice());
  EXPECT_EQ(this->Pending(), 35);
}

}  // namespace
}  // namespace cl::domain
