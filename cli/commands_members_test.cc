// Whole command lines against a fake control plane: `organization member update|delete`,
// `organization invitation revoke`, the one confirmation prompt of destructive commands (and
// -y/--yes), and the token states in `organization api-token list` (--all, --status expired,
// the expiry mark).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "cli/cli_test_support.h"
#include "cli/config.h"
#include "cli/context.h"
#include "cli/control_plane_url.h"
#include "cli/validation.h"
#include "common/clock.h"

namespace cl::cli {
namespace {

using testing::ErrorBody;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::NewToken;
using ::testing::Not;

constexpr char kMembers[] =
    R"({"members":[{"user_id":"u-own","email":"owner@example.com","name":"O","role":"owner",)"
    R"("created_at":"2026-01-01T00:00:00Z"},{"user_id":"u bob","email":"bob@example.com",)"
    R"("name":"Bob","role":"member","created_at":"2026-01-02T00:00:00Z"}]})";

class MemberCommandsTest : public ::testing::Test {
 protected:
  // Serves the members list, PATCH/DELETE of members, DELETE of invitations, token revocation
  // and trust policy deletion; `status_` and `body_` answer the changes.
  void SetUp() override {
    server_ = std::make_unique<testing::FakeHttpServer>([this](const FakeRequest& r) {
      if (r.method == "GET" && r.path == "/v1/organizations/acme/members") {
        return FakeResponse{200, kMembers};
      }
      if (r.method == "GET" && r.path == "/v1/organizations/acme/api-tokens") {
        return FakeResponse{200, tokens_};
      }
      return FakeResponse{status_, body_};
    });
    CliConfig cfg{"", "acme", {}};
    cfg.sessions.push_back({*NormalizeControlPlaneUrl(server_->url()),
                            NewToken(crypto::CredentialKind::kSession), "2030-01-01T00:00:00Z"});
    ASSERT_TRUE(SaveConfig(config_path(), cfg).has_value());
  }

  std::string config_path() const { return dir_.path() + "/chainloop/config.toml"; }

  // Runs `chainloop ARGS` with `answer` on standard input (a terminal when `terminal`).
  int Run(std::vector<std::string> args, bool terminal = false, const std::string& answer = "") {
    out_.str("");
    err_.str("");
    args.insert(args.end(), {"--control-plane", server_->url(), "--config", config_path()});
    CliEnvironment env;
    env.stdin_is_terminal = terminal;
    std::istringstream in(answer);
    RunCliHooks hooks;
    hooks.clock = std::make_unique<FakeClock>(now_);
    hooks.input = &in;
    return RunCli(args, env, out_, err_, std::move(hooks));
  }

  // The requests that changed something (not GETs).
  std::vector<FakeRequest> Changes() const {
    std::vector<FakeRequest> out;
    for (const auto& r : server_->requests()) {
      if (r.method != "GET") out.push_back(r);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::FakeHttpServer> server_;
  int status_ = 204;
  std::string body_;
  std::string tokens_ = R"({"api_tokens":[]})";
  UnixMillis now_ = ParseRfc3339("2026-03-01T00:00:00Z").value();
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(MemberCommandsTest, UpdateResolvesTheEmailAndPatchesTheRole) {
  status_ = 200;
  body_ = R"({"member":{"user_id":"u bob","email":"bob@example.com","role":"admin"}})";
  ASSERT_EQ(Run({"org", "member", "update", "--email", "Bob@Example.com", "--role", "admin"}), 0)
      << err_.str();
  EXPECT_EQ(out_.str(), "Member bob@example.com is now admin\n");
  auto changes = Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].method, "PATCH");
  EXPECT_EQ(changes[0].path, "/v1/organizations/acme/members/u%20bob");
  EXPECT_EQ(changes[0].body, R"({"role":"admin"})");

  // Unknown email: nothing sent; unknown role: a usage error.
  EXPECT_EQ(Run({"org", "member", "update", "--email", "eve@example.com", "--role", "viewer"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no member with email eve@example.com in acme"));
  EXPECT_EQ(Run({"org", "member", "update", "--email", "bob@example.com", "--role", "root"}), 2);
  EXPECT_EQ(Changes().size(), 1u);

  // The server's refusal is shown as it says it.
  status_ = 409;
  body_ = ErrorBody("last_owner", "the organization's only owner cannot be removed or demoted");
  EXPECT_EQ(Run({"org", "member", "update", "--email", "owner@example.com", "--role", "admin"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("only owner cannot be removed or demoted"));
}

TEST_F(MemberCommandsTest, DeleteAsksOnATerminalUnlessYes) {
  // A script (stdin not a terminal): no question.
  ASSERT_EQ(Run({"org", "member", "delete", "--email", "bob@example.com"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "Member bob@example.com removed from acme\n");
  EXPECT_EQ(err_.str(), "");
  ASSERT_EQ(Changes().size(), 1u);
  EXPECT_EQ(Changes()[0].method, "DELETE");
  EXPECT_EQ(Changes()[0].path, "/v1/organizations/acme/members/u%20bob");

  // A terminal: "no", an empty answer and end of input all change nothing.
  for (const char* answer : {"n\n", "\n", ""}) {
    EXPECT_EQ(Run({"org", "member", "remove", "--email", "bob@example.com"}, true, answer), 1);
    EXPECT_THAT(err_.str(), HasSubstr("Remove bob@example.com (member) from the organization "
                                      "acme? [y/N]: "));
    EXPECT_THAT(err_.str(), HasSubstr("aborted"));
  }
  EXPECT_EQ(Changes().size(), 1u);
  ASSERT_EQ(Run({"org", "member", "delete", "--email", "bob@example.com"}, true, "YES\n"), 0);
  EXPECT_EQ(Changes().size(), 2u);
  for (const char* yes : {"-y", "--yes"}) {
    ASSERT_EQ(Run({"org", "member", "delete", "--email", "bob@example.com", yes}, true), 0);
    EXPECT_THAT(err_.str(), Not(HasSubstr("[y/N]")));
  }
  EXPECT_EQ(Changes().size(), 4u);
}

TEST_F(MemberCommandsTest, InvitationRevokeDeletesThePendingInvitation) {
  ASSERT_EQ(Run({"org", "invitation", "revoke", "--id", "inv-1"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "Invitation inv-1 revoked\n");
  ASSERT_EQ(Changes().size(), 1u);
  EXPECT_EQ(Changes()[0].method, "DELETE");
  EXPECT_EQ(Changes()[0].path, "/v1/organizations/acme/invitations/inv-1");
  EXPECT_EQ(Run({"org", "invitation", "revoke", "--id", "inv-1"}, true, "n\n"), 1);
  EXPECT_EQ(Changes().size(), 1u);
  status_ = 404;
  body_ = ErrorBody("not_found", "no pending invitation with id 'inv-1' in acme");
  EXPECT_EQ(Run({"org", "invitation", "revoke", "--id", "inv-1", "-y"}, true), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no pending invitation"));
}

// Every destructive command goes through the same prompt.
TEST_F(MemberCommandsTest, TokenRevokeAndFederationDeleteAskToo) {
  status_ = 200;
  body_ = R"({"api_token":{"id":"t1","name":"ci"}})";
  EXPECT_EQ(Run({"org", "api-token", "revoke", "--id", "t1"}, true, "n\n"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("Revoke the API token t1 of acme? [y/N]: "));
  status_ = 204;
  body_ = "";
  EXPECT_EQ(Run({"org", "federation", "delete", "--id", "p1"}, true, "no\n"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("Delete the trust policy p1 of acme"));
  EXPECT_TRUE(Changes().empty());
  EXPECT_EQ(Run({"org", "federation", "delete", "--id", "p1"}, true, "y\n"), 0);
  ASSERT_EQ(Changes().size(), 1u);
  EXPECT_EQ(Changes()[0].path, "/v1/organizations/acme/federation-policies/p1");
}

TEST_F(MemberCommandsTest, TokenListFiltersByStateAndMarksTokensAboutToExpire) {
  // now_ is 2026-03-01T00:00:00Z.
  tokens_ = R"({"api_tokens":[)"
            R"({"id":"t1","name":"soon","state":"active","scope":"global",)"
            R"("created_at":"2026-01-01T00:00:00Z","expires_at":"2026-03-08T00:00:00Z"},)"
            R"({"id":"t2","name":"later","state":"active","scope":"global",)"
            R"("created_at":"2026-01-01T00:00:00Z","expires_at":"2026-03-08T00:00:01Z"},)"
            R"({"id":"t3","name":"dead","state":"expired","scope":"global",)"
            R"("created_at":"2026-01-01T00:00:00Z","expires_at":"2026-02-01T00:00:00Z"},)"
            R"({"id":"t4","name":"gone","state":"revoked","scope":"global",)"
            R"("created_at":"2026-01-01T00:00:00Z","expires_at":"2026-03-02T00:00:00Z",)"
            R"("revoked_at":"2026-02-01T00:00:00Z","revocation_reason":"manual"}]})";
  ASSERT_EQ(Run({"org", "api-token", "list", "--all"}), 0) << err_.str();
  EXPECT_EQ(server_->requests().back().target,
            "/v1/organizations/acme/api-tokens?status=all&limit=1000");
  std::vector<std::string> lines;
  std::istringstream in(out_.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 6u) << out_.str();
  EXPECT_THAT(lines[0], ::testing::ContainsRegex("^ID +NAME +STATE +SCOPE"));
  EXPECT_THAT(lines[1], ::testing::ContainsRegex("soon +active .*2026-03-08T00:00:00Z \\(!\\)"));
  EXPECT_THAT(lines[2], ::testing::ContainsRegex("later +active"));
  EXPECT_THAT(lines[2], Not(HasSubstr("(!)")));
  EXPECT_THAT(lines[3], ::testing::ContainsRegex("dead +expired"));
  EXPECT_THAT(lines[3], Not(HasSubstr("(!)")));  // expired already: nothing to warn about
  EXPECT_THAT(lines[4], ::testing::ContainsRegex("gone +revoked .* manual$"));
  EXPECT_THAT(lines[4], Not(HasSubstr("(!)")));
  EXPECT_EQ(lines[5], "(!) expires within 7 days");

  ASSERT_EQ(Run({"org", "api-token", "list", "--status", "expired"}), 0) << err_.str();
  EXPECT_EQ(server_->requests().back().target,
            "/v1/organizations/acme/api-tokens?status=expired&limit=1000");
  EXPECT_THAT(out_.str(), Not(HasSubstr("STATE")));
  ASSERT_EQ(Run({"org", "api-token", "list", "--all", "--status", "all"}), 0);
  const size_t sent = server_->requests().size();
  EXPECT_EQ(Run({"org", "api-token", "list", "--all", "--status", "active"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--all lists every state"));
  EXPECT_EQ(Run({"org", "api-token", "list", "--status", "dead"}), 2);  // a usage error
  EXPECT_THAT(err_.str(), HasSubstr("--status: must be active, expired, revoked or all"));
  EXPECT_EQ(server_->requests().size(), sent);
}

}  // namespace
}  // namespace cl::cli
