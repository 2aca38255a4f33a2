// Tests of `chainloop organization` against a fake control plane: describe, create, set.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "cli/cli_test_support.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/context.h"
#include "common/json.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

using testing::CommandTest;
using testing::ErrorBody;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::NewToken;
using ::testing::Not;

constexpr char kOrgJson[] =
    R"({"organization":{"id":"8d1e","name":"acme","created_at":"2026-01-01T00:00:00Z",)"
    R"("api_token_max_days_inactive":90},"role":"owner"})";

TEST_F(CommandTest, DescribeShowsAutoRevokeOnlyWhenSet) {
  std::string body = kOrgJson;
  Serve([&](const FakeRequest& r) {
    if (r.method == "GET" && r.path == "/v1/organizations/acme") return FakeResponse{200, body};
    return FakeResponse{404, ErrorBody("not_found", "no route")};
  });
  std::string session = NewToken(crypto::CredentialKind::kSession);
  StoreSession(session);
  ASSERT_EQ(Run(OrganizationDescribe), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Organization: acme\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Your role: owner\n"));
  EXPECT_THAT(out_.str(), HasSubstr("API token auto-revoke after: 90 days inactive\n"));
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("authorization"), "Bearer " + session);

  body = R"({"organization":{"id":"8d1e","name":"acme","created_at":"2026-01-01T00:00:00Z",)"
         R"("api_token_max_days_inactive":1},"role":"owner"})";
  ASSERT_EQ(Run(OrganizationDescribe), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("API token auto-revoke after: 1 day inactive\n"));

  body = R"({"organization":{"id":"8d1e","name":"acme","created_at":"2026-01-01T00:00:00Z",)"
         R"("api_token_max_days_inactive":null},"role":"viewer"})";
  ASSERT_EQ(Run(OrganizationDescribe), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("auto-revoke")));

  options_.output = "json";
  ASSERT_EQ(Run(OrganizationDescribe), 0);
  auto parsed = ParseJson(out_.str());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at("role").as_string(), "viewer");
}

TEST_F(CommandTest, OrganizationCreateBecomesCurrentWhenNoneSet) {
  Serve([](const FakeRequest& r) {
    EXPECT_EQ(r.body, R"({"name":"newco"})");
    return FakeResponse{
        201, R"({"organization":{"id":"9","name":"newco",)"
             R"("created_at":"2026-01-01T00:00:00Z","api_token_max_days_inactive":null}})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession), "");
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationCreate(c, "newco"); }), 0) << err_.str();
  EXPECT_EQ(LoadConfig(config_path())->organization, "newco");
  StoreSession(NewToken(crypto::CredentialKind::kSession), "existing");
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationCreate(c, "newco"); }), 0);
  EXPECT_EQ(LoadConfig(config_path())->organization, "existing");
}

TEST_F(CommandTest, OrganizationSetChecksMembership) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations/acme") return FakeResponse{200, kOrgJson};
    return FakeResponse{404, ErrorBody("not_found", "organization not found")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession), "");
  EXPECT_EQ(Run([](CliContext& c) { return OrganizationSet(c, "other"); }), 1);
  EXPECT_EQ(LoadConfig(config_path())->organization, "");
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationSet(c, "acme"); }), 0);
  EXPECT_EQ(LoadConfig(config_path())->organization, "acme");
}

}  // namespace
}  // namespace cl::cli
