// The request middleware of the HTTP API: who is calling (the Authorization header, else the
// browser session cookie, checked against CSRF for writes), authentication into a Principal
// (API tokens, sessions, and CI ID tokens on the attestation routes), the I/O-thread fast path
// that answers from the authentication cache, and the wrappers that turn a handler's Result into
// a response with the security headers. Internal to api/.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "api/abuse_limits.h"
#include "api/api.h"
#include "common/result.h"
#include "domain/authenticator.h"
#include "http/http.h"

namespace cl::api {

// A handler that needs a principal; its error becomes the error envelope.
using PrincipalHandler =
    std::function<Result<http::Response>(http::Request&, const domain::Principal&)>;
// A fast-path handler that needs a principal: nullopt sends the request to the worker pool.
using PrincipalFastHandler =
    std::function<std::optional<http::Response>(http::Request&, const domain::Principal&)>;
// A handler without authentication.
using PlainHandler = std::function<Result<http::Response>(http::Request&)>;

// The credential of a request: the Authorization header, else the browser session cookie.
struct Credential {
  std::string authorization;  // "Bearer ..." or empty
  bool from_cookie = false;
};
Credential CredentialOf(const http::Request& req);

// The token of a "Bearer ..." header, else the header as it is.
std::string_view BearerOf(std::string_view authorization);

// What a presented credential looks like, for the `kind` label of the authentication metrics
// (a closed set): "user" (session), "api_token", "federated", "ci_token" (a JWT), "other" (a
// credential of another kind), "malformed", "none".
std::string_view CredentialKindLabel(std::string_view credential);

// chainloop_auth_successes_total{kind}: the Authenticator's counts by principal kind, copied in
// at scrape time (api/scrape_metrics.cc), and CI tokens counted as they are accepted.
inline constexpr std::string_view kAuthSuccesses = "chainloop_auth_successes_total";
inline constexpr std::string_view kAuthSuccessesHelp =
    "Accepted credentials, by principal kind (ci_token: a CI ID token used directly).";

class Middleware {
 public:
  // `deps` and `limits` must outlive this object and the handlers it makes.
  Middleware(const ApiDeps& deps, const AbuseLimits& limits) : d_(deps), limits_(limits) {}
  Middleware(const Middleware&) = delete;
  Middleware& operator=(const Middleware&) = delete;

  // Wraps a handler that needs a principal.
  http::Handler Authed(PrincipalHandler fn) const;

  // The attestation endpoints also accept a raw CI ID token (a JWT) as the Bearer credential,
  // verified against the trust policies of the organization in the path; `use` is "init" or
  // "push" (see FederationService::AuthenticateCiToken). Everything else goes through Authed.
  http::Handler AttestAuthed(std::string use, PrincipalHandler fn) const;

  // The I/O-thread fast path of an authenticated route: authenticates from the cache only and
  // runs `fn`, which returns nullopt when it needs the database. Anything else (cache miss,
  // stale entry, cookie credential) goes to the worker pool.
  http::FastHandler AuthedFast(PrincipalFastHandler fn) const;

  // A handler without authentication that returns Result<Response>.
  http::Handler Plain(PlainHandler fn) const;

  // The error answer of a failed request; internal and unavailable errors are logged.
  http::Response Finish(const http::Request& req, const Error& e) const;

  // Cookie-authenticated writes must prove they come from our own pages: the X-CSRF-Token
  // header must equal the cl_csrf cookie (a cross-site page can neither read the cookie nor
  // set the header), and an Origin header, when sent, must be ours.
  Status CheckCsrf(const http::Request& req) const;

  // Counts a refused authentication (metrics) and reports it to the throttle when `credential`
  // was presented and refused: the 429 answer when the caller is banned, else nullopt (answer
  // with the error itself).
  std::optional<http::Response> OnAuthFailure(const http::Request& req, const Error& e,
                                              std::string_view credential) const;

 private:
  const ApiDeps& d_;
  const AbuseLimits& limits_;
};

// Registers a route whose every response carries the security headers too (some are rendered
// in browsers).
void Add(http::Router& r, std::string method, std::string pattern, http::Handler h,
         bool blocking = true);
// The same for a route with an I/O-thread fast path (which adds the headers itself).
void AddFast(http::Router& r, std::string method, std::string pattern, http::FastHandler fast,
             http::Handler h);

}  // namespace cl::api
