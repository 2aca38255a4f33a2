// Tests of `chainloop auth` against a fake control plane: browser and device login, logout,
// status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "cli/api_client.h"
#include "cli/cli_test_support.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/context.h"
#include "cli/control_plane_url.h"
#include "cli/login.h"
#include "common/http_client.h"
#include "common/json.h"
#include "crypto/credential.h"
#include "crypto/hash.h"

namespace cl::cli {
namespace {

using testing::CommandTest;
using testing::ErrorBody;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::ModeOf;
using testing::NewToken;

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

}  // namespace
}  // namespace cl::cli
