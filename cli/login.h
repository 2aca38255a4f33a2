// `chainloop auth login`: the browser flow (RFC 8252 loopback redirect + RFC 7636 PKCE S256) and
// the device flow (RFC 8628) against the control plane endpoints in docs/api.md.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/api_client.h"
#include "common/random.h"
#include "common/result.h"

namespace cl::cli {

// What a successful login returns (the body of POST /v1/auth/token).
struct LoginResult {
  std::string session_token;
  std::string expires_at;
  std::string email;
  std::string name;
};

Result<LoginResult> ParseLoginResponse(const boost::json::value& v);

// base64url(32 random bytes): 43 characters, within RFC 7636's 43..128.
std::string NewPkceVerifier(Random& random);
// base64url(16 random bytes), for the OAuth `state`.
std::string NewLoginState(Random& random);

// <base>/auth/login?redirect_uri=http://127.0.0.1:PORT/callback&state=..&code_challenge=..
// &code_challenge_method=S256
std::string BuildLoginUrl(std::string_view base_url, int port, std::string_view state,
                          std::string_view code_challenge);

// A one-shot HTTP listener on 127.0.0.1 (port chosen by the OS) that waits for the browser's
// GET /callback?code=..&state=.. . Other paths get a 404 and are ignored. Not thread-safe.
class LoopbackListener {
 public:
  LoopbackListener() = default;
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  // Binds and listens. REQUIRES: called once, before WaitForCode.
  Status Start();
  int port() const { return port_; }

  // Serves requests until the callback arrives or `timeout` passes. On a matching state,
  // answers "Login complete. You can close this window." and returns the code. A callback
  // with a missing or wrong state is answered 400 and ignored (it can neither complete nor
  // abort the login). With the matching state, an `error` parameter ends the wait at once: the
  // page says the login failed and to return to the terminal, and the error is
  // PermissionDenied("login_cancelled", "login cancelled at the identity provider:
  // access_denied") for access_denied, else Unauthenticated("login_failed") naming the code when
  // it is a known OAuth code (never any other text from the URL). A missing code is answered
  // 400 and returned as an error too.
  // Timeout: FailedPrecondition("login_timeout").
  Result<std::string> WaitForCode(std::string_view expected_state,
                                  std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Starts $BROWSER (else xdg-open, when installed) on `url` without waiting for it.
// Returns false when no browser could be started; that is not an error for the caller.
bool OpenBrowser(const std::string& url);

struct BrowserLoginOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Called with the login URL once the listener is ready; by default prints the one line
  // "Open this URL in your browser to log in: <URL>" to `err` and tries OpenBrowser.
  std::function<void(const std::string& url)> on_url;
};

// The whole browser flow; `err` receives the user-facing instructions.
Result<LoginResult> RunBrowserLogin(ApiClient& client, Random& random, std::ostream& err,
                                    const BrowserLoginOptions& options);

struct DeviceLoginOptions {
  // Sleeps between polls; injected so tests do not wait.
  std::function<void(std::chrono::seconds)> sleep;
  // Upper bound on the whole flow, on top of the server's expires_in.
  std::chrono::seconds max_wait{std::chrono::minutes(15)};
};

// POST /v1/auth/device, prints exactly
// "To log in, open <verification_uri_complete> in any browser and confirm the code <USER_CODE>"
// to `err`, then polls POST /v1/auth/device/token every `interval` seconds (+5 s on slow_down)
// until the user confirms, denies, or the code expires.
Result<LoginResult> RunDeviceLogin(ApiClient& client, std::ostream& err,
                                   const DeviceLoginOptions& options);

}  // namespace cl::cli
