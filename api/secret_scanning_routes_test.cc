// Handler tests of the secret scanning routes (api/secret_scanning_routes.cc): registered only
// when configured, with the 1 MiB body limit; a signed generic report revokes a live API token
// and answers GitHub's feedback array; an unsigned one is 401 bad_signature and revokes nothing.
#include <memory>

#include "api/api_testing.h"
#include "crypto/hash.h"
#include "domain/secret_scanning.h"

namespace cl::api {
namespace {

using testing::Answer;
using testing::Headers;

constexpr char kSecret[] = "api-test-secret-scanning-secret-0123456789";

class SecretScanningRoutesTest : public testing::AcmeApiTest {
 protected:
  void Configure(ApiDeps& deps) override {
    domain::SecretScanningConfig config;
    config.hmac_secret = kSecret;
    scanning_ = std::make_unique<domain::SecretScanningService>(
        domain::SecretScanningService::Stores{
            .tokens = *db_, .sessions = *db_, .federation = *db_, .orgs = *db_, .audit = *db_},
        hasher_, clock_, random_, config, nullptr, authn_.get());
    deps.secret_scanning = scanning_.get();
  }
  void TearDown() override {
    AcmeApiTest::TearDown();
    scanning_.reset();
  }

  Headers Signed(const std::string& body, const std::string& secret = kSecret) {
    const std::string ts = std::to_string(clock_.Now() / kMillisPerSecond);
    return {{"x-chainloop-timestamp", ts},
            {"x-chainloop-signature-256", domain::GenericReportSignature(secret, ts, body)}};
  }

  std::unique_ptr<domain::SecretScanningService> scanning_;
};

TEST_F(SecretScanningRoutesTest, OnlyTheConfiguredVariantIsServedWithTheReportBodyLimit) {
  auto generic = router_.Match("POST", "/v1/secret-scanning/generic");
  ASSERT_NE(generic.route, nullptr);
  EXPECT_EQ(generic.route->max_body_bytes, domain::kMaxReportBytes);
  // The other variant is routed (a wrong method gets 405) but refuses with 404.
  EXPECT_EQ(Call("POST", "/v1/secret-scanning/github", "", "[]").status, 404);
}

TEST_F(SecretScanningRoutesTest, ASignedReportRevokesALiveTokenAndAnswersFeedback) {
  Answer created = Call("POST", "/v1/organizations/acme/api-tokens", owner_, R"({"name":"ci"})");
  ASSERT_EQ(created.status, 201) << created.response.body;
  const std::string token(created.body.at("token").as_string());
  const std::string body =
      R"([{"token":")" + token + R"(","type":"chainloop_api_token","url":"https://x/y"}])";

  Answer unsigned_report =
      Call("POST", "/v1/secret-scanning/generic", "", body, Signed(body, "wrong-secret"));
  EXPECT_EQ(unsigned_report.status, 401);
  EXPECT_EQ(unsigned_report.code, "bad_signature");
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", token).status, 200);

  Answer a = Call("POST", "/v1/secret-scanning/generic", "", body, Signed(body));
  ASSERT_EQ(a.status, 200) << a.response.body;
  EXPECT_EQ(a.Header("Cache-Control"), "no-store");
  boost::json::array want{{{"token_hash", crypto::HexEncode(crypto::Sha256(token))},
                           {"token_type", "chainloop_api_token"},
                           {"label", "true_positive"}}};
  EXPECT_EQ(a.body, boost::json::value(want));
  Answer who = Call("GET", "/v1/auth/whoami", token);
  EXPECT_EQ(who.status, 401);
  EXPECT_EQ(who.code, "token_revoked");

  Answer not_a_report = Call("POST", "/v1/secret-scanning/generic", "", "{}", Signed("{}"));
  EXPECT_EQ(not_a_report.status, 400);
}

class UnconfiguredSecretScanningTest : public testing::ApiTest {};

TEST_F(UnconfiguredSecretScanningTest, BothVariantsAnswer404AndOtherMethods405) {
  for (const char* path : {"/v1/secret-scanning/github", "/v1/secret-scanning/generic"}) {
    auto a = Call("POST", path, "", "[]");
    EXPECT_EQ(a.status, 404) << path;
    EXPECT_EQ(a.code, "not_found") << path;
    EXPECT_TRUE(router_.Match("PATCH", path).method_not_allowed) << path;
  }
}

}  // namespace
}  // namespace cl::api
