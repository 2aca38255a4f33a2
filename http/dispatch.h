// What the server answers itself and how it calls handlers: the error envelope as a Response,
// 404/405 for requests no route takes, and handler calls in which an exception becomes a 500.
// Beast-free; used by the connection loop (connection.cc).
#pragma once

#include <optional>
#include <string_view>

#include "http/framing.h"
#include "http/http.h"

namespace cl::http {

// `status` with the error envelope {"error":{"code":...,"message":...}} (see ErrorEnvelope).
Response ErrorResponse(int status, Reason code, std::string_view message);
// 431: the request header is over max_header_bytes.
Response HeadersTooLarge();
// The answer to a request whose framing was refused (see framing.h).
Response FramingRefusal(const FramingError& e);
// 404, or 405 with Allow when other methods of the path have routes.
Response NoRouteResponse(const Request& req, const Router::MatchResult& match);
// Runs a fast path; an exception is answered like a handler's (500), never retried on the pool.
std::optional<Response> InvokeFast(const FastHandler& fast, Request& req);
// Runs a handler; an exception is logged (with the request id and path) and answered with 500.
Response Invoke(const Handler& handler, Request& req);

}  // namespace cl::http
