// Handler tests of the API token routes (api/api_token_routes.cc): create and rotate (secret
// answered once, no-store, rate-limited per organization), list and revoke, through the router.
#include <memory>
#include <string>

#include "api/api_testing.h"
#include "domain/throttle.h"

namespace cl::api {
namespace {

using testing::Answer;

constexpr char kTokens[] = "/v1/organizations/acme/api-tokens";

class ApiTokenRoutesTest : public testing::AcmeApiTest {
 protected:
  void Configure(ApiDeps& deps) override {
    create_limit_ = std::make_unique<domain::RateLimiter>(60, 3, clock_);
    deps.token_create_limit = create_limit_.get();
  }
  std::unique_ptr<domain::RateLimiter> create_limit_;
};

TEST_F(ApiTokenRoutesTest, CreateAnswersTheSecretOnceAndTheRecord) {
  Answer a = Call("POST", kTokens, owner_,
                  R"({"name":"ci","description":"builds","expires_in_seconds":3600,)"
                  R"("permissions":["workflow_run:create"]})");
  ASSERT_EQ(a.status, 201) << SerializeJson(a.body);
  EXPECT_EQ(a.Header("Cache-Control"), "no-store");
  EXPECT_TRUE(a.body.at("token").is_string());
  const auto& t = a.body.at("api_token").as_object();
  EXPECT_EQ(t.at("name").as_string(), "ci");
  EXPECT_EQ(t.at("description").as_string(), "builds");
  EXPECT_EQ(t.at("scope").as_string(), "global");
  EXPECT_TRUE(t.at("project").is_null());
  ASSERT_EQ(t.at("permissions").as_array().size(), 1u);
  EXPECT_EQ(t.at("permissions").as_array()[0].as_string(), "workflow_run:create");
  EXPECT_TRUE(t.at("created_at").is_string());
  EXPECT_TRUE(t.at("expires_at").is_string());
  EXPECT_TRUE(t.at("last_used_at").is_null());
  EXPECT_TRUE(t.at("revoked_at").is_null());
  EXPECT_TRUE(t.at("revocation_reason").is_null());
  EXPECT_TRUE(t.at("auto_revoke_at").is_null());
  EXPECT_EQ(t.at("created_by").at("kind").as_string(), "user");

  Answer list = Call("GET", kTokens, owner_);
  ASSERT_EQ(list.status, 200);
  const auto& tokens = list.body.at("api_tokens").as_array();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].at("id"), t.at("id"));
  EXPECT_FALSE(tokens[0].as_object().contains("token"));  // the secret is never listed
}

TEST_F(ApiTokenRoutesTest, CreateDecodesStrictly) {
  struct Case {
    const char* body;
    const char* code;
  } cases[] = {
      {R"({"name":1})", "invalid_field_type"},
      {R"({"name":"a","expires_in_seconds":"soon"})", "invalid_field_type"},
      {R"({"name":"a","permissions":"workflow_run:create"})", "invalid_field_type"},
      {R"({"name":"a","scope":"global"})", "unknown_field"},
      {R"({"description":"no name"})", "missing_field"},
  };
  for (const auto& c : cases) {
    Answer a = Call("POST", kTokens, owner_, c.body);
    EXPECT_EQ(a.status, 400) << c.body;
    EXPECT_EQ(a.code, c.code) << c.body;
  }
}

TEST_F(ApiTokenRoutesTest, RoutesNeedACredential) {
  EXPECT_EQ(Call("POST", kTokens, "", R"({"name":"a"})").status, 401);
  EXPECT_EQ(Call("GET", kTokens, "").status, 401);
  Answer a = Call("POST", std::string(kTokens) + "/x/revoke", "", "{}");
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.code, "unauthenticated");
}

TEST_F(ApiTokenRoutesTest, ErrorsMapTo403And404) {
  Answer unknown_org = Call("GET", "/v1/organizations/nope/api-tokens", owner_);
  EXPECT_EQ(unknown_org.status, 404);
  EXPECT_EQ(unknown_org.code, "not_found");
  Answer unknown_project = Call("POST", kTokens, owner_, R"({"name":"a","project":"nope"})");
  EXPECT_EQ(unknown_project.status, 404);
  Answer unknown_token = Call("POST", std::string(kTokens) + "/not-a-uuid/revoke", owner_, "{}");
  EXPECT_EQ(unknown_token.status, 404);
  EXPECT_EQ(unknown_token.code, "not_found");
  std::string viewer = JoinAs(owner_, "acme", "vera", "viewer");
  Answer refused = Call("POST", kTokens, viewer, R"({"name":"a"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.code, "permission_denied");
}

TEST_F(ApiTokenRoutesTest, RevokeAnswersTheRevokedToken) {
  Answer created = Call("POST", kTokens, owner_, R"({"name":"old"})");
  ASSERT_EQ(created.status, 201);
  std::string id(created.body.at("api_token").at("id").as_string());
  std::string revoke = std::string(kTokens) + "/" + id + "/revoke";
  EXPECT_EQ(Call("POST", revoke, owner_, R"({"reason":"x"})").code, "unknown_field");
  Answer a = Call("POST", revoke, owner_, "{}");
  ASSERT_EQ(a.status, 200) << SerializeJson(a.body);
  EXPECT_TRUE(a.body.at("api_token").at("revoked_at").is_string());
  EXPECT_TRUE(a.body.at("api_token").at("revocation_reason").is_string());
  Answer token_now =
      Call("GET", "/v1/auth/whoami", std::string(created.body.at("token").as_string()));
  EXPECT_EQ(token_now.status, 401);
}

// One token by id, in any state: who revoked it is named; a narrow token is refused others but
// may read itself; unknown ids are 404.
TEST_F(ApiTokenRoutesTest, GetOneTokenInAnyState) {
  Answer created = Call("POST", kTokens, owner_, R"({"name":"one"})");
  ASSERT_EQ(created.status, 201);
  std::string id(created.body.at("api_token").at("id").as_string());
  std::string path = std::string(kTokens) + "/" + id;
  Answer active = Call("GET", path, owner_);
  ASSERT_EQ(active.status, 200) << SerializeJson(active.body);
  EXPECT_EQ(active.body.at("api_token").at("state").as_string(), "active");
  EXPECT_TRUE(active.body.at("api_token").at("revoked_by").is_null());

  Answer narrow =
      Call("POST", kTokens, owner_, R"({"name":"narrow","permissions":["workflow:read"]})");
  ASSERT_EQ(narrow.status, 201);
  std::string narrow_token(narrow.body.at("token").as_string());
  std::string narrow_id(narrow.body.at("api_token").at("id").as_string());
  EXPECT_EQ(Call("GET", path, narrow_token).status, 403);
  EXPECT_EQ(Call("GET", std::string(kTokens) + "/" + narrow_id, narrow_token).status, 200);

  ASSERT_EQ(Call("POST", path + "/revoke", owner_, "{}").status, 200);
  Answer revoked = Call("GET", path, owner_);
  ASSERT_EQ(revoked.status, 200);
  EXPECT_EQ(revoked.body.at("api_token").at("state").as_string(), "revoked");
  EXPECT_EQ(revoked.body.at("api_token").at("revoked_by").as_string(), "owner@example.com");

  EXPECT_EQ(
      Call("GET", std::string(kTokens) + "/00000000-0000-4000-8000-000000000000", owner_).status,
      404);
  EXPECT_EQ(Call("GET", std::string(kTokens) + "/not-a-uuid", owner_).status, 404);
  EXPECT_EQ(Call("GET", path, "").status, 401);
}

TEST_F(ApiTokenRoutesTest, CreationIsRateLimitedPerOrganization) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call("POST", kTokens, owner_, R"({"name":"t)" + std::to_string(i) + "\"}").status,
              201);
  }
  Answer a = Call("POST", kTokens, owner_, R"({"name":"t3"})");
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(a.code, "rate_limited");
  EXPECT_FALSE(a.Header("Retry-After").empty());
  // Refused requests are not charged: the organization waits for the refill only.
  clock_.Advance(kMillisPerSecond);
  EXPECT_EQ(Call("POST", kTokens, owner_, R"({"name":"t4"})").status, 201);
}

TEST_F(ApiTokenRoutesTest, RotateAnswersTheNewSecretOnceAndBothTokens) {
  Answer created = Call("POST", kTokens, owner_, R"({"name":"ci","expires_in_seconds":3600})");
  ASSERT_EQ(created.status, 201);
  std::string id(created.body.at("api_token").at("id").as_string());
  std::string old_secret(created.body.at("token").as_string());
  std::string rotate = std::string(kTokens) + "/" + id + "/rotate";
  EXPECT_EQ(Call("POST", rotate, owner_, R"({"grace":1})").code, "unknown_field");
  EXPECT_EQ(Call("POST", rotate, owner_, R"({"grace_seconds":"1h"})").code, "invalid_field_type");
  EXPECT_EQ(Call("POST", rotate, owner_, R"({"grace_seconds":86401})").status, 400);
  std::string viewer = JoinAs(owner_, "acme", "vera", "viewer");
  Answer refused = Call("POST", rotate, viewer, "{}");
  EXPECT_EQ(refused.status, 403);

  Answer a = Call("POST", rotate, owner_, R"({"grace_seconds":60})");
  ASSERT_EQ(a.status, 201) << SerializeJson(a.body);
  EXPECT_EQ(a.Header("Cache-Control"), "no-store");
  EXPECT_EQ(std::string(a.body.at("token").as_string()).rfind("clapi_", 0), 0u);
  const auto& fresh = a.body.at("api_token").as_object();
  const auto& old = a.body.at("rotated").as_object();
  EXPECT_EQ(fresh.at("name").as_string(), "ci");
  EXPECT_TRUE(fresh.at("rotated_to").is_null());
  EXPECT_EQ(old.at("id").as_string(), id);
  EXPECT_EQ(old.at("rotated_to"), fresh.at("id"));
  EXPECT_TRUE(old.at("rotation_deadline").is_string());
  EXPECT_EQ(old.at("state").as_string(), "active");  // in its grace period
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", old_secret).status, 200);
  // Rotating it again: rotate the replacement instead.
  Answer again = Call("POST", rotate, owner_, "{}");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.code, "failed_precondition");
  // At the deadline the old secret is refused, before any job ran.
  clock_.Advance(60 * kMillisPerSecond);
  Answer late = Call("GET", "/v1/auth/whoami", old_secret);
  EXPECT_EQ(late.status, 401);
  EXPECT_EQ(late.code, "token_revoked");
  Answer listed = Call("GET", std::string(kTokens) + "?status=revoked", owner_);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body.at("api_tokens").as_array().size(), 1u);
  EXPECT_EQ(listed.body.at("api_tokens").at(0).at("revocation_reason").as_string(), "rotated");
}

TEST_F(ApiTokenRoutesTest, LastUsedFromIsTheRequestsAddressAndUserAgent) {
  Answer created = Call("POST", kTokens, owner_, R"({"name":"ci"})");
  ASSERT_EQ(created.status, 201);
  EXPECT_TRUE(created.body.at("api_token").at("last_used_from").is_null());
  std::string secret(created.body.at("token").as_string());
  ASSERT_EQ(
      Call("GET", "/v1/auth/whoami", secret, "", {{"User-Agent", "ci-runner/2 \x1b[1m"}}).status,
      200);
  ASSERT_TRUE(db_->RecordApiTokenUsage(usage_.TakePending()));
  Answer listed = Call("GET", kTokens, owner_);
  ASSERT_EQ(listed.status, 200);
  const auto& from = listed.body.at("api_tokens").at(0).at("last_used_from");
  ASSERT_TRUE(from.is_object()) << SerializeJson(listed.body);
  EXPECT_EQ(from.at("address").as_string(), "127.0.0.1");
  EXPECT_EQ(from.at("user_agent").as_string(), "ci-runner/2 \x1b[1m");
}

}  // namespace
}  // namespace cl::api
