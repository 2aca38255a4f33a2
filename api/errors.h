// The one mapping from cl::Error to HTTP: status code, error envelope and WWW-Authenticate.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "http/http.h"

namespace cl::api {

int HttpStatusFor(const Error& e);

// {"error":{"code": e.reason(), "message": e.message()}} with the matching status; 401 responses
// carry `WWW-Authenticate: Bearer` (with error="invalid_token" when a credential was sent).
http::Response ErrorResponse(const Error& e);

// ErrorResponse of a refusal that lifts by itself (429): adds `Retry-After: <seconds>`, the
// wait rounded up to whole seconds (at least 1).
http::Response RetryLaterResponse(const Error& e, UnixMillis retry_after);
// The Retry-After value for a wait: whole seconds, rounded up, at least 1.
std::string RetryAfterSeconds(UnixMillis retry_after);

// How long to wait before retrying after `e`, when it lifts by itself without the client
// changing anything: every Unavailable (503) error, e.g. a busy or unreachable IdP (5 s) or
// too many logins in progress (30 s). nullopt for other errors. ErrorResponse sends it as
// Retry-After.
std::optional<UnixMillis> RetryAfterFor(const Error& e);

// The two 429 errors: a banned client address or credential whose authentication failed, and
// an organization over a rate limit.
Error TooManyFailedAttempts();
Error RateLimited(std::string_view what);

}  // namespace cl::api
