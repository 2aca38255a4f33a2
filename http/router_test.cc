// Tests for the Beast-free pieces of http.h: router matching, request/response helpers.
#include <gtest/gtest.h>

#include "http/http.h"

namespace cl::http {
namespace {

Response Named(std::string name) { return Response::Text(200, std::move(name)); }

Router MakeRouter() {
  Router r;
  r.Add("GET", "/healthz", [](Request&) { return Named("healthz"); });
  r.Add("GET", "/v1/organizations", [](Request&) { return Named("orgs"); });
  r.Add("POST", "/v1/organizations", [](Request&) { return Named("create_org"); });
  r.Add("GET", "/v1/organizations/{org}", [](Request&) { return Named("org"); });
  r.Add("GET", "/v1/organizations/mine", [](Request&) { return Named("mine"); });
  r.Add("GET", "/v1/organizations/{org}/projects/{project}",
        [](Request&) { return Named("project"); });
  r.Add("DELETE", "/v1/organizations/{org}/projects/{project}",
        [](Request&) { return Named("delete_project"); });
  r.Add("GET", "/", [](Request&) { return Named("root"); });
  return r;
}

std::string Call(const Router& r, std::string_view method, std::string_view path) {
  auto m = r.Match(method, path);
  if (m.route == nullptr) return m.method_not_allowed ? "405" : "404";
  Request req;
  return m.route->handler(req).body;
}

TEST(RouterTest, MatchingTable) {
  Router r = MakeRouter();
  struct Case {
    const char* method;
    const char* path;
    const char* want;
  } cases[] = {
      {"GET", "/healthz", "healthz"},
      {"GET", "/", "root"},
      {"GET", "/v1/organizations", "orgs"},
      {"POST", "/v1/organizations", "create_org"},
      {"GET", "/v1/organizations/acme", "org"},
      {"GET", "/v1/organizations/mine", "mine"},  // literal beats {org}
      {"GET", "/v1/organizations/acme/projects/p1", "project"},
      {"DELETE", "/v1/organizations/acme/projects/p1", "delete_project"},
      {"HEAD", "/healthz", "healthz"},      // HEAD falls back to GET
      {"PUT", "/v1/organizations", "405"},  // path known, method not
      {"POST", "/v1/organizations/acme", "405"},
      {"GET", "/nope", "404"},
      {"GET", "/healthz/", "404"},           // trailing slash is a different path
      {"GET", "/v1/organizations/", "404"},  // empty segment never fills a parameter
      {"GET", "/v1//organizations", "404"},
      {"GET", "healthz", "404"},  // not an absolute path
      {"GET", "", "404"},
      {"GET", "/v1/organizations/acme/projects", "404"},
      {"GET", "/%68ealthz", "healthz"},  // literal compared after decoding
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Call(r, c.method, c.path), c.want) << c.method << " " << c.path;
  }
}

TEST(RouterTest, ParamsArePercentDecodedPerSegment) {
  Router r = MakeRouter();
  auto m = r.Match("GET", "/v1/organizations/ac%20me/projects/a%2Fb");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/v1/organizations/{org}/projects/{project}");
  EXPECT_EQ(m.params.at("org"), "ac me");
  EXPECT_EQ(m.params.at("project"), "a/b");  // %2F does not split segments
}

TEST(RouterTest, MethodNotAllowedListsMethods) {
  Router r = MakeRouter();
  auto m = r.Match("PATCH", "/v1/organizations/acme/projects/p1");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.method_not_allowed);
  EXPECT_EQ(m.allowed_methods, (std::vector<std::string>{"DELETE", "GET", "HEAD"}));
}

TEST(RouterTest, LiteralBeatsParamRegardlessOfOrder) {
  Router r;
  r.Add("GET", "/a/{x}/c", [](Request&) { return Named("param-first"); });
  r.Add("GET", "/a/b/{y}", [](Request&) { return Named("literal-first"); });
  EXPECT_EQ(Call(r, "GET", "/a/b/c"), "literal-first");
  EXPECT_EQ(Call(r, "GET", "/a/z/c"), "param-first");
}

TEST(RouterTest, BlockingFlagAndRoutesAreKept) {
  Router r;
  r.Add(
      "GET", "/healthz", [](Request&) { return Named("h"); }, /*blocking=*/false);
  r.Add("GET", "/db", [](Request&) { return Named("d"); });
  ASSERT_EQ(r.routes().size(), 2u);
  EXPECT_FALSE(r.routes()[0].blocking);
  EXPECT_TRUE(r.routes()[1].blocking);
  EXPECT_FALSE(static_cast<bool>(r.fallback()));
  r.SetFallback([](Request&) { return Named("static"); });
  EXPECT_TRUE(static_cast<bool>(r.fallback()));
}

TEST(PercentDecodeTest, Cases) {
  EXPECT_EQ(PercentDecode("a%20b"), "a b");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("%41%6a"), "Aj");
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode(""), "");
}

TEST(RequestTest, HeaderQueryAndPathParams) {
  Request req;
  req.headers = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};
  req.query = "code=a%2Bb&state=x+y&flag&empty=&code=second";
  req.path_params.emplace("org", "acme");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(req.Header("X-A"), "1");
  EXPECT_EQ(req.Header("missing"), "");
  EXPECT_EQ(req.QueryParam("code"), "a+b");
  EXPECT_EQ(req.QueryParam("state"), "x y");
  EXPECT_EQ(req.QueryParam("flag"), "");
  EXPECT_EQ(req.QueryParam("empty"), "");
  EXPECT_EQ(req.QueryParam("absent"), std::nullopt);
  EXPECT_EQ(req.PathParam("org"), "acme");
  EXPECT_EQ(req.PathParam("nope"), "");
}

TEST(ResponseTest, Helpers) {
  Response j = Response::Json(201, "{}");
  EXPECT_EQ(j.status, 201);
  ASSERT_EQ(j.headers.size(), 1u);
  EXPECT_EQ(j.headers[0].first, "Content-Type");
  EXPECT_EQ(j.headers[0].second, "application/json");

  Response t = Response::Text(200, "hi", "text/html");
  EXPECT_EQ(t.headers[0].second, "text/html");

  Response redir = Response::Redirect("https://idp/authorize");
  EXPECT_EQ(redir.status, 302);
  EXPECT_EQ(redir.headers[0].first, "Location");
  EXPECT_EQ(redir.headers[0].second, "https://idp/authorize");

  EXPECT_EQ(Response::NoContent().status, 204);

  j.SetHeader("content-type", "application/problem+json");  // replaces, case-insensitively
  j.SetHeader("Cache-Control", "no-store");
  ASSERT_EQ(j.headers.size(), 2u);
  EXPECT_EQ(j.headers[0].second, "application/problem+json");
  EXPECT_EQ(j.headers[1].second, "no-store");
}

// The one error envelope: valid JSON with code and message, control characters escaped, and
// credential-shaped text masked whatever the caller passed.
TEST(ErrorEnvelopeTest, ShapeEscapingAndRedaction) {
  EXPECT_EQ(ErrorEnvelope("not_found", "no route"),
            R"({"error":{"code":"not_found","message":"no route"}})");
  EXPECT_EQ(ErrorEnvelope("x", "a\"b\n\x1b"), R"({"error":{"code":"x","message":"a\"b\n\u001b"}})");
  const std::string secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk";
  const std::string body = ErrorEnvelope("not_found", "organization 'xclapi_" + secret + "'");
  EXPECT_EQ(body.find(secret), std::string::npos) << body;
  EXPECT_NE(body.find("xclapi_<redacted>"), std::string::npos) << body;
}

TEST(RouterTest, BodyLimitIsPerRoute) {
  Router r;
  auto ok = [](Request&) { return Response::NoContent(); };
  r.Add("POST", "/v1/a/{id}/statement", ok);
  r.Add("GET", "/v1/a/{id}/statement", ok);
  r.Add("POST", "/v1/a", ok);
  r.SetMaxBodyBytes("POST", "/v1/a/{id}/statement", kLargeBody);
  EXPECT_EQ(r.Match("POST", "/v1/a/x/statement").route->max_body_bytes, kLargeBody);
  EXPECT_EQ(r.Match("GET", "/v1/a/x/statement").route->max_body_bytes, 0u);  // other method
  EXPECT_EQ(r.Match("POST", "/v1/a").route->max_body_bytes, 0u);             // the server's default
  r.SetMaxBodyBytes("POST", "/v1/a", 4096);
  EXPECT_EQ(r.Match("POST", "/v1/a").route->max_body_bytes, 4096u);
}

TEST(RouterDeathTest, BodyLimitForAMissingRouteAborts) {
  Router r;
  r.Add("POST", "/v1/a", [](Request&) { return Response::NoContent(); });
  EXPECT_DEATH(r.SetMaxBodyBytes("POST", "/v1/b", kLargeBody), "no route POST /v1/b");
}

}  // namespace
}  // namespace cl::http
