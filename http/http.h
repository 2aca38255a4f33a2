// HTTP request/response values and the router, free of Boost.Beast so that api/ and tests stay
// light. The Beast server (server.h/.cc) converts to and from these.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cl::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/v1/x?y=1"
  std::string path;    // percent-decoded path without the query
  std::string query;   // raw query string without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The client's IP address as text: peer_addr, or when that is a trusted proxy the client it
  // forwarded for (client_address.h). Abuse limits key on this one.
  std::string remote_addr;
  std::string peer_addr;   // the TCP peer's IP address as text
  std::string request_id;  // generated per request, echoed as X-Request-Id
  // W3C trace id (32 hex digits): the client's traceparent's, or new. Every log line written
  // while the request is served carries it, and outbound calls propagate it.
  std::string trace_id;
  // Who made the request, for the access log: set by the API once it has authenticated the
  // caller ("user", "api_token", ...; a static name) and the principal's id.
  std::string_view principal_kind;
  std::string principal_id;
  bool secure = false;  // served over TLS
  // Filled by the router from "{name}" segments of the matched pattern.
  std::map<std::string, std::string, std::less<>> path_params;

  // First header with that (case-insensitive) name, or empty.
  std::string_view Header(std::string_view name) const;
  // Percent-decoded query parameter; nullopt when absent.
  std::optional<std::string> QueryParam(std::string_view name) const;
  std::string PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The error envelope's code of an error answer ("" otherwise), for the access log.
  std::string error_code;

  void SetHeader(std::string name, std::string value);
  static Response Json(int status, std::string body);
  // An error answer: `status` with the envelope {"error":{"code","message"}} (ErrorEnvelope).
  static Response Error(int status, std::string_view code, std::string_view message);
  static Response Text(int status, std::string body, std::string content_type = "text/plain");
  static Response Redirect(std::string location, int status = 302);
  static Response NoContent();
};

using Handler = std::function<Response(Request&)>;
// A fast path tried on the I/O thread before a blocking handler: it answers when it can without
// waiting (e.g. a credential found in the cache) and returns nullopt to hand the request to the
// worker pool. It must never block.
using FastHandler = std::function<std::optional<Response>(Request&)>;

// Route::max_body_bytes for a route that takes large bodies: the server's max_body_bytes.
inline constexpr size_t kLargeBody = std::numeric_limits<size_t>::max();

struct Route {
  std::string method;
  std::string pattern;  // e.g. "/v1/organizations/{org}/projects"; literal segments + {params}
  Handler handler;
  // Blocking handlers (database, outbound HTTP) run on the worker pool; non-blocking ones
  // (health, metrics, cache-only work) run on the connection's I/O thread.
  bool blocking = true;
  FastHandler fast;  // optional; only used for blocking routes
  // Largest request body this route accepts (larger: 413 before the body is read). 0: the
  // server's default_max_body_bytes (64 KiB), enough for the JSON bodies of most routes; any
  // other value is capped by the server's max_body_bytes (kLargeBody: exactly that cap).
  size_t max_body_bytes = 0;
};

// Matches (method, path) to a route. Add everything before the server starts; Match is then
// thread-safe. Precedence: literal segments beat parameters.
class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler, bool blocking = true);
  // A blocking route whose `fast` path is tried inline first.
  void AddWithFastPath(std::string method, std::string pattern, FastHandler fast, Handler handler);
  // Sets Route::max_body_bytes of the route added with exactly this method and pattern.
  // REQUIRES: that route was added (a typo aborts at startup rather than leaving the limit).
  void SetMaxBodyBytes(std::string_view method, std::string_view pattern, size_t bytes);

  struct MatchResult {
    const Route* route = nullptr;     // nullptr: no route for this path
    bool method_not_allowed = false;  // a route has this path, but not this method
    std::map<std::string, std::string, std::less<>> params;
    // When method_not_allowed: the methods routes accept for this path (for the Allow header).
    std::vector<std::string> allowed_methods;
  };
  //
  // `path` is the RAW path of the request target (query removed, NOT yet percent-decoded): it is
  // split on '/' first, then each segment is decoded, so "%2F" inside a parameter stays in that
  // parameter. Matching is exact on segments: a trailing slash is a different path. HEAD falls
  // back to GET routes when no HEAD route matches.
  MatchResult Match(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

  // Called for paths no route matches with GET/HEAD (e.g. static files); may be empty.
  void SetFallback(Handler h) { fallback_ = std::move(h); }
  const Handler& fallback() const { return fallback_; }

 private:
  std::vector<Route> routes_;
  // Pattern segments of routes_[i]; "{name}" marks a parameter.
  std::vector<std::vector<std::string>> segments_;
  Handler fallback_;
};

// Decodes %XX escapes; malformed escapes are kept as they are. '+' is NOT a space here (paths);
// query parameters are decoded with '+' as space by Request::QueryParam.
std::string PercentDecode(std::string_view s);
// The body of every error answer, {"error":{"code":...,"message":...}}: the one builder of the
// envelope (api/errors.h turns an Error into it; the server uses it for its own refusals). The
// message goes through RedactSecrets (common/redact.h): it often quotes what the client sent.
std::string ErrorEnvelope(std::string_view code, std::string_view message);
// ASCII case-insensitive equality, as header names and transfer codings compare.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace cl::http
