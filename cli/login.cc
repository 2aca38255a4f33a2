// Login flows: PKCE values, the loopback callback listener (POSIX sockets), browser launch,
// and device-flow polling.
#include "cli/login.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "cli/terminal.h"
#include "common/oauth_errors.h"
#include "crypto/hash.h"

extern char** environ;

namespace cl::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string RandomBase64Url(Random& random, size_t n) {
  std::string bytes(n, '\0');
  random.Fill(reinterpret_cast<uint8_t*>(bytes.data()), n);
  return crypto::Base64UrlEncode(bytes);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The error a callback's `error` parameter (with the right state) ends the login with.
Error LoginErrorFromCallback(std::string_view error) {
  const OAuthAuthorizationError* known = FindOAuthAuthorizationError(error);
  if (known == nullptr) {
    return Error::Unauthenticated(
        "login failed at the identity provider (unrecognized error); run `chainloop auth "
        "login` again",
        Reason::kLoginFailed);
  }
  if (ParseReason(known->code) == Reason::kAccessDenied) {
    return Error::PermissionDenied("login cancelled at the identity provider: access_denied",
                                   Reason::kLoginCancelled);
  }
  return Error::Unauthenticated(
      "login failed at the identity provider: " + std::string(known->code) + " (" +
          std::string(known->message) + ")",
      Reason::kLoginFailed);
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    out.emplace(std::move(key), std::move(value));  // first occurrence wins
  }
  return out;
}

void SendResponse(int fd, int status, std::string_view reason, std::string_view body) {
  std::string resp = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                     "\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  std::string_view rest = resp;
  while (!rest.empty()) {
    ssize_t n = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads up to the end of the request head, or fails on timeout / oversize / close.
bool ReadRequestHead(int fd, Clock::time_point deadline, std::string& head) {
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    if (head.size() > 16 * 1024) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    head.append(buf, static_cast<size_t>(n));
  }
  return true;
}

std::string StringField(const boost::json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t IntField(const boost::json::object& obj, std::string_view name, int64_t fallback) {
  const auto* v = obj.if_contains(name);
  if (v != nullptr && v->is_int64()) return v->as_int64();
  if (v != nullptr && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return fallback;
}

bool FindExecutable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

Result<LoginResult> ParseLoginResponse(const boost::json::value& v) {
  if (!v.is_object()) {
    return Fail(Error::Internal("the control plane's login answer is not a JSON object",
                                Reason::kBadResponse));
  }
  const auto& obj = v.as_object();
  LoginResult out;
  out.session_token = StringField(obj, "session_token");
  out.expires_at = StringField(obj, "expires_at");
  if (const auto* user = obj.if_contains("user"); user != nullptr && user->is_object()) {
    out.email = StringField(user->as_object(), "email");
    out.name = StringField(user->as_object(), "name");
  }
  if (out.session_token.empty()) {
    return Fail(Error::Internal("the control plane's login answer has no session token",
                                Reason::kBadResponse));
  }
  // Refuse to store something that is not a session token.
  CL_RETURN_IF_ERROR(PrecheckToken(out.session_token, "the control plane's login answer"));
  return out;
}

std::string NewPkceVerifier(Random& random) { return RandomBase64Url(random, 32); }
std::string NewLoginState(Random& random) { return RandomBase64Url(random, 16); }

std::string BuildLoginUrl(std::string_view base_url, int port, std::string_view state,
                          std::string_view code_challenge) {
  std::string base(base_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  // state and challenge are base64url, so they need no escaping; ':' and '/' are legal in a
  // query (RFC 3986 section 3.4).
  return base + "/auth/login?redirect_uri=http://127.0.0.1:" + std::to_string(port) +
         "/callback&state=" + std::string(state) +
         "&code_challenge=" + std::string(code_challenge) + "&code_challenge_method=S256";
}

LoopbackListener::~LoopbackListener() {
  if (fd_ >= 0) close(fd_);
}

Status LoopbackListener::Start() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    return Fail(Error::Internal(std::string("cannot create a socket: ") + std::strerror(errno)));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0) {
    return Fail(
        Error::Internal(std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno)));
  }
  socklen_t len = sizeof addr;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Fail(Error::Internal("cannot read the listener's port"));
  }
  port_ = ntohs(addr.sin_port);
  return Ok();
}

Result<std::string> LoopbackListener::WaitForCode(std::string_view expected_state,
                                                  std::chrono::milliseconds timeout) {
  if (fd_ < 0) return Fail(Error::FailedPrecondition("the login listener is not started"));
  const auto deadline = Clock::now() + timeout;
  bool ignored_callbacks = false;  // saw a callback whose state did not match
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Fail(Error::FailedPrecondition(
          ignored_callbacks ? "timed out waiting for the browser to complete the login (a "
                              "callback whose state did not match this login was ignored)"
                            : "timed out waiting for the browser to complete the login",
          Reason::kLoginTimeout));
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // the deadline check above ends the loop
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::string head;
    auto conn_deadline = std::min(deadline, Clock::now() + std::chrono::seconds(10));
    if (!ReadRequestHead(client, conn_deadline, head)) {
      close(client);
      continue;
    }
    // Request line: METHOD SP TARGET SP VERSION
    std::string_view line(head);
    line = line.substr(0, line.find_first_of("\r\n"));
    auto sp1 = line.find(' ');
    auto sp2 = line.find(' ', sp1 == std::string_view::npos ? 0 : sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
      SendResponse(client, 400, "Bad Request", "Bad request.\n");
      close(client);
      continue;
    }
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view path = target.substr(0, target.find('?'));
    if (path != "/callback") {
      SendResponse(client, 404, "Not Found", "Not found.\n");
      close(client);
      continue;
    }
    if (method != "GET") {
      SendResponse(client, 405, "Method Not Allowed", "Method not allowed.\n");
      close(client);
      continue;
    }
    auto q = target.find('?');
    auto params = ParseQuery(q == std::string_view::npos ? "" : target.substr(q + 1));
    // Only the state proves that a callback belongs to this login: anyone who can reach the
    // loopback port (a local process, a web page probing 127.0.0.1) can send a request here.
    // A callback with a missing or wrong state is answered and ignored, even if it carries an
    // `error`, so it can neither complete nor abort the login; we keep waiting until the deadline.
    if (auto st = params.find("state");
        st == params.end() || !crypto::ConstantTimeEquals(st->second, expected_state)) {
      SendResponse(client, 400, "Bad Request",
                   "This response does not belong to the login the CLI started (state "
                   "mismatch); it was ignored.\n");
      close(client);
      ignored_callbacks = true;
      continue;
    }
    Result<std::string> result = std::string();
    if (auto it = params.find("error"); it != params.end()) {
      // The control plane ended this login after the IdP's error (the person pressed Cancel,
      // say): stop now rather than wait for the timeout. Only a known OAuth code is named;
      // nothing else from the URL reaches the terminal.
      SendResponse(client, 400, "Bad Request",
                   "Login failed. Return to the terminal for details; you can close this "
                   "window.\n");
      result = Fail(LoginErrorFromCallback(it->second));
    } else if (auto code = params.find("code"); code == params.end() || code->second.empty()) {
      SendResponse(client, 400, "Bad Request", "Login failed: no authorization code.\n");
      result =
          Fail(Error::Unauthenticated("the login callback carried no code", Reason::kLoginFailed));
    } else {
      SendResponse(client, 200, "OK", "Login complete. You can close this window.\n");
      result = code->second;
    }
    close(client);
    return result;
  }
}

bool OpenBrowser(const std::string& url) {
  std::vector<std::string> args;
  const char* browser = std::getenv("BROWSER");
  if (browser != nullptr && *browser != '\0') {
    // $BROWSER may carry arguments; the URL is passed as "$1", never spliced into the script.
    args = {"/bin/sh", "-c", std::string(browser) + " \"$1\"", "chainloop-browser", url};
  } else if (FindExecutable("xdg-open")) {
    args = {"xdg-open", url};
  } else {
    return false;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // Keep the browser's chatter out of our stdout (which may be JSON) and stderr.
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0;
}

Result<LoginResult> RunBrowserLogin(ApiClient& client, Random& random, std::ostream& err,
                                    const BrowserLoginOptions& options) {
  std::string verifier = NewPkceVerifier(random);
  std::string challenge = crypto::PkceS256Challenge(verifier);
  std::string state = NewLoginState(random);
  LoopbackListener listener;
  CL_RETURN_IF_ERROR(listener.Start());
  std::string url = BuildLoginUrl(client.base_url(), listener.port(), state, challenge);
  if (options.on_url) {
    options.on_url(url);
  } else {
    err << "Open this URL in your browser to log in: " << url << std::endl;
    OpenBrowser(url);
  }
  CL_ASSIGN_OR_RETURN(std::string code, listener.WaitForCode(state, options.timeout));
  boost::json::object body;
  body["code"] = code;
  body["code_verifier"] = verifier;
  CL_ASSIGN_OR_RETURN(auto resp, client.Post("/v1/auth/token", body));
  return ParseLoginResponse(resp);
}

Result<LoginResult> RunDeviceLogin(ApiClient& client, std::ostream& err,
                                   const DeviceLoginOptions& options) {
  CL_ASSIGN_OR_RETURN(auto start, client.Post("/v1/auth/device", boost::json::object{}));
  if (!start.is_object()) {
    return Fail(Error::Internal("the control plane's device login answer is not a JSON object",
                                Reason::kBadResponse));
  }
  const auto& obj = start.as_object();
  std::string handle = StringField(obj, "device_handle");
  std::string user_code = StringField(obj, "user_code");
  std::string uri = StringField(obj, "verification_uri_complete");
  if (uri.empty()) uri = StringField(obj, "verification_uri");
  if (handle.empty() || user_code.empty() || uri.empty()) {
    return Fail(Error::Internal("the control plane's device login answer is incomplete",
                                Reason::kBadResponse));
  }
  int64_t interval = std::max<int64_t>(IntField(obj, "interval", 5), 1);
  int64_t expires_in = IntField(obj, "expires_in", 600);
  int64_t budget = std::min<int64_t>(expires_in, options.max_wait.count());
  err << "To log in, open " << TerminalSafe(uri) << " in any browser and confirm the code "
      << TerminalSafe(user_code) << std::endl;

  auto sleep = options.sleep;
  if (!sleep) sleep = [](std::chrono::seconds s) { ::sleep(static_cast<unsigned>(s.count())); };
  boost::json::object poll_body;
  poll_body["device_handle"] = handle;
  int64_t waited = 0;
  while (true) {
    if (waited >= budget) {
      return Fail(Error::Unauthenticated(
          "the login code expired before it was confirmed; run `chainloop auth login "
          "--skip-browser` again",
          Reason::kExpiredToken));
    }
    sleep(std::chrono::seconds(interval));
    waited += interval;
    auto resp = client.Post("/v1/auth/device/token", poll_body);
    if (resp) return ParseLoginResponse(*resp);
    const Error& e = resp.error();
    if (e.Is(Reason::kAuthorizationPending)) continue;
    if (e.Is(Reason::kSlowDown)) {
      interval += 5;
      continue;
    }
    if (e.Is(Reason::kExpiredToken)) {
      return Fail(Error::Unauthenticated(
          "the login code expired before it was confirmed; run `chainloop auth login "
          "--skip-browser` again",
          Reason::kExpiredToken));
    }
    if (e.Is(Reason::kAccessDenied)) {
      return Fail(
          Error::PermissionDenied("the login was denied in the browser", Reason::kAccessDenied));
    }
    return Fail(resp.error());
  }
}

}  // namespace cl::cli
