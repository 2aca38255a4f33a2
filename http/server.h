// Server: the HTTP/1.1 front end (Boost.Beast + Asio coroutines) that feeds requests to a Router.
//
// One io_context per I/O thread; the acceptor hands connections round-robin to them, so a
// connection lives on one thread and needs no strand. Handlers of blocking routes run on a
// worker pool; non-blocking ones run inline on the I/O thread. Limits (header/body size, read and
// idle timeouts, connection cap) are enforced per connection; request bodies also share one
// memory budget across all connections. HTTP/1.1 framing is strict (see framing.h): a request
// whose framing is in doubt is refused and its connection closed. This header is Beast-free: the
// implementation is behind a pimpl (server_impl.h, included only by the server's own .cc files).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/client_address.h"

namespace cl::http {

class Router;
class Metrics;

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;   // 0: an ephemeral port, see Server::port()
  int io_threads = 0;  // 0 = hardware_concurrency
  int worker_threads = 8;
  // Request bodies: a route accepts up to its Route::max_body_bytes, default_max_body_bytes when
  // it sets none; max_body_bytes caps every route (routes marked kLargeBody get exactly it).
  // Larger bodies get 413 before they are read, then the connection closes.
  size_t default_max_body_bytes = 64 * 1024;
  size_t max_body_bytes = 1 << 20;
  // Request-body bytes all connections may hold at once (see BodyBudget). A request whose
  // Content-Length does not fit in what is left gets 503 with Retry-After before its body is
  // read; a chunked one when its growth no longer fits. Then the connection closes.
  size_t body_budget_bytes = 64 << 20;
  size_t max_header_bytes = 16 * 1024;  // larger headers get 431, then the connection closes
  size_t max_header_count = 100;        // more header fields get 431, then the connection closes
  // A request (headers and body) must arrive within this time once its first byte was read,
  // and a new connection must deliver its first request within it. Also bounds each write.
  std::chrono::milliseconds read_timeout{30000};
  // Keep-alive: a connection that sends no new request for this long is closed.
  std::chrono::milliseconds idle_timeout{60000};
  size_t max_connections = 10000;  // connections beyond this are closed at once
  // Open connections allowed from one client address (IPv6 clients are counted per /64); a
  // client beyond it is closed at once while everyone else is served. 0 = no per-address limit.
  // Connections from trusted proxies are exempt (they carry many clients); they still count
  // toward max_connections.
  size_t max_connections_per_ip = 512;
  // Load balancers whose forwarding header names the client (see client_address.h): requests
  // they relay get Request::remote_addr from it. Empty: every client is its TCP peer.
  TrustedProxies trusted_proxies;
  std::chrono::milliseconds shutdown_grace{10000};
  // HTTPS: PEM certificate chain and private key. Both empty: plain HTTP. TLS 1.2+ only.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  // `router` and `metrics` (nullable) must outlive the server. Add all routes before Start().
  Server(ServerOptions options, const Router& router, Metrics* metrics);
  ~Server();  // Stop()s if still running.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O and worker threads. Fails with Unavailable when the
  // address cannot be bound, InvalidArgument when the TLS files cannot be loaded,
  // FailedPrecondition when called twice.
  Status Start();
  // The bound port; valid after a successful Start().
  uint16_t port() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections, lets in-flight requests
  // finish (their responses carry `Connection: close`) for up to shutdown_grace, then closes
  // what remains and joins all threads. Idempotent; callable from any thread EXCEPT a handler
  // or I/O thread of this server (it joins them). Concurrent callers all return once stopped.
  void Stop();
  // Blocks until the server has stopped (returns at once if it never started).
  void Wait();
  // Waits for SIGINT or SIGTERM (or another thread's Stop()), then stops gracefully.
  void RunUntilSignal();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cl::http
