// Tests of `chainloop organization api-token|update|audit`, the local validations behind them,
// help text and credential precedence, run as whole command lines (RunCli) against a fake
// control plane.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <utility>

#include "cli/app.h"
#include "cli/cli_test_support.h"
#include "cli/config.h"
#include "cli/fake_http_server.h"
#include "cli/validation.h"
#include "common/json.h"
#include "common/random.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

using ::testing::ContainsRegex;
using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using ::testing::Not;

std::string NewToken(crypto::CredentialKind kind) {
  SystemRandom random;
  return crypto::GenerateCredential(kind, random);
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  return R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
}

// ---------------------------------------------------------------------------------------------
// Validation

TEST(ValidationTest, Dns1123Label) {
  EXPECT_TRUE(IsDns1123Label("ci"));
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("gitlab-ci-2"));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label("CI"));
  EXPECT_FALSE(IsDns1123Label("-ci"));
  EXPECT_FALSE(IsDns1123Label("ci-"));
  EXPECT_FALSE(IsDns1123Label("ci_bot"));
  EXPECT_FALSE(IsDns1123Label("ci.bot"));
  EXPECT_FALSE(IsDns1123Label("c i"));
}

TEST(ValidationTest, PermissionShape) {
  EXPECT_TRUE(IsPermissionShape("workflow_run:create"));
  EXPECT_TRUE(IsPermissionShape("organization:read"));
  EXPECT_FALSE(IsPermissionShape("workflow_run"));
  EXPECT_FALSE(IsPermissionShape(":create"));
  EXPECT_FALSE(IsPermissionShape("workflow:"));
  EXPECT_FALSE(IsPermissionShape("a:b:c"));
  EXPECT_FALSE(IsPermissionShape("Workflow:read"));
  EXPECT_FALSE(IsPermissionShape("workflow :read"));
  EXPECT_FALSE(IsPermissionShape("1x:read"));
}

TEST(ValidationTest, Durations) {
  EXPECT_EQ(ParseDurationSeconds("24h", "--expiration").value(), 86400);
  EXPECT_EQ(ParseDurationSeconds("720h", "--expiration").value(), 720 * 3600);
  EXPECT_EQ(ParseDurationSeconds("90d", "--expiration").value(), 90 * 86400);
  EXPECT_EQ(ParseDurationSeconds("30m", "--expiration").value(), 1800);
  EXPECT_EQ(ParseDurationSeconds("45s", "--expiration").value(), 45);
  EXPECT_EQ(ParseDurationSeconds("1h30m", "--expiration").value(), 5400);
  for (const char* bad : {"", "0h", "0d", "-1h", "1.5h", "10", "h", "10w", "24 h", "24H",
                          "99999999999999999999d", "36501d"}) {
    auto r = ParseDurationSeconds(bad, "--expiration");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_TRUE(r.error().IsInvalidArgument());
    EXPECT_THAT(r.error().message(), HasSubstr("--expiration"));
    EXPECT_THAT(r.error().message(), HasSubstr("24h"));
  }
}

TEST(ValidationTest, MaxDaysInactive) {
  EXPECT_EQ(ParseMaxDaysInactive("0").value(), 0);
  EXPECT_EQ(ParseMaxDaysInactive("1").value(), 1);
  EXPECT_EQ(ParseMaxDaysInactive("90").value(), 90);
  EXPECT_EQ(ParseMaxDaysInactive("365").value(), 365);
  for (const char* bad : {"366", "-1", "abc", "", "1.5", "1000", " 5", "+5"}) {
    auto r = ParseMaxDaysInactive(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_THAT(r.error().message(), HasSubstr("1-365 (0 to disable)"));
  }
}

TEST(ValidationTest, Rfc3339) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.250Z"), 1'700'000'000'250);
  EXPECT_EQ(ParseRfc3339("2023-11-15T00:13:20+02:00"), 1'700'000'000'000);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"),
            ParseRfc3339("2024-02-28T00:00:00Z").value() + 86'400'000);
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2023-11-14 22:13:20"));
  EXPECT_FALSE(ParseRfc3339("2023-11-14T22:13:20"));
  EXPECT_FALSE(ParseRfc3339("2023-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2023-11-14T22:13:20Zjunk"));
  EXPECT_FALSE(ParseRfc3339(""));
}

// ---------------------------------------------------------------------------------------------
// Whole command lines against a fake control plane

using testing::CliRunTest;

constexpr char kCreatedToken[] =
    R"("api_token":{"id":"tok-1","name":"ci-bot","description":"GitLab CI","scope":"project",)"
    R"("project":"web","permissions":["workflow_run:create","workflow:read"],)"
    R"("created_at":"2026-03-01T00:00:00Z","expires_at":"2026-03-02T00:00:00Z",)"
    R"("last_used_at":null,"revoked_at":null,"revocation_reason":null,)"
    R"("created_by":{"kind":"user","id":"u1","name":"alice"},"auto_revoke_at":null})";

TEST_F(CliRunTest, HelpListsAliasesAndCommands) {
  for (const char* name : {"api-token", "token"}) {
    ASSERT_EQ(Run({"organization", name, "-h"}), 0) << err_.str();
    std::string help = out_.str();
    EXPECT_THAT(help, HasSubstr("Usage:\n  chainloop organization api-token [command]\n"));
    EXPECT_THAT(help, HasSubstr("Aliases:\n  api-token, token\n"));
    EXPECT_THAT(help, HasSubstr("Available Commands:\n"));
    EXPECT_THAT(help, HasSubstr("  create   Create an API token\n"));
    EXPECT_THAT(help, HasSubstr("  list     List API tokens\n"));
    EXPECT_THAT(help, HasSubstr("  revoke   Revoke an API token\n"));
  }
  ASSERT_EQ(Run({"org", "token", "create", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--expiration"));
  EXPECT_THAT(out_.str(), HasSubstr("--permission"));
  // A command group alone shows its help, like Chainloop's own CLI.
  EXPECT_EQ(Run({"organization", "api-token"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("Available Commands:\n"));
}

TEST_F(CliRunTest, CreateSendsRequestAndShowsTokenOnce) {
  std::string secret = NewToken(crypto::CredentialKind::kApiToken);
  Serve([&](const FakeRequest& r) {
    if (r.method == "POST" && r.path == "/v1/organizations/acme/api-tokens") {
      return FakeResponse{201, "{" + std::string(kCreatedToken) + R"(,"token":")" + secret + "\"}"};
    }
    return FakeResponse{404, ErrorBody("not_found", "no route")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"organization", "api-token", "create", "--name", "ci-bot", "--description",
                 "GitLab CI", "--expiration", "24h", "--project", "web", "--permission",
                 "workflow_run:create", "--permission", "workflow:read"}),
            0)
      << err_.str();
  ASSERT_EQ(requests().size(), 1u);
  auto body = ParseJson(requests()[0].body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(SerializeJson(*body),
            R"({"name":"ci-bot","description":"GitLab CI","expires_in_seconds":86400,)"
            R"("project":"web","permissions":["workflow_run:create","workflow:read"]})");
  std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr("ID: tok-1\n"));
  EXPECT_THAT(out, HasSubstr("Scope: project/web\n"));
  EXPECT_THAT(out, HasSubstr("Permissions: workflow_run:create, workflow:read\n"));
  EXPECT_THAT(out, HasSubstr("Expires at: 2026-03-02T00:00:00Z\n"));
  EXPECT_THAT(out, HasSubstr("\n" + secret + "\n"));  // the token alone on its line
  EXPECT_THAT(out, HasSubstr("Save this token now: it will not be shown again.\n"));
  EXPECT_THAT(err_.str(), Not(HasSubstr(secret)));

  // Minimal create: optional fields are left out; comma-separated permissions split.
  ASSERT_EQ(Run({"org", "token", "create", "--name", "ci", "--permission",
                 "workflow:read,workflow_run:create"}),
            0)
      << err_.str();
  EXPECT_EQ(requests().back().body,
            R"({"name":"ci","permissions":["workflow:read","workflow_run:create"]})");
  ASSERT_EQ(Run({"org", "token", "create", "--name", "ci"}), 0);
  EXPECT_EQ(requests().back().body, R"({"name":"ci"})");
}

TEST_F(CliRunTest, CreateOutputFormats) {
  std::string secret = NewToken(crypto::CredentialKind::kApiToken);
  std::string response = "{" + std::string(kCreatedToken) + R"(,"token":")" + secret + "\"}";
  Serve([&](const FakeRequest&) { return FakeResponse{201, response}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));

  ASSERT_EQ(Run({"org", "api-token", "create", "--name", "ci-bot", "-o", "token"}), 0)
      << err_.str();
  EXPECT_EQ(out_.str(), secret + "\n");
  ASSERT_EQ(Run({"-o", "token", "organization", "token", "create", "--name", "ci-bot"}), 0);
  EXPECT_EQ(out_.str(), secret + "\n");

  ASSERT_EQ(Run({"org", "api-token", "create", "--name", "ci-bot", "--output", "json"}), 0);
  auto parsed = ParseJson(out_.str());
  ASSERT_TRUE(parsed.has_value()) << out_.str();
  EXPECT_EQ(parsed->at("token").as_string(), secret);
  EXPECT_EQ(parsed->at("api_token").at("id").as_string(), "tok-1");

  // Without a token in the answer there is nothing to show: an error, not an empty line.
  response = "{" + std::string(kCreatedToken) + "}";
  EXPECT_EQ(Run({"org", "api-token", "create", "--name", "ci-bot", "-o", "token"}), 1);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(), HasSubstr("no token value"));
}

TEST_F(CliRunTest, TokenOutputIsRefusedByOtherCommands) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"api_tokens":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run({"org", "api-token", "list", "-o", "token"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--output token is only supported by `chainloop organization "
                                    "api-token create` and `rotate`"));
  EXPECT_EQ(Run({"organization", "list", "-o", "token"}), 1);
  EXPECT_TRUE(requests().empty());
  EXPECT_EQ(Run({"organization", "list", "-o", "yaml"}), 2);
}

TEST_F(CliRunTest, CreateValidatesLocally) {
  Serve([](const FakeRequest&) { return FakeResponse{500, "{}"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  struct Case {
    std::vector<std::string> extra;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--name", "CI-Bot"}, "not a valid token name"},
      {{"--name", std::string(64, 'a')}, "at most 63"},
      {{"--name", "-ci"}, "not a valid token name"},
      {{"--name", "ci", "--permission", "workflow_run"}, "resource:action"},
      {{"--name", "ci", "--permission", "workflow:read,bad perm"}, "resource:action"},
      {{"--name", "ci", "--expiration", "0h"}, "--expiration '0h' is not positive"},
      {{"--name", "ci", "--expiration", "2w"}, "unknown unit"},
      {{"--name", "ci", "--expiration", "24"}, "has no unit"},
      {{"--name", "ci", "--expiration", "-1h"}, "--expiration"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"org", "api-token", "create"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    EXPECT_EQ(Run(args), 1) << c.message;
    EXPECT_THAT(err_.str(), HasSubstr(c.message));
  }
  EXPECT_TRUE(requests().empty());
  EXPECT_EQ(Run({"org", "api-token", "create"}), 2);  // --name is required
}

TEST_F(CliRunTest, ListShowsColumnsScopeAndNever) {
  Serve([](const FakeRequest& r) {
    if (r.path != "/v1/organizations/acme/api-tokens" &&
        r.path != "/v1/organizations/other/api-tokens") {
      return FakeResponse{404, "{}"};
    }
    return FakeResponse{
        200, R"({"api_tokens":[)"
             R"({"id":"t1","name":"ci","description":"GitLab","scope":"global","project":null,)"
             R"("created_at":"2026-01-01T00:00:00Z","expires_at":null,"last_used_at":null,)"
             R"("revoked_at":null,"revocation_reason":null,"auto_revoke_at":null},)"
             R"({"id":"t2","name":"deploy","description":"","scope":"project","project":"web",)"
             R"("created_at":"2026-01-02T00:00:00Z","expires_at":"2027-01-01T00:00:00Z",)"
             R"("last_used_at":"2026-02-01T00:00:00Z","revoked_at":null,"revocation_reason":null,)"
             R"("auto_revoke_at":null}]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"organization", "api-token", "list"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "ID   NAME     SCOPE         DESCRIPTION   CREATED AT             EXPIRES AT        "
            "     REVOKED AT   LAST USED AT\n"
            "t1   ci       global        GitLab        2026-01-01T00:00:00Z                     "
            "                  never\n"
            "t2   deploy   project/web                 2026-01-02T00:00:00Z   "
            "2027-01-01T00:00:00Z                2026-02-01T00:00:00Z\n");
  EXPECT_EQ(requests().back().target, "/v1/organizations/acme/api-tokens?limit=1000");

  ASSERT_EQ(Run({"org", "token", "ls", "--project", "my web", "--status", "active"}), 0);
  EXPECT_EQ(requests().back().target,
            "/v1/organizations/acme/api-tokens?status=active&project=my%20web&limit=1000");
  ASSERT_EQ(Run({"org", "token", "ls", "--scope", "global", "-n", "other"}), 0);
  EXPECT_EQ(requests().back().target, "/v1/organizations/other/api-tokens?scope=global&limit=1000");

  ASSERT_EQ(Run({"org", "token", "ls", "-o", "json"}), 0);
  auto parsed = ParseJson(out_.str());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at("api_tokens").as_array().size(), 2u);
}

TEST_F(CliRunTest, ListValidatesFilters) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"api_tokens":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run({"org", "token", "list", "--status", "inactive"}), 2);  // a usage error
  EXPECT_THAT(err_.str(), HasSubstr("--status: must be active, expired, revoked or all"));
  EXPECT_EQ(Run({"org", "token", "list", "--scope", "org"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("--scope: must be project or global"));
  EXPECT_EQ(Run({"org", "token", "list", "--scope", "global", "--project", "web"}), 1);
  EXPECT_TRUE(requests().empty());
}

TEST_F(CliRunTest, ListEmptySaysSo) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"api_tokens":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "api-token", "list"}), 0);
  EXPECT_EQ(out_.str(), "No API tokens found.\n");
  ASSERT_EQ(Run({"org", "api-token", "list", "--status", "revoked"}), 0);
  EXPECT_EQ(out_.str(), "No API tokens found.\n");
}

TEST_F(CliRunTest, ListShowsReasonForRevokedAndAll) {
  Serve([](const FakeRequest&) {
    return FakeResponse{
        200, R"({"api_tokens":[)"
             R"({"id":"t1","name":"old","scope":"global","created_at":"2025-01-01T00:00:00Z",)"
             R"("revoked_at":"2026-02-01T00:00:00Z","revocation_reason":"inactive"},)"
             R"({"id":"t2","name":"gone","scope":"global","created_at":"2025-01-01T00:00:00Z",)"
             R"("revoked_at":"2026-02-02T00:00:00Z","revocation_reason":"manual",)"
             R"("last_used_at":"2026-01-05T00:00:00Z"}]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "api-token", "list", "--status", "all"}), 0) << err_.str();
  std::istringstream lines(out_.str());
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  EXPECT_THAT(header, ContainsRegex("REVOKED AT +LAST USED AT +REASON$"));
  EXPECT_THAT(row1, ContainsRegex("2026-02-01T00:00:00Z +never +inactive$"));
  EXPECT_THAT(row2, ContainsRegex("2026-02-02T00:00:00Z +2026-01-05T00:00:00Z +manual$"));
  EXPECT_EQ(requests().back().target, "/v1/organizations/acme/api-tokens?status=all&limit=1000");

  ASSERT_EQ(Run({"org", "api-token", "list", "--status", "revoked"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("REASON"));
  ASSERT_EQ(Run({"org", "api-token", "list"}), 0);
  EXPECT_THAT(out_.str(), Not(HasSubstr("REASON")));
}

TEST_F(CliRunTest, ListMarksTokensAboutToBeAutoRevoked) {
  // now_ is 2026-03-01T00:00:00Z.
  Serve([](const FakeRequest&) {
    return FakeResponse{
        200, R"({"api_tokens":[)"
             R"({"id":"t1","name":"soon","scope":"global","created_at":"2026-01-01T00:00:00Z",)"
             R"("auto_revoke_at":"2026-03-03T00:00:00Z"},)"
             R"({"id":"t2","name":"edge","scope":"global","created_at":"2026-01-01T00:00:00Z",)"
             R"("auto_revoke_at":"2026-03-08T00:00:00Z"},)"
             R"({"id":"t3","name":"later","scope":"global","created_at":"2026-01-01T00:00:00Z",)"
             R"("auto_revoke_at":"2026-03-08T00:00:01Z"},)"
             R"({"id":"t4","name":"none","scope":"global","created_at":"2026-01-01T00:00:00Z",)"
             R"("auto_revoke_at":null}]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "api-token", "list"}), 0) << err_.str();
  std::vector<std::string> lines;
  std::istringstream in(out_.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 6u) << out_.str();
  EXPECT_THAT(lines[0], ::testing::EndsWith("LAST USED AT   AUTO REVOKE AT"));
  EXPECT_THAT(lines[1], ::testing::EndsWith("never          2026-03-03T00:00:00Z (!)"));
  EXPECT_THAT(lines[2], ::testing::EndsWith("2026-03-08T00:00:00Z (!)"));
  EXPECT_THAT(lines[3], ::testing::EndsWith("2026-03-08T00:00:01Z"));
  EXPECT_THAT(lines[4], ::testing::EndsWith("never"));
  EXPECT_EQ(lines[5], "(!) will be revoked for inactivity within 7 days unless it is used");

  // Nothing close: the column stays, the legend goes.
  now_ = ParseRfc3339("2026-02-01T00:00:00Z").value();
  ASSERT_EQ(Run({"org", "api-token", "list"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("AUTO REVOKE AT"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("(!)")));
}

TEST_F(CliRunTest, RevokePostsAndNamesToken) {
  int status = 200;
  Serve([&](const FakeRequest& r) {
    if (r.method == "POST" && r.path == "/v1/organizations/acme/api-tokens/tok%201/revoke") {
      if (status == 409) {
        return FakeResponse{409, ErrorBody("failed_precondition", "the token is already revoked")};
      }
      return FakeResponse{200,
                          R"({"api_token":{"id":"tok 1","name":"ci-bot",)"
                          R"("revoked_at":"2026-03-01T00:00:00Z","revocation_reason":"manual"}})"};
    }
    return FakeResponse{404, ErrorBody("not_found", "no route")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "api-token", "revoke", "--id", "tok 1"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "API token ci-bot revoked\n");
  EXPECT_EQ(requests().back().body, "{}");
  status = 409;
  EXPECT_EQ(Run({"org", "token", "revoke", "--id", "tok 1"}), 1);
  EXPECT_EQ(err_.str(), "Error: the token is already revoked\n");
  EXPECT_EQ(Run({"org", "token", "revoke"}), 2);  // --id is required
}

TEST_F(CliRunTest, RotatePostsTheGraceAndPrintsTheNewTokenOnce) {
  const std::string secret = NewToken(crypto::CredentialKind::kApiToken);
  Serve([&](const FakeRequest& r) {
    if (r.method == "POST" && r.path == "/v1/organizations/acme/api-tokens/tok1/rotate") {
      return FakeResponse{201,
                          R"({"api_token":{"id":"tok2","name":"ci-bot","scope":"global",)"
                          R"("permissions":["workflow_run:create"],)"
                          R"("created_at":"2026-03-01T00:00:00Z","expires_at":null},)"
                          R"("token":")" +
                              secret +
                              R"(","rotated":{"id":"tok1","name":"ci-bot","rotated_to":"tok2",)"
                              R"("rotation_deadline":"2026-03-01T01:00:00Z"}})"};
    }
    return FakeResponse{404, ErrorBody("not_found", "no route")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "api-token", "rotate", "--id", "tok1", "--grace", "1h"}), 0) << err_.str();
  EXPECT_EQ(requests().back().body, R"({"grace_seconds":3600})");
  EXPECT_THAT(out_.str(), HasSubstr("API token ci-bot rotated\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Old token tok1 works until 2026-03-01T01:00:00Z\n"));
  EXPECT_THAT(out_.str(), HasSubstr("ID: tok2\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Token:\n" + secret + "\n"));
  // -o token: only the secret; default grace 0.
  ASSERT_EQ(Run({"org", "token", "rotate", "--id", "tok1", "-o", "token"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), secret + "\n");
  EXPECT_EQ(requests().back().body, R"({"grace_seconds":0})");
  // -o json: the API's answer.
  ASSERT_EQ(Run({"org", "token", "rotate", "--id", "tok1", "-o", "json"}), 0) << err_.str();
  auto json = ParseJson(out_.str());
  ASSERT_TRUE(json) << out_.str();
  EXPECT_EQ(json->at("rotated").at("rotated_to").as_string(), "tok2");
  // More than a day of grace is refused before any request.
  const size_t sent = requests().size();
  EXPECT_NE(Run({"org", "token", "rotate", "--id", "tok1", "--grace", "25h"}), 0);
  EXPECT_THAT(err_.str(), HasSubstr("--grace must be at most 24h"));
  EXPECT_EQ(requests().size(), sent);
}

TEST_F(CliRunTest, ListWideShowsWhereTokensWereLastUsedFromEscaped) {
  Serve([&](const FakeRequest& r) {
    if (r.method == "GET" && r.path == "/v1/organizations/acme/api-tokens") {
      return FakeResponse{
          200, R"({"api_tokens":[{"id":"t1","name":"ci","scope":"global",)"
               R"("created_at":"2026-02-01T00:00:00Z","last_used_at":"2026-02-02T00:00:00Z",)"
               R"("last_used_from":{"address":"203.0.113.7","user_agent":"evil\u001b[2Jagent"}},)"
               R"({"id":"t2","name":"idle","scope":"global","created_at":"2026-02-01T00:00:00Z",)"
               R"("last_used_from":null}]})"};
    }
    return FakeResponse{404, ErrorBody("not_found", "no route")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "api-token", "list"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("LAST USED FROM")));
  ASSERT_EQ(Run({"org", "api-token", "list", "--wide"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("LAST USED FROM"));
  EXPECT_THAT(out_.str(), HasSubstr("USER AGENT"));
  EXPECT_THAT(out_.str(), HasSubstr("203.0.113.7"));
  EXPECT_THAT(out_.str(), HasSubstr("agent"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("\x1b")));  // the escape never reaches the terminal
}

constexpr char kPatchedOrg[] =
    R"({"organization":{"id":"8d1e","name":"acme","created_at":"2026-01-01T00:00:00Z",)"
    R"("api_token_max_days_inactive":90}})";

TEST_F(CliRunTest, UpdateSetsInactivityThreshold) {
  std::string answer = kPatchedOrg;
  Serve([&](const FakeRequest& r) {
    if (r.method == "PATCH" &&
        (r.path == "/v1/organizations/acme" || r.path == "/v1/organizations/other")) {
      return FakeResponse{200, answer};
    }
    return FakeResponse{404, ErrorBody("not_found", "no route")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"organization", "update", "--api-token-max-days-inactive", "90"}), 0)
      << err_.str();
  EXPECT_EQ(requests().back().body, R"({"api_token_max_days_inactive":90})");
  EXPECT_EQ(requests().back().path, "/v1/organizations/acme");
  EXPECT_EQ(out_.str(),
            "Organization: acme\nID: 8d1e\nCreated at: 2026-01-01T00:00:00Z\n"
            "API token auto-revoke after: 90 days inactive\n");

  answer = R"({"organization":{"id":"8d1e","name":"other","created_at":"2026-01-01T00:00:00Z",)"
           R"("api_token_max_days_inactive":null}})";
  ASSERT_EQ(Run({"org", "update", "--name", "other", "--api-token-max-days-inactive", "0"}), 0)
      << err_.str();
  EXPECT_EQ(requests().back().path, "/v1/organizations/other");
  EXPECT_EQ(requests().back().body, R"({"api_token_max_days_inactive":0})");
  EXPECT_THAT(out_.str(), HasSubstr("Organization: other\n"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("auto-revoke")));
}

TEST_F(CliRunTest, UpdateRefusesOutOfRangeLocally) {
  Serve([](const FakeRequest&) { return FakeResponse{200, kPatchedOrg}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  for (const char* bad : {"366", "-1", "abc", "1.5", "99999"}) {
    EXPECT_EQ(Run({"org", "update", "--api-token-max-days-inactive", bad}), 1) << bad;
    EXPECT_THAT(err_.str(), HasSubstr("1-365 (0 to disable)")) << bad;
  }
  EXPECT_EQ(Run({"org", "update", "--api-token-max-days-inactive=-7"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("1-365 (0 to disable)"));
  EXPECT_EQ(Run({"org", "update"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("nothing to update"));
  EXPECT_TRUE(requests().empty());
}

TEST_F(CliRunTest, AuditListShowsEvents) {
  bool empty = false;
  Serve([&](const FakeRequest& r) {
    if (r.path != "/v1/organizations/acme/audit-events") return FakeResponse{404, "{}"};
    if (empty) return FakeResponse{200, R"({"audit_events":[]})"};
    return FakeResponse{
        200, R"({"audit_events":[)"
             R"({"id":"e1","actor_kind":"system","actor_name":"","action":"api_token.revoked",)"
             R"("target_kind":"api_token","target_id":"t1","message":"revoked after 90 days)"
             R"( inactive","created_at":"2026-03-01T01:00:00Z"},)"
             R"({"id":"e2","actor_kind":"user","actor_name":"alice","action":"api_token.created",)"
             R"("target_kind":"api_token","target_id":"t1","message":"created ci",)"
             R"("created_at":"2026-01-01T00:00:00Z","client_address":"203.0.113.7"}]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"organization", "audit", "list", "--limit", "20"}), 0) << err_.str();
  EXPECT_EQ(requests().back().target, "/v1/organizations/acme/audit-events?limit=20");
  EXPECT_EQ(out_.str(),
            "CREATED AT             ACTOR          CLIENT ADDRESS   ACTION              MESSAGE\n"
            "2026-03-01T01:00:00Z   system         -                api_token.revoked   revoked "
            "after 90 days inactive\n"
            "2026-01-01T00:00:00Z   alice (user)   203.0.113.7      api_token.created   created "
            "ci\n");
  empty = true;
  ASSERT_EQ(Run({"org", "audit", "ls"}), 0);
  EXPECT_EQ(requests().back().target, "/v1/organizations/acme/audit-events?limit=1000");
  EXPECT_EQ(out_.str(), "No audit events found.\n");
}

// ---------------------------------------------------------------------------------------------
// Credential precedence: --token > $CHAINLOOP_TOKEN > stored session

TEST_F(CliRunTest, CredentialPrecedenceReachesServer) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"api_tokens":[]})"}; });
  std::string session = NewToken(crypto::CredentialKind::kSession);
  std::string env_token = NewToken(crypto::CredentialKind::kApiToken);
  std::string flag_token = NewToken(crypto::CredentialKind::kApiToken);
  ASSERT_EQ(env_token.rfind("clapi_", 0), 0u);
  StoreSession(session);

  ASSERT_EQ(Run({"org", "token", "list"}), 0) << err_.str();
  EXPECT_EQ(requests().back().Header("authorization"), "Bearer " + session);
  EXPECT_EQ(err_.str(), "");

  env_.chainloop_token = env_token;
  ASSERT_EQ(Run({"org", "token", "list"}), 0) << err_.str();
  EXPECT_EQ(requests().back().Header("authorization"), "Bearer " + env_token);
  EXPECT_EQ(err_.str(),
            "note: using the token from $CHAINLOOP_TOKEN instead of your login session\n");

  ASSERT_EQ(Run({"org", "token", "list", "--token", flag_token}), 0) << err_.str();
  EXPECT_EQ(requests().back().Header("authorization"), "Bearer " + flag_token);
  EXPECT_EQ(err_.str(), "note: using the token from --token instead of your login session\n");

  // No stored session: an env token is used without a note.
  StoreSession("");
  ASSERT_EQ(Run({"org", "token", "list"}), 0) << err_.str();
  EXPECT_EQ(requests().back().Header("authorization"), "Bearer " + env_token);
  EXPECT_EQ(err_.str(), "");
  // Each run with a token asked whoami once for the token's organization (the fake names none,
  // so the config's is used); the session run did not.
  size_t whoami = 0;
  for (const auto& r : requests()) whoami += r.path == "/v1/auth/whoami" ? 1 : 0;
  EXPECT_EQ(whoami, 3u);
  EXPECT_EQ(requests().size(), 7u);
}

TEST_F(CliRunTest, DamagedApiTokenIsRefusedOffline) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"api_tokens":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  std::string truncated = api.substr(0, api.size() - 2);
  env_.chainloop_token = truncated;
  EXPECT_EQ(Run({"org", "token", "list"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("the token from $CHAINLOOP_TOKEN is not a valid"));
  EXPECT_THAT(err_.str(), Not(HasSubstr(truncated)));
  // A session token's prefix with an API token's body fails the checksum too.
  std::string relabeled = "clses_" + api.substr(6);
  EXPECT_EQ(Run({"org", "token", "list", "--token", relabeled}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("the token from --token is not a valid"));
  EXPECT_TRUE(requests().empty());
}

}  // namespace
}  // namespace cl::cli
