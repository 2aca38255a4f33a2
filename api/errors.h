// The one mapping from cl::Error to HTTP: status code, error envelope and WWW-Authenticate.
#pragma once

#include "common/result.h"
#include "http/http.h"

namespace cl::api {

int HttpStatusFor(const Error& e);

// {"error":{"code": e.reason(), "message": e.message()}} with the matching status; 401 responses
// carry `WWW-Authenticate: Bearer` (with error="invalid_token" when a credential was sent).
http::Response ErrorResponse(const Error& e);

}  // namespace cl::api
