// The CLI's client for the control plane's JSON API (docs/api.md): base URL checks, the
// bearer credential, offline credential pre-checks, and decoding of the error envelope
// {"error": {"code", "message"}} into cl::Error (reason = the server's code).
//
// Tokens never appear in debug output or in error messages.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/control_plane_url.h"
#include "common/result.h"

namespace cl::cli {

// Percent-encodes one URL path segment (an organization name, a run id).
std::string PathSegment(std::string_view s);

// Where the bearer credential came from, in order of precedence. kCiEnvironment is keyless
// discovery (an ID token found in the CI job's environment), used when nothing else is set.
enum class CredentialSource { kNone, kFlag, kEnv, kSession, kCiEnvironment };

struct ResolvedCredential {
  std::string token;
  CredentialSource source = CredentialSource::kNone;
  // The token is a CI ID token (a JWT, see LooksLikeJwt) to exchange before use.
  bool is_ci_id_token = false;
  // A line for stderr when an explicit token overrides a stored login session, else empty.
  std::string note;
};

// Picks --token, else $CHAINLOOP_TOKEN, else the stored session, and checks the chosen token's
// prefix and checksum offline (crypto::ParseCredential). A mistyped token is refused with
// Unauthenticated("malformed_token") naming the source, never the token. A JWT (a CI ID token)
// skips the prefix check and is marked is_ci_id_token. Keyless discovery is not done here.
Result<ResolvedCredential> ResolveCredential(std::string_view flag_token,
                                             std::string_view env_token,
                                             std::string_view session_token);

// Checks one token offline; `source` names where it came from, for the message.
Status PrecheckToken(std::string_view token, std::string_view source);

// Turns a non-2xx response into an Error: the envelope's code becomes reason(), its message
// message(); bodies without an envelope get a generic message with the HTTP status.
Error DecodeErrorResponse(int status, std::string_view body);

// The text printed to stderr for a failed command (without trailing newline): "Error: <msg>",
// with " (code: <reason>)" when `debug`, and a second line telling the user to log in again
// when the error means the login session ended.
std::string FormatCliError(const Error& error, bool debug, bool using_stored_session);

struct ApiClientOptions {
  std::string base_url;  // e.g. "https://cp.example.com"; no trailing slash needed
  std::string token;     // empty: send no Authorization header
  std::string ca_file;
  bool insecure = false;
  std::ostream* debug_out = nullptr;  // when set, one line per request and response
  long timeout_ms = 30'000;
};

class ApiClient {
 public:
  explicit ApiClient(ApiClientOptions options);

  // Sends `method path` (path starts with '/'), with `body` as JSON when given. Returns the
  // parsed JSON of a 2xx answer (null for an empty body, e.g. 204), else the decoded error.
  // Unreachable control plane: Unavailable("cannot reach the control plane at URL: ...").
  Result<boost::json::value> Call(std::string_view method, std::string_view path,
                                  const std::optional<boost::json::value>& body = std::nullopt);

  Result<boost::json::value> Get(std::string_view path) { return Call("GET", path); }
  Result<boost::json::value> Post(std::string_view path, const boost::json::value& body) {
    return Call("POST", path, body);
  }
  Result<boost::json::value> Patch(std::string_view path, const boost::json::value& body) {
    return Call("PATCH", path, body);
  }

  const std::string& base_url() const { return options_.base_url; }

 private:
  ApiClientOptions options_;
};

}  // namespace cl::cli
