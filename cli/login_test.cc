// Tests of the browser login's pieces (cli/login.h): the loopback listener that receives the
// authorization callback, and PKCE.
#include "cli/login.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_support.h"
#include "common/http_client.h"

namespace cl::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

}  // namespace
}  // namespace cl::cli
