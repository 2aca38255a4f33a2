// Server implementation: the only translation unit that includes Boost.Beast and Asio.
//
// Threads: N I/O threads, each running its own io_context (no strands: a connection and all its
// state live on one of them), plus an asio::thread_pool for blocking handlers. The acceptor runs
// on io_context 0 and spawns each connection's coroutine on the next io_context, round-robin.
//
// Shutdown: Stop() sets `stopping`, closes the acceptor, closes connections that are between
// requests, and drops the work guards, so each io_context's run() returns by itself once its last
// connection finishes its in-flight request. After shutdown_grace the rest is closed by force.
#include "http/server.h"

#include <openssl/ssl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/address.h"
#include "common/log.h"
#include "common/random.h"
#include "http/body_budget.h"
#include "http/framing.h"
#include "http/http.h"
#include "http/metrics.h"

namespace cl::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kUnmatched = "unmatched";
constexpr std::string_view kActiveGauge = "chainloop_http_connections_active";
constexpr std::string_view kActiveGaugeHelp = "Open HTTP connections.";

using BeastRequest = bhttp::request<bhttp::string_body>;

// Bytes asked of the socket per read while a header is incomplete.
constexpr size_t kReadChunk = 4096;
// A connection's read buffer holds at most max_header_bytes plus this: room for the rest of a
// read, and the bound on a chunk line (chunk extensions) and on a trailer section.
constexpr size_t kBufferSlack = 8 * 1024;
// Freed body memory is handed back to the system (malloc_trim) when the bodies in flight drop
// to zero after at least this many bytes were held at once, at most once per kTrimInterval.
constexpr size_t kTrimAfterBytes = 4 << 20;
constexpr auto kTrimInterval = std::chrono::seconds(1);

// Request ids correlate log lines; they are not secrets, so a per-thread PRNG seeded from the OS
// is enough and keeps a syscall off the hot path.
std::string NewRequestId() {
  thread_local std::mt19937_64 rng = [] {
    uint64_t seed = 0;
    SystemRandom().Fill(reinterpret_cast<uint8_t*>(&seed), sizeof(seed));
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 0; i < 16; ++i) id[i] = kHex[(v >> (i * 4)) & 0xf];
  return id;
}

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// The per-address connection limit counts clients as the abuse limits do (common/address.h):
// IPv4 by address, IPv6 by /64, IPv4-mapped IPv6 as IPv4. Without the scope id, which would
// otherwise make each link-local address its own client.
std::string AddressKey(const asio::ip::address& address) {
  if (address.is_v6()) {
    auto v6 = address.to_v6();
    v6.scope_id(0);
    return ClientAddressKey(v6.to_string());
  }
  return ClientAddressKey(address.to_string());
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  return Response::Json(status, ErrorEnvelope(code, message));
}

Response HeadersTooLarge() {
  return ErrorResponse(431, "headers_too_large", "request headers exceed the limit");
}

Response FramingRefusal(const FramingError& e) {
  return ErrorResponse(e.status, e.code, e.message);
}

// 404, or 405 with Allow when other methods of the path have routes.
Response NoRouteResponse(const Request& req, const Router::MatchResult& match) {
  if (!match.method_not_allowed) {
    return ErrorResponse(404, "not_found", "no route for " + req.method + " " + req.path);
  }
  Response res = ErrorResponse(405, "method_not_allowed",
                               "method " + req.method + " not allowed for " + req.path);
  std::string allow;
  for (const auto& m : match.allowed_methods) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  res.SetHeader("Allow", std::move(allow));
  return res;
}

// Unknown methods are collapsed so that clients cannot inflate metric cardinality.
std::string_view MethodLabel(bhttp::verb v, std::string_view text) {
  return v == bhttp::verb::unknown ? std::string_view("OTHER") : text;
}

// RFC 9110 field-name: a token (no separators, spaces, controls or ':').
bool IsFieldName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~':
        continue;
      default:
        return false;
    }
  }
  return true;
}

// A field value must not end the header line early: no CR, LF or NUL. One pass, no calls.
bool IsSafeFieldValue(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool IsHopByHopOrFraming(std::string_view name) {
  return beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
         beast::iequals(name, "connection");
}

// Runs a fast path; an exception is answered like a handler's (500), never retried on the pool.
std::optional<Response> InvokeFast(const FastHandler& fast, Request& req) {
  try {
    return fast(req);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "handler threw",
        {{"request_id", req.request_id}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    Log(LogLevel::kError, "handler threw",
        {{"request_id", req.request_id}, {"path", req.path}, {"error", "unknown exception"}});
  }
  return ErrorResponse(500, "internal", "internal error");
}

Response Invoke(const Handler& handler, Request& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "handler threw",
        {{"request_id", req.request_id}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    Log(LogLevel::kError, "handler threw",
        {{"request_id", req.request_id}, {"path", req.path}, {"error", "unknown exception"}});
  }
  return ErrorResponse(500, "internal", "internal error");
}

constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

// Status line reason phrases; anything else gets a generic one (clients ignore the phrase).
std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// Writes as much of `out` as the socket takes without blocking; returns the bytes written.
// would_block is not an error (the caller writes the rest asynchronously).
size_t TryWriteNow(tcp::socket& socket, const std::array<asio::const_buffer, 2>& out,
                   beast::error_code& ec) {
  if (!socket.non_blocking()) {
    socket.non_blocking(true, ec);  // synchronous calls only; async ones are unaffected
    if (ec) {
      ec = {};
      return 0;
    }
  }
  size_t n = socket.write_some(out, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again ||
      ec == asio::error::interrupted) {
    ec = {};
    return 0;
  }
  return n;
}

// Writes the status line and headers of `res` into `head` (cleared first; its capacity is reused
// across the requests of a connection, so a typical response costs no allocation here). The body
// is sent from res.body as a second buffer. Headers that would break framing or inject lines are
// dropped; Content-Length and Connection are always ours. Returns false (and `head` is garbage)
// when a header is too large to send (a value over 64 KiB): the caller answers 500 instead.
bool SerializeHead(const Response& res, unsigned version, bool keep_alive,
                   std::string_view request_id, std::string& head) {
  head.clear();
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), res.status);
  head.append(digits, end);
  head.push_back(' ');
  head += ReasonPhrase(res.status);
  head += "\r\n";
  for (const auto& [name, value] : res.headers) {
    if (!IsFieldName(name) || !IsSafeFieldValue(value) || IsHopByHopOrFraming(name)) continue;
    if (name.size() + value.size() > kMaxResponseHeaderBytes) return false;
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  head += "X-Request-Id: ";
  head += request_id;
  head += "\r\n";
  if (version == 10) {
    if (keep_alive) head += "Connection: keep-alive\r\n";
  } else if (!keep_alive) {
    head += "Connection: close\r\n";
  }
  bool no_body_status = res.status < 200 || res.status == 204 || res.status == 304;
  // These statuses carry neither a body nor Content-Length (RFC 9110 8.6); HEAD gets the length
  // of the body it would have had.
  if (!no_body_status) {
    head += "Content-Length: ";
    auto [len_end, len_ec] = std::to_chars(digits, digits + sizeof(digits), res.body.size());
    head.append(digits, len_end);
    head += "\r\n";
  }
  head += "\r\n";
  return true;
}

// TLS 1.2 and 1.3 only; for 1.2 only forward-secret AEAD suites (1.3's suites all are).
Result<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const ServerOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  beast::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                       asio::ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  if (ec || SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return Fail(Error::Internal("cannot configure TLS"));
  }
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // Session tickets would need key rotation across instances; full handshakes are cheap enough.
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) {
    return Fail(Error::InvalidArgument("cannot load the TLS certificate chain " + o.tls_cert_file +
                                       ": " + ec.message()));
  }
  // The message names the file, never its contents.
  ctx->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    return Fail(Error::InvalidArgument("cannot load the TLS private key " + o.tls_key_file + ": " +
                                       ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Fail(Error::InvalidArgument("the TLS private key " + o.tls_key_file +
                                       " does not match the certificate " + o.tls_cert_file));
  }
  return ctx;
}

struct Connection;

struct IoSlot {
  std::unordered_set<Connection*> conns;  // touched only on this slot's thread
  asio::io_context ioc{1};
  std::thread thread;
};

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

}  // namespace

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
  void LogRequest(const Request& req, int status, SteadyClock::time_point start);
  void OnSpawnDone(std::exception_ptr e);
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
  bool AdmitAddress(const std::string& key);
  void ReleaseAddress(const std::string& key);
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

void Server::Impl::OnSpawnDone(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    Log(LogLevel::kError, "http coroutine failed", {{"error", ex.what()}});
  } catch (...) {
    Log(LogLevel::kError, "http coroutine failed", {{"error", "unknown exception"}});
  }
}

bool Server::Impl::AdmitAddress(const std::string& key) {
  if (opts.max_connections_per_ip == 0) return true;
  std::lock_guard<std::mutex> lock(per_ip_mu);
  size_t& n = per_ip[key];
  if (n >= opts.max_connections_per_ip) {
    if (n == 0) per_ip.erase(key);
    return false;
  }
  ++n;
  return true;
}

void Server::Impl::ReleaseAddress(const std::string& key) {
  if (opts.max_connections_per_ip == 0) return;
  std::lock_guard<std::mutex> lock(per_ip_mu);
  auto it = per_ip.find(key);
  if (it != per_ip.end() && --it->second == 0) per_ip.erase(it);
}

Response Server::Impl::BudgetRefusal() {
  if (metrics) {
    metrics->IncCounter("chainloop_http_body_budget_refusals_total",
                        "Requests refused (503) because the request bodies in flight would exceed "
                        "body_budget_bytes.",
                        {});
  }
  Response res = ErrorResponse(503, "overloaded",
                               "the server is receiving too many request bodies; retry later");
  res.SetHeader("Retry-After", "1");
  return res;
}

void Server::Impl::ScheduleTrim() {
#if defined(__GLIBC__)
  // glibc keeps freed memory in its arenas (and raises its mmap threshold after freeing a large
  // block, so later bodies come from the arenas too): without this, a burst of large bodies
  // leaves the process at its peak size for good.
  if (!trim_enabled.load() || trim_scheduled.exchange(true)) return;
  asio::post(slots[0]->ioc, [this] {
    if (stopping.load()) {
      trim_scheduled.store(false);
      return;
    }
    trim_timer->expires_at(std::max(last_trim + kTrimInterval, SteadyClock::now()));
    trim_timer->async_wait([this](const beast::error_code& ec) {
      if (ec) {
        trim_scheduled.store(false);
        return;
      }
      last_trim = SteadyClock::now();
      asio::post(*pool, [this] {
        trim_scheduled.store(false);  // a drain from now on needs a trim of its own
        malloc_trim(0);
        if (metrics) {
          metrics->IncCounter("chainloop_http_memory_trims_total",
                              "Times freed request-body memory was handed back to the system "
                              "(malloc_trim) after a burst.",
                              {});
        }
      });
    });
  });
#endif
}

void Server::Impl::ConnectionOpened() {
  ++active;
  if (metrics) metrics->AddGauge(kActiveGauge, kActiveGaugeHelp, 1);
}

void Server::Impl::ConnectionClosed() {
  --active;
  if (metrics) metrics->AddGauge(kActiveGauge, kActiveGaugeHelp, -1);
}

void Server::Impl::LogRequest(const Request& req, int status, SteadyClock::time_point start) {
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  // Never log req.target or req.query: the query may carry authorization codes.
  Log(LogLevel::kInfo, "request",
      {{"method", req.method},
       {"path", req.path},
       {"status", status},
       {"duration_ms", std::round(seconds * 1e6) / 1e3},  // microsecond precision
       {"request_id", req.request_id},
       {"remote_addr", req.remote_addr}});
}

Status Server::Impl::Start() {
  std::lock_guard<std::mutex> lock(mu);
  if (state != State::kNew) return Fail(Error::FailedPrecondition("server already started"));

  beast::error_code ec;
  auto address = asio::ip::make_address(opts.address, ec);
  if (ec) return Fail(Error::InvalidArgument("invalid listen address: " + opts.address));
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty()) {
    return Fail(Error::InvalidArgument("TLS needs both a certificate file and a key file"));
  }
  if (!opts.tls_cert_file.empty()) {
    CL_ASSIGN_OR_RETURN(ssl_ctx, MakeTlsContext(opts));
  }

  int n = opts.io_threads > 0 ? opts.io_threads
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<IoSlot>> new_slots;
  for (int i = 0; i < n; ++i) new_slots.push_back(std::make_unique<IoSlot>());

  auto acc = std::make_unique<tcp::acceptor>(new_slots[0]->ioc);
  tcp::endpoint endpoint(address, opts.port);
  std::string where = opts.address + ":" + std::to_string(opts.port);
  acc->open(endpoint.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(endpoint, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail(Error::Unavailable("cannot listen on " + where + ": " + ec.message()));
  port = acc->local_endpoint(ec).port();
  if (ec) return Fail(Error::Unavailable("cannot read bound port: " + ec.message()));

  slots = std::move(new_slots);
  acceptor = std::move(acc);
  trim_timer = std::make_unique<asio::steady_timer>(slots[0]->ioc);
  pool = std::make_unique<asio::thread_pool>(std::max(1, opts.worker_threads));
  for (auto& slot : slots) guards.push_back(asio::make_work_guard(slot->ioc));

  asio::co_spawn(slots[0]->ioc, AcceptLoop(), [this](std::exception_ptr e) { OnSpawnDone(e); });
  threads_running = n;
  for (auto& slot_ptr : slots) {
    IoSlot* slot = slot_ptr.get();
    slot->thread = std::thread([this, slot] {
      while (true) {
        try {
          slot->ioc.run();
          break;
        } catch (const std::exception& e) {
          Log(LogLevel::kError, "io thread caught exception", {{"error", e.what()}});
        } catch (...) {
          Log(LogLevel::kError, "io thread caught exception", {{"error", "unknown"}});
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      --threads_running;
      cv.notify_all();
    });
  }
  state = State::kRunning;
  Log(LogLevel::kInfo, "http server listening",
      {{"address", opts.address}, {"port", static_cast<int>(port)}, {"io_threads", n}});
  return Ok();
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  constexpr auto kMinBackoff = std::chrono::milliseconds(10);
  constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
  auto backoff = kMinBackoff;
  asio::steady_timer timer(slots[0]->ioc);
  while (!stopping.load()) {
    IoSlot& slot = *slots[next_slot];
    next_slot = (next_slot + 1) % slots.size();
    auto [ec, peer] = co_await acceptor->async_accept(slot.ioc, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping.load() || !acceptor->is_open()) break;
      // EMFILE/ENFILE/ENOBUFS: retrying at once would spin; wait for descriptors to free up.
      Log(LogLevel::kWarn, "accept failed",
          {{"error", ec.message()}, {"backoff_ms", static_cast<int64_t>(backoff.count())}});
      timer.expires_after(backoff);
      co_await timer.async_wait(kNoThrow);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    backoff = kMinBackoff;
    std::string address_key;
    {
      beast::error_code peer_ec;
      auto ep = peer.remote_endpoint(peer_ec);
      if (peer_ec) {  // already gone
        peer.close(peer_ec);
        continue;
      }
      address_key = AddressKey(ep.address());
    }
    std::string_view rejected;
    if (active.load() >= opts.max_connections) {
      rejected = "max_connections";
    } else if (!AdmitAddress(address_key)) {
      rejected = "max_connections_per_ip";
    }
    if (!rejected.empty()) {
      if (metrics) {
        metrics->IncCounter("chainloop_http_connections_rejected_total",
                            "Connections closed at once because a connection limit was reached.",
                            {{"limit", rejected}});
      }
      // RST rather than FIN: the refused client learns at once and no TIME_WAIT is kept here.
      beast::error_code ignored;
      peer.set_option(asio::socket_base::linger(true, 0), ignored);
      peer.close(ignored);
      continue;
    }
    ConnectionOpened();
    asio::co_spawn(slot.ioc, Session(slot, tcp::socket(std::move(peer)), std::move(address_key)),
                   [this](std::exception_ptr e) { OnSpawnDone(e); });
  }
}

asio::awaitable<void> Server::Impl::RunOnPool(const Handler& handler, Request& req, Response& res) {
  // Runs the handler on the pool, then resumes this coroutine on its own io_context. The work
  // guard keeps that io_context's run() alive while the handler is away on the pool.
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, &handler, &req, &res](auto completion) {
        auto work = asio::make_work_guard(asio::get_associated_executor(completion));
        asio::post(*pool, [&handler, &req, &res, completion = std::move(completion),
                           work = std::move(work)]() mutable {
          res = Invoke(handler, req);
          auto ex = work.get_executor();
          asio::post(ex, std::move(completion));
        });
      },
      asio::use_awaitable);
}

asio::awaitable<void> Server::Impl::Session(IoSlot& slot, tcp::socket socket,
                                            std::string address_key) {
  beast::tcp_stream stream(std::move(socket));
  Connection conn;
  conn.slot = &slot;
  conn.stream = &stream;
  slot.conns.insert(&conn);
  struct Unregister {
    Impl* impl;
    Connection* conn;
    const std::string& address_key;
    ~Unregister() {
      conn->slot->conns.erase(conn);
      impl->ReleaseAddress(address_key);
      impl->ConnectionClosed();
    }
  } unregister{this, &conn, address_key};

  std::string remote_addr;
  {
    beast::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote_addr = ep.address().to_string();
  }
  {
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
  }

  if (ssl_ctx) {
    beast::ssl_stream<beast::tcp_stream&> tls(stream, *ssl_ctx);
    stream.expires_after(opts.read_timeout);
    auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::server, kNoThrow);
    if (ec) {
      // Plain HTTP on the TLS port, an old protocol version, a scanner: nothing to answer.
      if (metrics) {
        metrics->IncCounter("chainloop_http_tls_handshake_failures_total",
                            "TLS handshakes that failed or timed out.", {});
      }
    } else {
      co_await Serve(tls, conn, remote_addr, /*secure=*/true);
    }
  } else {
    co_await Serve(stream, conn, remote_addr, /*secure=*/false);
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

template <class Stream>
asio::awaitable<void> Server::Impl::Serve(Stream& stream, Connection& conn,
                                          const std::string& remote_addr, bool secure) {
  // Bounded, so that neither a header nor a chunk line nor a trailer section can grow it without
  // limit: a header must fit in max_header_bytes, and Beast fails a chunked body whose next line
  // does not fit in the room left (buffer_overflow).
  beast::flat_buffer buffer(opts.max_header_bytes + kBufferSlack);
  std::string head;  // serialized status line + headers, reused for every response
  bool first = true;
  while (true) {
    // Checked in the same step that marks the connection idle, so Stop() either sees it idle
    // (and closes it) or this loop sees `stopping`.
    if (stopping.load()) break;
    if (buffer.size() == 0) {
      conn.idle = true;
      beast::get_lowest_layer(stream).expires_after(first ? opts.read_timeout : opts.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
      conn.idle = false;
      if (ec) break;  // peer closed, idle/read timeout, or closed by Stop()
      buffer.commit(n);
    }
    conn.idle = false;
    // The rest of the request must arrive within read_timeout; the first request's deadline
    // started when the connection was accepted. Only armed when the request is not already
    // complete in the buffer (the common case needs no timer at all).
    bool deadline_armed = first;
    auto arm_read_deadline = [&] {
      if (!deadline_armed) beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      deadline_armed = true;
    };
    first = false;

    SteadyClock::time_point start = SteadyClock::now();
    Request req;
    req.remote_addr = remote_addr;
    req.secure = secure;
    Response res;
    std::string_view route_label = kUnmatched;
    bool keep_alive = false;
    bhttp::verb verb = bhttp::verb::unknown;
    unsigned version = 11;
    // Set when the server answers the request itself, without its handler; the connection then
    // closes, since the request's body was not (completely) read or its framing is in doubt.
    std::optional<Response> refusal;
    BodyReservation reservation(body_budget);

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(opts.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    // The body limit depends on the route, known once the header is parsed; Content-Length is
    // checked against it here, chunked bodies by Beast (body_limit below).
    parser.body_limit(boost::none);

    // 1. The header: delimited and line-checked on the raw bytes (obs-fold, bare CR/LF, space
    //    before a colon), then parsed by Beast from exactly those bytes.
    HeaderScanner scanner;
    bool gone = false;
    while (true) {
      auto data = buffer.data();
      HeaderScanner::State state =
          scanner.Scan(std::string_view(static_cast<const char*>(data.data()), data.size()));
      if (state == HeaderScanner::State::kComplete) {
        if (scanner.header_size() > opts.max_header_bytes) refusal = HeadersTooLarge();
        break;
      }
      if (state == HeaderScanner::State::kError) {
        refusal = FramingRefusal(scanner.error());
        break;
      }
      if (buffer.size() >= opts.max_header_bytes) {
        refusal = HeadersTooLarge();
        break;
      }
      arm_read_deadline();
      size_t room = std::min(kReadChunk, buffer.max_size() - buffer.size());
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room), kNoThrow);
      if (ec) {
        gone = true;  // timeout, reset, EOF mid-header: nobody to answer
        break;
      }
      buffer.commit(n);
    }
    if (gone) break;
    if (!refusal) {
      beast::error_code ec;
      size_t used = parser.put(
          asio::buffer(static_cast<const char*>(buffer.data().data()), scanner.header_size()), ec);
      if (ec == bhttp::error::header_limit) {
        refusal = HeadersTooLarge();
      } else if (ec || !parser.is_header_done()) {
        refusal = ErrorResponse(400, "bad_request", "malformed HTTP request");
      } else {
        buffer.consume(used);
      }
    }

    // 2. What the header says: the request, its framing, its route, its body limit.
    const Route* route = nullptr;
    bool use_fallback = false;
    Router::MatchResult match;
    size_t body_limit = 0;
    bool expect_continue = false;
    BodyFraming framing;
    if (!refusal) {
      BeastRequest& msg = parser.get();
      verb = msg.method();
      version = msg.version();
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      // Only header fields become req.headers: trailer fields that arrive after a chunked body
      // never reach a handler (Beast appends them to the same field list).
      std::string_view incoming_id;
      size_t field_count = static_cast<size_t>(std::distance(msg.begin(), msg.end()));
      req.headers.reserve(field_count);
      std::vector<std::string_view> transfer_encoding, content_length;
      for (const auto& field : msg) {
        std::string name(field.name_string());
        for (char& c : name) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        req.headers.emplace_back(std::move(name), std::string(field.value()));
        if (field.name() == bhttp::field::transfer_encoding) {
          transfer_encoding.push_back(field.value());
        } else if (field.name() == bhttp::field::content_length) {
          content_length.push_back(field.value());
        } else if (field.name() == bhttp::field::expect && version >= 11) {
          // HTTP/1.0 clients cannot mean 100-continue (RFC 9110 10.1.1): ignored.
          if (beast::iequals(field.value(), "100-continue")) {
            expect_continue = true;
          } else if (!refusal) {
            refusal =
                ErrorResponse(417, "expectation_failed", "only Expect: 100-continue is supported");
          }
        } else if (req.headers.back().first == "x-request-id") {
          incoming_id = field.value();
        }
      }
      req.request_id =
          IsAcceptableRequestId(incoming_id) ? std::string(incoming_id) : NewRequestId();
      keep_alive = msg.keep_alive();
      std::string_view target = msg.target();
      size_t q = target.find('?');
      std::string_view raw_path = target.substr(0, q);
      if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
      req.path = PercentDecode(raw_path);

      if (field_count > opts.max_header_count) {
        refusal = ErrorResponse(431, "headers_too_large", "too many request header fields");
      } else if (auto decided = DecideBodyFraming(version, transfer_encoding, content_length);
                 !decided) {
        refusal = FramingRefusal(decided.error());
      } else if (!refusal) {
        framing = *decided;
        if (raw_path.empty() || raw_path.front() != '/') {
          refusal = ErrorResponse(400, "bad_request", "request target must be an absolute path");
        } else {
          match = router.Match(req.method, raw_path);
          route = match.route;
          use_fallback = route == nullptr && !match.method_not_allowed &&
                         (verb == bhttp::verb::get || verb == bhttp::verb::head) &&
                         router.fallback();
          size_t wanted = route && route->max_body_bytes != 0 ? route->max_body_bytes
                                                              : opts.default_max_body_bytes;
          body_limit = std::min(wanted, opts.max_body_bytes);
        }
      }
    }

    // 3. Admission of the body, before any of it is read: its size against the route's limit
    //    and the server-wide budget. An Expect: 100-continue request refused here never gets
    //    "100 Continue", so a well-behaved client does not send the body at all.
    bool budget_refused = false;
    auto reserve_chunk = [&](std::uint64_t size, beast::string_view, beast::error_code& ec) {
      // Beast has checked `size` against the remaining body limit, so `need` <= body_limit.
      ec = {};
      std::string& body = parser.get().body();
      size_t need = body.size() + static_cast<size_t>(size);
      if (need <= body.capacity()) return;
      // Grown geometrically, as std::string would, but reserved from the budget first so that
      // the budget covers the memory really allocated.
      size_t grown = std::max(need, std::min(body.capacity() * 2, body_limit));
      if (!reservation.GrowTo(grown)) {
        budget_refused = true;
        ec = asio::error::no_buffer_space;
        return;
      }
      body.reserve(grown);
      // std::string may round the capacity up (libstdc++ at least doubles it): count that too.
      if (!reservation.GrowTo(body.capacity())) {
        budget_refused = true;
        ec = asio::error::no_buffer_space;
      }
    };
    if (!refusal && framing.kind == BodyFraming::Kind::kLength) {
      if (framing.length > body_limit) {
        refusal = ErrorResponse(413, "payload_too_large", "request body exceeds the limit");
      } else if (!reservation.GrowTo(static_cast<size_t>(framing.length))) {
        refusal = BudgetRefusal();
      }
    } else if (!refusal && framing.kind == BodyFraming::Kind::kChunked) {
      parser.body_limit(body_limit);
      parser.on_chunk_header(reserve_chunk);
    }
    if (!refusal && expect_continue && route == nullptr && !use_fallback && !parser.is_done()) {
      // No handler wants this body (404/405): answer without asking for it.
      refusal = NoRouteResponse(req, match);
    }

    // 4. The body.
    if (!refusal && !parser.is_done()) {
      arm_read_deadline();
      beast::error_code ec;
      // libcurl and others wait (about a second) for "100 Continue" before sending a body.
      if (expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        std::tie(ec, std::ignore) = co_await asio::async_write(
            stream, asio::buffer(kContinue.data(), kContinue.size()), kNoThrow);
        if (ec) break;
      }
      std::tie(ec, std::ignore) = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      if (ec) {
        if (budget_refused) {
          refusal = BudgetRefusal();
        } else if (ec == bhttp::error::body_limit) {
          refusal = ErrorResponse(413, "payload_too_large", "request body exceeds the limit");
        } else if (ec == bhttp::error::buffer_overflow) {
          refusal =
              ErrorResponse(400, "bad_request", "a chunk line or the trailer section is too long");
        } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                   ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          refusal = ErrorResponse(400, "bad_request", "malformed HTTP request");
        } else {
          break;  // timeout, reset, EOF mid-body: nobody to answer
        }
      }
    }

    // 5. The answer: the server's own, or the handler's.
    bool drain = false;
    if (refusal) {
      res = std::move(*refusal);
      keep_alive = false;
      drain = true;
      if (req.request_id.empty()) req.request_id = NewRequestId();
      if (req.method.empty() && parser.is_header_done()) {
        req.method = std::string(parser.get().method_string());
        verb = parser.get().method();
      }
    } else {
      req.body = std::move(parser.get().body());
      if (route != nullptr) {
        route_label = route->pattern;
        req.path_params = std::move(match.params);
        const FastHandler* fast = route->fast ? &route->fast : nullptr;
        std::optional<Response> quick;
        if (route->blocking && fast != nullptr) quick = InvokeFast(*fast, req);
        if (quick) {
          res = std::move(*quick);
        } else if (route->blocking) {
          co_await RunOnPool(route->handler, req, res);
        } else {
          res = Invoke(route->handler, req);
        }
      } else if (use_fallback) {
        route_label = "fallback";
        co_await RunOnPool(router.fallback(), req, res);  // static files: disk reads
      } else {
        res = NoRouteResponse(req, match);
      }
    }
    // The body is no longer needed: its memory and its share of the budget go back now, not
    // after the response has been written to a possibly slow reader.
    std::string().swap(req.body);
    std::string().swap(parser.get().body());
    reservation.Release();

    if (stopping.load()) keep_alive = false;
    if (res.status < 100 || res.status > 999) {
      Log(LogLevel::kError, "handler returned an invalid status",
          {{"request_id", req.request_id}, {"status", res.status}});
      res = ErrorResponse(500, "internal", "internal error");
    }

    bool head_request = verb == bhttp::verb::head;
    if (!SerializeHead(res, version, keep_alive, req.request_id, head)) {
      Log(LogLevel::kError, "response headers rejected", {{"request_id", req.request_id}});
      res = ErrorResponse(500, "internal", "internal error");
      SerializeHead(res, version, keep_alive, req.request_id, head);
    }
    bool send_body = !head_request && !(res.status < 200 || res.status == 204 || res.status == 304);

    // Recorded before the write, so that a client which has its reply also finds it in the
    // metrics and the log; the duration therefore excludes sending the response.
    std::string_view method_label = MethodLabel(verb, req.method);
    if (req.method.empty()) method_label = "OTHER";
    if (metrics) {
      double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
      metrics->ObserveRequest(route_label, method_label, res.status, seconds);
    }
    LogRequest(req, res.status, start);

    std::array<asio::const_buffer, 2> out{
        asio::buffer(head), asio::buffer(res.body.data(), send_body ? res.body.size() : 0)};
    beast::error_code write_ec;
    // Plain TCP: try to hand the whole reply to the kernel at once (it nearly always fits in
    // the socket buffer); whatever is left is written asynchronously under the deadline.
    size_t written = 0;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      written = TryWriteNow(stream.socket(), out, write_ec);
    }
    if (!write_ec && written < asio::buffer_size(out)) {
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      auto rest = beast::buffers_suffix<std::array<asio::const_buffer, 2>>(out);
      rest.consume(written);
      std::tie(write_ec, std::ignore) = co_await asio::async_write(stream, rest, kNoThrow);
    }

    if (write_ec || !keep_alive) {
      if (!write_ec && drain) {
        // Read and discard what the client is still sending (bounded) so that closing the
        // socket does not reset the connection before the client has read the error reply.
        // Nothing read here is parsed: after a refusal the rest of the stream is never taken
        // for a request. The scratch buffer is shared by the connections of this thread (its
        // contents are thrown away), so a thousand draining clients cost no memory each.
        static thread_local std::array<char, 16 * 1024> scratch;
        beast::error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
        beast::get_lowest_layer(stream).expires_after(
            std::min<std::chrono::milliseconds>(opts.read_timeout, std::chrono::seconds(2)));
        size_t drained = 0;
        const size_t kMaxDrain = 8 * opts.max_body_bytes + (1 << 20);
        while (drained < kMaxDrain) {
          auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kNoThrow);
          if (ec) break;
          drained += n;
        }
      }
      break;
    }
  }
}

void Server::Impl::Stop() {
  std::unique_lock<std::mutex> lock(mu);
  switch (state) {
    case State::kNew:
    case State::kStopped:
      return;
    case State::kStopping:
      cv.wait(lock, [&] { return state == State::kStopped; });
      return;
    case State::kRunning:
      break;
  }
  state = State::kStopping;
  lock.unlock();

  stopping.store(true);
  asio::post(slots[0]->ioc, [this] {
    beast::error_code ignored;
    acceptor->close(ignored);
    trim_timer->cancel();
    if (signals) {
      signals->cancel(ignored);
      signals.reset();
    }
  });
  auto close_connections = [this](bool idle_only) {
    for (auto& slot_ptr : slots) {
      IoSlot* slot = slot_ptr.get();
      asio::post(slot->ioc, [slot, idle_only] {
        // Copy: closing completes reads, whose coroutines may unregister later.
        std::vector<Connection*> conns(slot->conns.begin(), slot->conns.end());
        for (Connection* c : conns) {
          if (!idle_only || c->idle) c->Close();
        }
      });
    }
  };
  close_connections(/*idle_only=*/true);
  guards.clear();  // each run() now returns when its last connection is done

  lock.lock();
  bool drained = cv.wait_for(lock, opts.shutdown_grace, [&] { return threads_running == 0; });
  lock.unlock();
  if (!drained) {
    Log(LogLevel::kWarn, "shutdown grace period expired; closing remaining connections");
    close_connections(/*idle_only=*/false);
    lock.lock();
    drained = cv.wait_for(lock, std::chrono::seconds(1), [&] { return threads_running == 0; });
    lock.unlock();
    if (!drained) {
      // Only handlers still running on the pool hold work now; their coroutines are dropped
      // when the io_contexts are destroyed.
      for (auto& slot : slots) slot->ioc.stop();
    }
  }
  for (auto& slot : slots) {
    if (slot->thread.joinable()) slot->thread.join();
  }
  pool->join();
  trim_enabled.store(false);
  Log(LogLevel::kInfo, "http server stopped");

  lock.lock();
  state = State::kStopped;
  cv.notify_all();
}

Server::Server(ServerOptions options, const Router& router, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}

Server::~Server() { Stop(); }

Status Server::Start() { return impl_->Start(); }

uint16_t Server::port() const { return impl_->port; }

void Server::Stop() { impl_->Stop(); }

void Server::Wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] {
    return impl_->state == Impl::State::kNew || impl_->state == Impl::State::kStopped;
  });
}

void Server::RunUntilSignal() {
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    if (impl.state != Impl::State::kRunning) return;
  }
  asio::post(impl.slots[0]->ioc, [&impl] {
    // Skipped when Stop() already ran its cleanup on this io_context (it is queued first).
    if (impl.stopping.load()) return;
    impl.signals.emplace(impl.slots[0]->ioc, SIGINT, SIGTERM);
    impl.signals->async_wait([&impl](const beast::error_code& ec, int signo) {
      if (ec) return;
      Log(LogLevel::kInfo, "signal received; stopping", {{"signal", signo}});
      std::lock_guard<std::mutex> lock(impl.mu);
      impl.signal_received = true;
      impl.cv.notify_all();
    });
  });
  {
    std::unique_lock<std::mutex> lock(impl.mu);
    impl.cv.wait(lock, [&] { return impl.signal_received || impl.state != Impl::State::kRunning; });
  }
  Stop();
  Wait();
}

}  // namespace cl::http
