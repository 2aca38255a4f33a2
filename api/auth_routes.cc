// Authentication routes: the browser legs of the CLI login (/auth/login, /auth/callback), the
// browser UI login into an HttpOnly session cookie (/auth/web/*), the login API (code
// exchange, device flow), whoami and logout.
#include <boost/json/object.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "api/encoders.h"
#include "api/errors.h"
#include "api/routes.h"
#include "api/web.h"
#include "common/json.h"
#include "common/log.h"
#include "common/oauth_errors.h"
#include "common/redact.h"
#include "crypto/hash.h"

namespace cl::api {
namespace {

namespace json = boost::json;
using http::Request;
using http::Response;

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
  if (known == nullptr) {
    return BrowserError(
        Error::InvalidArgument(std::string(kGenericOAuthErrorMessage), Reason::kIdpError));
  }
  // A known OAuth code is shown as the IdP sent it (login_required, consent_required, ...).
  return BrowserError(
      Error::FromWire(Error::Code::kInvalidArgument, std::string(known->message), known->code));
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

// The 429 of a banned address or credential on a browser leg: a text page, not JSON.
Response BrowserThrottled(UnixMillis wait) {
  Response r = BrowserError(TooManyFailedAttempts());
  r.SetHeader("Retry-After", RetryAfterSeconds(wait));
  return r;
}

// Organization and project names by id, for whoami's I/O-thread answer. Neither can be renamed
// or deleted, so a remembered name never goes stale (ids are random UUIDs: a name copied for
// one instance of this class is right for any other); the maps are bounded by starting over
// when full. Thread-safe.
class ScopeNameCache {
 public:
  void Remember(const std::string& id, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (names_.size() >= kMaxEntries) names_.clear();
    names_.emplace(id, name);
  }

  // The names of `p`'s organization and project, or nullopt when one is not remembered yet.
  // Each thread keeps its own copy of the names it has asked for, so the I/O threads do not
  // take the shared lock on every request; a name never changes, so a copy never goes stale.
  std::optional<WhoamiScope> ScopeOf(const domain::Principal& p) const {
    thread_local std::unordered_map<std::string, std::string> mine;
    WhoamiScope scope;
    for (auto [id, out] :
         {std::pair{&p.org_id, &scope.organization}, std::pair{&p.project_id, &scope.project}}) {
      if (!*id) continue;
      auto it = mine.find(**id);
      if (it == mine.end()) {
        std::string name;
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto shared = names_.find(**id);
          if (shared == names_.end()) return std::nullopt;
          name = shared->second;
        }
        if (mine.size() >= kMaxEntries) mine.clear();
        it = mine.emplace(**id, std::move(name)).first;
      }
      *out = ScopeName{it->first, it->second};
    }
    return scope;
  }

 private:
  static constexpr size_t kMaxEntries = 100'000;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> names_;  // guarded by mu_
};

}  // namespace

void RegisterAuthRoutes(http::Router& r, const RouteContext& ctx) {
  // Browser legs of the login.
  AddFast(r, "GET", "/auth/login", ctx.limits.LoginStartLimit("/auth/login"), [&ctx](Request& req) {
    auto url = ctx.deps.login->StartBrowserLogin(
        req.QueryParam("redirect_uri").value_or(""), req.QueryParam("state").value_or(""),
        req.QueryParam("code_challenge").value_or(""),
        req.QueryParam("code_challenge_method").value_or(""));
    if (!url) {
      LogLoginFailure(req, "login", url.error());
      return BrowserError(ctx.limits.CountedLoginError("/auth/login", url.error()));
    }
    Response resp = Response::Redirect(*url);
    resp.SetHeader("Cache-Control", "no-store");
    return resp;
  });
  Add(r, "GET", "/auth/callback", [&ctx](Request& req) {
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
        auto url = ctx.deps.login->AbortCallback(*err, state);
        if (url) {
          Response resp = Response::Redirect(*url);
          resp.SetHeader("Cache-Control", "no-store");
          return resp;
        }
        LogLoginFailure(req, "callback_error", url.error());
        if (AbuseLimits::IsLoginFailure(url.error())) {
          if (auto wait = ctx.limits.ReportAuthFailure(req, state)) return BrowserThrottled(*wait);
        }
        if (!url.error().Is(Reason::kInvalidState)) return BrowserError(url.error());
      }
      return BrowserIdpError(*err);
    }
    auto url = ctx.deps.login->CompleteCallback(
        req.QueryParam("code").value_or(""), req.QueryParam("state").value_or(""), req.remote_addr);
    if (!url) {
      LogLoginFailure(req, "callback", url.error());
      // The login attempt is named by its state: that is the credential presented here.
      if (AbuseLimits::IsLoginFailure(url.error())) {
        if (auto wait = ctx.limits.ReportAuthFailure(req, req.QueryParam("state").value_or(""))) {
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
  AddFast(r, "GET", "/auth/web/login", ctx.limits.LoginStartLimit("/auth/web/login"),
          [&ctx](Request& req) {
            std::string state = ctx.RandomToken(24);
            std::string verifier = ctx.RandomToken(32);
            auto url = ctx.deps.login->StartBrowserLogin(
                ctx.deps.external_url + "/auth/web/callback", state,
                crypto::PkceS256Challenge(verifier), "S256");
            if (!url) {
              LogLoginFailure(req, "web_login", url.error());
              return BrowserError(ctx.limits.CountedLoginError("/auth/web/login", url.error()));
            }
            Response resp = Response::Redirect(*url);
            resp.SetHeader("Cache-Control", "no-store");
            resp.headers.emplace_back(
                "Set-Cookie", SetCookieHeader(kWebLoginCookie, state + "." + verifier, "/auth/web",
                                              600, true, ctx.Secure()));
            return resp;
          });
  Add(r, "GET", "/auth/web/callback", [&ctx](Request& req) {
    auto cookie = CookieValue(req, kWebLoginCookie);
    auto state = req.QueryParam("state");
    size_t dot = cookie ? cookie->find('.') : std::string::npos;
    if (!cookie || dot == std::string::npos || !state ||
        !crypto::ConstantTimeEquals(cookie->substr(0, dot), *state)) {
      Error e = Error::InvalidArgument(
          "this login was not started in this browser (state mismatch); start again",
          Reason::kInvalidState);
      LogLoginFailure(req, "web_callback", e);
      if (state && !state->empty()) {
        if (auto wait = ctx.limits.ReportAuthFailure(req, *state)) return BrowserThrottled(*wait);
      }
      return BrowserError(e);
    }
    if (auto err = req.QueryParam("error")) {
      // /auth/callback ended this login after an IdP error: a fixed text, never the parameter.
      Response resp = BrowserIdpError(*err);
      resp.headers.emplace_back(
          "Set-Cookie", SetCookieHeader(kWebLoginCookie, "", "/auth/web", 0, true, ctx.Secure()));
      return resp;
    }
    std::string code = req.QueryParam("code").value_or("");
    auto session = ctx.deps.login->ExchangeCode(code, cookie->substr(dot + 1));
    if (!session) {
      LogLoginFailure(req, "web_callback", session.error());
      if (AbuseLimits::IsLoginFailure(session.error())) {
        if (auto wait = ctx.limits.ReportAuthFailure(req, code)) return BrowserThrottled(*wait);
      }
      return BrowserError(session.error());
    }
    Response resp = Response::Redirect("/");
    resp.SetHeader("Cache-Control", "no-store");
    long max_age = static_cast<long>(ctx.deps.session_lifetime / kMillisPerSecond);
    resp.headers.emplace_back("Set-Cookie", SetCookieHeader(kSessionCookie, session->token, "/",
                                                            max_age, true, ctx.Secure()));
    resp.headers.emplace_back("Set-Cookie", SetCookieHeader(kCsrfCookie, ctx.RandomToken(24), "/",
                                                            max_age, false, ctx.Secure()));
    resp.headers.emplace_back(
        "Set-Cookie", SetCookieHeader(kWebLoginCookie, "", "/auth/web", 0, true, ctx.Secure()));
    return resp;
  });

  // Login API.
  Add(r, "POST", "/v1/auth/token", ctx.mw.Plain([&ctx](Request& req) -> Result<Response> {
    CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
    CL_ASSIGN_OR_RETURN(auto code, body.RequiredString("code"));
    CL_ASSIGN_OR_RETURN(auto verifier, body.RequiredString("code_verifier"));
    CL_RETURN_IF_ERROR(body.Finish());
    auto session = ctx.deps.login->ExchangeCode(code, verifier);
    if (!session) {
      LogLoginFailure(req, "token", session.error());
      if (AbuseLimits::IsLoginFailure(session.error())) {
        if (auto wait = ctx.limits.ReportAuthFailure(req, code))
          return AbuseLimits::Throttled(*wait);
      }
      return Fail(session.error());
    }
    return NoStore(JsonOk(200, EncodeSession(*session)));
  }));
  AddFast(r, "POST", "/v1/auth/device", ctx.limits.LoginStartLimit("/v1/auth/device"),
          ctx.mw.Plain([&ctx](Request& req) -> Result<Response> {
            CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
            CL_RETURN_IF_ERROR(body.Finish());
            auto started = ctx.deps.login->StartDevice();
            if (!started) {
              LogLoginFailure(req, "device", started.error());
              return Fail(ctx.limits.CountedLoginError("/v1/auth/device", started.error()));
            }
            return NoStore(JsonOk(200, EncodeDeviceLoginStart(*started)));
          }));
  Add(r, "POST", "/v1/auth/device/token", ctx.mw.Plain([&ctx](Request& req) -> Result<Response> {
    CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
    CL_ASSIGN_OR_RETURN(auto handle, body.RequiredString("device_handle"));
    CL_RETURN_IF_ERROR(body.Finish());
    auto session = ctx.deps.login->PollDevice(handle, req.remote_addr);
    if (!session) {
      // Waiting for the person is not a failure.
      if (!session.error().Is(Reason::kAuthorizationPending) &&
          !session.error().Is(Reason::kSlowDown)) {
        LogLoginFailure(req, "device_token", session.error());
      }
      if (AbuseLimits::IsLoginFailure(session.error())) {
        if (auto wait = ctx.limits.ReportAuthFailure(req, handle))
          return AbuseLimits::Throttled(*wait);
      }
      return Fail(session.error());
    }
    return NoStore(JsonOk(200, EncodeSession(*session)));
  }));
  // Credentials found in the cache are answered on the I/O thread, without building a JSON tree
  // (SerializeWhoami); the first answer for a credential comes from a worker. A person's answer
  // carries the name and email read with the session; a token's names its organization and
  // project: the worker reads them from the store and remembers them for the I/O thread.
  auto names = std::make_shared<ScopeNameCache>();
  auto whoami_fast = [names](Request&, const domain::Principal& p) -> std::optional<Response> {
    // People: answered here when the session's cache entry carries their name and email.
    if (p.kind == domain::Principal::Kind::kUser && p.session_id.empty()) return std::nullopt;
    auto scope = names->ScopeOf(p);
    if (!scope) return std::nullopt;
    return Response::Json(200, SerializeWhoami(p, *scope));
  };
  AddFast(r, "GET", "/v1/auth/whoami", ctx.mw.AuthedFast(whoami_fast),
          ctx.mw.Authed([&ctx, names](Request&, const domain::Principal& p) -> Result<Response> {
            json::object principal = EncodePrincipal(p);
            if (p.kind == domain::Principal::Kind::kUser) {
              CL_ASSIGN_OR_RETURN(auto user, ctx.deps.db->GetUser(p.id));
              principal["email"] = user.email;
              principal["name"] = user.name;
            }
            WhoamiScope scope;
            if (p.org_id) {
              CL_ASSIGN_OR_RETURN(auto org, ctx.deps.db->GetOrganization(*p.org_id));
              scope.organization = ScopeName{org.id, org.name};
              names->Remember(org.id, org.name);
            }
            if (p.project_id) {
              CL_ASSIGN_OR_RETURN(auto project, ctx.deps.db->GetProject(*p.project_id));
              scope.project = ScopeName{project.id, project.name};
              names->Remember(project.id, project.name);
            }
            json::object j = EncodeWhoami(p, scope);
            j["principal"] = std::move(principal);
            return JsonOk(200, j);
          }));
  Add(r, "POST", "/v1/auth/logout",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        Credential cred = CredentialOf(req);
        CL_RETURN_IF_ERROR(ctx.deps.login->Logout(p, cred.authorization));
        Response resp = Response::NoContent();
        if (cred.from_cookie) {
          resp.headers.emplace_back(
              "Set-Cookie", SetCookieHeader(kSessionCookie, "", "/", 0, true, ctx.Secure()));
          resp.headers.emplace_back("Set-Cookie",
                                    SetCookieHeader(kCsrfCookie, "", "/", 0, false, ctx.Secure()));
        }
        return resp;
      }));
}

}  // namespace cl::api
