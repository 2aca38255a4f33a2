// The `-o json` contract of every list command (API field names, null for absent values, opaque
// data untouched, errors as one JSON line on stderr with the table output's exit status) and the
// organization of an API token taken from whoami when no --org is given.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cli/cli_test_support.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace cl::cli {
namespace {

using testing::CommandTest;
using testing::ErrorBody;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::NewToken;

struct ListCase {
  std::string name;
  std::function<Status(CliContext&)> run;
  std::string path;  // the request the command sends (path only)
  std::string body;  // the fake's answer: one item whose `field` is ""
  std::string array;
  std::string field;
};

std::vector<ListCase> ListCases() {
  return {
      {"organization list", [](CliContext& c) { return OrganizationList(c, std::nullopt); },
       "/v1/organizations",
       R"({"organizations":[{"id":"o1","name":"acme","created_at":"t","role":"",)"
       R"("api_token_max_days_inactive":null}]})",
       "organizations", "role"},
      {"member list", [](CliContext& c) { return MemberList(c, std::nullopt); },
       "/v1/organizations/acme/members",
       R"({"members":[{"user_id":"u1","email":"a@x","name":"","role":"owner","created_at":"t"}]})",
       "members", "name"},
      {"invitation list", [](CliContext& c) { return InvitationList(c, std::nullopt); },
       "/v1/organizations/acme/invitations",
       R"({"invitations":[{"id":"i1","email":"a@x","role":"","status":"pending",)"
       R"("created_at":"t"}]})",
       "invitations", "role"},
      {"audit list", [](CliContext& c) { return AuditList(c, AuditListOptions{}); },
       "/v1/organizations/acme/audit-events",
       R"({"audit_events":[{"id":"e1","actor_kind":"user","actor_id":"u1","actor_name":"",)"
       R"("action":"x","target_kind":"","target_id":"","message":"m","created_at":"t",)"
       R"("client_address":null}]})",
       "audit_events", "actor_name"},
      {"api-token list", [](CliContext& c) { return ApiTokenList(c, ApiTokenListOptions{}); },
       "/v1/organizations/acme/api-tokens",
       R"({"api_tokens":[{"id":"t1","name":"ci","state":"active","description":"",)"
       R"("scope":"global","project":null,"permissions":[],"created_at":"t",)"
       R"("expires_at":null,"last_used_at":null,"revoked_at":null,"revocation_reason":null,)"
       R"("created_by":{"kind":"user","id":"u1","name":"a"},"auto_revoke_at":null}]})",
       "api_tokens", "description"},
      {"federation list", [](CliContext& c) { return FederationList(c, std::nullopt); },
       "/v1/organizations/acme/federation-policies",
       R"({"policies":[{"id":"p1","name":"gl","issuer":"https://gitlab.com","provider":"",)"
       R"("audience":"a","bound_claims":{"ref":"main"},"project":null,"permissions":[],)"
       R"("max_token_age_seconds":3600,"created_at":"t"}]})",
       "policies", "provider"},
      {"project list", [](CliContext& c) { return ProjectList(c, std::nullopt); },
       "/v1/organizations/acme/projects",
       R"({"projects":[{"id":"","name":"web","created_at":"t"}]})", "projects", "id"},
      {"workflow list", [](CliContext& c) { return WorkflowList(c, std::nullopt); },
       "/v1/organizations/acme/workflows",
       R"({"workflows":[{"id":"w1","name":"build","project":"","created_at":"t"}]})", "workflows",
       "project"},
      {"workflow run list", [](CliContext& c) { return WorkflowRunList(c, "", std::nullopt); },
       "/v1/organizations/acme/workflow-runs",
       R"({"workflow_runs":[{"id":"r1","workflow":"build","project":"web","state":"running",)"
       R"("created_at":"t","finished_at":null,)"
       R"("attested_by":{"kind":"federated","id":"x","name":"n","claims":{}},)"
       R"("predicate_type":"","statement_digest":""}]})",
       "workflow_runs", "predicate_type"},
  };
}

class JsonOutputTest : public CommandTest {};

TEST_F(JsonOutputTest, EveryListWritesNullForAnAbsentValueWithTheApiFieldNames) {
  for (const auto& c : ListCases()) {
    SCOPED_TRACE(c.name);
    std::string body = c.body;
    Serve([body](const FakeRequest&) { return FakeResponse{200, body}; });
    StoreSession(NewToken(crypto::CredentialKind::kSession));
    options_.output = "json";
    ASSERT_EQ(Run(c.run), 0) << err_.str();
    ASSERT_FALSE(server_->requests().empty());
    EXPECT_EQ(server_->requests().back().path, c.path);
    auto printed = boost::json::parse(out_.str());
    const auto& item = printed.at(c.array).at(0).as_object();
    const boost::json::value answer = boost::json::parse(body);
    const auto& sent = answer.at(c.array).at(0).as_object();
    // The API's field names, no more and no fewer.
    ASSERT_EQ(item.size(), sent.size());
    for (const auto& [key, value] : sent) EXPECT_TRUE(item.contains(key)) << key;
    EXPECT_TRUE(item.at(c.field).is_null()) << out_.str();
    EXPECT_EQ(out_.str().find("\"\""), std::string::npos) << "an empty string: " << out_.str();
  }
}

// Commands whose endpoint answers 204 print one shape: {"deleted":{"kind",<ids>}}.
TEST_F(JsonOutputTest, EveryDeleteCommandPrintsTheSameShape) {
  struct DeleteCase {
    std::string name;
    std::function<Status(CliContext&)> run;
    std::string expected;
  };
  const std::vector<DeleteCase> cases = {
      {"federation delete", [](CliContext& c) { return FederationDelete(c, "p1"); },
       R"({"deleted":{"kind":"trust_policy","id":"p1"}})"},
      {"invitation revoke", [](CliContext& c) { return InvitationRevoke(c, "i1"); },
       R"({"deleted":{"kind":"invitation","id":"i1"}})"},
      {"member delete", [](CliContext& c) { return MemberDelete(c, "bob@example.com"); },
       R"({"deleted":{"kind":"member","user_id":"u1","email":"bob@example.com"}})"},
      {"webhook delete", [](CliContext& c) { return WebhookDelete(c, "w1"); },
       R"({"deleted":{"kind":"webhook","id":"w1"}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    out_.str("");
    Serve([](const FakeRequest& req) {
      if (req.method == "GET") {
        return FakeResponse{200, R"({"members":[{"user_id":"u1","email":"bob@example.com",)"
                                 R"("name":"Bob","role":"member","created_at":"t"}],)"
                                 R"("next_cursor":null})"};
      }
      return FakeResponse{204, ""};
    });
    StoreSession(NewToken(crypto::CredentialKind::kSession));
    options_.output = "json";
    ASSERT_EQ(Run(c.run), 0) << err_.str();
    EXPECT_EQ(boost::json::parse(out_.str()), boost::json::parse(c.expected)) << out_.str();
  }
}

TEST_F(JsonOutputTest, OpaqueDataKeepsItsEmptyStrings) {
  boost::json::value v = boost::json::parse(
      R"({"a":"","run":{"statement":{"subject":""},"attested_by":{"claims":{}}},)"
      R"("policy":{"bound_claims":{"x":""},"audience":""},"list":["",1]})");
  EXPECT_EQ(boost::json::serialize(NullForAbsent(v)),
            R"({"a":null,"run":{"statement":{"subject":""},"attested_by":{"claims":{}}},)"
            R"("policy":{"bound_claims":{"x":""},"audience":null},"list":[null,1]})");
}

TEST_F(JsonOutputTest, EveryListReportsAnErrorAsOneJsonLineWithTheTableExitStatus) {
  for (const auto& c : ListCases()) {
    SCOPED_TRACE(c.name);
    Serve([](const FakeRequest&) {
      return FakeResponse{403, ErrorBody("permission_denied", "missing member:read")};
    });
    StoreSession(NewToken(crypto::CredentialKind::kSession));
    options_.output = "table";
    const int table_status = Run(c.run);
    EXPECT_EQ(table_status, 1);
    EXPECT_THAT(err_.str(), HasSubstr("Error: missing member:read"));

    options_.output = "json";
    EXPECT_EQ(Run(c.run), table_status);
    EXPECT_EQ(out_.str(), "");
    EXPECT_EQ(err_.str(),
              R"({"error":{"code":"permission_denied","message":"missing member:read"}})"
              "\n");
  }
}

TEST_F(JsonOutputTest, LocalErrorsHaveTheSameShape) {
  options_.output = "json";
  StoreSession(NewToken(crypto::CredentialKind::kSession), "");
  // No organization and no token to ask: FailedPrecondition, before any request.
  EXPECT_EQ(Run([](CliContext& c) { return ProjectList(c, std::nullopt); }), 1);
  auto printed = boost::json::parse(err_.str());
  EXPECT_EQ(printed.at("error").at("code").as_string(), "failed_precondition");
  EXPECT_THAT(std::string(printed.at("error").at("message").as_string()),
              HasSubstr("no organization selected"));
  EXPECT_EQ(err_.str().back(), '\n');
  EXPECT_EQ(err_.str().find('\n'), err_.str().size() - 1);  // one line
}

// ---------------------------------------------------------------------------------------------
// An API token belongs to one organization: no --org needed.

TEST_F(JsonOutputTest, AnApiTokenUsesItsOrganizationFromWhoamiOncePerCommand) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/auth/whoami") {
      return FakeResponse{200, R"({"principal":{"kind":"api_token","id":"t1","name":"ci"},)"
                               R"("organization":{"id":"o1","name":"tokens-org"},"project":null,)"
                               R"("permissions":["project:read"],"expires_at":null})"};
    }
    return FakeResponse{200, R"({"projects":[]})"};
  });
  StoreSession("", "config-org");  // a config organization chosen for a person's session
  env_.chainloop_token = NewToken(crypto::CredentialKind::kApiToken);
  ASSERT_EQ(Run([](CliContext& c) { return ProjectList(c, std::nullopt); }), 0) << err_.str();
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/v1/auth/whoami");
  EXPECT_EQ(requests[1].path, "/v1/organizations/tokens-org/projects");
  EXPECT_EQ(requests[1].Header("authorization"), "Bearer " + env_.chainloop_token);

  // --org still wins, without asking whoami.
  options_.org = "other";
  ASSERT_EQ(Run([](CliContext& c) { return ProjectList(c, std::nullopt); }), 0) << err_.str();
  requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].path, "/v1/organizations/other/projects");
}

TEST_F(JsonOutputTest, AnApiTokenWithoutConfigOrOrgFlagNeedsNothingElse) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/auth/whoami") {
      return FakeResponse{200, R"({"principal":{"kind":"api_token","id":"t1","name":"ci"},)"
                               R"("organization":{"id":"o1","name":"acme"}})"};
    }
    return FakeResponse{200, R"({"api_tokens":[]})"};
  });
  options_.token = NewToken(crypto::CredentialKind::kApiToken);
  ASSERT_EQ(Run([](CliContext& c) { return ApiTokenList(c, ApiTokenListOptions{}); }), 0)
      << err_.str();
  EXPECT_EQ(server_->requests().back().path, "/v1/organizations/acme/api-tokens");
}

TEST_F(JsonOutputTest, ASessionNeverAsksWhoamiForTheOrganization) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"projects":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession), "acme");
  ASSERT_EQ(Run([](CliContext& c) { return ProjectList(c, std::nullopt); }), 0) << err_.str();
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].path, "/v1/organizations/acme/projects");
}

TEST_F(JsonOutputTest, ATokenRefusedByWhoamiFailsWithItsError) {
  Serve([](const FakeRequest&) {
    return FakeResponse{401, ErrorBody("token_revoked", "the API token was revoked")};
  });
  env_.chainloop_token = NewToken(crypto::CredentialKind::kApiToken);
  EXPECT_EQ(Run([](CliContext& c) { return ProjectList(c, std::nullopt); }), 1);
  EXPECT_THAT(err_.str(), HasSubstr("the API token was revoked"));
  EXPECT_EQ(server_->requests().size(), 1u);
}

}  // namespace
}  // namespace cl::cli
