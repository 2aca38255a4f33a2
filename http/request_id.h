// Request ids: the X-Request-Id a request is logged and answered with. A client may bring its own
// (IsAcceptableRequestId: short, and nothing that could forge a log field); otherwise the server
// makes one.
#pragma once

#include <string>
#include <string_view>

namespace cl::http {

// 16 hex digits from a per-thread PRNG seeded from the OS (not a secret: it correlates logs).
std::string NewRequestId();
// 1 to 64 characters of [A-Za-z0-9_-].
bool IsAcceptableRequestId(std::string_view id);

}  // namespace cl::http
