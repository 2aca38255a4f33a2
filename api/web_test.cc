#include "api/web.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace cl::api {
namespace {

std::string HeaderOf(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cl-web-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    std::filesystem::create_directories(root_ / "dist" / "assets");
    std::ofstream(root_ / "dist" / "index.html") << "<html>index</html>";
    std::ofstream(root_ / "dist" / "assets" / "app.js") << "console.log(1)";
    std::ofstream(root_ / "secret.txt") << "outside";
    handler_ = StaticFilesHandler((root_ / "dist").string());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  http::Response Get(std::string path) {
    http::Request req;
    req.method = "GET";
    req.path = std::move(path);
    return handler_(req);
  }
  std::filesystem::path root_;
  http::Handler handler_;
};

TEST_F(StaticFilesTest, ServesAssetsAndFallsBackToIndexForRoutes) {
  auto js = Get("/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(HeaderOf(js, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(HeaderOf(js, "Cache-Control").find("immutable"), std::string::npos);
  auto route = Get("/api-tokens");
  EXPECT_EQ(route.status, 200);
  EXPECT_EQ(route.body, "<html>index</html>");
  EXPECT_EQ(Get("/").body, "<html>index</html>");
  EXPECT_EQ(Get("/assets/missing.js").status, 404);
  auto api = Get("/v1/no-such-route");
  EXPECT_EQ(api.status, 404);
  EXPECT_NE(api.body.find("\"not_found\""), std::string::npos);
  EXPECT_EQ(Get("/auth/nope").status, 404);
}

TEST_F(StaticFilesTest, NeverLeavesTheDirectory) {
  for (const char* p : {"/../secret.txt", "/assets/../../secret.txt", "/.env", "//etc/passwd",
                        "/assets/..%2f..%2fsecret.txt"}) {
    auto r = Get(p);
    EXPECT_EQ(r.body.find("outside"), std::string::npos) << p;
  }
}

TEST_F(StaticFilesTest, EveryResponseHasSecurityHeaders) {
  for (const char* p : {"/", "/assets/app.js", "/../x"}) {
    auto r = Get(p);
    EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(HeaderOf(r, "Content-Security-Policy").find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
    EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
  }
}

TEST(Cookies, ParsesAndFormats) {
  http::Request req;
  req.headers = {{"cookie", "a=1; cl_session=clses_x; cl_csrf=abc"}, {"cookie", "b=2"}};
  EXPECT_EQ(CookieValue(req, "cl_session"), "clses_x");
  EXPECT_EQ(CookieValue(req, "cl_csrf"), "abc");
  EXPECT_EQ(CookieValue(req, "b"), "2");
  EXPECT_FALSE(CookieValue(req, "cl"));
  std::string c = SetCookieHeader("cl_session", "v", "/", 86400, true, true);
  EXPECT_EQ(c, "cl_session=v; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure");
  EXPECT_EQ(SetCookieHeader("cl_csrf", "v", "/", 0, false, false),
            "cl_csrf=v; Path=/; Max-Age=0; SameSite=Lax");
}

}  // namespace
}  // namespace cl::api
