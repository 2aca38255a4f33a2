// Tests of the chainloop CLI's testable core: config files, tables, URL and credential checks,
// error formatting, the loopback login listener, and commands against a fake control plane.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/context.h"
#include "cli/fake_http_server.h"
#include "cli/login.h"
#include "cli/table.h"
#include "common/http_client.h"
#include "common/json.h"
#include "crypto/credential.h"
#include "crypto/hash.h"

namespace cl::cli {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using ::testing::Not;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string NewToken(crypto::CredentialKind kind) {
  SystemRandom random;
  return crypto::GenerateCredential(kind, random);
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  return R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
}

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

TEST(TextTableTest, CountsUtf8CodePointsAndHasNoTrailingSpaces) {
  TextTable t({"N", "X"});
  t.AddRow({"\xC3\xA9t\xC3\xA9", ""});  // "été": 3 code points, 5 bytes
  t.AddRow({"abcd", "y"});
  EXPECT_EQ(t.Render(),
            "N      X\n"
            "\xC3\xA9t\xC3\xA9\n"
            "abcd   y\n");
  EXPECT_EQ(DisplayWidth("\xC3\xA9t\xC3\xA9"), 3u);
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
// Loopback login listener

// Sends one raw GET to the listener and returns the raw answer (status line first).
Result<HttpClientResponse> BrowserGet(int port, const std::string& target) {
  HttpClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + target;
  req.timeout_ms = 5000;
  return HttpFetch(req);
}

TEST(LoopbackListenerTest, ReceivesCodeWithMatchingState) {
  LoopbackListener listener;
  ASSERT_TRUE(listener.Start().has_value());
  ASSERT_GT(listener.port(), 0);
  Result<HttpClientResponse> favicon = Fail(Error::Internal("not run"));
  Result<HttpClientResponse> callback = Fail(Error::Internal("not run"));
  std::thread browser([&] {
    favicon = BrowserGet(listener.port(), "/favicon.ico");
    callback = BrowserGet(listener.port(), "/callback?code=clcode_abc%2Bd&state=S1");
  });
  auto code = listener.WaitForCode("S1", std::chrono::seconds(10));
  browser.join();
  ASSERT_TRUE(code.has_value()) << code.error().ToString();
  EXPECT_EQ(*code, "clcode_abc+d");
  ASSERT_TRUE(favicon.has_value());
  EXPECT_EQ(favicon->status, 404);
  ASSERT_TRUE(callback.has_value());
  EXPECT_EQ(callback->status, 200);
  EXPECT_THAT(callback->body, HasSubstr("Login complete. You can close this window."));
}

TEST(LoopbackListenerTest, RejectsWrongStateAndKeepsWaitingUntilTimeout) {
  LoopbackListener listener;
  ASSERT_TRUE(listener.Start().has_value());
  Result<HttpClientResponse> callback = Fail(Error::Internal("not run"));
  std::thread browser(
      [&] { callback = BrowserGet(listener.port(), "/callback?code=c&state=attacker"); });
  auto code = listener.WaitForCode("expected", std::chrono::milliseconds(1500));
  browser.join();
  ASSERT_FALSE(code.has_value());
  EXPECT_EQ(code.error().reason(), "login_timeout");
  EXPECT_THAT(code.error().message(), HasSubstr("did not match"));
  ASSERT_TRUE(callback.has_value());
  EXPECT_EQ(callback->status, 400);
  EXPECT_THAT(callback->body, HasSubstr("state mismatch"));
  EXPECT_THAT(callback->body, Not(HasSubstr("Login complete")));
}

// A callback without the right state must not end the login: anyone who can reach the
// loopback port could send one. The genuine callback that follows still completes it.
TEST(LoopbackListenerTest, IgnoresErrorCallbackWithoutOrWithWrongState) {
  LoopbackListener listener;
  ASSERT_TRUE(listener.Start().has_value());
  std::vector<Result<HttpClientResponse>> answers;
  std::thread browser([&] {
    answers.push_back(BrowserGet(listener.port(), "/callback?error=access_denied"));
    answers.push_back(BrowserGet(listener.port(), "/callback?error=access_denied&state="));
    answers.push_back(BrowserGet(listener.port(), "/callback?error=access_denied&state=S2"));
    answers.push_back(BrowserGet(listener.port(), "/callback?code=genuine&state=S1"));
  });
  auto code = listener.WaitForCode("S1", std::chrono::seconds(10));
  browser.join();
  ASSERT_TRUE(code.has_value()) << code.error().ToString();
  EXPECT_EQ(*code, "genuine");
  ASSERT_EQ(answers.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(answers[i].has_value()) << i << ": " << answers[i].error().ToString();
    EXPECT_EQ(answers[i]->status, 400) << i;
    EXPECT_THAT(answers[i]->body, HasSubstr("state mismatch")) << i;
  }
  ASSERT_TRUE(answers[3].has_value()) << answers[3].error().ToString();
  EXPECT_EQ(answers[3]->status, 200);
  EXPECT_THAT(answers[3]->body, HasSubstr("Login complete"));
}

TEST(LoopbackListenerTest, IgnoresCodeWithWrongStateUntilTheGenuineCallback) {
  LoopbackListener listener;
  ASSERT_TRUE(listener.Start().has_value());
  std::vector<Result<HttpClientResponse>> answers;
  std::thread browser([&] {
    answers.push_back(BrowserGet(listener.port(), "/callback?code=attacker&state=S2"));
    answers.push_back(BrowserGet(listener.port(), "/callback?code=attacker"));
    answers.push_back(BrowserGet(listener.port(), "/callback?code=genuine&state=S1"));
  });
  auto code = listener.WaitForCode("S1", std::chrono::seconds(10));
  browser.join();
  ASSERT_TRUE(code.has_value()) << code.error().ToString();
  EXPECT_EQ(*code, "genuine");
  ASSERT_EQ(answers.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(answers[i].has_value()) << i << ": " << answers[i].error().ToString();
    EXPECT_EQ(answers[i]->status, 400) << i;
    EXPECT_THAT(answers[i]->body, Not(HasSubstr("Login complete"))) << i;
  }
  ASSERT_TRUE(answers[2].has_value()) << answers[2].error().ToString();
  EXPECT_EQ(answers[2]->status, 200);
}

// With its state, an `error` ends the wait at once (the person cancelled at the IdP and the
// control plane sent the browser back here), with a clear message naming only a known OAuth code:
// nothing else from the URL (escape sequences, made-up text) reaches the terminal.
TEST(LoopbackListenerTest, ErrorWithItsStateStopsAtOnceNamingOnlyKnownCodes) {
  struct Case {
    std::string error;  // percent-encoded as sent
    std::string reason;
    std::string message;
  };
  const Case cases[] = {
      {"access_denied", "login_cancelled",
       "login cancelled at the identity provider: access_denied"},
      {"login_required", "login_failed", "login failed at the identity provider: login_required"},
      {"consent_required", "login_failed",
       "login failed at the identity provider: consent_required"},
      {"server_error", "login_failed", "login failed at the identity provider: server_error"},
      {"%1b%5b31mevil%0aFAKE%3a+ok", "login_failed",
       "login failed at the identity provider (unrecognized error)"},
      {"access_denied%0a", "login_failed",
       "login failed at the identity provider (unrecognized error)"},
      {"", "login_failed", "login failed at the identity provider (unrecognized error)"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.error);
    LoopbackListener listener;
    ASSERT_TRUE(listener.Start().has_value());
    Result<HttpClientResponse> callback = Fail(Error::Internal("not run"));
    std::thread browser([&] {
      callback = BrowserGet(listener.port(), "/callback?state=S1&error=" + tc.error +
                                                 "&error_description=%1b%5b2J+you+are+hacked");
    });
    const auto start = std::chrono::steady_clock::now();
    auto code = listener.WaitForCode("S1", std::chrono::seconds(30));
    browser.join();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    ASSERT_FALSE(code.has_value());
    EXPECT_EQ(code.error().reason(), tc.reason);
    EXPECT_THAT(code.error().message(), ::testing::StartsWith(tc.message));
    EXPECT_THAT(code.error().message(), Not(HasSubstr("evil")));
    EXPECT_THAT(code.error().message(), Not(HasSubstr("hacked")));
    for (char c : code.error().message()) {
      auto b = static_cast<unsigned char>(c);
      EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "byte " << static_cast<int>(b);
    }
    if (tc.reason == "login_cancelled") {
      EXPECT_TRUE(code.error().IsPermissionDenied());
    }
    ASSERT_TRUE(callback.has_value()) << callback.error().ToString();
    EXPECT_EQ(callback->status, 400);
    EXPECT_THAT(callback->body, HasSubstr("Login failed. Return to the terminal"));
    EXPECT_THAT(callback->body, Not(HasSubstr("evil")));
  }
}

TEST(LoopbackListenerTest, ReportsIdpErrorAndTimesOut) {
  {
    LoopbackListener listener;
    ASSERT_TRUE(listener.Start().has_value());
    std::thread browser(
        [&] { (void)BrowserGet(listener.port(), "/callback?error=access_denied&state=s"); });
    auto code = listener.WaitForCode("s", std::chrono::seconds(10));
    browser.join();
    ASSERT_FALSE(code.has_value());
    EXPECT_THAT(code.error().message(), HasSubstr("access_denied"));
  }
  LoopbackListener listener;
  ASSERT_TRUE(listener.Start().has_value());
  auto code = listener.WaitForCode("s", std::chrono::milliseconds(100));
  ASSERT_FALSE(code.has_value());
  EXPECT_EQ(code.error().reason(), "login_timeout");
}

TEST(PkceTest, VerifierAndLoginUrl) {
  SystemRandom random;
  std::string v1 = NewPkceVerifier(random);
  std::string v2 = NewPkceVerifier(random);
  EXPECT_EQ(v1.size(), 43u);
  EXPECT_NE(v1, v2);
  EXPECT_EQ(
      v1.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_EQ(BuildLoginUrl("http://cp:8000/", 4242, "st", "ch"),
            "http://cp:8000/auth/login?redirect_uri=http://127.0.0.1:4242/callback&state=st"
            "&code_challenge=ch&code_challenge_method=S256");
}

// ---------------------------------------------------------------------------------------------
// Commands against a fake control plane

class CommandTest : public ::testing::Test {
 protected:
  // Runs `fn` with a context on the fake server; returns the exit status main() would use.
  int Run(const std::function<Status(CliContext&)>& fn) {
    out_.str("");
    err_.str("");
    GlobalOptions opts = options_;
    if (opts.control_plane.empty() && server_) opts.control_plane = server_->url();
    opts.config_path = config_path();
    CliContext ctx(opts, env_, out_, err_);
    if (auto st = ctx.Init(); !st) return ctx.ReportError(st.error());
    if (auto st = fn(ctx); !st) return ctx.ReportError(st.error());
    return 0;
  }

  void Serve(FakeHttpServer::Handler h) { server_ = std::make_unique<FakeHttpServer>(h); }
  std::string config_path() const { return dir_.path() + "/chainloop/config.toml"; }
  // Stores `token` as the session of the control plane the test talks to.
  void StoreSession(const std::string& token, const std::string& org = "acme") {
    std::string url = !options_.control_plane.empty() ? options_.control_plane
                      : server_                       ? server_->url()
                                                      : kDefaultControlPlane;
    CliConfig cfg{"", org, {}};
    if (!token.empty()) cfg.sessions.push_back({*NormalizeControlPlaneUrl(url), token, kExpiry});
    ASSERT_TRUE(SaveConfig(config_path(), cfg).has_value());
  }
  static constexpr char kExpiry[] = "2030-01-01T00:00:00Z";

  TempDir dir_;
  GlobalOptions options_;
  CliEnvironment env_;
  std::unique_ptr<FakeHttpServer> server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

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
         R"("api_token_max_days_inactive":null},"role":"viewer"})";
  ASSERT_EQ(Run(OrganizationDescribe), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("auto-revoke")));

  options_.output = "json";
  ASSERT_EQ(Run(OrganizationDescribe), 0);
  auto parsed = ParseJson(out_.str());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->at("role").as_string(), "viewer");
}

TEST_F(CommandTest, EnvTokenOverridesSessionWithNote) {
  Serve([](const FakeRequest&) {
    return FakeResponse{200, R"({"organizations":[{"id":"1","name":"acme","role":"owner",)"
                             R"("created_at":"2026-01-01T00:00:00Z"},{"id":"2","name":"beta",)"
                             R"("role":"viewer","created_at":"2026-01-02T00:00:00Z"}]})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  env_.chainloop_token = api;
  ASSERT_EQ(Run(OrganizationList), 0) << err_.str();
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
  EXPECT_EQ(Run(OrganizationList), 1);
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
  EXPECT_EQ(Run(OrganizationList), 1);
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
  EXPECT_EQ(Run(OrganizationList), 1);
  EXPECT_THAT(err_.str(), HasSubstr("Error: cannot reach the control plane at http://127.0.0.1:" +
                                    std::to_string(dead_port) + ": "));
}

TEST_F(CommandTest, PlainHttpToRemoteRefusedBeforeAnyRequest) {
  options_.control_plane = "http://cp.example.com";
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run(OrganizationList), 1);
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
  ASSERT_EQ(Run(OrganizationList), 0);
  EXPECT_EQ(out_.str(), "No organizations found.\n");
  ASSERT_EQ(Run(ProjectList), 0);
  EXPECT_EQ(out_.str(), "No projects found.\n");
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunList(c, "my proj", 5); }), 0);
  EXPECT_EQ(out_.str(), "No workflow runs found.\n");
  EXPECT_EQ(server_->requests().back().target,
            "/v1/organizations/acme/workflow-runs?project=my%20proj&limit=5");
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

TEST_F(CommandTest, AttestationInitAndPush) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations/acme/workflow-runs" && r.method == "POST") {
      EXPECT_EQ(r.body, R"({"workflow":"build","project":"web"})");
      return FakeResponse{201, R"({"workflow_run":{"id":"run-7","workflow":"build",)"
                               R"("project":"web","state":"initialized"}})"};
    }
    if (r.path == "/v1/organizations/acme/workflow-runs/run-7/attestation") {
      auto body = ParseJson(r.body);
      EXPECT_TRUE(body.has_value());
      EXPECT_EQ(body->at("statement").at("_type").as_string(), "https://in-toto.io/Statement/v1");
      return FakeResponse{200, R"({"workflow_run":{"id":"run-7","state":"success",)"
                               R"("statement_digest":"sha256:abc",)"
                               R"("attested_by":{"kind":"user","id":"u1","name":"alice"}}})"};
    }
    return FakeResponse{404, ErrorBody("not_found", "no")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run([](CliContext& c) { return AttestationInit(c, "build", "web"); }), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Attestation ID: run-7\n"));
  std::string state_path =
      AttestationStatePath(config_path(), *NormalizeControlPlaneUrl(server_->url()), "session");
  EXPECT_EQ(ModeOf(state_path), 0600);
  EXPECT_EQ(ModeOf(dir_.path() + "/chainloop/attestations"), 0700);

  std::string statement = dir_.path() + "/statement.json";
  std::ofstream(statement) << R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})";
  ASSERT_EQ(Run([&](CliContext& c) { return AttestationPush(c, statement, ""); }), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Digest: sha256:abc\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Attested by: alice (user)\n"));
  EXPECT_FALSE(std::filesystem::exists(state_path));

  // Without a current attestation the CLI says what to do.
  EXPECT_EQ(Run([&](CliContext& c) { return AttestationPush(c, statement, ""); }), 1);
  EXPECT_THAT(err_.str(), HasSubstr("attestation init"));
}

TEST_F(CommandTest, PushRejectsBadStatementFilesLocally) {
  Serve([](const FakeRequest&) { return FakeResponse{500, "{}"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  std::string path = dir_.path() + "/s.json";
  auto push = [&](CliContext& c) { return AttestationPush(c, path, "run-1"); };

  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("does not exist"));
  std::ofstream(path) << "{not json";
  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("is not valid JSON"));
  std::ofstream(path) << "[1,2]";
  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("JSON object"));
  std::ofstream(path) << "{\"a\":\"" << std::string(kMaxStatementBytes, 'x') << "\"}";
  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("1 MiB"));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(CommandTest, RunListAndDescribe) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations/acme/workflow-runs") {
      return FakeResponse{
          200, R"({"workflow_runs":[{"id":"r1","workflow":"build",)"
               R"("project":"web","state":"success","created_at":"2026-01-01T00:00:00Z",)"
               R"("attested_by":{"kind":"api_token","id":"t1","name":"ci"}}]})"};
    }
    return FakeResponse{200,
                        R"({"workflow_run":{"id":"r1","workflow":"build","project":"web",)"
                        R"("state":"success","predicate_type":"https://slsa.dev/provenance/v1",)"
                        R"("statement_digest":"sha256:ff","statement":{"_type":"x"}}})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunList(c, "", std::nullopt); }), 0);
  EXPECT_EQ(out_.str(),
            "ID   WORKFLOW   PROJECT   STATE     ATTESTED BY      CREATED AT\n"
            "r1   build      web       success   ci (api_token)   2026-01-01T00:00:00Z\n");
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunDescribe(c, "r1"); }), 0);
  EXPECT_THAT(out_.str(), HasSubstr("Predicate type: https://slsa.dev/provenance/v1\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Statement digest: sha256:ff\n"));
  options_.output = "json";
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunDescribe(c, "r1"); }), 0);
  EXPECT_THAT(out_.str(), HasSubstr(R"("statement":{"_type":"x"})"));
}

TEST_F(CommandTest, BrowserLoginStoresSession) {
  std::string session = NewToken(crypto::CredentialKind::kSession);
  std::string challenge;
  Serve([&](const FakeRequest& r) {
    if (r.path != "/v1/auth/token") return FakeResponse{404, ErrorBody("not_found", "no")};
    auto body = ParseJson(r.body);
    EXPECT_TRUE(body.has_value());
    std::string verifier(body->at("code_verifier").as_string());
    if (body->at("code").as_string() != "clcode_good" ||
        crypto::PkceS256Challenge(verifier) != challenge) {
      return FakeResponse{400, ErrorBody("invalid_grant", "bad code or verifier")};
    }
    return FakeResponse{200,
                        R"({"session_token":")" + session +
                            R"(","expires_at":"2030-01-01T00:00:00Z",)"
                            R"("user":{"id":"u1","email":"alice@example.com","name":"Alice"}})"};
  });
  ApiClientOptions o;
  o.base_url = server_->url();
  ApiClient client(o);
  SystemRandom random;
  std::thread browser;
  BrowserLoginOptions opts;
  opts.timeout = std::chrono::seconds(10);
  std::string seen_url;
  opts.on_url = [&](const std::string& url) {
    seen_url = url;
    auto param = [&](const std::string& name) {
      auto start = url.find(name + "=") + name.size() + 1;
      return url.substr(start, url.find('&', start) - start);
    };
    challenge = param("code_challenge");
    std::string redirect = param("redirect_uri");
    std::string state = param("state");
    browser = std::thread([redirect, state] {
      HttpClientRequest req;
      req.url = redirect + "?code=clcode_good&state=" + state;
      (void)HttpFetch(req);
    });
  };
  auto result = RunBrowserLogin(client, random, err_, opts);
  browser.join();
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->session_token, session);
  EXPECT_EQ(result->email, "alice@example.com");
  EXPECT_THAT(seen_url, HasSubstr(server_->url() + "/auth/login?redirect_uri=http://127.0.0.1:"));
  EXPECT_THAT(seen_url, HasSubstr("&code_challenge_method=S256"));
}

// Cancel at the IdP: the control plane redirects the browser to the loopback with the CLI's
// state and error=access_denied; the whole browser flow ends at once (not after its timeout)
// with the message, and never posts to /v1/auth/token.
TEST_F(CommandTest, BrowserLoginStopsAtOnceWhenCancelledAtTheIdp) {
  Serve([&](const FakeRequest& r) {
    return FakeResponse{500, ErrorBody("internal", "must not be called")};
  });
  ApiClientOptions o;
  o.base_url = server_->url();
  ApiClient client(o);
  SystemRandom random;
  std::thread browser;
  BrowserLoginOptions opts;
  opts.timeout = std::chrono::seconds(60);
  opts.on_url = [&](const std::string& url) {
    auto param = [&](const std::string& name) {
      auto start = url.find(name + "=") + name.size() + 1;
      return url.substr(start, url.find('&', start) - start);
    };
    std::string redirect = param("redirect_uri");
    std::string state = param("state");
    browser = std::thread([redirect, state] {
      HttpClientRequest req;
      req.url = redirect + "?error=access_denied&state=" + state;
      (void)HttpFetch(req);
    });
  };
  const auto start = std::chrono::steady_clock::now();
  auto result = RunBrowserLogin(client, random, err_, opts);
  browser.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().reason(), "login_cancelled");
  EXPECT_EQ(result.error().message(), "login cancelled at the identity provider: access_denied");
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(CommandTest, AuthLoginCommandPrintsExactUrlLine) {
  // Drives the real command: the "browser" is a thread reading the URL from the test's stderr
  // stand-in; BROWSER points nowhere so nothing is launched.
  setenv("BROWSER", "true", 1);
  std::string session = NewToken(crypto::CredentialKind::kSession);
  Serve([&](const FakeRequest& r) {
    return FakeResponse{200, R"({"session_token":")" + session +
                                 R"(","expires_at":"2030-01-01T00:00:00Z",)"
                                 R"("user":{"id":"u1","email":"bob@example.com","name":"Bob"}})"};
  });
  env_.login_timeout_seconds = "10";
  // A stream buffer that notices the URL line as soon as it is written.
  struct Watcher : std::stringbuf {
    std::function<void(const std::string&)> on_line;
    int sync() override {
      std::string s = str();
      auto nl = s.find('\n');
      if (nl != std::string::npos && on_line) {
        on_line(s.substr(0, nl));
        on_line = nullptr;
      }
      return 0;
    }
  } watcher;
  std::thread browser;
  std::string line;
  watcher.on_line = [&](const std::string& l) {
    line = l;
    std::string url = l.substr(l.find("http"));
    auto r = url.find("redirect_uri=") + 13;
    std::string redirect = url.substr(r, url.find('&', r) - r);
    auto s = url.find("state=") + 6;
    std::string state = url.substr(s, url.find('&', s) - s);
    browser = std::thread([redirect, state] {
      HttpClientRequest req;
      req.url = redirect + "?code=clcode_x&state=" + state;
      (void)HttpFetch(req);
    });
  };
  std::ostream err(&watcher);
  GlobalOptions opts;
  opts.control_plane = server_->url();
  opts.config_path = config_path();
  CliContext ctx(opts, env_, out_, err);
  ASSERT_TRUE(ctx.Init().has_value());
  auto st = AuthLogin(ctx, {});
  if (browser.joinable()) browser.join();
  unsetenv("BROWSER");
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_THAT(line, ::testing::StartsWith("Open this URL in your browser to log in: " +
                                          server_->url() + "/auth/login?redirect_uri="));
  EXPECT_EQ(out_.str(), "Logged in as bob@example.com (session expires at 2030-01-01T00:00:00Z)\n");
  auto cfg = LoadConfig(config_path());
  ASSERT_EQ(cfg->sessions.size(), 1u);
  EXPECT_EQ(cfg->sessions[0].token, session);
  EXPECT_EQ(cfg->sessions[0].expires_at, "2030-01-01T00:00:00Z");
  EXPECT_EQ(cfg->sessions[0].control_plane, *NormalizeControlPlaneUrl(server_->url()));
  EXPECT_EQ(ModeOf(config_path()), 0600);
}

TEST_F(CommandTest, DeviceLoginPollsWithSlowDown) {
  std::string session = NewToken(crypto::CredentialKind::kSession);
  int polls = 0;
  Serve([&](const FakeRequest& r) {
    if (r.path == "/v1/auth/device") {
      return FakeResponse{200,
                          R"({"device_handle":"cldev_h","user_code":"ABCD-EFGH",)"
                          R"("verification_uri":"http://cp/device",)"
                          R"("verification_uri_complete":"http://cp/device?user_code=ABCD-EFGH",)"
                          R"("expires_in":600,"interval":5})"};
    }
    EXPECT_EQ(r.body, R"({"device_handle":"cldev_h"})");
    ++polls;
    if (polls == 1) return FakeResponse{400, ErrorBody("authorization_pending", "pending")};
    if (polls == 2) return FakeResponse{400, ErrorBody("slow_down", "slow down")};
    return FakeResponse{200,
                        R"({"session_token":")" + session +
                            R"(","expires_at":"2030-01-01T00:00:00Z","user":{"email":"c@x"}})"};
  });
  ApiClientOptions o;
  o.base_url = server_->url();
  ApiClient client(o);
  std::vector<int64_t> sleeps;
  DeviceLoginOptions opts;
  opts.sleep = [&](std::chrono::seconds s) { sleeps.push_back(s.count()); };
  auto result = RunDeviceLogin(client, err_, opts);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->session_token, session);
  EXPECT_EQ(sleeps, (std::vector<int64_t>{5, 5, 10}));
  EXPECT_EQ(err_.str(),
            "To log in, open http://cp/device?user_code=ABCD-EFGH in any browser and confirm "
            "the code ABCD-EFGH\n");
}

TEST_F(CommandTest, DeviceLoginStopsOnDeniedAndExpired) {
  std::string outcome = "access_denied";
  Serve([&](const FakeRequest& r) {
    if (r.path == "/v1/auth/device") {
      return FakeResponse{
          200, R"({"device_handle":"cldev_h","user_code":"A-B",)"
               R"("verification_uri_complete":"http://cp/d","expires_in":12,"interval":5})"};
    }
    return FakeResponse{400, ErrorBody(outcome, "x")};
  });
  ApiClientOptions o;
  o.base_url = server_->url();
  ApiClient client(o);
  DeviceLoginOptions opts;
  opts.sleep = [](std::chrono::seconds) {};
  auto denied = RunDeviceLogin(client, err_, opts);
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().reason(), "access_denied");
  outcome = "expired_token";
  auto expired = RunDeviceLogin(client, err_, opts);
  ASSERT_FALSE(expired.has_value());
  EXPECT_THAT(expired.error().message(), HasSubstr("expired"));
  // Pending forever: the CLI gives up once expires_in has passed (12 s at 5 s intervals).
  outcome = "authorization_pending";
  size_t before = server_->requests().size();
  auto timed_out = RunDeviceLogin(client, err_, opts);
  ASSERT_FALSE(timed_out.has_value());
  EXPECT_EQ(timed_out.error().reason(), "expired_token");
  EXPECT_EQ(server_->requests().size() - before, 1u + 3u);  // start + 3 polls
}

TEST_F(CommandTest, LogoutRevokesAndForgetsSession) {
  std::string session = NewToken(crypto::CredentialKind::kSession);
  Serve([](const FakeRequest& r) {
    return FakeResponse{401, ErrorBody("session_revoked", "already revoked")};
  });
  StoreSession(session);
  ASSERT_EQ(Run(AuthLogout), 0) << err_.str();
  EXPECT_EQ(out_.str(), "Logged out of " + server_->url() + "\n");
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].path, "/v1/auth/logout");
  EXPECT_EQ(server_->requests()[0].Header("authorization"), "Bearer " + session);
  auto cfg = LoadConfig(config_path());
  EXPECT_TRUE(cfg->sessions.empty());
  EXPECT_EQ(cfg->organization, "acme");
}

TEST_F(CommandTest, StatusShowsIdentity) {
  Serve([](const FakeRequest&) {
    return FakeResponse{200, R"({"principal":{"kind":"user","id":"u1","email":"a@x","name":"A"},)"
                             R"("session":{"expires_at":"2030-01-01T00:00:00Z"}})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run(AuthStatus), 0) << err_.str();
  EXPECT_EQ(out_.str(), "Control plane: " + server_->url() +
                            "\nEmail: a@x\nName: A\nCurrent organization: acme\n"
                            "Session expires at: 2030-01-01T00:00:00Z\n");
}

TEST_F(CommandTest, WarnsAboutLooseConfigPermissions) {
  Serve([](const FakeRequest&) { return FakeResponse{200, R"({"organizations":[]})"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run(OrganizationList), 0);
  EXPECT_EQ(err_.str(), "");
  ASSERT_EQ(chmod(config_path().c_str(), 0644), 0);
  ASSERT_EQ(Run(OrganizationList), 0);
  EXPECT_THAT(err_.str(), HasSubstr("readable by other users"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("clses_")));
}

}  // namespace
}  // namespace cl::cli
