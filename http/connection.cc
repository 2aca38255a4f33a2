// One connection's requests: TLS handshake, then per request the header (scanned, then parsed
// by Beast), its framing and route, admission of the body (route limit, shared budget), the
// body, the handler (inline or on the pool), and the response, written under the read timeout.
// A refused request closes the connection after draining what the client still sends.
#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/trace_context.h"
#include "http/body_budget.h"
#include "http/client_address.h"
#include "http/dispatch.h"
#include "http/framing.h"
#include "http/request_id.h"
#include "http/response_head.h"
#include "http/server_impl.h"

namespace cl::http {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::string_view kUnmatched = "unmatched";

using BeastRequest = bhttp::request<bhttp::string_body>;

// Bytes asked of the socket per read while a header is incomplete.
constexpr size_t kReadChunk = 4096;
// A connection's read buffer holds at most max_header_bytes plus this: room for the rest of a
// read, and the bound on a chunk line (chunk extensions) and on a trailer section.
constexpr size_t kBufferSlack = 8 * 1024;

// Unknown methods are collapsed so that clients cannot inflate metric cardinality.
std::string_view MethodLabel(bhttp::verb v, std::string_view text) {
  return v == bhttp::verb::unknown ? std::string_view("OTHER") : text;
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

}  // namespace

Response Server::Impl::BudgetRefusal() {
  if (metrics) {
    metrics->IncCounter("chainloop_http_body_budget_refusals_total",
                        "Requests refused (503) because the request bodies in flight would exceed "
                        "body_budget_bytes.",
                        {});
  }
  Response res = ErrorResponse(503, Reason::kOverloaded,
                               "the server is receiving too many request bodies; retry later");
  res.SetHeader("Retry-After", "1");
  return res;
}

void Server::Impl::LogRequest(const Request& req, const Response& res, size_t bytes_in,
                              size_t bytes_out, SteadyClock::time_point start) {
  const bool probe = req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics";
  const LogLevel level = probe && res.status < 500 ? LogLevel::kDebug : LogLevel::kInfo;
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  // A user agent is the client's free text: bounded, and escaped like every logged string.
  std::string_view user_agent = req.Header("user-agent");
  user_agent = user_agent.substr(0, 200);
  auto org = req.path_params.find("org");
  // Never log req.target or req.query: the query may carry authorization codes.
  Log(level, "request",
      {{"method", req.method},
       {"path", req.path},
       {"status", res.status},
       {"duration_ms", std::round(seconds * 1e6) / 1e3},  // microsecond precision
       {"request_id", req.request_id},
       {"trace_id", req.trace_id},
       {"remote_addr", req.remote_addr},
       {"peer_addr", req.peer_addr},
       {"principal_kind", req.principal_kind},
       {"principal_id", req.principal_id},
       {"org", org == req.path_params.end() ? std::string_view() : std::string_view(org->second)},
       {"error_code", res.error_code},
       {"user_agent", user_agent},
       {"bytes_in", static_cast<uint64_t>(bytes_in)},
       {"bytes_out", static_cast<uint64_t>(bytes_out)}});
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
    req.peer_addr = remote_addr;
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
        refusal = ErrorResponse(400, Reason::kBadRequest, "malformed HTTP request");
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
            refusal = ErrorResponse(417, Reason::kExpectationFailed,
                                    "only Expect: 100-continue is supported");
          }
        } else if (req.headers.back().first == "x-request-id") {
          incoming_id = field.value();
        }
      }
      req.request_id =
          IsAcceptableRequestId(incoming_id) ? std::string(incoming_id) : NewRequestId();
      auto trace = TraceIdFromTraceparent(req.Header("traceparent"));
      req.trace_id = trace ? std::move(*trace) : NewTraceId();
      req.remote_addr = ClientAddress(req.peer_addr, req.headers, opts.trusted_proxies);
      keep_alive = msg.keep_alive();
      std::string_view target = msg.target();
      size_t q = target.find('?');
      std::string_view raw_path = target.substr(0, q);
      if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
      req.path = PercentDecode(raw_path);

      if (field_count > opts.max_header_count) {
        refusal = ErrorResponse(431, Reason::kHeadersTooLarge, "too many request header fields");
      } else if (auto decided = DecideBodyFraming(version, transfer_encoding, content_length);
                 !decided) {
        refusal = FramingRefusal(decided.error());
      } else if (!refusal) {
        framing = *decided;
        if (raw_path.empty() || raw_path.front() != '/') {
          refusal =
              ErrorResponse(400, Reason::kBadRequest, "request target must be an absolute path");
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
        refusal = ErrorResponse(413, Reason::kPayloadTooLarge, "request body exceeds the limit");
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
          refusal = ErrorResponse(413, Reason::kPayloadTooLarge, "request body exceeds the limit");
        } else if (ec == bhttp::error::buffer_overflow) {
          refusal = ErrorResponse(400, Reason::kBadRequest,
                                  "a chunk line or the trailer section is too long");
        } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                   ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          refusal = ErrorResponse(400, Reason::kBadRequest, "malformed HTTP request");
        } else {
          break;  // timeout, reset, EOF mid-body: nobody to answer
        }
      }
    }

    // 5. The answer: the server's own, or the handler's.
    bool drain = false;
    size_t bytes_in = 0;
    if (refusal) {
      res = std::move(*refusal);
      keep_alive = false;
      drain = true;
      if (req.request_id.empty()) req.request_id = NewRequestId();
      if (req.trace_id.empty()) req.trace_id = NewTraceId();
      if (req.method.empty() && parser.is_header_done()) {
        req.method = std::string(parser.get().method_string());
        verb = parser.get().method();
      }
    } else {
      req.body = std::move(parser.get().body());
      bytes_in = req.body.size();
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
      res = ErrorResponse(500, Reason::kInternal, "internal error");
    }

    bool head_request = verb == bhttp::verb::head;
    if (!SerializeHead(res, version, keep_alive, req.request_id, head)) {
      Log(LogLevel::kError, "response headers rejected", {{"request_id", req.request_id}});
      res = ErrorResponse(500, Reason::kInternal, "internal error");
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
    LogRequest(req, res, bytes_in, head.size() + (send_body ? res.body.size() : 0), start);

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

}  // namespace cl::http
