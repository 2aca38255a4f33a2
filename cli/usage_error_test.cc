// The command line's own behaviour: help for a bare `chainloop` and for command groups, unknown
// commands and flags named with suggestions, and `version` / `--version`.
#include "cli/usage_error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <sstream>

#include "cli/app.h"
#include "cli/cli_test_support.h"
#include "common/version.h"

namespace cl::cli {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using testing::TempDir;

TEST(ClosestMatchesTest, SuggestsNearbyAndPrefixesBestFirst) {
  const std::vector<std::string> commands = {"organization", "project",  "attestation",
                                             "auth",         "workflow", "version"};
  EXPECT_EQ(ClosestMatches("orgnization", commands), std::vector<std::string>{"organization"});
  EXPECT_EQ(ClosestMatches("atestation", commands), std::vector<std::string>{"attestation"});
  EXPECT_EQ(ClosestMatches("proj", commands), std::vector<std::string>{"project"});
  EXPECT_EQ(ClosestMatches("auht", commands), std::vector<std::string>{"auth"});
  EXPECT_TRUE(ClosestMatches("zzzzzz", commands).empty());
  EXPECT_TRUE(ClosestMatches("", commands).empty());
  EXPECT_EQ(ClosestMatches("--stauts", {"--status", "--scope", "--project"}),
            std::vector<std::string>{"--status"});
}

class CommandLineTest : public ::testing::Test {
 protected:
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    CliEnvironment env;
    env.home = dir_.path();
    return RunCli(args, env, out_, err_);
  }
  TempDir dir_;
  std::ostringstream out_, err_;
};

TEST_F(CommandLineTest, BareChainloopPrintsHelpAndSucceeds) {
  EXPECT_EQ(Run({}), 0);
  EXPECT_NE(out_.str().find("Available Commands:"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("organization"), std::string::npos);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandLineTest, ACommandGroupAloneShowsItsHelp) {
  EXPECT_EQ(Run({"organization"}), 0);
  EXPECT_NE(out_.str().find("api-token"), std::string::npos) << out_.str();
  EXPECT_EQ(Run({"org", "api-token"}), 0);
  EXPECT_NE(out_.str().find("revoke"), std::string::npos) << out_.str();
}

TEST_F(CommandLineTest, UnknownCommandsAreNamedWithSuggestions) {
  EXPECT_EQ(Run({"orgnization", "list"}), 2);
  EXPECT_NE(err_.str().find(R"(unknown command "orgnization" for "chainloop")"), std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("Did you mean this?\n  organization"), std::string::npos);
  EXPECT_EQ(err_.str().find("A subcommand is required"), std::string::npos);

  EXPECT_EQ(Run({"org", "api-token", "lst"}), 2);
  EXPECT_NE(err_.str().find(R"(unknown command "lst" for "chainloop organization api-token")"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("\n  list"), std::string::npos);
  EXPECT_NE(err_.str().find("Run 'chainloop organization api-token --help' for usage."),
            std::string::npos);

  EXPECT_EQ(Run({"frobnicate"}), 2);
  EXPECT_NE(err_.str().find(R"(unknown command "frobnicate")"), std::string::npos);
  EXPECT_EQ(err_.str().find("Did you mean"), std::string::npos);
}

TEST_F(CommandLineTest, UnknownFlagsAreNamedWithSuggestionsWhateverTheirPlace) {
  EXPECT_EQ(Run({"org", "api-token", "list", "--stauts", "all"}), 2);
  EXPECT_NE(err_.str().find("unknown flag: --stauts"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("\n  --status"), std::string::npos) << err_.str();
  // A global flag's typo, before the command.
  EXPECT_EQ(Run({"--contol-plane", "http://127.0.0.1:1", "org", "list"}), 2);
  EXPECT_NE(err_.str().find("unknown flag: --contol-plane"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("\n  --control-plane"), std::string::npos) << err_.str();
  // Known flags with values are skipped over, so the unknown command after them is found.
  EXPECT_EQ(Run({"-n", "acme", "orgs"}), 2);
  EXPECT_NE(err_.str().find(R"(unknown command "orgs")"), std::string::npos) << err_.str();
}

TEST_F(CommandLineTest, UsageErrorsAreJsonWithDashOJson) {
  EXPECT_EQ(Run({"-o", "json", "orgnization", "list"}), 2);
  const std::string err = err_.str();
  auto parsed = boost::json::parse(err);
  ASSERT_TRUE(parsed.is_object()) << err;
  EXPECT_EQ(parsed.at("error").at("code").as_string(), "usage");
  EXPECT_NE(std::string(parsed.at("error").at("message").as_string()).find("orgnization"),
            std::string::npos);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);  // one line
  EXPECT_EQ(Run({"org", "api-token", "revoke", "--output=json"}), 2);
  EXPECT_NE(err_.str().find(R"({"error":{"code":"usage","message":)"), std::string::npos)
      << err_.str();
}

TEST_F(CommandLineTest, MissingRequiredFlagsStillSayWhatIsMissing) {
  EXPECT_EQ(Run({"org", "api-token", "revoke"}), 2);
  EXPECT_NE(err_.str().find("--id is required"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("Run 'chainloop organization api-token revoke --help'"),
            std::string::npos)
      << err_.str();
}

TEST_F(CommandLineTest, VersionFlagPrintsTheClientVersion) {
  EXPECT_EQ(Run({"--version"}), 0);
  EXPECT_EQ(out_.str(),
            "chainloop " + std::string(Version()) + " (commit " + std::string(Commit()) + ")\n");
}

TEST_F(CommandLineTest, VersionCommandAsksTheServerAnonymously) {
  FakeHttpServer server([](const FakeRequest& r) -> FakeResponse {
    if (r.path == "/v1/version") return {200, R"({"version":"9.9.9","commit":"abc123"})"};
    return {404, "{}"};
  });
  EXPECT_EQ(Run({"version", "--control-plane", server.url(), "--token",
                 testing::NewToken(crypto::CredentialKind::kApiToken)}),
            0);
  EXPECT_NE(out_.str().find("Client Version: " + std::string(Version())), std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("Server Version: 9.9.9 (commit abc123)"), std::string::npos)
      << out_.str();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].Header("authorization"), "");  // no credential sent

  EXPECT_EQ(Run({"version", "-o", "json", "--control-plane", server.url()}), 0);
  EXPECT_NE(out_.str().find(R"("server":{"version":"9.9.9","commit":"abc123"})"), std::string::npos)
      << out_.str();

  // No server: the client's version, and why there is no server's (exit 0).
  EXPECT_EQ(Run({"version", "--control-plane", "http://127.0.0.1:1"}), 0);
  EXPECT_NE(out_.str().find("Client Version:"), std::string::npos);
  EXPECT_NE(err_.str().find("Server Version: unavailable"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace cl::cli
