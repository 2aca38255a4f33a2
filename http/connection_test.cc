// Tests of one connection's requests (http/connection.cc) over loopback: oversized and malformed
// requests, read and idle timeouts, Expect: 100-continue, the HTTP/1.1 framing conformance
// table, route body limits, and the shared request-body budget (503 and memory trims).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http/metrics.h"
#include "http/server.h"
#include "http/server_test_support.h"

namespace cl::http {
namespace {

TEST_F(ServerTest, OversizedBodyGets413AndServerStaysUp) {
  StartServer();
  std::string big(2 << 20, 'x');
  Socket s(server_->port());
  ASSERT_TRUE(s.Send("POST /v1/orgs/a/echo HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                     std::to_string(big.size()) + "\r\n\r\n"));
  s.Send(big);  // may fail part-way once the server closes; the reply is what matters
  auto r = s.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_NE(r->body.find(R"({"error":{"code":"payload_too_large")"), std::string::npos);

  auto ok = Roundtrip(Get("/hello"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServerTest, OversizedHeadersGet431) {
  StartServer();
  std::string huge(64 * 1024, 'a');
  auto r = Roundtrip(Get("/hello", "X-Big: " + huge + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find(R"("code":"headers_too_large")"), std::string::npos);
}

TEST_F(ServerTest, TooManyHeaderFieldsGet431) {
  StartServer();
  std::string many;
  for (int i = 0; i < 150; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";  // ~1.5 KiB
  auto r = Roundtrip(Get("/hello", many));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find(R"("code":"headers_too_large")"), std::string::npos);
  std::string fifty;
  for (int i = 0; i < 50; ++i) fifty += "X-H" + std::to_string(i) + ": v\r\n";
  auto ok = Roundtrip(Get("/hello", fifty));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServerTest, GarbageGets400AndClose) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(s.Send("THIS IS NOT HTTP\r\n\r\n"));
  auto r = s.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find(R"("code":"bad_request")"), std::string::npos);
  EXPECT_TRUE(s.ClosedWithin(2s));
}

TEST_F(ServerTest, SilentConnectionIsClosedAfterReadTimeout) {
  ServerOptions opts;
  opts.read_timeout = 300ms;
  StartServer(opts);
  Socket silent(server_->port());
  Socket trickle(server_->port());
  ASSERT_TRUE(trickle.Send("GET /hello HTTP/1.1\r\n"));  // never finishes its headers
  auto start = std::chrono::steady_clock::now();

  // Meanwhile another client is served promptly.
  auto r = Roundtrip(Get("/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  EXPECT_TRUE(silent.ClosedWithin(3s));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(trickle.ClosedWithin(2s));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  ServerOptions opts;
  opts.idle_timeout = 300ms;
  StartServer(opts);
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Get("/hello")));
  ASSERT_TRUE(s.ReadReply());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.ClosedWithin(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(
      s.Send("POST /v1/orgs/a/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n"));
  std::string interim = s.ReadSome(500ms);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(s.Send("hello"));
  auto r = s.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("body=hello"), std::string::npos);
}

// A request that must never be executed: it hides in the body of another one.
const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";

std::string Post(std::string_view path, std::string_view headers, std::string_view body,
                 std::string_view version = "HTTP/1.1") {
  return "POST " + std::string(path) + " " + std::string(version) + "\r\nHost: h\r\n" +
         std::string(headers) + "\r\n" + std::string(body);
}

std::string WithLength(std::string_view body) {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n";
}

struct FramingCase {
  const char* name;
  std::string request;
  int status;   // the final status of the first answer
  bool closes;  // the server closes after that answer, and answers nothing else
  // Expect: 100-continue: the body sent once "100 Continue" has arrived ("" = no interim).
  std::string after_continue;
  std::string reply_contains;
};

std::vector<FramingCase> FramingCases() {
  const std::string chunked_hello = "5\r\nhello\r\n0\r\n\r\n";
  const std::string echo = "/v1/orgs/a/echo";
  return {
      // Transfer-Encoding and Content-Length (RFC 9112 6.1, 6.3).
      {"chunked body", Post(echo, "Transfer-Encoding: chunked\r\n", chunked_hello), 200, false, "",
       "body=hello"},
      {"Chunked in capitals", Post(echo, "Transfer-Encoding: Chunked\r\n", chunked_hello), 200,
       false, "", "body=hello"},
      {"TE chunked, identity", Post(echo, "Transfer-Encoding: chunked, identity\r\n", kSmuggled),
       400, true},
      {"TE xchunked with CL",
       Post(echo, "Transfer-Encoding: xchunked\r\n" + WithLength("0\r\n\r\n" + kSmuggled),
            "0\r\n\r\n" + kSmuggled),
       400, true},
      {"TE gzip alone", Post(echo, "Transfer-Encoding: gzip\r\n", kSmuggled), 400, true},
      {"TE gzip, chunked",
       Post(echo, "Transfer-Encoding: gzip, chunked\r\n", chunked_hello + kSmuggled), 501, true},
      {"TE fields chunked + identity",
       Post(echo, "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", kSmuggled), 400,
       true},
      {"TE fields gzip + chunked",
       Post(echo, "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            chunked_hello + kSmuggled),
       501, true},
      {"TE chunked, chunked", Post(echo, "Transfer-Encoding: chunked, chunked\r\n", chunked_hello),
       400, true},
      {"empty TE", Post(echo, "Transfer-Encoding: \r\n", kSmuggled), 400, true},
      {"CL then TE chunked",
       Post(echo, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + kSmuggled),
       400, true},
      {"TE chunked then CL",
       Post(echo, "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", "0\r\n\r\n" + kSmuggled),
       400, true},
      {"TE in HTTP/1.0",
       Post(echo, "Transfer-Encoding: chunked\r\n", chunked_hello + kSmuggled, "HTTP/1.0"), 400,
       true},
      {"duplicate equal CL",
       Post(echo, "Content-Length: 5\r\nContent-Length: 5\r\n", "hello" + kSmuggled), 400, true},
      {"duplicate differing CL",
       Post(echo, "Content-Length: 5\r\nContent-Length: 40\r\n", "hello" + kSmuggled), 400, true},
      {"comma-joined CL", Post(echo, "Content-Length: 5, 5\r\n", "hello" + kSmuggled), 400, true},
      {"comma-joined differing CL", Post(echo, "Content-Length: 5, 40\r\n", "hello" + kSmuggled),
       400, true},
      {"CL with a sign", Post(echo, "Content-Length: +5\r\n", "hello" + kSmuggled), 400, true},
      {"negative CL", Post(echo, "Content-Length: -1\r\n", kSmuggled), 400, true},
      {"CL with an inner space", Post(echo, "Content-Length: 5 5\r\n", "hello" + kSmuggled), 400,
       true},
      {"CL in hex", Post(echo, "Content-Length: 0x5\r\n", "hello" + kSmuggled), 400, true},
      {"CL overflowing 64 bits", Post(echo, "Content-Length: 18446744073709551621\r\n", kSmuggled),
       400, true},
      {"CL of 2^64-1", Post(echo, "Content-Length: 18446744073709551615\r\n", kSmuggled), 413,
       true},
      // Header syntax (RFC 9112 2.2, 5.1, 5.2).
      {"obs-fold", Post(echo, "X-A: a\r\n b\r\n" + WithLength("hello"), "hello" + kSmuggled), 400,
       true},
      {"space before colon",
       Post(echo, "Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", "0\r\n\r\n" + kSmuggled),
       400, true},
      {"tab before colon", Post(echo, "Content-Length\t: 5\r\n", "hello" + kSmuggled), 400, true},
      {"bare LF line endings", "GET /hello HTTP/1.1\nHost: h\n\n" + kSmuggled, 400, true},
      {"bare LF in a value", "GET /hello HTTP/1.1\r\nX-A: a\nb\r\n\r\n" + kSmuggled, 400, true},
      {"bare CR in a value", "GET /hello HTTP/1.1\r\nX-A: a\rb\r\n\r\n" + kSmuggled, 400, true},
      {"bare CR in the request line", "GET /hello\r HTTP/1.1\r\nHost: h\r\n\r\n" + kSmuggled, 400,
       true},
      // Chunked bodies (RFC 9112 7.1).
      {"bad chunk size", Post(echo, "Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"),
       400, true},
      {"chunk size overflowing 64 bits",
       Post(echo, "Transfer-Encoding: chunked\r\n", "10000000000000005\r\nhello\r\n0\r\n\r\n"), 400,
       true},
      {"chunk size over the route's limit",
       Post(echo, "Transfer-Encoding: chunked\r\n", "100000\r\nhello"), 413, true},
      {"chunk data longer than its size",
       Post(echo, "Transfer-Encoding: chunked\r\n", "5\r\nhelloEXTRA\r\n0\r\n\r\n" + kSmuggled),
       400, true},
      {"bare LF after a chunk size",
       Post(echo, "Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n" + kSmuggled), 400,
       true},
      {"chunk extensions are tolerated",
       Post(echo, "Transfer-Encoding: chunked\r\n",
            "5;name=\"v a l\";flag\r\nhello\r\n0;last=1\r\n\r\n"),
       200, false, "", "body=hello"},
      {"chunk extension too long",
       Post(echo, "Transfer-Encoding: chunked\r\n",
            "5;x=" + std::string(40 * 1024, 'e') + "\r\nhello\r\n0\r\n\r\n"),
       400, true},
      {"trailer fields are read but never become headers",
       Post(echo, "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n0\r\nContent-Type: evil\r\n\r\n"),
       200, false, "", "ct=;body=hello"},
      {"trailer section too long",
       Post(echo, "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n0\r\nX-T: " + std::string(40 * 1024, 't') + "\r\n\r\n"),
       400, true},
      // Persistence (RFC 9112 9.3).
      {"HTTP/1.0 closes by default", "GET /hello HTTP/1.0\r\n\r\n" + kSmuggled, 200, true},
      {"HTTP/1.0 with keep-alive", "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200,
       false, "", "hi"},
      {"HTTP/1.1 Connection: close", Get("/hello", "Connection: close\r\n") + kSmuggled, 200, true},
      {"pipelined requests after a complete body", Post(echo, WithLength("hello"), "hello"), 200,
       false, "", "body=hello"},
      // Expect: 100-continue (RFC 9110 10.1.1).
      {"Expect: 100-continue", Post(echo, "Expect: 100-continue\r\n" + WithLength("hello"), ""),
       200, false, "hello", "body=hello"},
      {"Expect: 100-continue over the limit",
       Post(echo, "Expect: 100-continue\r\nContent-Length: 100000\r\n", ""), 413, true},
      {"Expect: 100-continue without a route",
       Post("/nowhere", "Expect: 100-continue\r\n" + WithLength("hello"), ""), 404, true},
      {"unknown expectation", Post(echo, "Expect: telepathy\r\n" + WithLength("hello"), "hello"),
       417, true},
      {"Expect in HTTP/1.0 is ignored",
       Post(echo, "Expect: 100-continue\r\n" + WithLength("hello"), "hello", "HTTP/1.0"), 200, true,
       "", "body=hello"},
  };
}

TEST_F(ServerTest, FramingConformanceTable) {
  StartServer();
  auto cases = FramingCases();
  ASSERT_GE(cases.size(), 25u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    smuggled_ = 0;
    Socket s(server_->port());
    ASSERT_TRUE(s.Send(c.request));
    auto r = s.ReadReply();
    ASSERT_TRUE(r);
    if (!c.after_continue.empty()) {
      ASSERT_EQ(r->status, 100);
      ASSERT_TRUE(s.Send(c.after_continue));
      r = s.ReadReply();
      ASSERT_TRUE(r);
    }
    EXPECT_EQ(r->status, c.status) << r->body;
    if (!c.reply_contains.empty()) {
      EXPECT_NE(r->body.find(c.reply_contains), std::string::npos);
    }
    if (c.closes) {
      EXPECT_NE(r->headers["connection"], "keep-alive");
      bool closed = false;
      std::string rest = s.RestUntilClosed(3s, &closed);
      EXPECT_TRUE(closed);
      EXPECT_EQ(rest.find("HTTP/1."), std::string::npos) << "a second answer: " << rest;
    } else {
      // The connection is still in step: the next answer is the one to this request.
      ASSERT_TRUE(s.Send(Get("/hello")));
      auto next = s.ReadReply();
      ASSERT_TRUE(next);
      EXPECT_EQ(next->body, "hi");
    }
    EXPECT_EQ(smuggled_.load(), 0);
  }
}

TEST_F(ServerTest, RouteBodyLimits) {
  ServerOptions opts;
  opts.default_max_body_bytes = 64 * 1024;
  opts.max_body_bytes = 1 << 20;
  StartServer(opts);
  std::string body(100 * 1024, 'b');
  // A 100 KiB body: over the default limit of ordinary routes, within the large one.
  auto small = Roundtrip(Post("/v1/orgs/a/echo", WithLength(body), body));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 413);
  auto large = Roundtrip(Post("/v1/orgs/a/big", WithLength(body), body));
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 200);
  EXPECT_EQ(large->body, "got 102400");
  // The same body chunked.
  std::string chunked;
  for (size_t off = 0; off < body.size(); off += 10000) {
    std::string piece = body.substr(off, 10000);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", piece.size());
    chunked += std::string(size) + "\r\n" + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  auto small_chunked =
      Roundtrip(Post("/v1/orgs/a/echo", "Transfer-Encoding: chunked\r\n", chunked));
  ASSERT_TRUE(small_chunked);
  EXPECT_EQ(small_chunked->status, 413);
  auto large_chunked = Roundtrip(Post("/v1/orgs/a/big", "Transfer-Encoding: chunked\r\n", chunked));
  ASSERT_TRUE(large_chunked);
  EXPECT_EQ(large_chunked->status, 200);
  EXPECT_EQ(large_chunked->body, "got 102400");
  // Exactly at the default limit is fine.
  std::string edge(64 * 1024, 'e');
  auto at_limit = Roundtrip(Post("/v1/orgs/a/echo", WithLength(edge), edge));
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->status, 200);
}

TEST_F(ServerTest, MaxBodyBytesCapsLargeRoutesAndDefaultIsConfigurable) {
  ServerOptions opts;
  opts.default_max_body_bytes = 2048;
  opts.max_body_bytes = 128 * 1024;
  StartServer(opts);
  std::string three_k(3000, 'x');
  auto r = Roundtrip(Post("/v1/orgs/a/echo", WithLength(three_k), three_k));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  std::string big(200 * 1024, 'x');
  r = Roundtrip(Post("/v1/orgs/a/big", WithLength(big), big));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  r = Roundtrip(Post("/v1/orgs/a/big", WithLength(three_k), three_k));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Sends the header of a large-route POST of `length` bytes plus `prefix` of its body.
std::string BigHeader(size_t length, std::string_view extra = "") {
  return "POST /v1/orgs/a/big HTTP/1.1\r\nHost: h\r\n" + std::string(extra) +
         "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

TEST_F(ServerTest, BodyBudgetRefusesWith503BeforeReadingTheBody) {
  ServerOptions opts;
  opts.body_budget_bytes = 300 * 1024;
  StartServer(opts);
  // A holds 200 KiB of the budget while its body trickles in.
  Socket a(server_->port());
  ASSERT_TRUE(a.Send(BigHeader(200 * 1024) + std::string(1000, 'a')));
  std::this_thread::sleep_for(100ms);
  // B does not fit: 503 at once, without "100 Continue" (its body is never asked for).
  Socket b(server_->port());
  ASSERT_TRUE(b.Send(BigHeader(200 * 1024, "Expect: 100-continue\r\n")));
  auto rb = b.ReadReply();
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, 503);
  EXPECT_EQ(rb->headers["retry-after"], "1");
  EXPECT_EQ(rb->headers["connection"], "close");
  EXPECT_NE(rb->body.find(R"("code":"overloaded")"), std::string::npos);
  EXPECT_TRUE(b.ClosedWithin(3s));
  // C fits in what is left (and bodiless requests never need budget).
  std::string c_body(90 * 1024, 'c');
  auto rc = Roundtrip(BigHeader(c_body.size()) + c_body);
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->status, 200);
  auto rh = Roundtrip(Get("/hello"));
  ASSERT_TRUE(rh);
  EXPECT_EQ(rh->status, 200);
  // A completes and gives its bytes back: B's request now fits.
  ASSERT_TRUE(a.Send(std::string(200 * 1024 - 1000, 'a')));
  auto ra = a.ReadReply();
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(ra->body, "got 204800");
  std::string again(250 * 1024, 'b');
  auto rb2 = Roundtrip(BigHeader(again.size()) + again);
  ASSERT_TRUE(rb2);
  EXPECT_EQ(rb2->status, 200);
  EXPECT_NE(metrics_.RenderPrometheus().find("chainloop_http_body_budget_refusals_total 1"),
            std::string::npos);
}

TEST_F(ServerTest, BodyBudgetRefusesAChunkedBodyWhenItOutgrowsTheBudget) {
  ServerOptions opts;
  opts.body_budget_bytes = 300 * 1024;
  StartServer(opts);
  Socket a(server_->port());
  ASSERT_TRUE(a.Send(BigHeader(200 * 1024)));  // holds 200 KiB
  std::this_thread::sleep_for(100ms);
  Socket b(server_->port());
  ASSERT_TRUE(
      b.Send("POST /v1/orgs/a/big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string piece = "8000\r\n" + std::string(0x8000, 'x') + "\r\n";  // 32 KiB chunks
  std::optional<Socket::Reply> rb;
  for (int i = 0; i < 10 && !rb; ++i) {
    if (!b.Send(piece)) break;
    rb = b.ReadReply(100ms);
  }
  if (!rb) rb = b.ReadReply();
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, 503);
  EXPECT_EQ(rb->headers["retry-after"], "1");
  EXPECT_TRUE(b.ClosedWithin(3s));
}

// The trims counted in the metrics (0 when none yet).
int Trims(const Metrics& metrics) {
  std::string out = metrics.RenderPrometheus();
  const std::string name = "\nchainloop_http_memory_trims_total ";
  size_t at = out.find(name);
  return at == std::string::npos ? 0 : std::stoi(out.substr(at + name.size()));
}

TEST_F(ServerTest, MemoryIsTrimmedWhenBodiesDrainAfterABurstAtMostOncePerSecond) {
  StartServer();
  auto burst = [&] {
    // Five 1 MiB bodies held at once (5 MiB, above the 4 MiB that makes a burst), then done.
    std::vector<std::unique_ptr<Socket>> sockets;
    for (int i = 0; i < 5; ++i) {
      sockets.push_back(std::make_unique<Socket>(server_->port()));
      EXPECT_TRUE(sockets.back()->Send(BigHeader(1 << 20)));
    }
    std::this_thread::sleep_for(50ms);
    for (auto& s : sockets) EXPECT_TRUE(s->Send(std::string(1 << 20, 'm')));
    for (auto& s : sockets) {
      auto r = s->ReadReply();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
    }
  };
  auto wait_for_trims = [&](int n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Trims(metrics_) < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    return Trims(metrics_);
  };
  // Small bodies never trigger a trim.
  std::string small(100 * 1024, 's');
  ASSERT_TRUE(Roundtrip(BigHeader(small.size()) + small));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Trims(metrics_), 0);

  burst();
  EXPECT_EQ(wait_for_trims(1, 2s), 1);
  // Two more bursts right away: the next trim waits for a second after the first, and both
  // drains are usually folded into it (a slow machine may need one more, a second later).
  auto second = std::chrono::steady_clock::now();
  burst();
  burst();
  EXPECT_EQ(wait_for_trims(2, 3s), 2);
  EXPECT_GE(std::chrono::steady_clock::now() - second, 500ms);
  std::this_thread::sleep_for(1500ms);
  EXPECT_LE(Trims(metrics_), 3);
}

TEST_F(ServerTest, BodyBudgetIsGivenBackWhenClientsVanishMidBody) {
  ServerOptions opts;
  opts.body_budget_bytes = 300 * 1024;
  StartServer(opts);
  for (int round = 0; round < 3; ++round) {
    {
      Socket fixed(server_->port());
      ASSERT_TRUE(fixed.Send(BigHeader(250 * 1024) + std::string(10000, 'f')));
      Socket chunked(server_->port());
      ASSERT_TRUE(chunked.Send(
          "POST /v1/orgs/a/big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "4000\r\n" +
          std::string(0x4000, 'c') + "\r\n8000\r\n" + std::string(100, 'c')));
      std::this_thread::sleep_for(100ms);
    }  // both vanish without finishing their bodies
    // Once the server has noticed, the whole budget is available again.
    std::string full(300 * 1024, 'z');
    std::optional<Socket::Reply> r;
    for (int i = 0; i < 100; ++i) {
      r = Roundtrip(BigHeader(full.size()) + full);
      if (r && r->status == 200) break;
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "round " << round;
  }
}

}  // namespace
}  // namespace cl::http
