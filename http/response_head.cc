// Serializing a response head: status line, the handler's headers minus any that would break
// framing or inject lines, X-Request-Id, Connection and Content-Length.
#include "http/response_head.h"

#include <charconv>
#include <cstddef>

#include "common/http_status.h"

namespace cl::http {
namespace {

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
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
         EqualsIgnoreCase(name, "connection");
}

constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

}  // namespace

bool SerializeHead(const Response& res, unsigned version, bool keep_alive,
                   std::string_view request_id, std::string& head) {
  head.clear();
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), res.status);
  head.append(digits, end);
  head.push_back(' ');
  head += HttpReasonPhrase(res.status);
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

}  // namespace cl::http
