// The request middleware of the HTTP API: credentials, CSRF, authentication wrappers (see the
// header).
#include "api/middleware.h"

#include "api/errors.h"
#include "api/web.h"
#include "common/log.h"
#include "crypto/credential.h"
#include "crypto/hash.h"

namespace cl::api {

using http::Request;
using http::Response;

Credential CredentialOf(const Request& req) {
  Credential c;
  std::string_view header = req.Header("authorization");
  if (!header.empty()) {
    c.authorization = std::string(header);
  } else if (auto cookie = CookieValue(req, kSessionCookie); cookie && !cookie->empty()) {
    c.authorization = "Bearer " + *cookie;
    c.from_cookie = true;
  }
  return c;
}

namespace {
// The access log names who made the request.
void NoteCaller(Request& req, const domain::Principal& p) {
  req.principal_kind = domain::PrincipalKindName(p.kind);
  req.principal_id = p.id;
}
}  // namespace

std::string_view CredentialKindLabel(std::string_view credential) {
  if (credential.empty()) return "none";
  if (domain::LooksLikeJwt(credential)) return "ci_token";
  auto kind = crypto::ParseCredential(credential);
  if (!kind) return "malformed";
  switch (*kind) {
    case crypto::CredentialKind::kSession:
      return "user";
    case crypto::CredentialKind::kApiToken:
      return "api_token";
    case crypto::CredentialKind::kFederated:
      return "federated";
    default:
      return "other";
  }
}

std::string_view BearerOf(std::string_view authorization) {
  auto bearer = domain::ExtractBearer(authorization);
  return bearer ? *bearer : authorization;
}

std::optional<Response> Middleware::OnAuthFailure(const Request& req, const Error& e,
                                                  std::string_view credential) const {
  if (d_.metrics && e.IsUnauthenticated()) {
    d_.metrics->IncAuthFailure(CredentialKindLabel(credential), e.reason());
  }
  if (!AbuseLimits::IsAuthFailure(e)) return std::nullopt;
  auto wait = limits_.ReportAuthFailure(req, credential);
  if (!wait) return std::nullopt;
  return AbuseLimits::Throttled(*wait);
}

http::Handler Middleware::Authed(PrincipalHandler fn) const {
  return [this, fn = std::move(fn)](Request& req) -> Response {
    Credential cred = CredentialOf(req);
    if (cred.from_cookie) {
      if (auto st = CheckCsrf(req); !st) return ErrorResponse(st.error());
    }
    auto principal = d_.authenticator->Authenticate(cred.authorization,
                                                    {req.remote_addr, req.Header("user-agent")});
    if (!principal) {
      if (auto throttled = OnAuthFailure(req, principal.error(), BearerOf(cred.authorization))) {
        return std::move(*throttled);
      }
      return ErrorResponse(principal.error());
    }
    principal->client_address = req.remote_addr;
    NoteCaller(req, *principal);
    auto res = fn(req, *principal);
    if (!res) return Finish(req, res.error());
    return std::move(*res);
  };
}

http::Handler Middleware::AttestAuthed(std::string use, PrincipalHandler fn) const {
  http::Handler authed = Authed(fn);
  return [this, use = std::move(use), fn = std::move(fn),
          authed = std::move(authed)](Request& req) -> Response {
    std::string_view header = req.Header("authorization");
    auto bearer = domain::ExtractBearer(header);
    if (d_.federation == nullptr || header.empty() || !bearer || !domain::LooksLikeJwt(*bearer)) {
      return authed(req);
    }
    auto principal = d_.federation->AuthenticateCiToken(req.PathParam("org"), std::string(*bearer),
                                                        use, req.remote_addr);
    if (!principal) {
      if (auto throttled = OnAuthFailure(req, principal.error(), *bearer)) {
        return std::move(*throttled);
      }
      return Finish(req, principal.error());
    }
    if (d_.metrics) {
      d_.metrics->IncCounter(kAuthSuccesses, kAuthSuccessesHelp, {{"kind", "ci_token"}});
    }
    NoteCaller(req, *principal);
    auto res = fn(req, *principal);
    if (!res) return Finish(req, res.error());
    return std::move(*res);
  };
}

http::FastHandler Middleware::AuthedFast(PrincipalFastHandler fn) const {
  return [this, fn = std::move(fn)](Request& req) -> std::optional<Response> {
    Credential cred = CredentialOf(req);
    if (cred.from_cookie) return std::nullopt;  // CSRF and cookies: the full path decides
    auto principal = d_.authenticator->AuthenticateCached(
        cred.authorization, {req.remote_addr, req.Header("user-agent")});
    if (!principal) return std::nullopt;
    if (!*principal) {
      auto throttled = OnAuthFailure(req, principal->error(), BearerOf(cred.authorization));
      Response r = throttled ? std::move(*throttled) : ErrorResponse(principal->error());
      AddSecurityHeaders(r);
      return r;
    }
    (*principal)->client_address = req.remote_addr;
    NoteCaller(req, **principal);
    auto res = fn(req, **principal);
    if (res) AddSecurityHeaders(*res);
    return res;
  };
}

http::Handler Middleware::Plain(PlainHandler fn) const {
  return [this, fn = std::move(fn)](Request& req) -> Response {
    auto res = fn(req);
    if (!res) return Finish(req, res.error());
    return std::move(*res);
  };
}

Response Middleware::Finish(const Request& req, const Error& e) const {
  if (e.code() == Error::Code::kInternal || e.code() == Error::Code::kUnavailable) {
    Log(LogLevel::kError, "request failed",
        {{"request_id", req.request_id}, {"error", e.ToString()}});
  }
  return ErrorResponse(e);
}

Status Middleware::CheckCsrf(const Request& req) const {
  if (req.method == "GET" || req.method == "HEAD") return Ok();
  auto origin = req.Header("origin");
  if (!origin.empty() && origin != d_.external_url) {
    return Fail(Error::PermissionDenied("cross-site request refused", Reason::kCsrfFailed));
  }
  auto cookie = CookieValue(req, kCsrfCookie);
  auto header = req.Header(kCsrfHeader);
  if (!cookie || cookie->size() < 16 || header.empty() ||
      !crypto::ConstantTimeEquals(*cookie, header)) {
    return Fail(
        Error::PermissionDenied("missing or wrong X-CSRF-Token header", Reason::kCsrfFailed));
  }
  return Ok();
}

void Add(http::Router& r, std::string method, std::string pattern, http::Handler h, bool blocking) {
  r.Add(
      std::move(method), std::move(pattern),
      [h = std::move(h)](Request& req) {
        Response resp = h(req);
        AddSecurityHeaders(resp);
        return resp;
      },
      blocking);
}

void AddFast(http::Router& r, std::string method, std::string pattern, http::FastHandler fast,
             http::Handler h) {
  r.AddWithFastPath(std::move(method), std::move(pattern), std::move(fast),
                    [h = std::move(h)](Request& req) {
                      Response resp = h(req);
                      AddSecurityHeaders(resp);
                      return resp;
                    });
}

}  // namespace cl::api
