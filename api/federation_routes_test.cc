// Handler tests of the federation routes (api/federation_routes.cc): the keyless token
// exchange's request checks (form and JSON bodies) and the trust policies of an organization,
// through the router; and both answering 503 when keyless CI is not configured.
#include <set>
#include <string>
#include <vector>

#include "api/api_testing.h"

namespace cl::api {
namespace {

using testing::Answer;

constexpr char kExchange[] = "/v1/auth/federated/exchange";
constexpr char kPolicies[] = "/v1/organizations/acme/federation-policies";
constexpr char kGrant[] = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr char kIdToken[] = "urn:ietf:params:oauth:token-type:id_token";
const testing::Headers kForm = {{"content-type", "application/x-www-form-urlencoded"}};

using FederationRoutesTest = testing::AcmeApiTest;

TEST_F(FederationRoutesTest, ExchangeChecksTheRequest) {
  struct Case {
    std::string body;
    const char* code;
  } cases[] = {
      {"{}", "invalid_request"},
      {R"({"grant_type":"client_credentials","subject_token":"t",)"
       R"("subject_token_type":"x","organization":"acme"})",
       "unsupported_grant_type"},
      {std::string(R"({"grant_type":")") + kGrant +
           R"(","subject_token":"t","subject_token_type":"x","organization":"acme"})",
       "invalid_request"},
      {std::string(R"({"grant_type":")") + kGrant + R"(","subject_token_type":")" + kIdToken +
           R"(","organization":"acme"})",
       "invalid_request"},
      {R"({"grant_type":1})", "invalid_field_type"},
      {R"({"grant_type":"x","scope":"all"})", "unknown_field"},
  };
  for (const auto& c : cases) {
    Answer a = Call("POST", kExchange, "", c.body);
    EXPECT_EQ(a.status, 400) << c.body;
    EXPECT_EQ(a.code, c.code) << c.body;
  }
}

TEST_F(FederationRoutesTest, ExchangeReadsFormBodies) {
  Answer wrong_grant = Call("POST", kExchange, "", "grant_type=password&organization=acme", kForm);
  EXPECT_EQ(wrong_grant.status, 400);
  EXPECT_EQ(wrong_grant.code, "unsupported_grant_type");
  // Percent-decoded: the fields are all there, the token is not a verifiable ID token.
  Answer forged = Call("POST", kExchange, "",
                       "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                       "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"
                       "&subject_token=not.a.jwt&organization=acme",
                       kForm);
  EXPECT_EQ(forged.status, 401) << SerializeJson(forged.body);
  EXPECT_TRUE(forged.Header("Cache-Control").empty());
}

TEST_F(FederationRoutesTest, PoliciesCreateListDelete) {
  Answer created =
      Call("POST", kPolicies, owner_,
           R"({"name":"gitlab","issuer":"https://gitlab.com",)"
           R"("bound_claims":{"project_id":"4711"},"permissions":["workflow_run:create"]})");
  ASSERT_EQ(created.status, 201) << SerializeJson(created.body);
  const auto& p = created.body.at("policy").as_object();
  EXPECT_EQ(p.at("name").as_string(), "gitlab");
  EXPECT_EQ(p.at("issuer").as_string(), "https://gitlab.com");
  EXPECT_TRUE(p.at("provider").is_string());
  EXPECT_TRUE(p.at("audience").is_string());
  EXPECT_EQ(p.at("bound_claims").at("project_id").as_string(), "4711");
  EXPECT_TRUE(p.at("project").is_null());
  EXPECT_EQ(p.at("permissions").as_array().size(), 1u);
  EXPECT_TRUE(p.at("created_at").is_string());
  EXPECT_EQ(p.at("max_token_age_seconds").as_int64(), 3600);  // the default
  std::string id(p.at("id").as_string());

  Answer longer =
      Call("POST", kPolicies, owner_,
           R"({"name":"long-jobs","issuer":"https://gitlab.com","max_token_age_seconds":7200,)"
           R"("bound_claims":{"project_id":"4711"}})");
  ASSERT_EQ(longer.status, 201) << SerializeJson(longer.body);
  EXPECT_EQ(longer.body.at("policy").at("max_token_age_seconds").as_int64(), 7200);
  Answer too_long =
      Call("POST", kPolicies, owner_,
           R"({"name":"too-long","issuer":"https://gitlab.com","max_token_age_seconds":86401,)"
           R"("bound_claims":{"project_id":"4711"}})");
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.code, "invalid_trust_policy");

  Answer list = Call("GET", kPolicies, owner_);
  ASSERT_EQ(list.status, 200);
  const auto& listed = list.body.at("policies").as_array();
  ASSERT_EQ(listed.size(), 2u);
  std::set<int64_t> ages;
  for (const auto& x : listed) ages.insert(x.at("max_token_age_seconds").as_int64());
  EXPECT_EQ(ages, (std::set<int64_t>{3600, 7200}));
  // The instance's allow-list comes with the list: what a new policy may name.
  const auto& issuers = list.body.at("allowed_issuers").as_array();
  const std::vector<std::string> defaults = oidc::CiVerifierOptions{}.allowed_issuers;
  ASSERT_EQ(issuers.size(), defaults.size());
  for (size_t i = 0; i < defaults.size(); ++i) EXPECT_EQ(issuers[i].as_string(), defaults[i]);
  EXPECT_EQ(Call("DELETE", std::string(kPolicies) + "/" + id, owner_).status, 204);
  EXPECT_EQ(Call("GET", kPolicies, owner_).body.at("policies").as_array().size(), 1u);
}

TEST_F(FederationRoutesTest, PolicyCreationDecodesStrictly) {
  struct Case {
    const char* body;
    const char* code;
  } cases[] = {
      {R"({"name":"p"})", "missing_field"},
      {R"({"name":"p","issuer":7})", "invalid_field_type"},
      {R"({"name":"p","issuer":"https://gitlab.com","bound_claims":["a"]})", "invalid_field_type"},
      {R"({"name":"p","issuer":"https://gitlab.com","bound_claims":{"a":1}})",
       "invalid_field_type"},
      {R"({"name":"p","issuer":"https://gitlab.com","bound_claims":{"a":"b"},"x":1})",
       "unknown_field"},
      {R"({"name":"p","issuer":"https://gitlab.com","bound_claims":{"a":"b"},)"
       R"("max_token_age_seconds":"2h"})",
       "invalid_field_type"},
  };
  for (const auto& c : cases) {
    Answer a = Call("POST", kPolicies, owner_, c.body);
    EXPECT_EQ(a.status, 400) << c.body;
    EXPECT_EQ(a.code, c.code) << c.body;
  }
}

TEST_F(FederationRoutesTest, PoliciesNeedAPersonOfTheOrganization) {
  EXPECT_EQ(Call("GET", kPolicies, "").status, 401);
  EXPECT_EQ(Call("POST", kPolicies, "", "{}").code, "unauthenticated");
  EXPECT_EQ(Call("DELETE", std::string(kPolicies) + "/x", "").status, 401);
  EXPECT_EQ(Call("GET", "/v1/organizations/nope/federation-policies", owner_).status, 404);
  std::string outsider = LoginAs("eve", "eve@example.com");
  EXPECT_EQ(Call("GET", kPolicies, outsider).code, "not_found");
  std::string viewer = JoinAs(owner_, "acme", "vera", "viewer");
  Answer refused = Call("POST", kPolicies, viewer,
                        R"({"name":"p","issuer":"https://gitlab.com","bound_claims":{"a":"b"}})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.code, "permission_denied");
}

class FederationNotConfiguredTest : public testing::ApiTest {
 protected:
  void Configure(ApiDeps& deps) override { deps.federation = nullptr; }
};

TEST_F(FederationNotConfiguredTest, RoutesAnswer503) {
  std::string owner = LoginAs("owner", "owner@example.com");
  CreateOrg(owner, "acme");
  Answer exchange = Call("POST", kExchange, "", "{}");
  EXPECT_EQ(exchange.status, 503);
  EXPECT_EQ(exchange.code, "unavailable");
  EXPECT_EQ(Call("GET", kPolicies, owner).status, 503);
  EXPECT_EQ(Call("POST", kPolicies, owner, "{}").status, 503);
  EXPECT_EQ(Call("DELETE", std::string(kPolicies) + "/x", owner).status, 503);
}

}  // namespace
}  // namespace cl::api
