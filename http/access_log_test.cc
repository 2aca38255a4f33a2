// Tests of what the server logs per request: the access log line's fields (trace id, caller,
// organization, error code, user agent, bytes), lines written by handlers carrying the request
// and trace ids, W3C traceparent accepted or replaced, probes at debug, valid UTF-8 always.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace_context.h"
#include "http/server_test_support.h"

namespace cl::http {
namespace {

const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

class AccessLogTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    router_.Add("POST", "/v1/organizations/{org}/things", [](Request& req) {
      req.principal_kind = "api_token";
      req.principal_id = "tok-1";
      Log(LogLevel::kInfo, "session created", {{"user", "u1"}});
      return Response::Error(409, "already_exists", "the thing exists");
    });
    router_.Add(
        "GET", "/healthz", [](Request&) { return Response::Json(200, "{}"); }, false);
    router_.Add(
        "GET", "/readyz", [](Request&) { return Response::Json(503, "{}"); }, false);
  }

  // Every line logged so far, parsed; the server is stopped first so the log is flushed.
  std::vector<boost::json::object> Lines() {
    server_.reset();
    std::vector<boost::json::object> out;
    std::istringstream in(log_);
    for (std::string line; std::getline(in, line);) {
      auto v = ParseJson(line);
      EXPECT_TRUE(v && v->is_object()) << line;
      if (v && v->is_object()) out.push_back(v->as_object());
    }
    return out;
  }

  static const boost::json::object* Find(const std::vector<boost::json::object>& lines,
                                         std::string_view msg, std::string_view path = "") {
    for (const auto& l : lines) {
      if (l.at("msg").as_string() != msg) continue;
      if (!path.empty() && l.at("path").as_string() != path) continue;
      return &l;
    }
    return nullptr;
  }
};

TEST_F(AccessLogTest, TheRequestLineNamesTheCallerTheErrorAndTheSizes) {
  StartServer();
  std::string body = R"({"name":"x"})";
  auto r = Roundtrip(
      "POST /v1/organizations/acme/things HTTP/1.1\r\nHost: h\r\n"
      "User-Agent: chainloop-cli/1.2\r\ntraceparent: 00-" +
      kTrace + "-00f067aa0ba902b7-01\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 409);
  auto lines = Lines();
  const auto* access = Find(lines, "request");
  ASSERT_NE(access, nullptr) << log_;
  EXPECT_EQ(access->at("trace_id").as_string(), kTrace);
  EXPECT_EQ(access->at("principal_kind").as_string(), "api_token");
  EXPECT_EQ(access->at("principal_id").as_string(), "tok-1");
  EXPECT_EQ(access->at("org").as_string(), "acme");
  EXPECT_EQ(access->at("error_code").as_string(), "already_exists");
  EXPECT_EQ(access->at("user_agent").as_string(), "chainloop-cli/1.2");
  EXPECT_EQ(access->at("bytes_in").as_int64(), static_cast<int64_t>(body.size()));
  EXPECT_GT(access->at("bytes_out").as_int64(), static_cast<int64_t>(r->body.size()));
  // A line the handler wrote carries the same request and trace ids.
  const auto* handler_line = Find(lines, "session created");
  ASSERT_NE(handler_line, nullptr) << log_;
  EXPECT_EQ(handler_line->at("request_id"), access->at("request_id"));
  EXPECT_EQ(handler_line->at("trace_id").as_string(), kTrace);
}

TEST_F(AccessLogTest, AMissingOrMalformedTraceparentStartsANewTrace) {
  StartServer();
  ASSERT_TRUE(Roundtrip(Get("/hello")));
  ASSERT_TRUE(Roundtrip(
      Get("/hello", "traceparent: 00-" + std::string(32, '0') + "-00f067aa0ba902b7-01\r\n")));
  ASSERT_TRUE(Roundtrip(Get("/hello", "traceparent: garbage\r\n")));
  std::vector<std::string> traces;
  for (const auto& l : Lines()) {
    if (l.at("msg").as_string() != "request") continue;
    std::string trace(l.at("trace_id").as_string());
    EXPECT_EQ(trace.size(), 32u) << trace;
    EXPECT_NE(trace, std::string(32, '0'));
    traces.push_back(trace);
  }
  ASSERT_EQ(traces.size(), 3u) << log_;
  EXPECT_NE(traces[0], traces[1]);
  EXPECT_NE(traces[1], traces[2]);
}

TEST_F(AccessLogTest, SuccessfulProbesLogAtDebugOnly) {
  SetMinLogLevel(LogLevel::kInfo);
  StartServer();
  ASSERT_TRUE(Roundtrip(Get("/healthz")));
  ASSERT_TRUE(Roundtrip(Get("/readyz")));  // failing: worth an info line
  ASSERT_TRUE(Roundtrip(Get("/hello")));
  auto lines = Lines();
  EXPECT_EQ(Find(lines, "request", "/healthz"), nullptr) << log_;
  EXPECT_NE(Find(lines, "request", "/readyz"), nullptr) << log_;
  EXPECT_NE(Find(lines, "request", "/hello"), nullptr) << log_;
}

TEST_F(AccessLogTest, SuccessfulProbesAreLoggedAtDebugLevel) {
  SetMinLogLevel(LogLevel::kDebug);
  StartServer();
  ASSERT_TRUE(Roundtrip(Get("/healthz")));
  auto lines = Lines();
  SetMinLogLevel(LogLevel::kInfo);
  const auto* probe = Find(lines, "request", "/healthz");
  ASSERT_NE(probe, nullptr) << log_;
  EXPECT_EQ(probe->at("level").as_string(), "debug");
}

// Outbound calls (the login IdP, CI issuers' keys) made while a request is served join its trace;
// calls made outside any request carry no traceparent.
TEST_F(AccessLogTest, OutboundCallsPropagateTheTrace) {
  router_.Add("GET", "/echo-trace", [](Request& req) {
    return Response::Text(200, std::string(req.Header("traceparent")));
  });
  StartServer();
  HttpClientRequest call;
  call.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/echo-trace";
  std::string sent;
  {
    ScopedLogContext scope("req-1", kTrace);
    auto res = HttpFetch(call);
    ASSERT_TRUE(res) << res.error().ToString();
    sent = res->body;
  }
  EXPECT_EQ(TraceIdFromTraceparent(sent), kTrace) << sent;
  auto outside = HttpFetch(call);
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->body, "");
}

TEST_F(AccessLogTest, InvalidUtf8InAPathIsEscapedNotWrittenRaw) {
  StartServer();
  auto r = Roundtrip(Get("/v1/%ff%c0%af/caf%C3%A9"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto lines = Lines();  // every line parsed as JSON, which requires valid UTF-8
  const auto* access = Find(lines, "request");
  ASSERT_NE(access, nullptr) << log_;
  EXPECT_EQ(access->at("path").as_string(), "/v1/\\xff\\xc0\\xaf/caf\xc3\xa9");
}

}  // namespace
}  // namespace cl::http
