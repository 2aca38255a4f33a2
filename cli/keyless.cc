// Keyless CI credentials: JWT shape checks, discovery in GitLab CI / GitHub Actions, and the
// RFC 8693-style exchange for a short-lived control plane token.
#include "cli/keyless.h"

#include <boost/json/object.hpp>

#include "cli/context.h"
#include "common/http_client.h"
#include "common/json.h"
#include "crypto/hash.h"

namespace cl::cli {
namespace {

bool IsHttpsOrLoopbackHttp(const std::string& url) {
  if (url.rfind("https://", 0) == 0) return true;
  return url.rfind("http://", 0) == 0 && IsLoopbackHost(UrlHost(url));
}

Result<CiIdToken> RequestGitHubIdToken(const CliEnvironment& env, const std::string& audience,
                                       long timeout_ms) {
  const std::string& url = env.actions_id_token_request_url;
  if (!IsHttpsOrLoopbackHttp(url)) {
    return Fail(Error::InvalidArgument(
        "$ACTIONS_ID_TOKEN_REQUEST_URL must be an https:// URL; refusing to send the request "
        "token elsewhere"));
  }
  HttpClientRequest req;
  req.url =
      url + (url.find('?') == std::string::npos ? "?" : "&") + "audience=" + UrlEncode(audience);
  req.timeout_ms = timeout_ms;
  req.max_response_bytes = size_t{64} * 1024;
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("User-Agent", "chainloop-cli");
  req.headers.emplace_back("Authorization", "bearer " + env.actions_id_token_request_token);
  req.no_proxy = url.rfind("https://", 0) != 0;  // the request token over plain http (loopback)
  auto resp = HttpFetch(req);
  if (!resp) {
    return Fail(
        Error::Unavailable("cannot get an ID token from GitHub Actions: " + resp.error().message(),
                           Reason::kCiTokenUnavailable));
  }
  if (resp->status != 200) {
    return Fail(Error::Unavailable("GitHub Actions refused the ID token request (HTTP " +
                                       std::to_string(resp->status) +
                                       "): does the workflow grant `permissions: id-token: write`?",
                                   Reason::kCiTokenUnavailable));
  }
  auto parsed = ParseJson(resp->body);
  const boost::json::value* value = nullptr;
  if (parsed && parsed->is_object()) value = parsed->as_object().if_contains("value");
  if (value == nullptr || !value->is_string() || !LooksLikeJwt(value->as_string())) {
    return Fail(Error::Unavailable("GitHub Actions answered the ID token request without a token",
                                   Reason::kCiTokenUnavailable));
  }
  return CiIdToken{std::string(value->as_string()), "GitHub Actions"};
}

// A hint after the server's message, for refusals a CI author can fix.
std::string HintFor(Reason code) {
  if (code == Reason::kNoMatchingTrustPolicy) {
    return "; an organization admin can add one with `chainloop organization federation create`";
  }
  if (code == Reason::kBadAudience) {
    return "; request the ID token with the control plane URL as its audience";
  }
  if (code == Reason::kUntrustedIssuer) {
    return "; the control plane operator must allow this issuer";
  }
  return "";
}

}  // namespace

std::string UnverifiedJwtIssuer(std::string_view jwt) {
  if (!LooksLikeJwt(jwt)) return {};
  size_t first = jwt.find('.');
  size_t second = jwt.find('.', first + 1);
  auto payload = crypto::Base64UrlDecode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return {};
  auto parsed = ParseJson(*payload);
  if (!parsed || !parsed->is_object()) return {};
  const auto* iss = parsed->as_object().if_contains("iss");
  if (iss == nullptr || !iss->is_string()) return {};
  return std::string(iss->as_string());
}

Result<CiIdToken> DiscoverCiIdToken(const CliEnvironment& env, const std::string& audience,
                                    long timeout_ms) {
  auto from_variable = [](const std::string& value, const std::string& name) -> Result<CiIdToken> {
    if (!LooksLikeJwt(value)) {
      return Fail(Error::Unauthenticated(
          name + " is set but does not hold an ID token (a JWT); nothing was sent to the "
                 "control plane",
          Reason::kMalformedToken));
    }
    return CiIdToken{value, name};
  };
  if (!env.chainloop_oidc_token.empty()) {
    return from_variable(env.chainloop_oidc_token, "$CHAINLOOP_OIDC_TOKEN");
  }
  if (!env.gitlab_ci.empty() && !env.ci_job_url.empty() && !env.gitlab_oidc.empty()) {
    return from_variable(env.gitlab_oidc, "$GITLAB_OIDC");
  }
  if (!env.actions_id_token_request_url.empty() && !env.actions_id_token_request_token.empty()) {
    return RequestGitHubIdToken(env, audience, timeout_ms);
  }
  return CiIdToken{};
}

Result<std::string> ExchangeCiIdToken(ApiClient& client, const std::string& jwt,
                                      const std::string& org) {
  boost::json::object body{{"grant_type", kTokenExchangeGrant},
                           {"subject_token", jwt},
                           {"subject_token_type", kIdTokenType},
                           {"organization", org}};
  auto resp = client.Post("/v1/auth/federated/exchange", body);
  if (!resp) {
    const Error& e = resp.error();
    if (e.Is(Reason::kUnreachable) || e.Is(Reason::kBadResponse)) return Fail(e);
    return Fail(e.WithMessage("keyless authentication failed: " + e.message() + " (" + e.reason() +
                              ")" + HintFor(e.reason_code())));
  }
  const boost::json::value* token = nullptr;
  if (resp->is_object()) token = resp->as_object().if_contains("access_token");
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    return Fail(Error::Internal("the control plane answered the token exchange without a token",
                                Reason::kBadResponse));
  }
  return std::string(token->as_string());
}

}  // namespace cl::cli
