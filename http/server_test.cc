// End-to-end tests of the Beast server over loopback, through raw sockets and cl::HttpFetch:
// requests reach their routes and handlers, responses go out as handlers made them (minus
// headers that cannot be sent), request ids, metrics, logs, and starting and stopping.
#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "common/http_client.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/server_test_support.h"

namespace cl::http {
namespace {

TEST_F(ServerTest, GetAndPostRoundTrip) {
  StartServer();
  auto r = Roundtrip(Get("/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hi");
  EXPECT_EQ(r->headers["content-type"], "text/plain");

  std::string body = "{\"a\":1}";
  r = Roundtrip(
      "POST /v1/orgs/ac%20me/echo?q=x%2By HTTP/1.1\r\nHost: h\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "org=ac me;q=x+y;ct=application/json;body={\"a\":1};remote=127.0.0.1");
}

TEST_F(ServerTest, WorksWithLibcurlClient) {
  StartServer();
  HttpClientRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/orgs/acme/echo";
  req.headers = {{"Content-Type", "text/plain"}};
  req.body = "payload";
  auto res = HttpFetch(req);
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "org=acme;q=;ct=text/plain;body=payload;remote=127.0.0.1");
  EXPECT_EQ(res->Header("x-request-id").size(), 16u);
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneSocket) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Get("/hello")));
  auto r1 = s.ReadReply();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  ASSERT_TRUE(s.Send(Get("/id")));
  auto r2 = s.ReadReply();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  // Pipelined: two requests in one write are answered in order.
  ASSERT_TRUE(s.Send(Get("/hello") + Get("/nocontent")));
  auto r3 = s.ReadReply();
  auto r4 = s.ReadReply();
  ASSERT_TRUE(r3 && r4);
  EXPECT_EQ(r3->body, "hi");
  EXPECT_EQ(r4->status, 204);
  EXPECT_EQ(r4->headers.count("content-length"), 0u);
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowed) {
  StartServer();
  auto r = Roundtrip(Get("/nope?code=secret-code"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers["content-type"], "application/json");
  EXPECT_EQ(r->body, R"({"error":{"code":"not_found","message":"no route for GET /nope"}})");

  r = Roundtrip("DELETE /hello HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET, HEAD");
  EXPECT_NE(r->body.find("\"code\":\"method_not_allowed\""), std::string::npos);

  // The query string never reaches the log.
  EXPECT_EQ(log_.find("secret-code"), std::string::npos);
  EXPECT_NE(log_.find("\"path\":\"/nope\""), std::string::npos) << log_;
}

TEST_F(ServerTest, HeadHasLengthButNoBody) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(s.Send("HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto r = s.ReadReply(5s, /*head=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-length"], "2");
  // The connection stays usable, proving no body bytes followed the header.
  ASSERT_TRUE(s.Send(Get("/hello")));
  auto r2 = s.ReadReply();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "hi");
}

TEST_F(ServerTest, FallbackServesUnmatchedGets) {
  router_.SetFallback([](Request& req) { return Response::Text(200, "static:" + req.path); });
  StartServer();
  auto r = Roundtrip(Get("/ui/index.html"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "static:/ui/index.html");
  r = Roundtrip("POST /ui/index.html HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ServerTest, CredentialsTypedIntoAPathAreMaskedInTheLogAnd404) {
  StartServer();
  const std::string token = "clapi_" + std::string(43, 'x') + "abcdef";
  const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
  auto r = Roundtrip(Get("/v1/nothing/" + token + "/" + jwt));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body.find(token), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("c2lnbmF0dXJl"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("clapi_<redacted>"), std::string::npos) << r->body;
  server_.reset();  // flushes the access log line
  EXPECT_EQ(log_.find(token), std::string::npos);
  EXPECT_EQ(log_.find("c2lnbmF0dXJl"), std::string::npos);
  EXPECT_NE(log_.find("/v1/nothing/clapi_<redacted>/<redacted-jwt>"), std::string::npos) << log_;
}

TEST_F(ServerTest, OrdinaryPathsAreNotMasked) {
  StartServer();
  auto r = Roundtrip(Get("/v1/orgs/closet_12345/cl_short/eyJ-not-a-jwt"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("/v1/orgs/closet_12345/cl_short/eyJ-not-a-jwt"), std::string::npos)
      << r->body;
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequest) {
  StartServer();
  Socket idle(server_->port());
  ASSERT_TRUE(idle.Send(Get("/hello")));
  ASSERT_TRUE(idle.ReadReply());  // now an idle keep-alive connection

  Socket busy(server_->port());
  ASSERT_TRUE(busy.Send(Get("/slow")));
  for (int i = 0; i < 200 && !slow_started_; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(slow_started_);

  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);

  auto r = busy.ReadReply(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slow done");
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(idle.ClosedWithin(1s));

  // Stopped: new connections are refused; Stop() and Wait() are idempotent.
  Socket late(server_->port());
  EXPECT_FALSE(late.connected() && late.Send(Get("/hello")) && late.ReadReply(500ms));
  server_->Stop();
  server_->Wait();
}

TEST_F(ServerTest, StopFromAnotherThreadWhileWaiting) {
  StartServer();
  std::thread stopper([this] {
    std::this_thread::sleep_for(50ms);
    server_->Stop();
  });
  server_->RunUntilSignal();  // returns once the other thread's Stop() completes
  stopper.join();
}

TEST_F(ServerTest, HandlerExceptionGives500AndServerStaysUp) {
  StartServer();
  auto r = Roundtrip(Get("/throw"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":{"code":"internal","message":"internal error"}})");
  EXPECT_NE(log_.find("boom"), std::string::npos);
  auto ok = Roundtrip(Get("/hello"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServerTest, RequestIdIsEchoedOrGenerated) {
  StartServer();
  auto r = Roundtrip(Get("/id", "X-Request-Id: abc-DEF_123\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers["x-request-id"], "abc-DEF_123");
  EXPECT_EQ(r->body, "abc-DEF_123");

  r = Roundtrip(Get("/id", "X-Request-Id: bad id!\r\n"));  // not acceptable: replaced
  ASSERT_TRUE(r);
  std::string id = r->headers["x-request-id"];
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(r->body, id);

  auto r2 = Roundtrip(Get("/id"));
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->headers["x-request-id"], id);
  EXPECT_NE(log_.find("\"request_id\":\"abc-DEF_123\""), std::string::npos);
}

TEST_F(ServerTest, MetricsUseRoutePatterns) {
  StartServer();
  ASSERT_TRUE(
      Roundtrip("POST /v1/orgs/acme/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(Roundtrip(Get("/missing")));
  std::string out = metrics_.RenderPrometheus();
  EXPECT_NE(
      out.find(
          R"(chainloop_http_requests_total{route="/v1/orgs/{org}/echo",method="POST",status="200"} 1)"),
      std::string::npos)
      << out;
  EXPECT_NE(
      out.find(R"(chainloop_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
      std::string::npos);
  EXPECT_EQ(out.find("/v1/orgs/acme"), std::string::npos);
  EXPECT_NE(
      out.find(R"(chainloop_http_request_duration_seconds_count{route="/v1/orgs/{org}/echo"} 1)"),
      std::string::npos);
}

TEST_F(ServerTest, UnsendableResponseHeadersGive500) {
  StartServer();
  auto r = Roundtrip(Get("/hugeheader"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->headers.count("set-cookie"), 0u);
}

TEST_F(ServerTest, LineBreaksInHeaderValuesAreDropped) {
  router_.Add("GET", "/inject", [](Request&) {
    Response r = Response::Text(200, "ok");
    r.SetHeader("X-Injected", "a\r\nSet-Cookie: evil=1");
    r.SetHeader("X-Fine", "yes");
    return r;
  });
  StartServer();
  auto r = Roundtrip(Get("/inject"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.count("set-cookie"), 0u);
  EXPECT_EQ(r->headers.count("x-injected"), 0u);
  EXPECT_EQ(r->headers["x-fine"], "yes");
}

TEST_F(ServerTest, InvalidResponseHeaderNamesAndValuesAreDropped) {
  router_.Add("GET", "/names", [](Request&) {
    Response r = Response::Text(200, "ok");
    r.headers.emplace_back("Bad Name", "1");
    r.headers.emplace_back("X-Colon:", "1");
    r.headers.emplace_back("X-Tab\t", "1");
    r.headers.emplace_back("", "1");
    r.headers.emplace_back("X-Nul", std::string("a\0b", 3));
    r.headers.emplace_back("X-Lf", "a\nb");
    r.headers.emplace_back("Content-Length", "999");  // framing is the server's
    r.headers.emplace_back("X-Tchar!#$%&'*+-.^_`|~", "kept");
    return r;
  });
  StartServer();
  auto r = Roundtrip(Get("/names"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->headers["content-length"], "2");
  EXPECT_EQ(r->headers["x-tchar!#$%&'*+-.^_`|~"], "kept");
  for (const char* gone : {"bad name", "x-colon:", "x-colon", "x-nul", "x-lf", "bad"}) {
    EXPECT_EQ(r->headers.count(gone), 0u) << gone;
  }
}

TEST_F(ServerTest, StartFailsWhenPortIsTaken) {
  StartServer();
  ServerOptions opts;
  opts.port = server_->port();
  Server second(opts, router_, nullptr);
  auto st = second.Start();
  ASSERT_FALSE(st.has_value());
  EXPECT_TRUE(st.error().IsUnavailable());
  EXPECT_FALSE(server_->Start().has_value());  // already started
}

TEST_F(ServerTest, FastPathAnswersInlineOrHandsOverToThePool) {
  std::atomic<std::thread::id> fast_thread{}, slow_thread{};
  router_.AddWithFastPath(
      "GET", "/fast/{mode}",
      [&](Request& req) -> std::optional<Response> {
        fast_thread = std::this_thread::get_id();
        if (req.PathParam("mode") == "inline") return Response::Text(200, "from fast path");
        return std::nullopt;
      },
      [&](Request&) {
        slow_thread = std::this_thread::get_id();
        return Response::Text(200, "from pool");
      });
  StartServer();
  auto quick = Roundtrip(Get("/fast/inline"));
  ASSERT_TRUE(quick);
  EXPECT_EQ(quick->status, 200);
  EXPECT_EQ(quick->body, "from fast path");
  EXPECT_EQ(slow_thread.load(), std::thread::id{});

  auto slow = Roundtrip(Get("/fast/db"));
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->body, "from pool");
  // The fallback ran on a worker thread, not on the I/O thread that tried the fast path.
  EXPECT_NE(slow_thread.load(), std::thread::id{});
  EXPECT_NE(slow_thread.load(), fast_thread.load());
}

}  // namespace
}  // namespace cl::http
