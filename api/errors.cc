#include "api/errors.h"

#include <algorithm>
#include <string>

namespace cl::api {

int HttpStatusFor(const Error& e) {
  switch (e.code()) {
    case Error::Code::kInvalidArgument:
      return 400;
    case Error::Code::kUnauthenticated:
      return 401;
    case Error::Code::kPermissionDenied:
      return 403;
    case Error::Code::kNotFound:
      return 404;
    case Error::Code::kAlreadyExists:
    case Error::Code::kFailedPrecondition:
      return 409;
    case Error::Code::kPayloadTooLarge:
      return 413;
    case Error::Code::kResourceExhausted:
      return 429;
    case Error::Code::kUnavailable:
      return 503;
    case Error::Code::kInternal:
      return 500;
  }
  return 500;
}

http::Response ErrorResponse(const Error& e) {
  // Internal errors may carry driver text: keep it in the logs, not in the response. Other
  // messages quote what the client sent; ErrorEnvelope masks credential-shaped text in them.
  http::Response r =
      http::Response::Error(HttpStatusFor(e), e.reason().empty() ? "error" : e.reason(),
                            e.code() == Error::Code::kInternal ? "internal error" : e.message());
  if (auto wait = RetryAfterFor(e)) r.SetHeader("Retry-After", RetryAfterSeconds(*wait));
  if (r.status == 401) {
    // RFC 6750 section 3: no error attribute when no credential was sent at all.
    if (e.Is(Reason::kUnauthenticated)) {
      r.SetHeader("WWW-Authenticate", "Bearer realm=\"chainloop\"");
    } else {
      r.SetHeader("WWW-Authenticate",
                  "Bearer realm=\"chainloop\", error=\"invalid_token\", error_description=\"" +
                      e.reason() + "\"");
    }
  }
  return r;
}

std::string RetryAfterSeconds(UnixMillis retry_after) {
  return std::to_string(
      std::max<int64_t>(1, (retry_after + kMillisPerSecond - 1) / kMillisPerSecond));
}

std::optional<UnixMillis> RetryAfterFor(const Error& e) {
  if (e.code() != Error::Code::kUnavailable) return std::nullopt;
  // Pending logins free up as people finish or abandon them (10 minutes at most).
  if (e.Is(Reason::kLoginCapacityExhausted)) return 30 * kMillisPerSecond;
  return 5 * kMillisPerSecond;
}

http::Response RetryLaterResponse(const Error& e, UnixMillis retry_after) {
  http::Response r = ErrorResponse(e);
  r.SetHeader("Retry-After", RetryAfterSeconds(retry_after));
  return r;
}

Error TooManyFailedAttempts() {
  return Error::ResourceExhausted(
      "too many failed authentication attempts from this address or with this credential; "
      "retry later",
      Reason::kTooManyFailedAttempts);
}

Error RateLimited(std::string_view what) {
  return Error::ResourceExhausted(
      "the organization's rate limit for " + std::string(what) + " is reached; retry later",
      Reason::kRateLimited);
}

}  // namespace cl::api
