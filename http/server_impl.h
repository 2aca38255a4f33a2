// Server::Impl, shared by the translation units of the Beast server: server.cc (start, stop,
// signals, memory trim), listener.cc (accepting, connection limits) and connection.cc (the
// requests of one connection). It includes Asio and Beast: include it only from those files.
//
// Threads: N I/O threads, each running its own io_context (no strands: a connection and all its
// state live on one of them), plus an asio::thread_pool for blocking handlers. The acceptor runs
// on io_context 0 and spawns each connection's coroutine on the next io_context, round-robin.
//
// Shutdown: Stop() sets `stopping`, closes the acceptor, closes connections that are between
// requests, and drops the work guards, so each io_context's run() returns by itself once its last
// connection finishes its in-flight request. After shutdown_grace the rest is closed by force.
#pragma once

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "http/body_budget.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/server.h"

namespace cl::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Freed body memory is handed back to the system (malloc_trim) when the bodies in flight drop
// to zero after at least this many bytes were held at once, at most once per kTrimInterval.
inline constexpr size_t kTrimAfterBytes = 4 << 20;
inline constexpr auto kTrimInterval = std::chrono::seconds(1);

struct Connection;

// One I/O thread: its io_context and the connections that live on it.
struct IoSlot {
  std::unordered_set<Connection*> conns;  // touched only on this slot's thread
  asio::io_context ioc{1};
  std::thread thread;
};

// A connection as Stop() sees it: whether it is between requests, and how to close it.
struct Connection {
  IoSlot* slot = nullptr;
  beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for the first byte of a request

  void Close() {
    beast::error_code ec;
    stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream->socket().close(ec);
  }
};

struct Server::Impl {
  Impl(ServerOptions o, const Router& r, Metrics* m)
      : opts(std::move(o)),
        router(r),
        metrics(m),
        body_budget(opts.body_budget_bytes, kTrimAfterBytes, [this] { ScheduleTrim(); }) {}

  Status Start();
  void Stop();
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Session(IoSlot& slot, tcp::socket socket, std::string address_key);
  // The request loop of one connection over plain TCP or TLS.
  template <class Stream>
  asio::awaitable<void> Serve(Stream& stream, Connection& conn, const std::string& remote_addr,
                              bool secure);
  asio::awaitable<void> RunOnPool(const Handler& handler, Request& req, Response& res);
  void ConnectionOpened();
  void ConnectionClosed();
  // The access log line: at debug for probes (/healthz, /readyz, /metrics) that succeed, else info.
  void LogRequest(const Request& req, const Response& res, size_t bytes_in, size_t bytes_out,
                  SteadyClock::time_point start);
  void OnSpawnDone(const std::exception_ptr& e);
  // 503 for a request body that does not fit in body_budget; counted in the metrics.
  Response BudgetRefusal();
  // Called from any thread when the bodies in flight drained after a burst: runs malloc_trim
  // on the pool, at most once per kTrimInterval (a later drain is folded into a pending trim).
  void ScheduleTrim();

  const ServerOptions opts;
  const Router& router;
  Metrics* const metrics;

  // Declared before `slots`: the requests that hold budget live in coroutine frames that are
  // destroyed with the io_contexts, and give their bytes back then.
  BodyBudget body_budget;
  // Cleared once the I/O threads are joined, so that budget given back while the io_contexts
  // are destroyed does not schedule work on them.
  std::atomic<bool> trim_enabled{true};
  std::atomic<bool> trim_scheduled{false};

  std::vector<std::unique_ptr<IoSlot>> slots;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::unique_ptr<asio::thread_pool> pool;
  std::unique_ptr<asio::ssl::context> ssl_ctx;  // set when serving HTTPS
  // Both live on slots[0]'s io_context; declared after `slots` so they are destroyed first.
  std::unique_ptr<tcp::acceptor> acceptor;
  std::optional<asio::signal_set> signals;
  std::unique_ptr<asio::steady_timer> trim_timer;  // on slots[0]
  SteadyClock::time_point last_trim;               // touched only on slots[0]'s thread

  // Open connections per client address key (AddressKey), for max_connections_per_ip.
  // A key of "" (a trusted proxy's connection) is always admitted and never counted.
  bool AdmitAddress(const std::string& key);
  void ReleaseAddress(const std::string& key);
  bool IsTrustedProxy(const asio::ip::address& address) const;
  std::mutex per_ip_mu;
  std::unordered_map<std::string, size_t> per_ip;  // GUARDED_BY(per_ip_mu)

  std::atomic<bool> stopping{false};
  std::atomic<size_t> active{0};
  size_t next_slot = 0;  // used only by the accept coroutine
  uint16_t port = 0;

  enum class State { kNew, kRunning, kStopping, kStopped };
  std::mutex mu;
  std::condition_variable cv;
  State state = State::kNew;     // GUARDED_BY(mu)
  int threads_running = 0;       // GUARDED_BY(mu)
  bool signal_received = false;  // GUARDED_BY(mu)
};

}  // namespace cl::http
