// Tests of the server's own answers and handler calls (http/dispatch.h), without a server.
#include "http/dispatch.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "common/log.h"
#include "http/http.h"

namespace cl::http {
namespace {

std::string HeaderOf(const Response& res, const std::string& name) {
  for (const auto& [n, v] : res.headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

TEST(DispatchTest, NoRouteIs404Or405WithAllow) {
  Request req;
  req.method = "DELETE";
  req.path = "/v1/x";
  Router::MatchResult none;
  Response not_found = NoRouteResponse(req, none);
  EXPECT_EQ(not_found.status, 404);
  EXPECT_NE(not_found.body.find("\"not_found\""), std::string::npos);
  EXPECT_EQ(HeaderOf(not_found, "Allow"), "");

  Router::MatchResult other_methods;
  other_methods.method_not_allowed = true;
  other_methods.allowed_methods = {"GET", "POST"};
  Response not_allowed = NoRouteResponse(req, other_methods);
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_NE(not_allowed.body.find("\"method_not_allowed\""), std::string::npos);
  EXPECT_EQ(HeaderOf(not_allowed, "Allow"), "GET, POST");
}

TEST(DispatchTest, HandlerExceptionsBecome500AndAreLogged) {
  std::string log;
  SetLogSinkForTest(&log);
  Request req;
  req.path = "/throw";
  req.request_id = "rid7";
  Response res = Invoke([](Request&) -> Response { throw std::runtime_error("boom"); }, req);
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find("\"internal\""), std::string::npos);
  std::optional<Response> fast =
      InvokeFast([](Request&) -> std::optional<Response> { throw 42; }, req);
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->status, 500);
  SetLogSinkForTest(nullptr);
  EXPECT_NE(log.find("boom"), std::string::npos);
  EXPECT_NE(log.find("rid7"), std::string::npos);
  EXPECT_NE(log.find("unknown exception"), std::string::npos);

  EXPECT_EQ(Invoke([](Request&) { return Response::Text(200, "ok"); }, req).body, "ok");
  EXPECT_FALSE(InvokeFast([](Request&) -> std::optional<Response> { return std::nullopt; }, req));
}

}  // namespace
}  // namespace cl::http
