// The server's own answers (error envelope, 404/405) and calling handlers so that an exception
// never leaves them.
#include "http/dispatch.h"

#include <exception>
#include <string>
#include <utility>

#include "common/log.h"

namespace cl::http {

Response ErrorResponse(int status, Reason code, std::string_view message) {
  return Response::Error(status, ReasonName(code), message);
}

Response HeadersTooLarge() {
  return ErrorResponse(431, Reason::kHeadersTooLarge, "request headers exceed the limit");
}

Response FramingRefusal(const FramingError& e) {
  return ErrorResponse(e.status, e.code, e.message);
}

Response NoRouteResponse(const Request& req, const Router::MatchResult& match) {
  if (!match.method_not_allowed) {
    return ErrorResponse(404, Reason::kNotFound, "no route for " + req.method + " " + req.path);
  }
  Response res = ErrorResponse(405, Reason::kMethodNotAllowed,
                               "method " + req.method + " not allowed for " + req.path);
  std::string allow;
  for (const auto& m : match.allowed_methods) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  res.SetHeader("Allow", std::move(allow));
  return res;
}

namespace {

// A handler that throws is a bug: it is logged and answered 500; the connection goes on.
template <typename Call>
auto Guarded(Request& req, Call&& call) -> decltype(call()) {
  std::string error;
  try {
    return call();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  Log(LogLevel::kError, "handler threw",
      {{"request_id", req.request_id}, {"path", req.path}, {"error", error}});
  return ErrorResponse(500, Reason::kInternal, "internal error");
}

}  // namespace

std::optional<Response> InvokeFast(const FastHandler& fast, Request& req) {
  ScopedLogContext context(req.request_id, req.trace_id);
  return Guarded(req, [&]() -> std::optional<Response> { return fast(req); });
}

Response Invoke(const Handler& handler, Request& req) {
  ScopedLogContext context(req.request_id, req.trace_id);
  return Guarded(req, [&] { return handler(req); });
}

}  // namespace cl::http
