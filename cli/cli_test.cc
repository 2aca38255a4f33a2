// Tests of the chainloop CLI's core: config files, tables, URL and credential checks, error
// formatting, and what every command shares against a fake control plane (credential choice,
// error envelopes, unreachable or plain-HTTP control planes, empty lists, config permissions).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/api_client.h"
#include "cli/cli_test_support.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/context.h"
#include "cli/table.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

using testing::CommandTest;
using testing::ErrorBody;
using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::ModeOf;
using testing::NewToken;
using ::testing::Not;
using testing::TempDir;

// ---------------------------------------------------------------------------------------------
// Config files

TEST(ConfigTest, DefaultPathFollowsXdg) {
  EXPECT_EQ(DefaultConfigPath("/x/cfg", "/home/u"), "/x/cfg/chainloop/config.toml");
  EXPECT_EQ(DefaultConfigPath("", "/home/u"), "/home/u/.config/chainloop/config.toml");
}

TEST(ConfigTest, MissingFileIsEmptyConfig) {
  TempDir dir;
  auto cfg = LoadConfig(dir.path() + "/nope/config.toml");
  ASSERT_TRUE(cfg.has_value());
  EXPECT_TRUE(cfg->sessions.empty());
  EXPECT_TRUE(cfg->organization.empty());
}

TEST(ConfigTest, SaveCreatesPrivateFileAndDirectoryEvenWithPermissiveUmask) {
  TempDir dir;
  std::string path = dir.path() + "/a/chainloop/config.toml";
  mode_t old = umask(0);  // the CLI must not rely on the user's umask
  CliConfig cfg{"https://cp.example.com",
                "acme",
                {{"https://cp.example.com:443", NewToken(crypto::CredentialKind::kSession),
                  "2030-01-01T00:00:00Z"}}};
  auto st = SaveConfig(path, cfg);
  umask(old);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ModeOf(dir.path() + "/a/chainloop"), 0700);
  EXPECT_EQ(ModeOf(dir.path() + "/a"), 0700);

  auto loaded = LoadConfig(path);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->control_plane, cfg.control_plane);
  EXPECT_EQ(loaded->organization, "acme");
  EXPECT_EQ(loaded->sessions, cfg.sessions);
}

TEST(ConfigTest, RewriteIsAtomicAndLeavesNoTempFiles) {
  TempDir dir;
  std::string path = dir.path() + "/config.toml";
  ASSERT_TRUE(SaveConfig(path, CliConfig{"", "one", {}}).has_value());
  struct stat before {};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  // Keep the old file open: an atomic rewrite replaces the directory entry, so the open file
  // still shows the complete old content rather than a truncated or half-written one.
  std::ifstream old_handle(path);
  ASSERT_TRUE(SaveConfig(path, CliConfig{"", "two", {}}).has_value());
  struct stat after {};
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "the file was rewritten in place, not renamed";
  std::stringstream old_content;
  old_content << old_handle.rdbuf();
  EXPECT_THAT(old_content.str(), HasSubstr("one"));
  EXPECT_EQ(LoadConfig(path)->organization, "two");
  EXPECT_EQ(ModeOf(path), 0600);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(ConfigTest, EscapesValuesAndRejectsMalformedToml) {
  TempDir dir;
  std::string path = dir.path() + "/config.toml";
  ASSERT_TRUE(SaveConfig(path, CliConfig{"", "we\"ird\\name\n", {}}).has_value());
  EXPECT_EQ(LoadConfig(path)->organization, "we\"ird\\name\n");

  ASSERT_TRUE(WritePrivateFileAtomic(path, "organization = [unterminated\n").has_value());
  auto bad = LoadConfig(path);
  ASSERT_FALSE(bad.has_value());
  EXPECT_TRUE(bad.error().IsInvalidArgument());
  EXPECT_THAT(bad.error().message(), HasSubstr(path));

  ASSERT_TRUE(WritePrivateFileAtomic(path, "organization = 42\n").has_value());
  EXPECT_FALSE(LoadConfig(path).has_value());
}

TEST(ConfigTest, AttestationStateRoundTripAndRemove) {
  TempDir dir;
  std::string state_path =
      AttestationStatePath(dir.path() + "/config.toml", "https://cp.example.com:443", "session");
  EXPECT_THAT(state_path, ::testing::StartsWith(dir.path() + "/attestations/"));
  auto none = LoadAttestationState(state_path);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(SaveAttestationState(state_path, {"run-1", "acme"}).has_value());
  EXPECT_EQ(ModeOf(state_path), 0600);
  auto loaded = LoadAttestationState(state_path);
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  EXPECT_EQ((*loaded)->attestation_id, "run-1");
  EXPECT_EQ((*loaded)->organization, "acme");
  ASSERT_TRUE(RemoveAttestationState(state_path).has_value());
  EXPECT_FALSE(LoadAttestationState(state_path)->has_value());
}

TEST(ConfigTest, ReadSmallFileEnforcesLimit) {
  TempDir dir;
  std::string path = dir.path() + "/f";
  ASSERT_TRUE(WritePrivateFileAtomic(path, std::string(11, 'x')).has_value());
  EXPECT_TRUE(ReadSmallFile(path, 11).has_value());
  auto big = ReadSmallFile(path, 10);
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code(), Error::Code::kPayloadTooLarge);
  EXPECT_TRUE(ReadSmallFile(dir.path() + "/missing", 10).error().IsNotFound());
}

// ---------------------------------------------------------------------------------------------
// Table writer

TEST(TextTableTest, PadsColumnsToWidestCell) {
  TextTable t({"NAME", "ROLE", "CREATED AT"});
  t.AddRow({"acme", "owner", "2026-01-01T00:00:00Z"});
  t.AddRow({"a-much-longer-name", "viewer", "2026-01-02T00:00:00Z"});
  EXPECT_EQ(t.Render(),
            "NAME                 ROLE     CREATED AT\n"
            "acme                 owner    2026-01-01T00:00:00Z\n"
            "a-much-longer-name   viewer   2026-01-02T00:00:00Z\n");
}

TEST(TextTableTest, CountsColumnsNotBytesAndHasNoTrailingSpaces) {
  TextTable t({"N", "X"});
  t.AddRow({"\xC3\xA9t\xC3\xA9", ""});  // "été": 3 code points, 5 bytes
  t.AddRow({"abcd", "y"});
  EXPECT_EQ(t.Render(),
            "N      X\n"
            "\xC3\xA9t\xC3\xA9\n"
            "abcd   y\n");
  EXPECT_EQ(DisplayWidth("\xC3\xA9t\xC3\xA9"), 3u);
}

TEST(TextTableTest, WideCharactersTakeTwoColumnsAndCombiningMarksNone) {
  EXPECT_EQ(DisplayWidth("\xE6\x97\xA5\xE6\x9C\xAC"), 4u);  // "日本": two wide characters
  EXPECT_EQ(DisplayWidth("\xF0\x9F\x9A\x80"), 2u);          // U+1F680 rocket
  EXPECT_EQ(DisplayWidth("e\xCC\x81"), 1u);                 // "e" + U+0301 combining acute
  EXPECT_EQ(DisplayWidth("\xEF\xBD\xA1"), 1u);              // U+FF61: halfwidth, one column
  TextTable t({"NAME", "ROLE"});
  t.AddRow({"\xE6\x97\xA5\xE6\x9C\xAC", "owner"});  // 4 columns
  t.AddRow({"cafe\xCC\x81", "admin"});              // "café" decomposed: 4 columns
  t.AddRow({"\xF0\x9F\x9A\x80x", "viewer"});        // 3 columns
  EXPECT_EQ(t.Render(),
            "NAME   ROLE\n"
            "\xE6\x97\xA5\xE6\x9C\xAC   owner\n"
            "cafe\xCC\x81   admin\n"
            "\xF0\x9F\x9A\x80x    viewer\n");
}

TEST(TextTableTest, EveryCellIsMadeTerminalSafe) {
  TextTable t({"NAME", "NOTE"});
  t.AddRow(
      {"\x1b]52;c;aGk=\x07"
       "evil",
       "a\xE2\x80\xAE"
       "b"});  // OSC 52 and a bidi override
  t.AddRow({"ok",
            "\x9b"
            "31m"});  // a lone C1-looking byte
  std::string out = t.Render();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xE2\x80\xAE"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x9b'), std::string::npos) << out;
  EXPECT_NE(out.find("\\x1b]52;c;aGk=\\x07evil"), std::string::npos) << out;
  EXPECT_NE(out.find("a\\u202eb"), std::string::npos) << out;
}

TEST(TextTableTest, ShortRowsAndNewlinesDoNotBreakLayout) {
  TextTable t({"A", "B"});
  EXPECT_TRUE(t.empty());
  t.AddRow({"x\ny"});
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(t.Render(), "A      B\nx\\ny\n");
}

// ---------------------------------------------------------------------------------------------
// URL and credential checks

TEST(ControlPlaneUrlTest, RefusesPlainHttpToNonLoopbackUnlessInsecure) {
  EXPECT_TRUE(CheckControlPlaneUrl("https://cp.example.com", false).has_value());
  EXPECT_TRUE(CheckControlPlaneUrl("http://127.0.0.1:8000", false).has_value());
  EXPECT_TRUE(CheckControlPlaneUrl("http://localhost:8000/", false).has_value());
  EXPECT_TRUE(CheckControlPlaneUrl("http://[::1]:8000", false).has_value());
  EXPECT_TRUE(CheckControlPlaneUrl("http://127.1.2.3", false).has_value());

  auto refused = CheckControlPlaneUrl("http://cp.example.com:8000", false);
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message(), HasSubstr("--insecure"));
  EXPECT_THAT(refused.error().message(), HasSubstr("cp.example.com"));
  EXPECT_FALSE(CheckControlPlaneUrl("http://127.0.0.1.evil.example", false).has_value());
  EXPECT_FALSE(CheckControlPlaneUrl("http://10.0.0.1", false).has_value());
  EXPECT_TRUE(CheckControlPlaneUrl("http://cp.example.com:8000", true).has_value());
  EXPECT_FALSE(CheckControlPlaneUrl("ftp://127.0.0.1", true).has_value());
  EXPECT_FALSE(CheckControlPlaneUrl("cp.example.com", true).has_value());
}

TEST(ControlPlaneUrlTest, ExtractsHost) {
  EXPECT_EQ(UrlHost("https://a.b:443/x"), "a.b");
  EXPECT_EQ(UrlHost("http://[::1]:80"), "::1");
  EXPECT_EQ(UrlHost("http://u@h/p"), "h");
  EXPECT_EQ(UrlHost("nohost"), "");
}

TEST(CredentialTest, PrecedenceAndOverrideNote) {
  std::string session = NewToken(crypto::CredentialKind::kSession);
  std::string api = NewToken(crypto::CredentialKind::kApiToken);

  auto from_session = ResolveCredential("", "", session);
  ASSERT_TRUE(from_session.has_value());
  EXPECT_EQ(from_session->source, CredentialSource::kSession);
  EXPECT_TRUE(from_session->note.empty());

  auto from_env = ResolveCredential("", api, session);
  ASSERT_TRUE(from_env.has_value());
  EXPECT_EQ(from_env->source, CredentialSource::kEnv);
  EXPECT_EQ(from_env->token, api);
  EXPECT_EQ(from_env->note,
            "note: using the token from $CHAINLOOP_TOKEN instead of your login session");

  auto from_flag = ResolveCredential(api, session, session);
  ASSERT_TRUE(from_flag.has_value());
  EXPECT_EQ(from_flag->source, CredentialSource::kFlag);
  EXPECT_THAT(from_flag->note, HasSubstr("--token"));

  auto env_without_session = ResolveCredential("", api, "");
  ASSERT_TRUE(env_without_session.has_value());
  EXPECT_TRUE(env_without_session->note.empty());

  auto none = ResolveCredential("", "", "");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->source, CredentialSource::kNone);
}

TEST(CredentialTest, RefusesMutatedTokenWithoutEchoingIt) {
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  std::string mutated = api;
  size_t i = mutated.size() / 2;
  mutated[i] = mutated[i] == 'a' ? 'b' : 'a';
  auto r = ResolveCredential("", mutated, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason(), "malformed_token");
  EXPECT_THAT(r.error().message(), HasSubstr("$CHAINLOOP_TOKEN"));
  EXPECT_THAT(r.error().message(), Not(HasSubstr(mutated)));
  EXPECT_THAT(r.error().message(), Not(HasSubstr(mutated.substr(6, 20))));

  auto truncated = ResolveCredential(api.substr(0, api.size() - 1), "", "");
  ASSERT_FALSE(truncated.has_value());
  EXPECT_THAT(truncated.error().message(), HasSubstr("--token"));

  // One-time login values are not bearer credentials.
  EXPECT_FALSE(ResolveCredential(NewToken(crypto::CredentialKind::kLoginCode), "", "").has_value());
}

// ---------------------------------------------------------------------------------------------
// Error envelope

TEST(ErrorFormatTest, DecodesEnvelopeAndFormats) {
  Error e = DecodeErrorResponse(403, ErrorBody("permission_denied", "your role viewer cannot x"));
  EXPECT_TRUE(e.IsPermissionDenied());
  EXPECT_EQ(e.reason(), "permission_denied");
  EXPECT_EQ(e.message(), "your role viewer cannot x");
  EXPECT_EQ(FormatCliError(e, false, false), "Error: your role viewer cannot x");
  EXPECT_EQ(FormatCliError(e, true, false),
            "Error: your role viewer cannot x (code: permission_denied)");

  Error garbage = DecodeErrorResponse(502, "<html>bad gateway</html>");
  EXPECT_TRUE(garbage.IsUnavailable());
  EXPECT_THAT(garbage.message(), HasSubstr("502"));
}

TEST(ErrorFormatTest, UnknownServerCodeIsShownVerbatim) {
  // A code this CLI does not know (a newer control plane) is kept as received, not mapped.
  Error e = DecodeErrorResponse(409, ErrorBody("quota_exceeded", "the quota is used up"));
  EXPECT_EQ(e.reason_code(), Reason::kUnrecognized);
  EXPECT_EQ(e.reason(), "quota_exceeded");
  EXPECT_EQ(FormatCliError(e, true, false), "Error: the quota is used up (code: quota_exceeded)");
  Error bare = DecodeErrorResponse(418, "{}");
  EXPECT_EQ(bare.reason(), "http_418");
  Error known = DecodeErrorResponse(401, ErrorBody("token_expired", "expired"));
  EXPECT_TRUE(known.Is(Reason::kTokenExpired));
}

TEST(ErrorFormatTest, SessionEndedHint) {
  const std::string hint = "Your session has ended: run `chainloop auth login`";
  Error expired = DecodeErrorResponse(401, ErrorBody("session_expired", "session expired"));
  EXPECT_EQ(FormatCliError(expired, false, false), "Error: session expired\n" + hint);
  Error revoked = DecodeErrorResponse(401, ErrorBody("session_revoked", "session revoked"));
  EXPECT_THAT(FormatCliError(revoked, false, true), HasSubstr(hint));
  Error invalid = DecodeErrorResponse(401, ErrorBody("invalid_token", "unknown token"));
  EXPECT_THAT(FormatCliError(invalid, false, true), HasSubstr(hint));
  EXPECT_THAT(FormatCliError(invalid, false, false), Not(HasSubstr(hint)));
  Error denied = DecodeErrorResponse(403, ErrorBody("permission_denied", "no"));
  EXPECT_THAT(FormatCliError(denied, false, true), Not(HasSubstr(hint)));
}

// ---------------------------------------------------------------------------------------------
// Every command against a fake control plane

TEST_F(CommandTest, EnvTokenOverridesSessionWithNote) {
  Serve([](const FakeRequest&) {
    return FakeResponse{200, R"({"organizations":[{"id":"1","name":"acme","role":"owner",)"
                             R"("created_at":"2026-01-01T00:00:00Z"},{"id":"2","name":"beta",)"
                             R"("role":"viewer","created_at":"2026-01-02T00:00:00Z"}]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  env_.chainloop_token = api;
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 0) << err_.str();
  EXPECT_EQ(err_.str(),
            "note: using the token from $CHAINLOOP_TOKEN instead of your login session\n");
  EXPECT_EQ(server_->requests().at(0).Header("authorization"), "Bearer " + api);
  EXPECT_EQ(out_.str(),
            "NAME   ROLE     CREATED AT             CURRENT\n"
            "acme   owner    2026-01-01T00:00:00Z   *\n"
            "beta   viewer   2026-01-02T00:00:00Z\n");
}

TEST_F(CommandTest, MutatedTokenNeverReachesServer) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"organizations":[]})"}; });
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  api.back() = api.back() == '0' ? '1' : '0';
  options_.token = api;
  EXPECT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 1);
  EXPECT_TRUE(server_->requests().empty());
  EXPECT_THAT(err_.str(), HasSubstr("Error: the token from --token is not a valid"));
  EXPECT_THAT(err_.str(), Not(HasSubstr(api)));
}

TEST_F(CommandTest, ErrorEnvelopeAndSessionHint) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations") {
      return FakeResponse{401, ErrorBody("session_revoked", "the session was revoked")};
    }
    return FakeResponse{403,
                        ErrorBody("permission_denied", "your role viewer cannot project:create")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 1);
  EXPECT_EQ(err_.str(),
            "Error: the session was revoked\n"
            "Your session has ended: run `chainloop auth login`\n");
  options_.debug = true;
  EXPECT_EQ(Run([](CliContext& c) { return ProjectCreate(c, "p1"); }), 1);
  EXPECT_THAT(err_.str(), HasSubstr("Error: your role viewer cannot project:create (code: "
                                    "permission_denied)\n"));
  // Debug lines name the request but never the credential.
  EXPECT_THAT(err_.str(),
              HasSubstr("debug: --> POST " + server_->url() + "/v1/organizations/acme/projects"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("clses_")));
  EXPECT_THAT(err_.str(), Not(HasSubstr("Bearer")));
}

TEST_F(CommandTest, UnreachableControlPlane) {
  int dead_port;
  {
    FakeHttpServer tmp([](const FakeRequest&) { return FakeResponse{}; });
    dead_port = tmp.port();
  }
  options_.control_plane = "http://127.0.0.1:" + std::to_string(dead_port);
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 1);
  EXPECT_THAT(err_.str(), HasSubstr("Error: cannot reach the control plane at http://127.0.0.1:" +
                                    std::to_string(dead_port) + ": "));
}

TEST_F(CommandTest, PlainHttpToRemoteRefusedBeforeAnyRequest) {
  options_.control_plane = "http://cp.example.com";
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--insecure"));
}

TEST_F(CommandTest, NotLoggedIn) {
  Serve([](const FakeRequest&) { return FakeResponse{200, "{}"}; });
  EXPECT_EQ(Run(AuthStatus), 1);
  EXPECT_THAT(err_.str(), HasSubstr("chainloop auth login"));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(CommandTest, EmptyListsSayNothingFound) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations") return FakeResponse{200, R"({"organizations":[]})"};
    if (r.path.ends_with("/projects")) return FakeResponse{200, R"({"projects":[]})"};
    return FakeResponse{200, R"({"workflow_runs":[]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 0);
  EXPECT_EQ(out_.str(), "No organizations found.\n");
  ASSERT_EQ(Run([](CliContext& c) { return ProjectList(c, std::nullopt); }), 0);
  EXPECT_EQ(out_.str(), "No projects found.\n");
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunList(c, "my proj", 5); }), 0);
  EXPECT_EQ(out_.str(), "No workflow runs found.\n");
  EXPECT_EQ(server_->requests().back().target,
            "/v1/organizations/acme/workflow-runs?project=my%20proj&limit=5");
}

TEST_F(CommandTest, WarnsAboutLooseConfigPermissions) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"organizations":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 0);
  EXPECT_EQ(err_.str(), "");
  ASSERT_EQ(chmod(config_path().c_str(), 0644), 0);
  ASSERT_EQ(Run([](CliContext& c) { return OrganizationList(c, std::nullopt); }), 0);
  EXPECT_THAT(err_.str(), HasSubstr("readable by other users"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("clses_")));
}

}  // namespace
}  // namespace cl::cli
