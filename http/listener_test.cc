// Tests of accepting connections (http/listener.cc): the global and per-address connection
// limits, and the gauge of open connections.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "http/metrics.h"
#include "http/server.h"
#include "http/server_test_support.h"

namespace cl::http {
namespace {

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

TEST_F(ServerTest, TrustedProxiesAreExemptFromThePerAddressCapAndNameTheClient) {
  router_.Add(
      "GET", "/addr",
      [](Request& req) {
        return Response::Text(200, "remote=" + req.remote_addr + ";peer=" + req.peer_addr);
      },
      /*blocking=*/false);
  ServerOptions opts;
  opts.max_connections_per_ip = 1;
  opts.io_threads = 1;
  opts.trusted_proxies =
      TrustedProxies({*Cidr::Parse("127.0.0.1/32")}, ForwardedHeader::kXForwardedFor);
  StartServer(opts);

  // The proxy's connections carry many clients: beyond the per-address cap, all served, each
  // request under the client its proxy forwarded for.
  std::vector<std::unique_ptr<Socket>> proxy;
  for (int i = 0; i < 3; ++i) {
    proxy.push_back(std::make_unique<Socket>(server_->port(), "127.0.0.1"));
    ASSERT_TRUE(proxy.back()->Send(
        Get("/addr", "X-Forwarded-For: 1.2.3.4, 203.0.113." + std::to_string(i) + "\r\n")));
    auto r = proxy.back()->ReadReply();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "remote=203.0.113." + std::to_string(i) + ";peer=127.0.0.1");
  }
  ASSERT_TRUE(proxy[0]->Send(Get("/addr")));
  auto direct = proxy[0]->ReadReply();
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->body, "remote=127.0.0.1;peer=127.0.0.1");

  // Any other address is its own client: the header is ignored and the cap applies.
  Socket other(server_->port(), "127.0.0.2");
  ASSERT_TRUE(other.Send(Get("/addr", "X-Forwarded-For: 203.0.113.9\r\n")));
  auto spoofed = other.ReadReply();
  ASSERT_TRUE(spoofed);
  EXPECT_EQ(spoofed->body, "remote=127.0.0.2;peer=127.0.0.2");
  Socket second(server_->port(), "127.0.0.2");
  EXPECT_TRUE(second.RefusedWithin(1s));
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

}  // namespace
}  // namespace cl::http
