#include "api/api.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <map>

#include "api/errors.h"
#include "api/web.h"
#include "common/json.h"
#include "common/log.h"
#include "common/oauth_errors.h"
#include "common/redact.h"
#include "crypto/hash.h"
#include "domain/token_inactivity.h"

namespace cl::api {
namespace {

namespace json = boost::json;
using http::Request;
using http::Response;

Response JsonOk(int status, const json::object& body) {
  return Response::Json(status, SerializeJson(body));
}

json::value OptTime(const std::optional<UnixMillis>& t) {
  if (!t) return nullptr;
  return json::value(FormatRfc3339(*t));
}

json::object EncodeOrg(const store::Organization& o) {
  json::object j;
  j["id"] = o.id;
  j["name"] = o.name;
  j["created_at"] = FormatRfc3339(o.created_at);
  if (o.api_token_max_days_inactive) {
    j["api_token_max_days_inactive"] = *o.api_token_max_days_inactive;
  } else {
    j["api_token_max_days_inactive"] = nullptr;
  }
  return j;
}

json::object EncodeUser(const store::User& u) {
  json::object j;
  j["id"] = u.id;
  j["email"] = u.email;
  j["name"] = u.name;
  return j;
}

json::object EncodeInvitation(const store::Invitation& i) {
  json::object j;
  j["id"] = i.id;
  j["email"] = i.email;
  j["role"] = i.role;
  j["status"] = i.status;
  j["created_at"] = FormatRfc3339(i.created_at);
  return j;
}

json::object EncodeProject(const store::Project& p) {
  json::object j;
  j["id"] = p.id;
  j["name"] = p.name;
  j["created_at"] = FormatRfc3339(p.created_at);
  return j;
}

json::object EncodeRun(const store::WorkflowRun& r, bool with_statement) {
  json::object j;
  j["id"] = r.id;
  j["workflow"] = r.workflow_name;
  j["project"] = r.project_name;
  j["state"] = r.state;
  j["created_at"] = FormatRfc3339(r.created_at);
  j["finished_at"] = OptTime(r.finished_at);
  json::object by;
  by["kind"] = r.actor_kind;
  by["id"] = r.actor_id;
  by["name"] = r.actor_name;
  // The CI identity of a keyless attestation (iss, sub, key claims); {} otherwise.
  if (auto claims = ParseJson(r.actor_claims); claims && claims->is_object()) {
    by["claims"] = std::move(*claims);
  } else {
    by["claims"] = json::object();
  }
  j["attested_by"] = std::move(by);
  j["predicate_type"] = r.predicate_type;
  j["statement_digest"] = r.statement_digest;
  if (with_statement) {
    if (r.statement.empty()) {
      j["statement"] = nullptr;
    } else if (auto v = ParseJson(r.statement)) {
      j["statement"] = std::move(*v);
    }
  }
  return j;
}

json::object EncodeApiToken(const store::ApiToken& t, const store::Organization& org) {
  json::object j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["description"] = t.description;
  j["scope"] = t.project_id ? "project" : "global";
  if (t.project_id) {
    j["project"] = t.project_name;
  } else {
    j["project"] = nullptr;
  }
  json::array perms;
  for (const auto& p : t.permissions) perms.push_back(json::value(p));
  j["permissions"] = std::move(perms);
  j["created_at"] = FormatRfc3339(t.created_at);
  j["expires_at"] = OptTime(t.expires_at);
  j["last_used_at"] = OptTime(t.last_used_at);
  j["revoked_at"] = OptTime(t.revoked_at);
  if (t.revoked_at) {
    j["revocation_reason"] = t.revocation_reason;
  } else {
    j["revocation_reason"] = nullptr;
  }
  json::object by;
  by["kind"] = t.created_by_kind;
  by["id"] = t.created_by_id;
  by["name"] = t.created_by_name;
  j["created_by"] = std::move(by);
  j["auto_revoke_at"] = OptTime(domain::AutoRevokeAt(t, org.api_token_max_days_inactive));
  return j;
}

json::object EncodeTrustPolicy(const store::TrustPolicyRecord& t) {
  json::object j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["issuer"] = t.issuer;
  j["provider"] = t.provider;
  j["audience"] = t.audience;
  json::object claims;
  for (const auto& [k, v] : t.bound_claims) claims[k] = v;
  j["bound_claims"] = std::move(claims);
  if (t.project_id) {
    j["project"] = t.project_name;
  } else {
    j["project"] = nullptr;
  }
  json::array perms;
  for (const auto& p : t.permissions) perms.push_back(json::value(p));
  j["permissions"] = std::move(perms);
  j["created_at"] = FormatRfc3339(t.created_at);
  return j;
}

// application/x-www-form-urlencoded body -> fields ('+' is a space; later duplicates ignored).
std::map<std::string, std::string> ParseFormBody(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view pair = body.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      std::replace(key.begin(), key.end(), '+', ' ');
      std::replace(value.begin(), value.end(), '+', ' ');
      out.emplace(http::PercentDecode(key), http::PercentDecode(value));
    }
    start = end + 1;
  }
  return out;
}

constexpr std::string_view kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr std::string_view kIdTokenType = "urn:ietf:params:oauth:token-type:id_token";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

json::object EncodePrincipal(const domain::Principal& p) {
  json::object j;
  j["kind"] = domain::PrincipalKindName(p.kind);
  j["id"] = p.id;
  j["name"] = p.display_name;
  return j;
}

json::object EncodeSession(const domain::IssuedSession& s) {
  json::object j;
  j["session_token"] = s.token;
  j["expires_at"] = FormatRfc3339(s.expires_at);
  j["user"] = EncodeUser(s.user);
  return j;
}

// Text page for the browser legs of the login (the person sees it).
Response BrowserError(const Error& e) {
  Response r = Response::Text(
      HttpStatusFor(e), "Login failed: " + RedactSecrets(e.message()) + " (" + e.reason() + ")\n");
  r.SetHeader("Cache-Control", "no-store");
  if (auto wait = RetryAfterFor(e)) r.SetHeader("Retry-After", RetryAfterSeconds(*wait));
  return r;
}

// The page for an authorization error the IdP sent back (`error=...` on a callback). The text is
// fixed per known OAuth code: the parameter may come from anyone who sent the browser here, so
// neither it nor error_description is ever shown.
Response BrowserIdpError(std::string_view error) {
  const OAuthAuthorizationError* known = FindOAuthAuthorizationError(error);
  return BrowserError(Error::InvalidArgument(
      std::string(known != nullptr ? known->message : kGenericOAuthErrorMessage),
      std::string(known != nullptr ? known->code : "idp_error")));
}

// A failed login leg leaves its precise reason in the log with the request id, so that an
// operator can tell a provider timeout from an oversized answer, a bad signature or a wrong
// nonce. The login flow's error messages never carry a token, code, state or secret (see
// oidc/upstream.h and domain/login.h), and the request's query string is not logged.
void LogLoginFailure(const Request& req, std::string_view step, const Error& e) {
  Log(e.code() == Error::Code::kInternal ? LogLevel::kError : LogLevel::kWarn, "login failed",
      {{"request_id", req.request_id},
       {"step", step},
       {"reason", e.reason()},
       {"error", e.message()}});
}

int ParseLimit(const Request& req, int dflt) {
  auto v = req.QueryParam("limit");
  if (!v) return dflt;
  int n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size()) return -1;
  return n;
}

class Api {
 public:
  explicit Api(const ApiDeps& d) : d_(d) {}

  // Wraps a handler that needs a principal.
  http::Handler Authed(std::function<Result<Response>(Request&, const domain::Principal&)> fn) {
    return [this, fn = std::move(fn)](Request& req) -> Response {
      Credential cred = CredentialOf(req);
      if (cred.from_cookie) {
        if (auto st = CheckCsrf(req); !st) return ErrorResponse(st.error());
      }
      auto principal = d_.authenticator->Authenticate(cred.authorization);
      if (!principal) {
        if (d_.metrics && principal.error().IsUnauthenticated()) {
          d_.metrics->IncAuthFailure(principal.error().reason());
        }
        if (IsAuthFailure(principal.error())) {
          if (auto wait = ReportAuthFailure(req, BearerOf(cred.authorization))) {
            return Throttled(*wait);
          }
        }
        return ErrorResponse(principal.error());
      }
      auto res = fn(req, *principal);
      if (!res) return Finish(req, res.error());
      return std::move(*res);
    };
  }

  // The attestation endpoints also accept a raw CI ID token (a JWT) as the Bearer credential,
  // verified against the trust policies of the organization in the path; `use` is "init" or
  // "push" (see FederationService::AuthenticateCiToken). Everything else goes through Authed.
  http::Handler AttestAuthed(
      std::string use, std::function<Result<Response>(Request&, const domain::Principal&)> fn) {
    http::Handler authed = Authed(fn);
    return [this, use = std::move(use), fn = std::move(fn),
            authed = std::move(authed)](Request& req) -> Response {
      std::string_view header = req.Header("authorization");
      auto bearer = domain::ExtractBearer(header);
      if (d_.federation == nullptr || header.empty() || !bearer || !domain::LooksLikeJwt(*bearer)) {
        return authed(req);
      }
      auto principal =
          d_.federation->AuthenticateCiToken(req.PathParam("org"), std::string(*bearer), use);
      if (!principal) {
        if (d_.metrics && principal.error().IsUnauthenticated()) {
          d_.metrics->IncAuthFailure(principal.error().reason());
        }
        if (IsAuthFailure(principal.error())) {
          if (auto wait = ReportAuthFailure(req, *bearer)) return Throttled(*wait);
        }
        return Finish(req, principal.error());
      }
      auto res = fn(req, *principal);
      if (!res) return Finish(req, res.error());
      return std::move(*res);
    };
  }

  // The I/O-thread fast path of an authenticated route: authenticates from the cache only and
  // runs `fn`, which returns nullopt when it needs the database. Anything else (cache miss,
  // stale entry) goes to the worker pool.
  http::FastHandler AuthedFast(
      std::function<std::optional<Response>(Request&, const domain::Principal&)> fn) {
    return [this, fn = std::move(fn)](Request& req) -> std::optional<Response> {
      Credential cred = CredentialOf(req);
      if (cred.from_cookie) return std::nullopt;  // CSRF and cookies: the full path decides
      auto principal = d_.authenticator->AuthenticateCached(cred.authorization);
      if (!principal) return std::nullopt;
      if (!*principal) {
        if (d_.metrics && principal->error().IsUnauthenticated()) {
          d_.metrics->IncAuthFailure(principal->error().reason());
        }
        std::optional<UnixMillis> wait;
        if (IsAuthFailure(principal->error())) {
          wait = ReportAuthFailure(req, BearerOf(cred.authorization));
        }
        Response r = wait ? Throttled(*wait) : ErrorResponse(principal->error());
        AddSecurityHeaders(r);
        return r;
      }
      auto res = fn(req, **principal);
      if (res) AddSecurityHeaders(*res);
      return res;
    };
  }

  // Failed authentication throttling (domain::AuthFailureThrottle). A failure counts when a
  // credential was presented and refused; a request without any credential does not count.
  static bool IsAuthFailure(const Error& e) {
    if (e.IsUnauthenticated()) return e.reason() != "unauthenticated";
    // A genuine CI token that no trust policy admits: probing, as far as we can tell.
    return e.reason() == "no_matching_trust_policy";
  }
  // Failures of the login legs that mean a wrong code, state or handle was presented (not
  // "still pending", "slow down" or the person declining).
  static bool IsLoginFailure(const Error& e) {
    return e.IsUnauthenticated() || e.reason() == "invalid_state" ||
           e.reason() == "invalid_grant" || e.reason() == "expired_token";
  }
  static std::string_view BearerOf(std::string_view authorization) {
    auto bearer = domain::ExtractBearer(authorization);
    return bearer ? *bearer : authorization;
  }
  // Reports a failed authentication of `req` presenting `credential` (empty: none). Returns
  // how long to wait when its address or credential is banned: answer 429 instead of the
  // failure. Successful authentications never come here.
  std::optional<UnixMillis> ReportAuthFailure(const Request& req, std::string_view credential) {
    if (d_.auth_throttle == nullptr) return std::nullopt;
    auto refusal = d_.auth_throttle->OnFailure(req.remote_addr, credential);
    if (!refusal) return std::nullopt;
    if (d_.metrics) {
      d_.metrics->IncCounter(
          "chainloop_auth_throttled_total",
          "Failed authentications answered 429 because the client address or credential is banned",
          {{"scope", refusal->address ? "address" : "credential"}});
    }
    return refusal->retry_after;
  }
  static Response Throttled(UnixMillis wait) {
    return RetryLaterResponse(TooManyFailedAttempts(), wait);
  }
  static Response BrowserThrottled(UnixMillis wait) {
    Response r = BrowserError(TooManyFailedAttempts());
    r.SetHeader("Retry-After", RetryAfterSeconds(wait));
    return r;
  }
  // Per-organization rate limits: nullopt when `org` may go ahead (charge it on success).
  std::optional<Response> OverRateLimit(domain::RateLimiter* limiter, const std::string& org,
                                        std::string_view limit, std::string_view what) {
    if (limiter == nullptr) return std::nullopt;
    auto wait = limiter->Check(org);
    if (!wait) return std::nullopt;
    if (d_.metrics) {
      d_.metrics->IncCounter("chainloop_rate_limited_total",
                             "Requests answered 429 because an organization is over a rate limit",
                             {{"limit", limit}});
    }
    return RetryLaterResponse(RateLimited(what), *wait);
  }
  // The I/O-thread fast path of the anonymous login starts, which write a pending login and
  // may call the IdP: each takes a unit of its client address's bucket (memory only, never
  // blocks), or is answered 429 right there (JSON envelope, all three routes), so a flood of
  // refused starts never queues for the worker pool. Admitted starts go on to the pool.
  http::FastHandler LoginStartLimit(std::string route) {
    return [this, route = std::move(route)](Request& req) -> std::optional<Response> {
      if (d_.login_start_limit == nullptr) return std::nullopt;
      for (const auto& block : d_.login_limit_exempt) {
        if (block.Contains(req.remote_addr)) return std::nullopt;
      }
      auto wait = d_.login_start_limit->TryTake(domain::ClientAddressKey(req.remote_addr));
      if (!wait) return std::nullopt;
      CountLoginRefusal(route, "rate_limited");
      Response r = RetryLaterResponse(
          Error::ResourceExhausted("too many logins started from this address; retry later",
                                   "rate_limited"),
          *wait);
      AddSecurityHeaders(r);
      return r;
    };
  }
  // Returns `e`, counting it when it refuses a login start for lack of capacity (503: the IdP
  // busy or down, too many pending logins).
  const Error& CountedLoginError(std::string_view route, const Error& e) {
    if (e.IsUnavailable()) CountLoginRefusal(route, e.reason());
    return e;
  }
  void CountLoginRefusal(std::string_view route, std::string_view reason) {
    if (d_.metrics == nullptr) return;
    d_.metrics->IncCounter(
        "chainloop_login_refused_total",
        "Anonymous login starts refused (429 per-address limit, 503 no capacity)",
        {{"route", route}, {"reason", reason}});
  }

  // A handler without authentication that returns Result<Response>.
  http::Handler Plain(std::function<Result<Response>(Request&)> fn) {
    return [this, fn = std::move(fn)](Request& req) -> Response {
      auto res = fn(req);
      if (!res) return Finish(req, res.error());
      return std::move(*res);
    };
  }

  Response Finish(const Request& req, const Error& e) {
    if (e.code() == Error::Code::kInternal || e.code() == Error::Code::kUnavailable) {
      Log(LogLevel::kError, "request failed",
          {{"request_id", req.request_id}, {"error", e.ToString()}});
    }
    return ErrorResponse(e);
  }

  // Every response of the API carries the security headers too (some are rendered in browsers).
  static void Add(http::Router& r, std::string method, std::string pattern, http::Handler h,
                  bool blocking = true) {
    r.Add(
        std::move(method), std::move(pattern),
        [h = std::move(h)](Request& req) {
          Response resp = h(req);
          AddSecurityHeaders(resp);
          return resp;
        },
        blocking);
  }

  static void AddFast(http::Router& r, std::string method, std::string pattern,
                      http::FastHandler fast, http::Handler h) {
    r.AddWithFastPath(std::move(method), std::move(pattern), std::move(fast),
                      [h = std::move(h)](Request& req) {
                        Response resp = h(req);
                        AddSecurityHeaders(resp);
                        return resp;
                      });
  }

  bool Secure() const { return d_.external_url.rfind("https://", 0) == 0; }

  // The credential of a request: the Authorization header, else the browser session cookie.
  struct Credential {
    std::string authorization;  // "Bearer ..." or empty
    bool from_cookie = false;
  };
  static Credential CredentialOf(const Request& req) {
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

  // Cookie-authenticated writes must prove they come from our own pages: the X-CSRF-Token
  // header must equal the cl_csrf cookie (a cross-site page can neither read the cookie nor
  // set the header), and an Origin header, when sent, must be ours.
  Status CheckCsrf(const Request& req) const {
    if (req.method == "GET" || req.method == "HEAD") return Ok();
    auto origin = req.Header("origin");
    if (!origin.empty() && origin != d_.external_url) {
      return Fail(Error::PermissionDenied("cross-site request refused", "csrf_failed"));
    }
    auto cookie = CookieValue(req, kCsrfCookie);
    auto header = req.Header(kCsrfHeader);
    if (!cookie || cookie->size() < 16 || header.empty() ||
        !crypto::ConstantTimeEquals(*cookie, header)) {
      return Fail(Error::PermissionDenied("missing or wrong X-CSRF-Token header", "csrf_failed"));
    }
    return Ok();
  }

  std::string RandomToken(size_t bytes) {
    std::string raw(bytes, '\0');
    d_.random->Fill(reinterpret_cast<uint8_t*>(raw.data()), raw.size());
    return crypto::Base64UrlEncode(raw);
  }

  void Register(http::Router& r) {
    // Operations.
    Add(
        r, "GET", "/healthz", [](Request&) { return Response::Json(200, R"({"status":"ok"})"); },
        false);
    Add(r, "GET", "/readyz", [this](Request&) {
      auto st = d_.db->Ping();
      if (!st) return ErrorResponse(Error::Unavailable("database unreachable"));
      return Response::Json(200, R"({"status":"ready"})");
    });
    Add(
        r, "GET", "/metrics",
        [this](Request&) {
          if (d_.metrics && d_.authenticator) {
            d_.metrics->SetGauge("chainloop_auth_cache_entries",
                                 "Credentials held in the authentication cache.",
                                 static_cast<double>(d_.authenticator->CachedEntries()));
          }
          return Response::Text(200, d_.metrics ? d_.metrics->RenderPrometheus() : "",
                                "text/plain; version=0.0.4");
        },
        false);

    // Browser legs of the login.
    AddFast(r, "GET", "/auth/login", LoginStartLimit("/auth/login"), [this](Request& req) {
      auto url = d_.login->StartBrowserLogin(req.QueryParam("redirect_uri").value_or(""),
                                             req.QueryParam("state").value_or(""),
                                             req.QueryParam("code_challenge").value_or(""),
                                             req.QueryParam("code_challenge_method").value_or(""));
      if (!url) {
        LogLoginFailure(req, "login", url.error());
        return BrowserError(CountedLoginError("/auth/login", url.error()));
      }
      Response resp = Response::Redirect(*url);
      resp.SetHeader("Cache-Control", "no-store");
      return resp;
    });
    Add(r, "GET", "/auth/callback", [this](Request& req) {
      if (auto err = req.QueryParam("error")) {
        // The person cancelled (or the IdP refused) at the IdP. When the state names a pending
        // login, end it and send the browser back to its client with the known code, so a
        // waiting CLI stops at once instead of running into its timeout.
        const std::string state = req.QueryParam("state").value_or("");
        const std::string_view code = KnownOAuthAuthorizationErrorOr(*err);
        Log(LogLevel::kInfo, "login refused at the identity provider",
            {{"request_id", req.request_id},
             {"error", FindOAuthAuthorizationError(*err) != nullptr ? code : "unrecognized"}});
        if (!state.empty()) {
          auto url = d_.login->AbortCallback(*err, state);
          if (url) {
            Response resp = Response::Redirect(*url);
            resp.SetHeader("Cache-Control", "no-store");
            return resp;
          }
          LogLoginFailure(req, "callback_error", url.error());
          if (IsLoginFailure(url.error())) {
            if (auto wait = ReportAuthFailure(req, state)) return BrowserThrottled(*wait);
          }
          if (url.error().reason() != "invalid_state") return BrowserError(url.error());
        }
        return BrowserIdpError(*err);
      }
      auto url = d_.login->CompleteCallback(req.QueryParam("code").value_or(""),
                                            req.QueryParam("state").value_or(""));
      if (!url) {
        LogLoginFailure(req, "callback", url.error());
        // The login attempt is named by its state: that is the credential presented here.
        if (IsLoginFailure(url.error())) {
          if (auto wait = ReportAuthFailure(req, req.QueryParam("state").value_or(""))) {
            return BrowserThrottled(*wait);
          }
        }
        return BrowserError(url.error());
      }
      Response resp = Response::Redirect(*url);
      resp.SetHeader("Cache-Control", "no-store");
      return resp;
    });

    // Browser UI login: the server is the OAuth client of its own login flow, and the session
    // ends up in an HttpOnly cookie, never visible to scripts.
    AddFast(r, "GET", "/auth/web/login", LoginStartLimit("/auth/web/login"), [this](Request& req) {
      std::string state = RandomToken(24);
      std::string verifier = RandomToken(32);
      auto url = d_.login->StartBrowserLogin(d_.external_url + "/auth/web/callback", state,
                                             crypto::PkceS256Challenge(verifier), "S256");
      if (!url) {
        LogLoginFailure(req, "web_login", url.error());
        return BrowserError(CountedLoginError("/auth/web/login", url.error()));
      }
      Response resp = Response::Redirect(*url);
      resp.SetHeader("Cache-Control", "no-store");
      resp.headers.emplace_back(
          "Set-Cookie", SetCookieHeader(kWebLoginCookie, state + "." + verifier, "/auth/web", 600,
                                        true, Secure()));
      return resp;
    });
    Add(r, "GET", "/auth/web/callback", [this](Request& req) {
      auto cookie = CookieValue(req, kWebLoginCookie);
      auto state = req.QueryParam("state");
      size_t dot = cookie ? cookie->find('.') : std::string::npos;
      if (!cookie || dot == std::string::npos || !state ||
          !crypto::ConstantTimeEquals(cookie->substr(0, dot), *state)) {
        Error e = Error::InvalidArgument(
            "this login was not started in this browser (state mismatch); start again",
            "invalid_state");
        LogLoginFailure(req, "web_callback", e);
        if (state && !state->empty()) {
          if (auto wait = ReportAuthFailure(req, *state)) return BrowserThrottled(*wait);
        }
        return BrowserError(e);
      }
      if (auto err = req.QueryParam("error")) {
        // /auth/callback ended this login after an IdP error: a fixed text, never the parameter.
        Response resp = BrowserIdpError(*err);
        resp.headers.emplace_back(
            "Set-Cookie", SetCookieHeader(kWebLoginCookie, "", "/auth/web", 0, true, Secure()));
        return resp;
      }
      std::string code = req.QueryParam("code").value_or("");
      auto session = d_.login->ExchangeCode(code, cookie->substr(dot + 1));
      if (!session) {
        LogLoginFailure(req, "web_callback", session.error());
        if (IsLoginFailure(session.error())) {
          if (auto wait = ReportAuthFailure(req, code)) return BrowserThrottled(*wait);
        }
        return BrowserError(session.error());
      }
      Response resp = Response::Redirect("/");
      resp.SetHeader("Cache-Control", "no-store");
      long max_age = static_cast<long>(d_.session_lifetime / kMillisPerSecond);
      resp.headers.emplace_back("Set-Cookie", SetCookieHeader(kSessionCookie, session->token, "/",
                                                              max_age, true, Secure()));
      resp.headers.emplace_back("Set-Cookie", SetCookieHeader(kCsrfCookie, RandomToken(24), "/",
                                                              max_age, false, Secure()));
      resp.headers.emplace_back(
          "Set-Cookie", SetCookieHeader(kWebLoginCookie, "", "/auth/web", 0, true, Secure()));
      return resp;
    });

    // Login API.
    Add(r, "POST", "/v1/auth/token", Plain([this](Request& req) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto code, body.RequiredString("code"));
          CL_ASSIGN_OR_RETURN(auto verifier, body.RequiredString("code_verifier"));
          CL_RETURN_IF_ERROR(body.Finish());
          auto session = d_.login->ExchangeCode(code, verifier);
          if (!session) {
            LogLoginFailure(req, "token", session.error());
            if (IsLoginFailure(session.error())) {
              if (auto wait = ReportAuthFailure(req, code)) return Throttled(*wait);
            }
            return Fail(session.error());
          }
          return NoStore(JsonOk(200, EncodeSession(*session)));
        }));
    AddFast(r, "POST", "/v1/auth/device", LoginStartLimit("/v1/auth/device"),
            Plain([this](Request& req) -> Result<Response> {
              CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
              CL_RETURN_IF_ERROR(body.Finish());
              auto started = d_.login->StartDevice();
              if (!started) {
                LogLoginFailure(req, "device", started.error());
                return Fail(CountedLoginError("/v1/auth/device", started.error()));
              }
              const domain::DeviceLoginStart& start = *started;
              json::object j;
              j["device_handle"] = start.device_handle;
              j["user_code"] = start.user_code;
              j["verification_uri"] = start.verification_uri;
              j["verification_uri_complete"] = start.verification_uri_complete;
              j["expires_in"] = start.expires_in;
              j["interval"] = start.interval;
              return NoStore(JsonOk(200, j));
            }));
    Add(r, "POST", "/v1/auth/device/token", Plain([this](Request& req) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto handle, body.RequiredString("device_handle"));
          CL_RETURN_IF_ERROR(body.Finish());
          auto session = d_.login->PollDevice(handle);
          if (!session) {
            // Waiting for the person is not a failure.
            const std::string& reason = session.error().reason();
            if (reason != "authorization_pending" && reason != "slow_down") {
              LogLoginFailure(req, "device_token", session.error());
            }
            if (IsLoginFailure(session.error())) {
              if (auto wait = ReportAuthFailure(req, handle)) return Throttled(*wait);
            }
            return Fail(session.error());
          }
          return NoStore(JsonOk(200, EncodeSession(*session)));
        }));
    // Tokens are answered from the cache on the I/O thread; people need their user row. The
    // fast answer is the same JSON as EncodePrincipal, written without building a JSON tree.
    auto whoami_fast = [](Request&, const domain::Principal& p) -> std::optional<Response> {
      if (p.kind == domain::Principal::Kind::kUser) return std::nullopt;
      std::string body = "{\"principal\":{\"kind\":";
      AppendJsonString(body, domain::PrincipalKindName(p.kind));
      body += ",\"id\":";
      AppendJsonString(body, p.id);
      body += ",\"name\":";
      AppendJsonString(body, p.display_name);
      body += "}}";
      return Response::Json(200, std::move(body));
    };
    AddFast(r, "GET", "/v1/auth/whoami", AuthedFast(whoami_fast),
            Authed([this](Request&, const domain::Principal& p) -> Result<Response> {
              json::object principal = EncodePrincipal(p);
              if (p.kind == domain::Principal::Kind::kUser) {
                CL_ASSIGN_OR_RETURN(auto user, d_.db->GetUser(p.id));
                principal["email"] = user.email;
                principal["name"] = user.name;
              }
              json::object j;
              j["principal"] = std::move(principal);
              if (!p.session_id.empty()) {
                json::object s;
                s["expires_at"] = FormatRfc3339(p.session_expires_at);
                j["session"] = std::move(s);
              }
              return JsonOk(200, j);
            }));
    Add(r, "POST", "/v1/auth/logout",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          Credential cred = CredentialOf(req);
          CL_RETURN_IF_ERROR(d_.login->Logout(p, cred.authorization));
          Response resp = Response::NoContent();
          if (cred.from_cookie) {
            resp.headers.emplace_back("Set-Cookie",
                                      SetCookieHeader(kSessionCookie, "", "/", 0, true, Secure()));
            resp.headers.emplace_back("Set-Cookie",
                                      SetCookieHeader(kCsrfCookie, "", "/", 0, false, Secure()));
          }
          return resp;
        }));

    // Organizations.
    Add(r, "POST", "/v1/organizations",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto name, body.RequiredString("name"));
          CL_RETURN_IF_ERROR(body.Finish());
          CL_ASSIGN_OR_RETURN(auto org, d_.orgs->Create(p, name));
          json::object j;
          j["organization"] = EncodeOrg(org);
          return JsonOk(201, j);
        }));
    Add(r, "GET", "/v1/organizations",
        Authed([this](Request&, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto orgs, d_.orgs->ListMine(p));
          json::array arr;
          for (const auto& o : orgs) {
            json::object e = EncodeOrg(o.org);
            e["role"] = o.role;
            arr.push_back(std::move(e));
          }
          json::object j;
          j["organizations"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto o, d_.orgs->Describe(p, req.PathParam("org")));
          json::object j;
          j["organization"] = EncodeOrg(o.org);
          j["role"] = o.role;
          return JsonOk(200, j);
        }));
    Add(r, "PATCH", "/v1/organizations/{org}",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          bool present = body.Has("api_token_max_days_inactive");
          CL_ASSIGN_OR_RETURN(auto days, body.OptionalValue("api_token_max_days_inactive"));
          CL_RETURN_IF_ERROR(body.Finish());
          // Absent means unchanged: an update that changes nothing is refused rather than read
          // as "off". `null` (read as no value) and 0 turn auto-revocation off.
          if (!present) {
            return Fail(Error::InvalidArgument(
                "nothing to update: set api_token_max_days_inactive (1 to 365 days; 0 or null "
                "turns auto-revocation off)",
                "missing_field"));
          }
          std::optional<int64_t> threshold;
          if (days) {
            if (days->is_int64()) {
              threshold = days->as_int64();
            } else if (days->is_uint64()) {
              threshold = 366;  // out of range either way
            } else {
              return Fail(Error::InvalidArgument(
                  "field 'api_token_max_days_inactive' must be an integer from 0 to 365",
                  "invalid_field_type"));
            }
          }
          CL_ASSIGN_OR_RETURN(
              auto org, d_.orgs->SetApiTokenMaxDaysInactive(p, req.PathParam("org"), threshold));
          json::object j;
          j["organization"] = EncodeOrg(org);
          return JsonOk(200, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/members",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto members, d_.orgs->ListMembers(p, req.PathParam("org")));
          json::array arr;
          for (const auto& m : members) {
            json::object e;
            e["user_id"] = m.user_id;
            e["email"] = m.user_email;
            e["name"] = m.user_name;
            e["role"] = m.role;
            e["created_at"] = FormatRfc3339(m.created_at);
            arr.push_back(std::move(e));
          }
          json::object j;
          j["members"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "POST", "/v1/organizations/{org}/invitations",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto email, body.RequiredString("receiver_email"));
          CL_ASSIGN_OR_RETURN(auto role, body.RequiredString("role"));
          CL_RETURN_IF_ERROR(body.Finish());
          CL_ASSIGN_OR_RETURN(auto inv, d_.orgs->Invite(p, req.PathParam("org"), email, role));
          json::object j;
          j["invitation"] = EncodeInvitation(inv);
          return JsonOk(201, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/invitations",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto invs, d_.orgs->ListInvitations(p, req.PathParam("org")));
          json::array arr;
          for (const auto& i : invs) arr.push_back(EncodeInvitation(i));
          json::object j;
          j["invitations"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/audit-events",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          int limit = ParseLimit(req, 100);
          if (limit < 1 || limit > 1000) {
            return Fail(Error::InvalidArgument("limit must be an integer from 1 to 1000"));
          }
          CL_ASSIGN_OR_RETURN(auto events,
                              d_.orgs->ListAuditEvents(p, req.PathParam("org"), limit));
          json::array arr;
          for (const auto& e : events) {
            json::object o;
            o["id"] = e.id;
            o["actor_kind"] = e.actor_kind;
            o["actor_id"] = e.actor_id;
            o["actor_name"] = e.actor_name;
            o["action"] = e.action;
            o["target_kind"] = e.target_kind;
            o["target_id"] = e.target_id;
            o["message"] = e.message;
            o["created_at"] = FormatRfc3339(e.created_at);
            arr.push_back(std::move(o));
          }
          json::object j;
          j["audit_events"] = std::move(arr);
          return JsonOk(200, j);
        }));

    // API tokens.
    Add(r, "POST", "/v1/organizations/{org}/api-tokens",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          domain::CreateApiTokenRequest in;
          CL_ASSIGN_OR_RETURN(in.name, body.RequiredString("name"));
          CL_ASSIGN_OR_RETURN(auto description, body.OptionalString("description"));
          in.description = description.value_or("");
          CL_ASSIGN_OR_RETURN(in.expires_in_seconds, body.OptionalInt("expires_in_seconds"));
          CL_ASSIGN_OR_RETURN(in.project, body.OptionalString("project"));
          CL_ASSIGN_OR_RETURN(in.permissions, body.OptionalStringArray("permissions"));
          CL_RETURN_IF_ERROR(body.Finish());
          std::string org_name = req.PathParam("org");
          if (auto limited = OverRateLimit(d_.token_create_limit, org_name, "api_token_create",
                                           "API token creation")) {
            return std::move(*limited);
          }
          CL_ASSIGN_OR_RETURN(auto created, d_.api_tokens->Create(p, org_name, in));
          if (d_.token_create_limit) d_.token_create_limit->Charge(org_name);
          CL_ASSIGN_OR_RETURN(auto org, d_.api_tokens->Organization(p, org_name));
          json::object j;
          j["api_token"] = EncodeApiToken(created.record, org);
          j["token"] = created.token;
          return NoStore(JsonOk(201, j));
        }));
    Add(r, "GET", "/v1/organizations/{org}/api-tokens",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          std::string org_name = req.PathParam("org");
          CL_ASSIGN_OR_RETURN(
              auto tokens,
              d_.api_tokens->List(p, org_name, req.QueryParam("status").value_or(""),
                                  req.QueryParam("project"), req.QueryParam("scope").value_or("")));
          CL_ASSIGN_OR_RETURN(auto org, d_.api_tokens->Organization(p, org_name));
          json::array arr;
          for (const auto& t : tokens) arr.push_back(EncodeApiToken(t, org));
          json::object j;
          j["api_tokens"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "POST", "/v1/organizations/{org}/api-tokens/{id}/revoke",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_RETURN_IF_ERROR(body.Finish());
          std::string org_name = req.PathParam("org");
          CL_ASSIGN_OR_RETURN(auto token, d_.api_tokens->Revoke(p, org_name, req.PathParam("id")));
          CL_ASSIGN_OR_RETURN(auto org, d_.api_tokens->Organization(p, org_name));
          json::object j;
          j["api_token"] = EncodeApiToken(token, org);
          return JsonOk(200, j);
        }));

    // Keyless CI: token exchange (RFC 8693 shaped) and trust policies.
    Add(r, "POST", "/v1/auth/federated/exchange", Plain([this](Request& req) -> Result<Response> {
          if (d_.federation == nullptr) {
            return Fail(Error::Unavailable("keyless CI authentication is not configured"));
          }
          std::map<std::string, std::string> fields;
          std::string_view type = req.Header("content-type");
          if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
            fields = ParseFormBody(req.body);
          } else {
            CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
            for (const char* name :
                 {"grant_type", "subject_token", "subject_token_type", "organization"}) {
              CL_ASSIGN_OR_RETURN(auto v, body.OptionalString(name));
              if (v) fields[name] = *v;
            }
            CL_RETURN_IF_ERROR(body.Finish());
          }
          auto field = [&](const char* name) -> Result<std::string> {
            auto it = fields.find(name);
            if (it == fields.end() || it->second.empty()) {
              return Fail(Error::InvalidArgument(std::string("field '") + name + "' is required",
                                                 "invalid_request"));
            }
            return it->second;
          };
          CL_ASSIGN_OR_RETURN(auto grant_type, field("grant_type"));
          if (grant_type != kTokenExchangeGrant) {
            return Fail(
                Error::InvalidArgument("grant_type must be " + std::string(kTokenExchangeGrant),
                                       "unsupported_grant_type"));
          }
          CL_ASSIGN_OR_RETURN(auto token_type, field("subject_token_type"));
          if (token_type != kIdTokenType) {
            return Fail(Error::InvalidArgument(
                "subject_token_type must be " + std::string(kIdTokenType), "invalid_request"));
          }
          CL_ASSIGN_OR_RETURN(auto subject_token, field("subject_token"));
          CL_ASSIGN_OR_RETURN(auto org, field("organization"));
          // The organization's budget is only spent by successful (verified) exchanges, so
          // forged tokens cannot exhaust it; once it is spent, requests wait for the refill.
          if (auto limited = OverRateLimit(d_.exchange_limit, org, "federated_exchange",
                                           "keyless token exchange")) {
            return std::move(*limited);
          }
          auto exchanged = d_.federation->Exchange(org, subject_token);
          if (!exchanged) {
            if (d_.metrics && exchanged.error().IsUnauthenticated()) {
              d_.metrics->IncAuthFailure(exchanged.error().reason());
            }
            if (IsAuthFailure(exchanged.error())) {
              if (auto wait = ReportAuthFailure(req, subject_token)) return Throttled(*wait);
            }
            return Fail(exchanged.error());
          }
          if (d_.exchange_limit) d_.exchange_limit->Charge(org);
          json::object j;
          j["access_token"] = exchanged->token;
          j["issued_token_type"] = kAccessTokenType;
          j["token_type"] = "Bearer";
          j["expires_in"] = exchanged->expires_in_seconds;
          return NoStore(JsonOk(200, j));
        }));
    Add(r, "POST", "/v1/organizations/{org}/federation-policies",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          if (d_.federation == nullptr) {
            return Fail(Error::Unavailable("keyless CI authentication is not configured"));
          }
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          domain::CreateTrustPolicyRequest in;
          CL_ASSIGN_OR_RETURN(in.name, body.RequiredString("name"));
          CL_ASSIGN_OR_RETURN(in.issuer, body.RequiredString("issuer"));
          CL_ASSIGN_OR_RETURN(auto provider, body.OptionalString("provider"));
          in.provider = provider.value_or("");
          CL_ASSIGN_OR_RETURN(in.audience, body.OptionalString("audience"));
          CL_ASSIGN_OR_RETURN(auto claims, body.OptionalValue("bound_claims"));
          CL_ASSIGN_OR_RETURN(in.project, body.OptionalString("project"));
          CL_ASSIGN_OR_RETURN(in.permissions, body.OptionalStringArray("permissions"));
          CL_RETURN_IF_ERROR(body.Finish());
          if (claims && !claims->is_null()) {
            if (!claims->is_object()) {
              return Fail(Error::InvalidArgument(
                  "field 'bound_claims' must be an object of claim name to pattern",
                  "invalid_field_type"));
            }
            for (const auto& kv : claims->as_object()) {
              if (!kv.value().is_string()) {
                return Fail(Error::InvalidArgument(
                    "bound_claims." + std::string(kv.key()).substr(0, 64) + " must be a string",
                    "invalid_field_type"));
              }
              in.bound_claims.emplace_back(std::string(kv.key()),
                                           std::string(kv.value().as_string()));
            }
          }
          CL_ASSIGN_OR_RETURN(auto policy,
                              d_.federation->CreatePolicy(p, req.PathParam("org"), in));
          json::object j;
          j["policy"] = EncodeTrustPolicy(policy);
          return JsonOk(201, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/federation-policies",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          if (d_.federation == nullptr) {
            return Fail(Error::Unavailable("keyless CI authentication is not configured"));
          }
          CL_ASSIGN_OR_RETURN(auto policies, d_.federation->ListPolicies(p, req.PathParam("org")));
          json::array arr;
          for (const auto& x : policies) arr.push_back(EncodeTrustPolicy(x));
          json::object j;
          j["policies"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "DELETE", "/v1/organizations/{org}/federation-policies/{id}",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          if (d_.federation == nullptr) {
            return Fail(Error::Unavailable("keyless CI authentication is not configured"));
          }
          CL_RETURN_IF_ERROR(
              d_.federation->DeletePolicy(p, req.PathParam("org"), req.PathParam("id")));
          return Response::NoContent();
        }));

    if (!d_.web_dir.empty()) r.SetFallback(StaticFilesHandler(d_.web_dir));

    // Projects and workflows.
    Add(r, "POST", "/v1/organizations/{org}/projects",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto name, body.RequiredString("name"));
          CL_RETURN_IF_ERROR(body.Finish());
          CL_ASSIGN_OR_RETURN(auto project, d_.orgs->CreateProject(p, req.PathParam("org"), name));
          json::object j;
          j["project"] = EncodeProject(project);
          return JsonOk(201, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/projects",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto projects, d_.orgs->ListProjects(p, req.PathParam("org")));
          json::array arr;
          for (const auto& x : projects) arr.push_back(EncodeProject(x));
          json::object j;
          j["projects"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/workflows",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          std::string org = req.PathParam("org");
          CL_ASSIGN_OR_RETURN(auto wfs, d_.attestations->ListWorkflows(p, org));
          CL_ASSIGN_OR_RETURN(auto projects, d_.orgs->ListProjects(p, org));
          json::array arr;
          for (const auto& w : wfs) {
            json::object o;
            o["id"] = w.id;
            o["name"] = w.name;
            std::string project_name;
            for (const auto& pr : projects) {
              if (pr.id == w.project_id) project_name = pr.name;
            }
            o["project"] = project_name;
            o["created_at"] = FormatRfc3339(w.created_at);
            arr.push_back(std::move(o));
          }
          json::object j;
          j["workflows"] = std::move(arr);
          return JsonOk(200, j);
        }));

    // Attestations (workflow runs).
    Add(r, "POST", "/v1/organizations/{org}/workflow-runs",
        AttestAuthed("init", [this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto workflow, body.RequiredString("workflow"));
          CL_ASSIGN_OR_RETURN(auto project, body.RequiredString("project"));
          CL_RETURN_IF_ERROR(body.Finish());
          CL_ASSIGN_OR_RETURN(auto run,
                              d_.attestations->Init(p, req.PathParam("org"), workflow, project));
          json::object j;
          j["workflow_run"] = EncodeRun(run, false);
          return JsonOk(201, j);
        }));
    Add(r, "POST", "/v1/organizations/{org}/workflow-runs/{id}/attestation",
        AttestAuthed("push", [this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
          CL_ASSIGN_OR_RETURN(auto statement, body.OptionalValue("statement"));
          CL_RETURN_IF_ERROR(body.Finish());
          if (!statement) {
            return Fail(Error::InvalidArgument("field 'statement' is required", "missing_field"));
          }
          CL_ASSIGN_OR_RETURN(auto run, d_.attestations->Push(p, req.PathParam("org"),
                                                              req.PathParam("id"), *statement));
          json::object j;
          j["workflow_run"] = EncodeRun(run, false);
          return JsonOk(200, j);
        }));
    r.SetMaxBodyBytes("POST", "/v1/organizations/{org}/workflow-runs/{id}/attestation",
                      http::kLargeBody);  // in-toto statements
    Add(r, "GET", "/v1/organizations/{org}/workflow-runs",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          int limit = ParseLimit(req, 50);
          if (limit < 1 || limit > 500) {
            return Fail(Error::InvalidArgument("limit must be an integer from 1 to 500"));
          }
          CL_ASSIGN_OR_RETURN(
              auto runs,
              d_.attestations->ListRuns(p, req.PathParam("org"), req.QueryParam("project"), limit));
          json::array arr;
          for (const auto& x : runs) arr.push_back(EncodeRun(x, false));
          json::object j;
          j["workflow_runs"] = std::move(arr);
          return JsonOk(200, j);
        }));
    Add(r, "GET", "/v1/organizations/{org}/workflow-runs/{id}",
        Authed([this](Request& req, const domain::Principal& p) -> Result<Response> {
          CL_ASSIGN_OR_RETURN(
              auto run, d_.attestations->GetRun(p, req.PathParam("org"), req.PathParam("id")));
          json::object j;
          j["workflow_run"] = EncodeRun(run, true);
          return JsonOk(200, j);
        }));
  }

 private:
  static Response NoStore(Response r) {
    r.SetHeader("Cache-Control", "no-store");
    return r;
  }

  ApiDeps d_;
};

}  // namespace

std::shared_ptr<void> RegisterRoutes(http::Router& router, const ApiDeps& deps) {
  auto api = std::make_shared<Api>(deps);
  api->Register(router);
  return api;
}

}  // namespace cl::api
