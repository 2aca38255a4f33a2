// ApiClient: HTTP via cl::HttpFetch, JSON via Boost.JSON, errors as cl::Error.
#include "cli/api_client.h"

#include <cctype>
#include <chrono>

#include "cli/control_plane_url.h"
#include "cli/keyless.h"
#include "cli/terminal.h"
#include "common/http_client.h"
#include "common/json.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

Error::Code CodeForStatus(int status) {
  switch (status) {
    case 400:
      return Error::Code::kInvalidArgument;
    case 401:
      return Error::Code::kUnauthenticated;
    case 403:
      return Error::Code::kPermissionDenied;
    case 404:
      return Error::Code::kNotFound;
    case 409:
      return Error::Code::kAlreadyExists;
    case 412:
      return Error::Code::kFailedPrecondition;
    case 413:
    case 431:
      return Error::Code::kPayloadTooLarge;
    case 429:
      return Error::Code::kResourceExhausted;
    case 502:
    case 503:
    case 504:
      return Error::Code::kUnavailable;
    default:
      return status >= 400 && status < 500 ? Error::Code::kInvalidArgument : Error::Code::kInternal;
  }
}

std::string_view SourceName(CredentialSource source) {
  switch (source) {
    case CredentialSource::kFlag:
      return "--token";
    case CredentialSource::kEnv:
      return "$CHAINLOOP_TOKEN";
    case CredentialSource::kSession:
      return "your login session (config file)";
    case CredentialSource::kCiEnvironment:
      return "the CI environment";
    case CredentialSource::kNone:
      break;
  }
  return "the credential";
}

}  // namespace

std::string PathSegment(std::string_view s) { return UrlEncode(s); }

Status PrecheckToken(std::string_view token, std::string_view source) {
  auto kind = crypto::ParseCredential(token);
  if (!kind) {
    return Fail(Error::Unauthenticated(
        "the token from " + std::string(source) +
            " is not a valid chainloop token (wrong prefix or checksum: was it copied "
            "completely?); nothing was sent to the control plane",
        Reason::kMalformedToken));
  }
  switch (*kind) {
    case crypto::CredentialKind::kApiToken:
    case crypto::CredentialKind::kSession:
    case crypto::CredentialKind::kFederated:
      return Ok();
    default:
      return Fail(Error::Unauthenticated("the token from " + std::string(source) +
                                             " is a one-time login value, not an API token "
                                             "or session; nothing was sent to the control plane",
                                         Reason::kMalformedToken));
  }
}

Result<ResolvedCredential> ResolveCredential(std::string_view flag_token,
                                             std::string_view env_token,
                                             std::string_view session_token) {
  ResolvedCredential out;
  if (!flag_token.empty()) {
    out.token = std::string(flag_token);
    out.source = CredentialSource::kFlag;
  } else if (!env_token.empty()) {
    out.token = std::string(env_token);
    out.source = CredentialSource::kEnv;
  } else if (!session_token.empty()) {
    out.token = std::string(session_token);
    out.source = CredentialSource::kSession;
  } else {
    return out;
  }
  if (LooksLikeJwt(out.token)) {
    // Not a chainloop token at all: an ID token for keyless exchange (verified server-side).
    out.is_ci_id_token = true;
  } else {
    CL_RETURN_IF_ERROR(PrecheckToken(out.token, SourceName(out.source)));
  }
  if (out.source != CredentialSource::kSession && !session_token.empty()) {
    out.note = "note: using the token from " + std::string(SourceName(out.source)) +
               " instead of your login session";
  }
  return out;
}

Error DecodeErrorResponse(int status, std::string_view body) {
  Error::Code code = CodeForStatus(status);
  auto parsed = ParseJson(body);
  if (parsed && parsed->is_object()) {
    const auto* err = parsed->as_object().if_contains("error");
    if (err != nullptr && err->is_object()) {
      const auto& obj = err->as_object();
      const auto* c = obj.if_contains("code");
      const auto* m = obj.if_contains("message");
      std::string reason = c != nullptr && c->is_string() ? std::string(c->as_string()) : "";
      std::string message = m != nullptr && m->is_string() ? std::string(m->as_string()) : "";
      if (message.empty()) {
        message = "the control plane answered HTTP " + std::to_string(status);
      }
      if (reason.empty()) reason = "http_" + std::to_string(status);
      return Error::FromWire(code, std::move(message), reason);
    }
  }
  return Error::FromWire(
      code,
      "the control plane answered HTTP " + std::to_string(status) + " without an error description",
      "http_" + std::to_string(status));
}

std::string FormatCliError(const Error& error, bool debug, bool using_stored_session) {
  // The message may quote the server or the user: one terminal-safe line (cli/terminal.h).
  std::string out = "Error: " + TerminalSafe(error.message());
  if (debug && !error.reason().empty()) out += " (code: " + TerminalSafe(error.reason()) + ")";
  const Reason r = error.reason_code();
  bool ended =
      error.IsUnauthenticated() &&
      (r == Reason::kSessionExpired || r == Reason::kSessionRevoked ||
       (using_stored_session && (r == Reason::kInvalidToken || r == Reason::kTokenExpired ||
                                 r == Reason::kTokenRevoked || r == Reason::kMalformedToken)));
  if (ended) out += "\nYour session has ended: run `chainloop auth login`";
  return out;
}

ApiClient::ApiClient(ApiClientOptions options) : options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') {
    options_.base_url.pop_back();
  }
}

Result<boost::json::value> ApiClient::Call(std::string_view method, std::string_view path,
                                           const std::optional<boost::json::value>& body) {
  HttpClientRequest req;
  req.method = std::string(method);
  req.url = options_.base_url + std::string(path);
  req.timeout_ms = options_.timeout_ms;
  req.ca_file = options_.ca_file;
  req.insecure_skip_verify = options_.insecure && IsHttpsUrl(options_.base_url);
  // A proxy from the environment (a repository's .envrc can set http_proxy) would see the
  // credential of a plain-http request, and could intercept TLS that is not verified. Over
  // verified https a proxy only tunnels (CONNECT) and is allowed.
  req.no_proxy = !IsHttpsUrl(options_.base_url) || req.insecure_skip_verify;
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("User-Agent", "chainloop-cli");
  if (!options_.token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + options_.token);
  if (body) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = SerializeJson(*body);
  }
  // Debug lines name the method and URL only: headers (Authorization) and bodies (codes,
  // session tokens) are never printed.
  if (options_.debug_out != nullptr) {
    *options_.debug_out << "debug: --> " << req.method << " " << req.url
                        << (options_.token.empty() ? "" : " (with bearer credential)") << "\n";
  }
  auto start = std::chrono::steady_clock::now();
  auto resp = HttpFetch(req);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  if (!resp) {
    if (options_.debug_out != nullptr) {
      *options_.debug_out << "debug: <-- failed after " << ms << " ms\n";
    }
    if (resp.error().IsUnavailable()) {
      std::string detail = resp.error().message();
      if (auto pos = detail.find(" failed: "); pos != std::string::npos) {
        detail = detail.substr(pos + 9);
      }
      return Fail(Error::Unavailable(
          "cannot reach the control plane at " + options_.base_url + ": " + detail,
          Reason::kUnreachable));
    }
    return Fail(resp.error());
  }
  if (options_.debug_out != nullptr) {
    *options_.debug_out << "debug: <-- " << resp->status << " (" << resp->body.size() << " bytes, "
                        << ms << " ms)\n";
  }
  if (resp->status < 200 || resp->status >= 300) {
    return Fail(DecodeErrorResponse(resp->status, resp->body));
  }
  if (resp->body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return boost::json::value(nullptr);
  }
  auto parsed = ParseJson(resp->body);
  if (!parsed) {
    return Fail(
        Error::Internal("the control plane at " + options_.base_url + " answered with invalid JSON",
                        Reason::kBadResponse));
  }
  return std::move(*parsed);
}

}  // namespace cl::cli
