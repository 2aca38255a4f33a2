// Handler tests of the operations routes (api/ops_routes.cc): liveness, readiness and metrics
// answer without credentials, with the security headers every API response carries.
#include <memory>

#include "api/api_testing.h"
#include "http/metrics.h"

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
  EXPECT_EQ(SerializeJson(a.body), R"({"status":"ready"})");
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
