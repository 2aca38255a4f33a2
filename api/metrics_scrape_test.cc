// Tests of what /metrics reports at scrape time (api/scrape_metrics.cc) and of the admin
// listener's routes: each counter moves when its event happens (a login, a device login, a
// failed authentication, a cache hit, a logout, database work), and with an admin listener the
// public router no longer serves /metrics.
#include <optional>
#include <string>

#include "api/api_testing.h"
#include "http/metrics.h"

namespace cl::api {
namespace {

using testing::Answer;

// The value of the series `series` (name and labels, as rendered) in a scrape; nullopt when the
// series is absent.
std::optional<double> Value(const std::string& scrape, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const size_t at = scrape.find(needle);
  if (at == std::string::npos) return std::nullopt;
  const size_t start = at + needle.size();
  return std::stod(scrape.substr(start, scrape.find('\n', start) - start));
}

class MetricsScrapeTest : public testing::ApiTest {
 protected:
  void Configure(ApiDeps& deps) override { deps.metrics = &metrics_; }
  std::string Scrape() {
    Answer a = Call("GET", "/metrics", "");
    EXPECT_EQ(a.status, 200);
    return a.response.body;
  }
  double Get(const std::string& series) {
    const std::string scrape = Scrape();
    auto v = Value(scrape, series);
    EXPECT_TRUE(v.has_value()) << series << " not in\n" << scrape;
    return v.value_or(-1);
  }
  http::Metrics metrics_;
};

TEST_F(MetricsScrapeTest, BrowserLoginSessionAndLogoutAreCounted) {
  const std::string started = R"(chainloop_login_flows_total{flow="browser",event="started"})";
  const std::string completed = R"(chainloop_login_flows_total{flow="browser",event="completed"})";
  const std::string failed = R"(chainloop_login_flows_total{flow="browser",event="failed"})";
  EXPECT_EQ(Get(started), 0);
  EXPECT_EQ(Get("chainloop_sessions_created_total"), 0);
  const std::string token = LoginAs("alice", "alice@example.com");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Get(started), 1);
  EXPECT_EQ(Get(completed), 1);
  EXPECT_EQ(Get(failed), 0);
  EXPECT_EQ(Get("chainloop_sessions_created_total"), 1);
  // A one-time code used twice: the second exchange fails the flow.
  EXPECT_FALSE(login_->ExchangeCode("clcode_unknown", std::string(43, 'v')));
  EXPECT_EQ(Get(failed), 1);
  EXPECT_EQ(Call("POST", "/v1/auth/logout", token).status, 204);
  EXPECT_EQ(Get("chainloop_sessions_revoked_total"), 1);
}

TEST_F(MetricsScrapeTest, DeviceLoginPendingIsNotAFailure) {
  const std::string base = R"(chainloop_login_flows_total{flow="device",event=")";
  auto start = login_->StartDevice();
  ASSERT_TRUE(start) << start.error().ToString();
  EXPECT_EQ(Get(base + "started\"}"), 1);
  auto pending = login_->PollDevice(start->device_handle);
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().reason(), "authorization_pending");
  EXPECT_EQ(Get(base + "failed\"}"), 0);
  clock_.Advance(60 * kMillisPerSecond);
  idp_.device_state = domain::DevicePollOutcome::State::kApproved;
  idp_.next = domain::VerifiedIdentity{"https://idp.test", "bob", "bob@example.com", true, "bob"};
  ASSERT_TRUE(login_->PollDevice(start->device_handle));
  EXPECT_EQ(Get(base + "completed\"}"), 1);
  EXPECT_EQ(Get(base + "failed\"}"), 0);
  // The handle is used up: polling it again fails.
  EXPECT_FALSE(login_->PollDevice(start->device_handle));
  EXPECT_EQ(Get(base + "failed\"}"), 1);
}

TEST_F(MetricsScrapeTest, AuthenticationsByKindAndCacheHitsAreCounted) {
  const std::string token = LoginAs("carol", "carol@example.com");
  ASSERT_FALSE(token.empty());
  const std::string user = R"(chainloop_auth_successes_total{kind="user"})";
  const std::string hit = R"(chainloop_auth_cache_requests_total{result="hit"})";
  const std::string miss = R"(chainloop_auth_cache_requests_total{result="miss"})";
  EXPECT_EQ(Get(user), 0);
  ASSERT_EQ(Call("GET", "/v1/auth/whoami", token).status, 200);
  EXPECT_EQ(Get(user), 1);
  EXPECT_EQ(Get(miss), 1);  // read from the database, then cached
  EXPECT_EQ(Get(hit), 0);
  ASSERT_EQ(Call("GET", "/v1/auth/whoami", token).status, 200);
  EXPECT_EQ(Get(user), 2);
  EXPECT_EQ(Get(hit), 1);
  EXPECT_EQ(Get(miss), 1);
  EXPECT_EQ(Get(R"(chainloop_auth_successes_total{kind="api_token"})"), 0);
}

TEST_F(MetricsScrapeTest, FailuresAreCountedByCredentialKindAndReason) {
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", "not-a-token").status, 401);
  EXPECT_EQ(Get(R"(chainloop_auth_failures_total{kind="malformed",reason="malformed_token"})"), 1);
  // Well-formed, unknown API token.
  const std::string unknown =
      crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random_);
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", unknown).status, 401);
  EXPECT_EQ(Get(R"(chainloop_auth_failures_total{kind="api_token",reason="invalid_token"})"), 1);
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", "").status, 401);
  EXPECT_EQ(Get(R"(chainloop_auth_failures_total{kind="none",reason="unauthenticated"})"), 1);
}

TEST_F(MetricsScrapeTest, DatabaseAndProcessFamiliesAreReported) {
  ASSERT_FALSE(LoginAs("dave", "dave@example.com").empty());  // statements and transactions
  const std::string scrape = Scrape();
  EXPECT_GT(Value(scrape, R"(chainloop_db_duration_seconds_count{operation="query"})").value_or(0),
            0)
      << scrape;
  EXPECT_GT(
      Value(scrape, R"(chainloop_db_duration_seconds_count{operation="transaction"})").value_or(0),
      0);
  EXPECT_EQ(Value(scrape, R"(chainloop_db_duration_seconds_bucket{operation="query",le="+Inf"})"),
            Value(scrape, R"(chainloop_db_duration_seconds_count{operation="query"})"));
  EXPECT_EQ(Value(scrape, R"(chainloop_db_errors_total{operation="query"})"), 0);
  EXPECT_EQ(Value(scrape, "chainloop_db_pool_size"), 1);  // SQLite: one connection
  EXPECT_EQ(Value(scrape, "chainloop_db_pool_in_use"), 0);
  EXPECT_EQ(Value(scrape, "chainloop_db_pool_waiting"), 0);
  EXPECT_GT(Value(scrape, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(Value(scrape, "process_open_fds").value_or(0), 0);
  EXPECT_GT(Value(scrape, "process_start_time_seconds").value_or(0), 0);
}

class AdminListenerRoutesTest : public MetricsScrapeTest {
 protected:
  void Configure(ApiDeps& deps) override {
    MetricsScrapeTest::Configure(deps);
    deps.metrics_on_admin_listener = true;
  }
};

TEST_F(AdminListenerRoutesTest, PublicRouterNoLongerServesMetrics) {
  Answer a = Call("GET", "/metrics", "");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.response.body.find("chainloop_"), std::string::npos);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
}

TEST_F(AdminListenerRoutesTest, AdminRouterServesOnlyProbesAndMetrics) {
  http::Router admin;
  auto holder = RegisterAdminRoutes(admin, deps_);
  for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
    auto m = admin.Match("GET", path);
    ASSERT_NE(m.route, nullptr) << path;
    http::Request req;
    req.method = "GET";
    req.path = path;
    EXPECT_EQ(m.route->handler(req).status, 200) << path;
  }
  auto m = admin.Match("GET", "/metrics");
  http::Request req;
  EXPECT_NE(m.route->handler(req).body.find("process_open_fds"), std::string::npos);
  for (const char* path : {"/v1/version", "/v1/auth/whoami", "/v1/organizations"}) {
    EXPECT_EQ(admin.Match("GET", path).route, nullptr) << path;
  }
}

}  // namespace
}  // namespace cl::api
