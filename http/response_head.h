// The status line and header section of a response, as the server sends them. Beast-free.
#pragma once

#include <string>
#include <string_view>

#include "http/http.h"

namespace cl::http {

// Writes the status line and headers of `res` into `head` (cleared first; its capacity is reused
// across the requests of a connection, so a typical response costs no allocation here). The body
// is sent from res.body as a second buffer. Headers that would break framing or inject lines are
// dropped; Content-Length and Connection are always ours. Returns false (and `head` is garbage)
// when a header is too large to send (a value over 64 KiB): the caller answers 500 instead.
// `version` is 10 or 11 (HTTP/1.0 or 1.1).
bool SerializeHead(const Response& res, unsigned version, bool keep_alive,
                   std::string_view request_id, std::string& head);

}  // namespace cl::http
