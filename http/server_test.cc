// End-to-end tests of the Beast server over loopback: raw POSIX sockets (so that malformed,
// oversized and silent clients can be played) and cl::HttpFetch for a well-behaved client.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <stdexcept>
#include <thread>

#include "common/http_client.h"
#include "common/log.h"
#include "http/http.h"
#include "http/metrics.h"

namespace cl::http {
namespace {

using namespace std::chrono_literals;

class Socket {
 public:
  // Connects to 127.0.0.1:port, from `source` (another loopback address) when given.
  explicit Socket(uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source != nullptr) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &src.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (!connected_) connect_errno_ = errno;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return connected_; }

  // True when the server turned this connection away within `timeout`: it was closed after
  // the handshake, or its reset arrived before connect() returned (which happens on a busy
  // machine: the server accepts and resets before the connecting thread runs again).
  bool RefusedWithin(std::chrono::milliseconds timeout) {
    if (!connected_) return connect_errno_ == ECONNRESET || connect_errno_ == ECONNREFUSED;
    return ClosedWithin(timeout);
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads up to `max` bytes; "" on EOF/error/timeout. `eof` tells EOF apart from timeout.
  std::string ReadSome(std::chrono::milliseconds timeout, bool* eof = nullptr) {
    pollfd p{fd_, POLLIN, 0};
    if (eof) *eof = false;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (eof) *eof = true;
      return {};
    }
    return std::string(buf, static_cast<size_t>(n));
  }

  // True when the peer closes (EOF or reset) within `timeout`, discarding any data.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      bool eof = false;
      std::string got = ReadSome(std::max(left, 1ms), &eof);
      if (eof) return true;
      if (got.empty()) return false;
    }
    return false;
  }

  struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  // Reads one response framed by Content-Length (the server always sends one).
  std::optional<Reply> ReadReply(std::chrono::milliseconds timeout = 5s, bool head = false) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    Reply r;
    std::string head_text = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
      size_t end = head_text.find("\r\n", pos);
      if (end == std::string::npos) end = head_text.size();
      std::string line = head_text.substr(pos, end - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = end + 2;
    }
    size_t length = 0;
    if (!head && r.headers.count("content-length"))
      length = std::stoul(r.headers["content-length"]);
    while (pending_.size() < length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    std::string got = ReadSome(left);
    if (got.empty()) return false;
    pending_ += got;
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  std::string pending_;
};

std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         std::string(extra_headers) + "\r\n";
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest(&log_);
    router_.Add(
        "GET", "/hello", [](Request&) { return Response::Text(200, "hi"); },
        /*blocking=*/false);
    router_.Add("POST", "/v1/orgs/{org}/echo", [](Request& req) {
      std::string body = "org=" + req.PathParam("org") + ";q=" + req.QueryParam("q").value_or("") +
                         ";ct=" + std::string(req.Header("Content-Type")) + ";body=" + req.body +
                         ";remote=" + req.remote_addr;
      return Response::Text(200, body);
    });
    router_.Add("GET", "/slow", [this](Request&) {
      slow_started_ = true;
      std::this_thread::sleep_for(300ms);
      return Response::Text(200, "slow done");
    });
    router_.Add("GET", "/throw", [](Request&) -> Response { throw std::runtime_error("boom"); });
    router_.Add("GET", "/nocontent", [](Request&) { return Response::NoContent(); });
    router_.Add("GET", "/id", [](Request& req) { return Response::Text(200, req.request_id); });
    router_.Add("GET", "/hugeheader", [](Request&) {
      Response r = Response::Text(200, "never sent");
      r.SetHeader("X-Huge", std::string(100 * 1024, 'h'));  // beyond what Beast accepts
      r.SetHeader("X-Injected", "a\r\nSet-Cookie: evil=1");
      return r;
    });
  }
  void TearDown() override {
    server_.reset();
    SetLogSinkForTest(nullptr);
  }

  void StartServer(ServerOptions opts = {}) {
    opts.io_threads = opts.io_threads == 0 ? 2 : opts.io_threads;
    opts.worker_threads = 2;
    if (opts.read_timeout == ServerOptions{}.read_timeout) opts.read_timeout = 2s;
    server_ = std::make_unique<Server>(opts, router_, &metrics_);
    auto st = server_->Start();
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
    ASSERT_NE(server_->port(), 0);
  }

  // Sends one request on a fresh connection and returns the reply.
  std::optional<Socket::Reply> Roundtrip(const std::string& request) {
    Socket s(server_->port());
    if (!s.connected() || !s.Send(request)) return std::nullopt;
    return s.ReadReply();
  }

  std::string log_;
  Router router_;
  Metrics metrics_;
  std::atomic<bool> slow_started_{false};
  std::unique_ptr<Server> server_;
};

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

TEST_F(ServerTest, ConnectionsBeyondTheCapAreClosed) {
  ServerOptions opts;
  opts.max_connections = 2;
  opts.io_threads = 1;
  StartServer(opts);
  Socket a(server_->port());
  Socket b(server_->port());
  ASSERT_TRUE(a.Send(Get("/hello")));
  ASSERT_TRUE(a.ReadReply());
  ASSERT_TRUE(b.Send(Get("/hello")));
  ASSERT_TRUE(b.ReadReply());

  Socket c(server_->port());
  EXPECT_TRUE(c.RefusedWithin(1s));  // the kernel accepts; the server closes it at once
  EXPECT_NE(metrics_.RenderPrometheus().find(
                R"(chainloop_http_connections_rejected_total{limit="max_connections"} 1)"),
            std::string::npos);

  // Once a slot frees up, new connections are served again.
  a.Send("GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(a.ReadReply());
  EXPECT_TRUE(a.ClosedWithin(1s));
  std::optional<Socket::Reply> r;
  for (int i = 0; i < 50 && !r; ++i) {
    r = Roundtrip(Get("/hello"));
    if (!r) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, ConnectionsBeyondThePerAddressCapAreClosedOthersServed) {
  ServerOptions opts;
  opts.max_connections_per_ip = 2;
  opts.io_threads = 1;
  StartServer(opts);
  Socket a(server_->port(), "127.0.0.1");
  Socket b(server_->port(), "127.0.0.1");
  ASSERT_TRUE(a.Send(Get("/hello")));
  ASSERT_TRUE(a.ReadReply());
  ASSERT_TRUE(b.Send(Get("/hello")));
  ASSERT_TRUE(b.ReadReply());

  Socket c(server_->port(), "127.0.0.1");
  EXPECT_TRUE(c.RefusedWithin(1s));
  EXPECT_NE(metrics_.RenderPrometheus().find(
                R"(chainloop_http_connections_rejected_total{limit="max_connections_per_ip"} 1)"),
            std::string::npos);

  // Another client address is served while 127.0.0.1 is at its limit.
  Socket d(server_->port(), "127.0.0.2");
  ASSERT_TRUE(d.connected());
  ASSERT_TRUE(d.Send(Get("/hello")));
  auto r = d.ReadReply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  // When one of 127.0.0.1's connections closes, it may open another.
  a.Send("GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(a.ReadReply());
  EXPECT_TRUE(a.ClosedWithin(1s));
  std::optional<Socket::Reply> again;
  for (int i = 0; i < 50 && !again; ++i) {
    Socket e(server_->port(), "127.0.0.1");
    if (e.Send(Get("/hello"))) again = e.ReadReply(200ms);
    if (!again) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
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

TEST_F(ServerTest, ActiveConnectionsGauge) {
  StartServer();
  {
    Socket a(server_->port());
    ASSERT_TRUE(a.Send(Get("/hello")));
    ASSERT_TRUE(a.ReadReply());
    EXPECT_NE(metrics_.RenderPrometheus().find("chainloop_http_connections_active 1\n"),
              std::string::npos);
  }
  bool zero = false;
  for (int i = 0; i < 100 && !zero; ++i) {
    zero = metrics_.RenderPrometheus().find("chainloop_http_connections_active 0\n") !=
           std::string::npos;
    if (!zero) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(zero);
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

}  // namespace
}  // namespace cl::http

namespace cl::http {
namespace {

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
