// Handler tests of the authentication routes (api/auth_routes.cc): the browser legs of the
// CLI login, the code exchange and device flow, whoami (full and I/O-thread paths, tokens and
// people), logout, and the browser UI login with its session and CSRF cookies.
#include <string>

#include "api/api_testing.h"
#include "api/web.h"
#include "crypto/hash.h"

namespace cl::api {
namespace {

using testing::Answer;

// The value of query parameter `name` in a redirect target.
std::string QueryOf(const std::string& url, const std::string& name) {
  auto at = url.find(name + "=");
  if (at == std::string::npos) return "";
  at += name.size() + 1;
  return url.substr(at, url.find('&', at) - at);
}

// "name=value" of a Set-Cookie header naming `name`, empty when none does.
std::string CookieSet(const Answer& a, std::string_view name) {
  for (const auto& [k, v] : a.response.headers) {
    if (k == "Set-Cookie" && v.rfind(std::string(name) + "=", 0) == 0)
      return v.substr(0, v.find(';'));
  }
  return "";
}

class AuthRoutesTest : public testing::ApiTest {
 protected:
  // The CLI's browser login through the routes: /auth/login, the IdP, /auth/callback; returns
  // the one-time code the CLI exchanges.
  std::string BrowserLoginCode(const std::string& verifier) {
    Answer start = Call("GET",
                        "/auth/login?redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback"
                        "&state=cli-state&code_challenge=" +
                            crypto::PkceS256Challenge(verifier) + "&code_challenge_method=S256",
                        "");
    EXPECT_EQ(start.status, 302) << start.response.body;
    EXPECT_EQ(start.Header("Cache-Control"), "no-store");
    Answer back = Call("GET", "/auth/callback?code=idp-code&state=" + idp_.last_state, "");
    EXPECT_EQ(back.status, 302) << back.response.body;
    std::string location = back.Header("Location");
    EXPECT_EQ(location.rfind("http://127.0.0.1:5555/callback?", 0), 0u) << location;
    EXPECT_EQ(QueryOf(location, "state"), "cli-state");
    return QueryOf(location, "code");
  }
};

TEST_F(AuthRoutesTest, BrowserLoginThenCodeExchangeAnswersASession) {
  const std::string verifier(43, 'k');
  std::string code = BrowserLoginCode(verifier);
  ASSERT_FALSE(code.empty());
  Answer a = Call("POST", "/v1/auth/token", "",
                  R"({"code":")" + code + R"(","code_verifier":")" + verifier + R"("})");
  ASSERT_EQ(a.status, 200) << SerializeJson(a.body);
  EXPECT_EQ(a.Header("Cache-Control"), "no-store");
  const auto& j = a.body.as_object();
  EXPECT_TRUE(j.at("session_token").is_string());
  EXPECT_TRUE(j.at("expires_at").is_string());
  EXPECT_EQ(j.at("user").at("email").as_string(), "alice@example.com");
  EXPECT_TRUE(j.at("user").at("id").is_string());
  EXPECT_EQ(j.at("user").at("name").as_string(), "Alice");
  // The code is single-use.
  Answer again = Call("POST", "/v1/auth/token", "",
                      R"({"code":")" + code + R"(","code_verifier":")" + verifier + R"("})");
  EXPECT_EQ(again.status / 100, 4);
}

TEST_F(AuthRoutesTest, CodeExchangeDecodesStrictly) {
  struct Case {
    const char* body;
    const char* code;
  } cases[] = {
      {R"({"code":1,"code_verifier":"v"})", "invalid_field_type"},
      {R"({"code":"c","code_verifier":"v","extra":true})", "unknown_field"},
      {R"({"code":"c"})", "missing_field"},
      {R"(["code"])", "malformed_json"},
  };
  for (const auto& c : cases) {
    Answer a = Call("POST", "/v1/auth/token", "", c.body);
    EXPECT_EQ(a.status, 400) << c.body;
    EXPECT_EQ(a.code, c.code) << c.body;
  }
}

TEST_F(AuthRoutesTest, CallbackWithAnIdpErrorShowsAFixedPage) {
  Answer a = Call("GET", "/auth/callback?error=access_denied&error_description=%3Cb%3Ex", "");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.response.body.rfind("Login failed: ", 0), 0u) << a.response.body;
  EXPECT_EQ(a.response.body.find("<b>"), std::string::npos);
  EXPECT_EQ(a.Header("Cache-Control"), "no-store");
}

TEST_F(AuthRoutesTest, CallbackWithAnUnknownStateIsRefused) {
  Answer a = Call("GET", "/auth/callback?code=idp-code&state=never-issued", "");
  EXPECT_EQ(a.status / 100, 4);
  EXPECT_EQ(a.response.body.rfind("Login failed: ", 0), 0u) << a.response.body;
}

TEST_F(AuthRoutesTest, DeviceFlowStartsAndPollsPending) {
  Answer start = Call("POST", "/v1/auth/device", "", "{}");
  ASSERT_EQ(start.status, 200) << SerializeJson(start.body);
  EXPECT_EQ(start.Header("Cache-Control"), "no-store");
  const auto& j = start.body.as_object();
  for (const char* k :
       {"device_handle", "user_code", "verification_uri", "verification_uri_complete"}) {
    EXPECT_TRUE(j.at(k).is_string()) << k;
  }
  EXPECT_TRUE(j.at("expires_in").is_int64());
  EXPECT_TRUE(j.at("interval").is_int64());
  std::string handle(j.at("device_handle").as_string());
  Answer poll = Call("POST", "/v1/auth/device/token", "", R"({"device_handle":")" + handle + "\"}");
  EXPECT_EQ(poll.status, 400) << SerializeJson(poll.body);
  EXPECT_EQ(poll.code, "authorization_pending");
}

TEST_F(AuthRoutesTest, DevicePollFasterThanTheIntervalGetsSlowDown) {
  Answer start = Call("POST", "/v1/auth/device", "", "{}");
  ASSERT_EQ(start.status, 200) << SerializeJson(start.body);
  const int64_t interval = start.body.as_object().at("interval").as_int64();
  std::string poll_body =
      R"({"device_handle":")" + std::string(start.body.at("device_handle").as_string()) + "\"}";
  EXPECT_EQ(Call("POST", "/v1/auth/device/token", "", poll_body).code, "authorization_pending");
  clock_.Advance(interval * kMillisPerSecond - 1);
  Answer fast = Call("POST", "/v1/auth/device/token", "", poll_body);
  EXPECT_EQ(fast.status, 400) << SerializeJson(fast.body);
  EXPECT_EQ(fast.code, "slow_down");
  // The interval grew by 5 s: polling at the old interval is still too fast.
  clock_.Advance(interval * kMillisPerSecond);
  EXPECT_EQ(Call("POST", "/v1/auth/device/token", "", poll_body).code, "slow_down");
  clock_.Advance((interval + 10) * kMillisPerSecond);
  EXPECT_EQ(Call("POST", "/v1/auth/device/token", "", poll_body).code, "authorization_pending");
}

TEST_F(AuthRoutesTest, DeviceRoutesDecodeStrictly) {
  EXPECT_EQ(Call("POST", "/v1/auth/device", "", R"({"client":"x"})").code, "unknown_field");
  EXPECT_EQ(Call("POST", "/v1/auth/device/token", "", "{}").code, "missing_field");
  EXPECT_EQ(Call("POST", "/v1/auth/device/token", "", R"({"device_handle":7})").code,
            "invalid_field_type");
}

TEST_F(AuthRoutesTest, WhoamiNeedsACredential) {
  Answer a = Call("GET", "/v1/auth/whoami", "");
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.code, "unauthenticated");
  EXPECT_EQ(a.Header("WWW-Authenticate").rfind("Bearer", 0), 0u);
  Answer wrong = Call("GET", "/v1/auth/whoami", "made-up-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.Header("WWW-Authenticate").find("invalid_token"), std::string::npos);
}

TEST_F(AuthRoutesTest, WhoamiOfAPersonHasEmailAndSession) {
  std::string session = LoginAs("bob", "bob@example.com");
  Answer a = Call("GET", "/v1/auth/whoami", session);
  ASSERT_EQ(a.status, 200) << SerializeJson(a.body);
  const auto& p = a.body.at("principal").as_object();
  EXPECT_EQ(p.at("kind").as_string(), "user");
  EXPECT_EQ(p.at("email").as_string(), "bob@example.com");
  EXPECT_TRUE(a.body.at("session").at("expires_at").is_string());
  EXPECT_EQ(a.body.at("expires_at"), a.body.at("session").at("expires_at"));
  EXPECT_TRUE(a.body.at("organization").is_null());
  EXPECT_TRUE(a.body.at("project").is_null());
  EXPECT_TRUE(a.body.at("permissions").is_null());  // roles decide, per organization
  // The session's cache entry carries the person's name and email: once cached, the I/O thread
  // writes the same answer as the worker.
  auto fast = CallFast("GET", "/v1/auth/whoami", session);
  ASSERT_TRUE(fast.has_value());
  EXPECT_EQ(fast->status, 200);
  EXPECT_EQ(fast->response.body, SerializeJson(a.body));
  EXPECT_EQ(fast->Header("X-Content-Type-Options"), "nosniff");
}

TEST_F(AuthRoutesTest, WhoamiOfATokenNamesItsOrganizationProjectPermissionsAndExpiry) {
  auto ExpectSameAnswerOnBothPaths = [this](const std::string& token, const Answer& full) {
    auto fast = CallFast("GET", "/v1/auth/whoami", token);
    ASSERT_TRUE(fast.has_value());
    EXPECT_EQ(fast->status, 200);
    EXPECT_EQ(fast->response.body, SerializeJson(full.body));
    EXPECT_EQ(fast->Header("X-Content-Type-Options"), "nosniff");
  };
  std::string owner = LoginAs("owner", "owner@example.com");
  CreateOrg(owner, "acme");
  Answer created = Call("POST", "/v1/organizations/acme/api-tokens", owner, R"({"name":"ci"})");
  ASSERT_EQ(created.status, 201);
  std::string token(created.body.at("token").as_string());
  // Authenticated (and cached) by another request: whoami still needs the organization's name.
  ASSERT_EQ(Call("GET", "/v1/organizations/acme", token).status, 200);
  EXPECT_FALSE(CallFast("GET", "/v1/auth/whoami", token).has_value());
  Answer full = Call("GET", "/v1/auth/whoami", token);
  ASSERT_EQ(full.status, 200) << SerializeJson(full.body);
  EXPECT_EQ(full.body.at("principal").at("kind").as_string(), "api_token");
  EXPECT_EQ(full.body.at("organization").at("name").as_string(), "acme");
  EXPECT_EQ(full.body.at("organization").at("id"),
            Call("GET", "/v1/organizations/acme", owner).body.at("organization").at("id"));
  EXPECT_TRUE(full.body.at("project").is_null());
  EXPECT_EQ(full.body.at("permissions"), created.body.at("api_token").at("permissions"));
  EXPECT_TRUE(full.body.at("expires_at").is_null());  // created without an expiry
  EXPECT_FALSE(full.body.as_object().contains("session"));
  // Before the worker has read the organization's name, the I/O thread hands the request over;
  // after, it writes the same answer itself.
  ExpectSameAnswerOnBothPaths(token, full);

  ASSERT_EQ(Call("POST", "/v1/organizations/acme/projects", owner, R"({"name":"web"})").status,
            201);
  Answer scoped = Call(
      "POST", "/v1/organizations/acme/api-tokens", owner,
      R"({"name":"deploy","project":"web","permissions":["workflow_run:create","workflow:read"],)"
      R"("expires_in_seconds":3600})");
  ASSERT_EQ(scoped.status, 201) << SerializeJson(scoped.body);
  Answer who = Call("GET", "/v1/auth/whoami", std::string(scoped.body.at("token").as_string()));
  ASSERT_EQ(who.status, 200) << SerializeJson(who.body);
  EXPECT_EQ(who.body.at("organization").at("name").as_string(), "acme");
  EXPECT_EQ(who.body.at("project").at("name").as_string(), "web");
  EXPECT_EQ(SerializeJson(who.body.at("permissions")),
            R"(["workflow:read","workflow_run:create"])");
  EXPECT_EQ(who.body.at("expires_at"), scoped.body.at("api_token").at("expires_at"));
  EXPECT_TRUE(who.body.at("expires_at").is_string());
  ExpectSameAnswerOnBothPaths(std::string(scoped.body.at("token").as_string()), who);
}

TEST_F(AuthRoutesTest, LogoutEndsTheSession) {
  std::string session = LoginAs("bob", "bob@example.com");
  EXPECT_EQ(Call("POST", "/v1/auth/logout", "").status, 401);
  Answer a = Call("POST", "/v1/auth/logout", session);
  EXPECT_EQ(a.status, 204);
  EXPECT_EQ(CookieSet(a, kSessionCookie), "");  // no cookie was used, none is cleared
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", session).status, 401);
}

TEST_F(AuthRoutesTest, WebLoginSetsSessionAndCsrfCookies) {
  Answer start = Call("GET", "/auth/web/login", "");
  ASSERT_EQ(start.status, 302) << start.response.body;
  std::string login_cookie = CookieSet(start, kWebLoginCookie);
  ASSERT_FALSE(login_cookie.empty());
  // The browser comes back through the CLI callback, then to /auth/web/callback.
  Answer idp_back = Call("GET", "/auth/callback?code=idp-code&state=" + idp_.last_state, "");
  ASSERT_EQ(idp_back.status, 302);
  std::string location = idp_back.Header("Location");
  ASSERT_EQ(location.rfind("http://127.0.0.1:1/auth/web/callback?", 0), 0u) << location;
  std::string target = location.substr(std::string("http://127.0.0.1:1").size());

  Answer wrong_browser = Call("GET", target, "");
  EXPECT_EQ(wrong_browser.status, 400);
  EXPECT_NE(wrong_browser.response.body.find("invalid_state"), std::string::npos);

  Answer done = Call("GET", target, "", "", {{"cookie", login_cookie}});
  ASSERT_EQ(done.status, 302) << done.response.body;
  EXPECT_EQ(done.Header("Location"), "/");
  std::string session = CookieSet(done, kSessionCookie);
  std::string csrf = CookieSet(done, kCsrfCookie);
  ASSERT_FALSE(session.empty());
  ASSERT_FALSE(csrf.empty());
  std::string csrf_value = csrf.substr(csrf.find('=') + 1);

  // Reads with the cookie need no CSRF token; writes do.
  EXPECT_EQ(Call("GET", "/v1/auth/whoami", "", "", {{"cookie", session}}).status, 200);
  Answer no_csrf = Call("POST", "/v1/auth/logout", "", "", {{"cookie", session + "; " + csrf}});
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_EQ(no_csrf.code, "csrf_failed");
  Answer cross = Call("POST", "/v1/auth/logout", "", "",
                      {{"cookie", session + "; " + csrf},
                       {"x-csrf-token", csrf_value},
                       {"origin", "https://evil.example"}});
  EXPECT_EQ(cross.code, "csrf_failed");
  Answer out = Call("POST", "/v1/auth/logout", "", "",
                    {{"cookie", session + "; " + csrf}, {"x-csrf-token", csrf_value}});
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(CookieSet(out, kSessionCookie), std::string(kSessionCookie) + "=");
}

}  // namespace
}  // namespace cl::api
