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
#include <cstdio>
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

  // Everything the peer still sends (including what ReadReply() buffered) until it closes or
  // `timeout` passes; `closed` tells whether it closed.
  std::string RestUntilClosed(std::chrono::milliseconds timeout, bool* closed) {
    std::string rest = std::move(pending_);
    pending_.clear();
    *closed = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      bool eof = false;
      std::string got = ReadSome(std::max(left, 1ms), &eof);
      if (eof) {
        *closed = true;
        break;
      }
      if (got.empty()) break;
      rest += got;
    }
    return rest;
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
    router_.Add("GET", "/smuggled", [this](Request&) {
      ++smuggled_;
      return Response::Text(200, "smuggled");
    });
    router_.Add("POST", "/v1/orgs/{org}/big", [](Request& req) {
      return Response::Text(200, "got " + std::to_string(req.body.size()));
    });
    router_.SetMaxBodyBytes("POST", "/v1/orgs/{org}/big", kLargeBody);
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
  std::atomic<int> smuggled_{0};  // requests that reached GET /smuggled
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

namespace cl::http {
namespace {

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
  std::string after_continue = "";
  std::string reply_contains = "";
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
