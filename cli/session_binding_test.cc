// Tests that a stored login session only ever goes back to the control plane that issued it:
// URL normalization (what "the same control plane" means), whole command lines against two fake
// control planes, one session per control plane, legacy config files, redirects, and keeping
// pending attestations of different identities apart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/app.h"
#include "cli/config.h"
#include "cli/control_plane_url.h"
#include "cli/fake_http_server.h"
#include "common/random.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using ::testing::Not;

std::string NewToken(crypto::CredentialKind kind) {
  SystemRandom random;
  return crypto::GenerateCredential(kind, random);
}

bool SameControlPlane(std::string_view a, std::string_view b) {
  auto na = NormalizeControlPlaneUrl(a);
  auto nb = NormalizeControlPlaneUrl(b);
  return na && nb && *na == *nb;
}

// ---------------------------------------------------------------------------------------------
// URL normalization

TEST(ControlPlaneUrlTest, NormalizesSchemeHostPortAndPath) {
  EXPECT_EQ(NormalizeControlPlaneUrl("https://CP.Example.com").value(),
            "https://cp.example.com:443");
  EXPECT_EQ(NormalizeControlPlaneUrl("HTTP://127.0.0.1/").value(), "http://127.0.0.1:80");
  EXPECT_EQ(NormalizeControlPlaneUrl("http://[::1]:8000/base//").value(), "http://[::1]:8000/base");
  EXPECT_EQ(NormalizeControlPlaneUrl("https://cp.example.com:0443/Tenant").value(),
            "https://cp.example.com:443/Tenant");
}

TEST(ControlPlaneUrlTest, SameOriginTable) {
  struct Case {
    const char* a;
    const char* b;
    bool same;
  };
  const Case cases[] = {
      // Same control plane: case of scheme and host, default ports, trailing slashes.
      {"https://cp.example.com", "https://cp.example.com", true},
      {"https://CP.EXAMPLE.COM", "https://cp.example.com", true},
      {"HTTPS://cp.example.com", "https://cp.example.com", true},
      {"https://cp.example.com", "https://cp.example.com:443", true},
      {"https://cp.example.com/", "https://cp.example.com", true},
      {"https://cp.example.com:443/", "https://cp.example.com", true},
      {"http://127.0.0.1:8000", "http://127.0.0.1:8000/", true},
      {"http://localhost", "http://localhost:80", true},
      {"https://cp.example.com/tenant/", "https://cp.example.com:443/tenant", true},
      {"http://[::1]:8000", "http://[::1]:8000/", true},
      // Different: scheme, host, port, path.
      {"http://cp.example.com", "https://cp.example.com", false},
      {"http://cp.example.com:443", "https://cp.example.com", false},
      {"https://cp.example.com:80", "http://cp.example.com", false},
      {"https://cp.example.com", "https://cp.example.com:8443", false},
      {"https://cp.example.com", "https://cp.example.com.evil.example", false},
      {"https://cp.example.com", "https://evil.example/cp.example.com", false},
      {"https://cp.example.com", "https://cp.example.co", false},
      {"https://cp.example.com/a", "https://cp.example.com/b", false},
      {"https://cp.example.com/a", "https://cp.example.com", false},
      {"https://cp.example.com/a", "https://cp.example.com/A", false},
      {"http://127.0.0.1:8000", "http://127.0.0.1:8001", false},
      {"http://127.0.0.1:8000", "http://localhost:8000", false},
      // User information is refused outright, so it is never "the same" as anything; this
      // covers the classic https://trusted@evil confusion.
      {"https://user@cp.example.com", "https://cp.example.com", false},
      {"https://user:pw@cp.example.com", "https://user:pw@cp.example.com", false},
      {"https://cp.example.com@evil.example", "https://cp.example.com", false},
      {"https://cp.example.com:443@evil.example", "https://cp.example.com", false},
      {"https://evil.example\\@cp.example.com", "https://cp.example.com", false},
      {"https://evil.example#@cp.example.com", "https://cp.example.com", false},
      {"https://cp.example.com?x=1", "https://cp.example.com", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SameControlPlane(c.a, c.b), c.same) << c.a << " vs " << c.b;
    EXPECT_EQ(SameControlPlane(c.b, c.a), c.same) << c.b << " vs " << c.a;
  }
}

TEST(ControlPlaneUrlTest, RefusesAmbiguousUrls) {
  for (const char* url : {
           "https://user@cp.example.com",
           "https://cp.example.com@evil.example",
           "https://cp.example.com/?q",
           "https://cp.example.com/#f",
           "https://",
           "https://:443",
           "https://cp.example.com:",
           "https://cp.example.com:0",
           "https://cp.example.com:65536",
           "https://cp.example.com:44x",
           "https://cp example.com",
           "https://cp.example.com\\x",
           "https://cp.example.com/\x1b[2J",
           "https://[::1",
           "https://[zz::1]",
           "ftp://cp.example.com",
           "cp.example.com",
           "https://c\xc3\xa9.com",
       }) {
    auto n = NormalizeControlPlaneUrl(url);
    EXPECT_FALSE(n.has_value()) << url;
    if (!n) {
      EXPECT_TRUE(n.error().IsInvalidArgument()) << url;
    }
    EXPECT_FALSE(CheckControlPlaneUrl(url, /*insecure=*/true).has_value()) << url;
  }
}

// ---------------------------------------------------------------------------------------------
// Config: one session per control plane, legacy files

class SessionConfigTest : public ::testing::Test {
 protected:
  SessionConfigTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_session-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~SessionConfigTest() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/config.toml"; }
  void Write(const std::string& text) { ASSERT_TRUE(WritePrivateFileAtomic(path(), text)); }
  std::string dir_;
};

TEST_F(SessionConfigTest, SessionsRoundTripOnePerControlPlane) {
  CliConfig cfg;
  std::string a = NewToken(crypto::CredentialKind::kSession);
  std::string b = NewToken(crypto::CredentialKind::kSession);
  cfg.SetSession({"https://a.example:443", a, "2030-01-01T00:00:00Z"});
  cfg.SetSession({"https://b.example:443", b, ""});
  cfg.SetSession({"https://a.example:443", b, "2031-01-01T00:00:00Z"});  // replaces a's
  ASSERT_EQ(cfg.sessions.size(), 2u);
  ASSERT_TRUE(SaveConfig(path(), cfg));
  auto loaded = LoadConfig(path());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_EQ(loaded->sessions, cfg.sessions);
  EXPECT_EQ(loaded->SessionFor("https://a.example:443")->token, b);
  EXPECT_EQ(loaded->SessionFor("https://b.example:443")->token, b);
  EXPECT_EQ(loaded->SessionFor("https://c.example:443"), nullptr);
  EXPECT_TRUE(loaded->RemoveSession("https://b.example:443"));
  EXPECT_FALSE(loaded->RemoveSession("https://b.example:443"));
  EXPECT_EQ(loaded->sessions.size(), 1u);
}

TEST_F(SessionConfigTest, StoredUrlsAreNormalizedAndBadEntriesRefused) {
  std::string t = NewToken(crypto::CredentialKind::kSession);
  Write("[[sessions]]\ncontrol_plane = \"HTTPS://A.Example/\"\ntoken = \"" + t + "\"\n");
  auto loaded = LoadConfig(path());
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0].control_plane, "https://a.example:443");

  // A session that cannot be bound to exactly one control plane is an error, never used.
  for (const std::string& bad : {
           "[[sessions]]\ntoken = \"" + t + "\"\n",
           "[[sessions]]\ncontrol_plane = \"https://u@a.example\"\ntoken = \"" + t + "\"\n",
           std::string("[[sessions]]\ncontrol_plane = \"https://a.example\"\n"),
           std::string("sessions = \"x\"\n"),
           std::string("sessions = [1]\n"),
           "[[sessions]]\ncontrol_plane = \"https://a.example\"\ntoken = \"" + t +
               "\"\n[[sessions]]\ncontrol_plane = \"https://A.example:443\"\ntoken = \"" + t +
               "\"\n",
       }) {
    Write(bad);
    auto r = LoadConfig(path());
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_TRUE(r.error().IsInvalidArgument());
    EXPECT_THAT(r.error().message(), Not(HasSubstr(t)));
  }
}

TEST_F(SessionConfigTest, LegacySessionIsBoundToTheControlPlaneRecordedWithIt) {
  std::string t = NewToken(crypto::CredentialKind::kSession);
  // Older CLIs wrote control_plane together with the session, at login.
  Write("control_plane = \"https://CP.example.com/\"\nsession_token = \"" + t +
        "\"\nsession_expires_at = \"2030-01-01T00:00:00Z\"\n");
  auto loaded = LoadConfig(path());
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0],
            (StoredSession{"https://cp.example.com:443", t, "2030-01-01T00:00:00Z"}));
  // Saving writes the new layout only.
  ASSERT_TRUE(SaveConfig(path(), *loaded));
  std::ifstream in(path());
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), Not(HasSubstr("session_token")));
  EXPECT_EQ(LoadConfig(path())->sessions, loaded->sessions);

  // No control plane recorded: the default one (the only one such a CLI could have used).
  Write("session_token = \"" + t + "\"\n");
  ASSERT_EQ(LoadConfig(path())->sessions.size(), 1u);
  EXPECT_EQ(LoadConfig(path())->sessions[0].control_plane, "http://127.0.0.1:8000");

  // A recorded control plane that is not a valid URL: the session is bound to nothing.
  Write("control_plane = \"https://u@evil.example\"\nsession_token = \"" + t + "\"\n");
  EXPECT_TRUE(LoadConfig(path())->sessions.empty());

  // A newer entry for the same control plane wins over the legacy key.
  std::string newer = NewToken(crypto::CredentialKind::kSession);
  Write("control_plane = \"https://cp.example.com\"\nsession_token = \"" + t +
        "\"\n[[sessions]]\ncontrol_plane = \"https://cp.example.com\"\ntoken = \"" + newer +
        "\"\n");
  ASSERT_EQ(LoadConfig(path())->sessions.size(), 1u);
  EXPECT_EQ(LoadConfig(path())->sessions[0].token, newer);
}

// ---------------------------------------------------------------------------------------------
// Whole command lines against two control planes

// X issued the session; Y is any other control plane (a repository's .envrc, a CI variable).
class TwoControlPlanesTest : public ::testing::Test {
 protected:
  TwoControlPlanesTest()
      : x_([this](const FakeRequest& r) { return Answer(r); }),
        y_([this](const FakeRequest& r) { return Answer(r); }) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_two_cp-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~TwoControlPlanesTest() override { std::filesystem::remove_all(dir_); }

  static FakeResponse Answer(const FakeRequest& r) {
    if (r.path == "/v1/auth/whoami") {
      return {200, R"({"principal":{"kind":"user","id":"u1","email":"a@x","name":"A"}})"};
    }
    if (r.path == "/v1/auth/logout") return {204, ""};
    if (r.path == "/v1/auth/device") {
      return {200, R"({"device_handle":"cldev_h","user_code":"AB-CD",)"
                   R"("verification_uri_complete":"http://cp/d","expires_in":60,"interval":1})"};
    }
    if (r.path == "/v1/auth/device/token") {
      return {200, R"({"session_token":")" + LoginSession() +
                       R"(","expires_at":"2031-01-01T00:00:00Z","user":{"email":"a@x"}})"};
    }
    if (r.path.ends_with("/workflow-runs")) {
      return {201, R"({"workflow_run":{"id":"run-1","workflow":"w","project":"p"}})"};
    }
    return {200, R"({"organizations":[],"projects":[],"api_tokens":[],"workflows":[]})"};
  }
  static const std::string& LoginSession() {
    static const std::string s = NewToken(crypto::CredentialKind::kSession);
    return s;
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    args.push_back("--config");
    args.push_back(config_path());
    return RunCli(args, env_, out_, err_);
  }
  std::string config_path() const { return dir_ + "/chainloop/config.toml"; }
  void StoreSessionFor(const std::string& url, const std::string& token) {
    auto cfg = LoadConfig(config_path()).value();
    cfg.organization = "acme";
    cfg.SetSession({NormalizeControlPlaneUrl(url).value(), token, "2030-01-01T00:00:00Z"});
    ASSERT_TRUE(SaveConfig(config_path(), cfg));
  }
  static int WithAuthorization(const FakeHttpServer& s) {
    int n = 0;
    for (const auto& r : s.requests()) n += r.Header("authorization").empty() ? 0 : 1;
    return n;
  }

  FakeHttpServer x_;
  FakeHttpServer y_;
  std::string dir_;
  CliEnvironment env_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::string session_ = NewToken(crypto::CredentialKind::kSession);
};

const std::vector<std::vector<std::string>>& CommandsThatAuthenticate() {
  static const std::vector<std::vector<std::string>> kCommands = {
      {"auth", "status"},
      {"organization", "list"},
      {"organization", "describe"},
      {"project", "list"},
      {"organization", "api-token", "list"},
      {"workflow", "list"},
      {"attestation", "init", "--workflow", "w", "--project", "p"},
  };
  return kCommands;
}

TEST_F(TwoControlPlanesTest, SessionIsNeverSentToAnotherControlPlane) {
  StoreSessionFor(x_.url(), session_);
  const std::string expected = "not logged in to " + y_.url() + " (your session is for " +
                               NormalizeControlPlaneUrl(x_.url()).value() +
                               "): run `chainloop auth login --control-plane " + y_.url() + "`";
  // Every way of naming Y: the flag, the environment, the config file's default.
  for (int how = 0; how < 3; ++how) {
    env_ = {};
    std::vector<std::string> base;
    if (how == 0) base = {"--control-plane", y_.url()};
    if (how == 1) env_.control_plane_api = y_.url();
    if (how == 2) {
      auto cfg = LoadConfig(config_path()).value();
      cfg.control_plane = y_.url();
      ASSERT_TRUE(SaveConfig(config_path(), cfg));
    }
    for (auto args : CommandsThatAuthenticate()) {
      args.insert(args.begin(), base.begin(), base.end());
      EXPECT_EQ(Run(args), 1) << args[args.size() > 2 ? 2 : 0] << "\n" << out_.str();
      EXPECT_THAT(err_.str(), HasSubstr(expected)) << how;
    }
  }
  EXPECT_TRUE(y_.requests().empty());
  EXPECT_EQ(err_.str().find(session_), std::string::npos);

  // X itself, however it is spelled, still gets the session.
  for (const std::string& spelling :
       {x_.url(), x_.url() + "/", "HTTP://127.0.0.1:" + std::to_string(x_.port()) + "//"}) {
    ASSERT_EQ(Run({"--control-plane", spelling, "project", "list"}), 0) << err_.str();
    EXPECT_EQ(x_.requests().back().Header("authorization"), "Bearer " + session_);
  }
}

TEST_F(TwoControlPlanesTest, LegacyConfigSessionStaysWithItsControlPlane) {
  ASSERT_TRUE(WritePrivateFileAtomic(config_path(), "control_plane = \"" + x_.url() +
                                                        "\"\norganization = \"acme\"\n" +
                                                        "session_token = \"" + session_ + "\"\n"));
  EXPECT_EQ(Run({"--control-plane", y_.url(), "project", "list"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("not logged in to " + y_.url()));
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();  // the config's own control plane: X
  EXPECT_TRUE(y_.requests().empty());
  ASSERT_EQ(x_.requests().size(), 1u);
  EXPECT_EQ(x_.requests()[0].Header("authorization"), "Bearer " + session_);
}

TEST_F(TwoControlPlanesTest, ExplicitTokensStillGoWhereTheUserSays) {
  StoreSessionFor(x_.url(), session_);
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  env_.chainloop_token = api;
  ASSERT_EQ(Run({"--control-plane", y_.url(), "project", "list"}), 0) << err_.str();
  EXPECT_EQ(y_.requests().back().Header("authorization"), "Bearer " + api);
  // No "instead of your login session" note: there is no session for Y to override.
  EXPECT_EQ(err_.str(), "");
}

TEST_F(TwoControlPlanesTest, OneSessionPerControlPlaneLoginLogoutStatus) {
  StoreSessionFor(x_.url(), session_);
  // Logging in to Y keeps X's session.
  ASSERT_EQ(Run({"--control-plane", y_.url(), "auth", "login", "--skip-browser"}), 0) << err_.str();
  auto cfg = LoadConfig(config_path()).value();
  ASSERT_EQ(cfg.sessions.size(), 2u);
  EXPECT_EQ(cfg.SessionFor(NormalizeControlPlaneUrl(x_.url()).value())->token, session_);
  EXPECT_EQ(cfg.SessionFor(NormalizeControlPlaneUrl(y_.url()).value())->token, LoginSession());

  ASSERT_EQ(Run({"--control-plane", y_.url(), "auth", "status"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Control plane: " + y_.url() + "\n"));
  EXPECT_THAT(out_.str(),
              HasSubstr("Also logged in to: " + NormalizeControlPlaneUrl(x_.url()).value()));
  EXPECT_EQ(y_.requests().back().Header("authorization"), "Bearer " + LoginSession());

  // Logging out of Y ends only Y's session, and only Y hears of it.
  size_t x_before = x_.requests().size();
  ASSERT_EQ(Run({"--control-plane", y_.url(), "auth", "logout"}), 0) << err_.str();
  EXPECT_EQ(y_.requests().back().path, "/v1/auth/logout");
  EXPECT_EQ(y_.requests().back().Header("authorization"), "Bearer " + LoginSession());
  EXPECT_EQ(x_.requests().size(), x_before);
  cfg = LoadConfig(config_path()).value();
  ASSERT_EQ(cfg.sessions.size(), 1u);
  EXPECT_EQ(cfg.sessions[0].token, session_);

  // Logging out of Y again sends nothing anywhere.
  size_t y_before = y_.requests().size();
  ASSERT_EQ(Run({"--control-plane", y_.url(), "auth", "logout"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "Not logged in to " + y_.url() + "\n");
  EXPECT_EQ(y_.requests().size(), y_before);
  EXPECT_EQ(x_.requests().size(), x_before);
  ASSERT_EQ(Run({"--control-plane", x_.url(), "auth", "status"}), 0) << err_.str();
  EXPECT_EQ(x_.requests().back().Header("authorization"), "Bearer " + session_);
}

// The HTTP client never follows redirects, so a control plane (or anything in front of it) that
// answers 3xx cannot make the CLI resend the credential to another origin.
TEST_F(TwoControlPlanesTest, RedirectsAreNotFollowed) {
  FakeHttpServer redirector([this](const FakeRequest& r) {
    return FakeResponse{307, "", {{"Location", y_.url() + r.target}}};
  });
  StoreSessionFor(redirector.url(), session_);
  for (auto args : CommandsThatAuthenticate()) {
    args.insert(args.begin(), {"--control-plane", redirector.url()});
    EXPECT_EQ(Run(args), 1) << args[2];
  }
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  env_.chainloop_token = api;
  EXPECT_EQ(Run({"--control-plane", redirector.url(), "project", "list"}), 1);
  EXPECT_EQ(Run({"--control-plane", redirector.url(), "auth", "logout"}), 1);
  EXPECT_GE(redirector.requests().size(), CommandsThatAuthenticate().size());
  EXPECT_TRUE(y_.requests().empty());
  EXPECT_EQ(WithAuthorization(y_), 0);
}

// A proxy from the environment (a repository's .envrc can set http_proxy) would receive every
// plain-http request, bearer credential included: the CLI connects directly instead.
TEST_F(TwoControlPlanesTest, EnvironmentProxyNeverSeesTheCredential) {
  FakeHttpServer proxy([](const FakeRequest&) { return FakeResponse{502, ""}; });
  const char* kVars[] = {"http_proxy", "HTTP_PROXY", "all_proxy",
                         "ALL_PROXY",  "no_proxy",   "NO_PROXY"};
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  for (const char* v : kVars) {
    const char* old = std::getenv(v);
    saved.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
    unsetenv(v);
  }
  for (const char* v : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) {
    setenv(v, proxy.url().c_str(), 1);
  }
  StoreSessionFor(x_.url(), session_);
  int status = Run({"--control-plane", x_.url(), "project", "list"});
  int logout = Run({"--control-plane", x_.url(), "auth", "logout"});
  for (const auto& [name, value] : saved) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  EXPECT_EQ(status, 0) << err_.str();
  EXPECT_EQ(logout, 0) << err_.str();
  EXPECT_TRUE(proxy.requests().empty());
  ASSERT_EQ(x_.requests().size(), 2u);
  EXPECT_EQ(x_.requests()[0].Header("authorization"), "Bearer " + session_);
}

// ---------------------------------------------------------------------------------------------
// Pending attestations per identity

TEST_F(TwoControlPlanesTest, TokenInitDoesNotClobberTheUsersPendingAttestation) {
  int next_run = 0;
  FakeHttpServer cp([&](const FakeRequest& r) {
    if (r.method == "POST" && r.path == "/v1/organizations/acme/workflow-runs") {
      std::string id = "run-" + std::to_string(++next_run);
      return FakeResponse{201, R"({"workflow_run":{"id":")" + id + R"(","state":"initialized"}})"};
    }
    return FakeResponse{200, R"({"workflow_run":{"id":"x","state":"succeeded"}})"};
  });
  StoreSessionFor(cp.url(), session_);
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  std::string statement = dir_ + "/statement.json";
  std::ofstream(statement) << R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})";
  auto run = [&](const std::vector<std::string>& args, const std::string& token) {
    env_ = {};
    env_.chainloop_token = token;
    std::vector<std::string> full = {"--control-plane", cp.url()};
    full.insert(full.end(), args.begin(), args.end());
    return Run(full);
  };
  const std::vector<std::string> init = {"attestation", "init",      "--workflow",
                                         "w",           "--project", "p"};
  const std::vector<std::string> push = {"attestation", "push", "--statement", statement};

  ASSERT_EQ(run(init, ""), 0) << err_.str();   // the user: run-1
  ASSERT_EQ(run(init, api), 0) << err_.str();  // $CHAINLOOP_TOKEN: run-2
  ASSERT_EQ(run(push, ""), 0) << err_.str();
  EXPECT_EQ(cp.requests().back().path, "/v1/organizations/acme/workflow-runs/run-1/attestation");
  EXPECT_EQ(cp.requests().back().Header("authorization"), "Bearer " + session_);
  ASSERT_EQ(run(push, api), 0) << err_.str();
  EXPECT_EQ(cp.requests().back().path, "/v1/organizations/acme/workflow-runs/run-2/attestation");
  EXPECT_EQ(cp.requests().back().Header("authorization"), "Bearer " + api);
  // Both pushed: nothing pending for either.
  EXPECT_EQ(run(push, ""), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no attestation in progress"));
  EXPECT_EQ(run(push, api), 1);

  // The state files are private and hold no credential.
  ASSERT_EQ(run(init, api), 0);
  ASSERT_EQ(run(init, ""), 0);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/chainloop/attestations")) {
    ++files;
    struct stat st {};
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str().find(api), std::string::npos);
    EXPECT_EQ(text.str().find(session_), std::string::npos);
    EXPECT_EQ(e.path().filename().string().find(api.substr(6, 10)), std::string::npos);
  }
  EXPECT_EQ(files, 2);
}

}  // namespace
}  // namespace cl::cli
