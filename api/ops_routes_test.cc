// Handler tests of the operations routes (api/ops_routes.cc): liveness, readiness and metrics
// answer without credentials, with the security headers every API response carries.
#include <memory>

#include "api/api_testing.h"
#include "common/version.h"
#include "http/metrics.h"
#include "store/notifications.h"

namespace cl::api {
namespace {

using testing::Answer;

class OpsRoutesTest : public testing::ApiTest {
 protected:
  void Configure(ApiDeps& deps) override { deps.metrics = &metrics_; }
  http::Metrics metrics_;
};

TEST_F(OpsRoutesTest, HealthzAnswersOkWithoutCredentials) {
  Answer a = Call("GET", "/healthz", "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(SerializeJson(a.body), R"({"status":"ok"})");
  EXPECT_EQ(a.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(a.Header("X-Frame-Options"), "DENY");
}

TEST_F(OpsRoutesTest, ReadyzPingsTheDatabase) {
  Answer a = Call("GET", "/readyz", "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(SerializeJson(a.body), R"({"status":"ready","checks":{"database":"ok"}})");
}

TEST_F(OpsRoutesTest, MetricsRenderPrometheusTextWithTheAuthCacheGauge) {
  // A refused credential is counted by reason.
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", "not-a-token").status, 401);
  Answer a = Call("GET", "/metrics", "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.Header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(a.response.body.find("chainloop_auth_cache_entries"), std::string::npos)
      << a.response.body;
}

// A listener whose health the test sets.
class FakeNotifier final : public store::RevocationNotifier {
 public:
  Status PublishRevocation(const std::string&) override { return Ok(); }
  void Subscribe(RevocationCallback) override {}
  void SubscribeGaps(GapCallback) override {}
  bool Hearing() const override { return health.hearing; }
  void PublishBan(const std::string&) override {}
  void SubscribeBans(BanCallback) override {}
  store::ListenerHealth Health() const override { return health; }
  void Stop() override {}
  store::ListenerHealth health;
};

class OpsRoutesWithListenerTest : public OpsRoutesTest {
 protected:
  void Configure(ApiDeps& deps) override {
    OpsRoutesTest::Configure(deps);
    deps.notifier = &notifier_;
  }
  FakeNotifier notifier_;
};

TEST_F(OpsRoutesWithListenerTest, ReadyzNamesADeafListenerWithoutFailing) {
  notifier_.health = {.connected = true, .hearing = true, .heartbeat_lag_ms = 3};
  Answer a = Call("GET", "/readyz", "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(SerializeJson(a.body),
            R"({"status":"ready","checks":{"database":"ok","revocation_listener":"hearing"}})");
  notifier_.health = {.connected = true,
                      .hearing = false,
                      .through_pooler = true,
                      .problem = "goes through a transaction pooler"};
  a = Call("GET", "/readyz", "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(SerializeJson(a.body),
            R"({"status":"ready","checks":{"database":"ok","revocation_listener":"deaf",)"
            R"("revocation_listener_problem":"goes through a transaction pooler"}})");
  Answer m = Call("GET", "/metrics", "");
  EXPECT_NE(m.response.body.find("chainloop_revocation_listener_hearing 0"), std::string::npos)
      << m.response.body;
  EXPECT_NE(m.response.body.find("chainloop_revocation_listener_through_pooler 1"),
            std::string::npos);
  EXPECT_NE(m.response.body.find("chainloop_revocation_heartbeat_lag_seconds -1"),
            std::string::npos);
}

TEST_F(OpsRoutesTest, VersionAndBuildInfoNameTheSameBuild) {
  Answer v = Call("GET", "/v1/version", "");
  EXPECT_EQ(v.status, 200);
  const std::string version(v.body.at("version").as_string());
  const std::string commit(v.body.at("commit").as_string());
  EXPECT_EQ(version, Version());
  EXPECT_EQ(commit, Commit());
  EXPECT_FALSE(version.empty());
  EXPECT_FALSE(commit.empty());
  Answer m = Call("GET", "/metrics", "");
  const std::string line =
      "chainloop_build_info{version=\"" + version + "\",commit=\"" + commit + "\"} 1";
  EXPECT_NE(m.response.body.find(line), std::string::npos) << m.response.body;
}

TEST(OpsRoutesWithoutMetrics, MetricsAnswerEmpty) {
  http::Router router;
  ApiDeps deps;
  auto routes = RegisterRoutes(router, deps);
  auto match = router.Match("GET", "/metrics");
  ASSERT_NE(match.route, nullptr);
  EXPECT_FALSE(match.route->blocking);
  http::Request req;
  http::Response r = match.route->handler(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

}  // namespace
}  // namespace cl::api
