// UpstreamIdp: authorization code + PKCE, device grant, ID token verification, userinfo.
#include "oidc/upstream.h"

#include <boost/json.hpp>
#include <utility>

#include "common/json.h"
#include "common/log.h"
#include "crypto/hash.h"

namespace cl::oidc {
namespace {

constexpr std::string_view kDeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

std::string Base64Std(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string StringField(const boost::json::object& obj, std::string_view name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

std::optional<int64_t> IntField(const boost::json::object& obj, std::string_view name) {
  auto it = obj.find(name);
  if (it == obj.end()) return std::nullopt;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64() && it->value().as_uint64() < (1ULL << 62)) {
    return static_cast<int64_t>(it->value().as_uint64());
  }
  return std::nullopt;
}

// Some IdPs send email_verified as the string "true".
bool BoolField(const boost::json::object& obj, std::string_view name) {
  auto it = obj.find(name);
  if (it == obj.end()) return false;
  if (it->value().is_bool()) return it->value().as_bool();
  if (it->value().is_string()) return it->value().as_string() == "true";
  return false;
}

// The OAuth error code of an error response, reduced to a safe token (never the description,
// which an IdP may fill with request details).
std::string OAuthErrorCode(const HttpClientResponse& resp) {
  auto v = ParseJson(resp.body);
  if (!v || !v->is_object()) return {};
  std::string code = StringField(v->as_object(), "error");
  if (code.size() > 64) return {};
  for (char c : code) {
    if (!(c >= 'a' && c <= 'z') && c != '_') return {};
  }
  return code;
}

Error IdpUnavailable(std::string message) {
  return Error::Unavailable(std::move(message), Reason::kIdpUnavailable);
}

// Maps a non-200 token endpoint answer that is not a device-flow state.
Error TokenEndpointError(const HttpClientResponse& resp, std::string_view code) {
  if (resp.status >= 500 || resp.status == 429) {
    return IdpUnavailable("identity provider token endpoint returned HTTP " +
                          std::to_string(resp.status));
  }
  // RFC 6749 and RFC 8628 codes that are also ours have the same wire string.
  const std::optional<Reason> oauth = ParseReason(code);
  if (oauth == Reason::kInvalidGrant) {
    return Error::InvalidArgument(
        "the identity provider rejected the authorization grant (expired, reused or mismatched)",
        Reason::kInvalidGrant);
  }
  if (code == "invalid_client" || code == "unauthorized_client" || resp.status == 401) {
    // Our client registration is wrong: an operator problem, not the user's.
    return Error::Internal("the identity provider rejected this control plane's client credentials",
                           Reason::kIdpClientRejected);
  }
  return Error::InvalidArgument("the identity provider token endpoint answered HTTP " +
                                    std::to_string(resp.status) +
                                    (code.empty() ? "" : " (" + std::string(code) + ")"),
                                Reason::kIdpTokenError);
}

}  // namespace

UpstreamIdp::UpstreamIdp(UpstreamConfig config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

Status UpstreamIdp::Init() {
  CL_RETURN_IF_ERROR(Discover());
  return Ok();
}

Result<std::shared_ptr<const UpstreamIdp::Discovered>> UpstreamIdp::Discover() {
  std::lock_guard<std::mutex> lock(mu_);
  if (discovered_) return discovered_;
  const UnixMillis now = clock_.Now();
  if (last_error_ && now - last_failure_ < config_.discovery_retry_ms) return Fail(*last_error_);

  auto md = FetchDiscovery(config_.issuer, config_.fetch);
  if (!md) {
    last_error_ = md.error();
    last_failure_ = now;
    Log(LogLevel::kWarn, "oidc discovery failed",
        {{"issuer", config_.issuer},
         {"reason", md.error().reason()},
         {"error", md.error().message()}});
    return Fail(md.error());
  }
  last_error_.reset();
  FetchOptions fetch = config_.fetch;
  auto jwks = std::make_shared<JwksCache>(
      md->jwks_uri, [fetch](const std::string& url) { return FetchDocument(url, fetch, "JWKS"); },
      clock_, config_.jwks_unknown_kid_cooldown);
  discovered_ = std::make_shared<const Discovered>(Discovered{std::move(*md), std::move(jwks)});
  Log(LogLevel::kInfo, "oidc discovery done", {{"issuer", config_.issuer}});
  return discovered_;
}

Result<std::string> UpstreamIdp::AuthorizationUrl(const std::string& state,
                                                  const std::string& nonce,
                                                  const std::string& code_challenge) {
  CL_ASSIGN_OR_RETURN(auto d, Discover());
  const std::string& endpoint = d->metadata.authorization_endpoint;
  std::string query = FormEncode({
      {"response_type", "code"},
      {"client_id", config_.client_id},
      {"redirect_uri", config_.redirect_uri},
      {"scope", config_.scopes},
      {"state", state},
      {"nonce", nonce},
      {"code_challenge", code_challenge},
      {"code_challenge_method", "S256"},
  });
  return endpoint + (endpoint.find('?') == std::string::npos ? "?" : "&") + query;
}

Result<HttpClientResponse> UpstreamIdp::PostForm(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& form) {
  HttpClientRequest req;
  req.method = "POST";
  req.url = url;
  // client_secret_basic (RFC 6749 2.3.1): both parts form-encoded before base64.
  req.headers = {
      {"Authorization",
       "Basic " + Base64Std(UrlEncode(config_.client_id) + ":" + UrlEncode(config_.client_secret))},
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Accept", "application/json"},
  };
  req.body = FormEncode(form);
  req.timeout_ms = config_.fetch.timeout_ms;
  req.max_response_bytes = config_.fetch.max_response_bytes;
  req.ca_file = config_.fetch.ca_file;
  auto resp = config_.fetch.fetch ? config_.fetch.fetch(req) : HttpFetch(req);
  if (!resp) {
    return Fail(IdpUnavailable("identity provider unreachable: " + resp.error().message()));
  }
  return resp;
}

Result<crypto::Jwt> UpstreamIdp::VerifyIdToken(const Discovered& d, const std::string& id_token) {
  crypto::JwtCheck check;
  check.issuer = config_.issuer;
  check.audiences = {config_.client_id};
  check.now = clock_.Now();
  check.leeway_seconds = 60;
  check.max_age_seconds = config_.id_token_max_age / kMillisPerSecond;
  CL_ASSIGN_OR_RETURN(auto keys, d.jwks->Get());
  auto jwt = crypto::VerifyJwt(id_token, *keys, check);
  if (!jwt && jwt.error().Is(Reason::kJwtUnknownKid)) {
    // The IdP may have rotated its keys since we last fetched them.
    CL_ASSIGN_OR_RETURN(keys, d.jwks->RefreshForUnknownKid());
    jwt = crypto::VerifyJwt(id_token, *keys, check);
  }
  if (!jwt) return Fail(jwt.error());
  // OIDC Core 3.1.3.7 item 3: a token listing audiences we do not trust must be rejected, and
  // we trust none but ourselves: a token also meant for another client could have been
  // replayed to us by that client (or issued to it in the first place).
  for (const std::string& aud : jwt->aud) {
    if (aud != config_.client_id) {
      return Fail(
          Error::Unauthenticated("ID token is also meant for another audience",
                                 crypto::JoseErrorReason(crypto::JoseError::kJwtBadAudience)));
    }
  }
  // Items 4-5: azp, when present, names the party the token was issued to: it must be us.
  if (auto it = jwt->claims.find("azp");
      it != jwt->claims.end() &&
      (!it->value().is_string() || it->value().get_string() != config_.client_id)) {
    return Fail(
        Error::Unauthenticated("ID token azp is not this client",
                               crypto::JoseErrorReason(crypto::JoseError::kJwtBadAudience)));
  }
  if (jwt->sub.empty()) {
    return Fail(Error::Unauthenticated(
        "ID token has no subject", crypto::JoseErrorReason(crypto::JoseError::kJwtMissingClaim)));
  }
  return jwt;
}

Status UpstreamIdp::FillFromUserinfo(const Discovered& d, const std::string& access_token,
                                     IdTokenClaims& claims) {
  HttpClientRequest req;
  req.method = "GET";
  req.url = d.metadata.userinfo_endpoint;
  req.headers = {{"Authorization", "Bearer " + access_token}, {"Accept", "application/json"}};
  req.timeout_ms = config_.fetch.timeout_ms;
  req.max_response_bytes = config_.fetch.max_response_bytes;
  req.ca_file = config_.fetch.ca_file;
  auto resp = config_.fetch.fetch ? config_.fetch.fetch(req) : HttpFetch(req);
  if (!resp) return Fail(IdpUnavailable("identity provider userinfo unreachable"));
  if (resp->status != 200) {
    return Fail(
        IdpUnavailable("identity provider userinfo returned HTTP " + std::to_string(resp->status)));
  }
  auto v = ParseJson(resp->body);
  if (!v || !v->is_object()) {
    return Fail(IdpUnavailable("identity provider userinfo is not a JSON object"));
  }
  const auto& obj = v->as_object();
  // OIDC Core 5.3.2: the userinfo sub must be the ID token's, or the answer is not about them.
  if (StringField(obj, "sub") != claims.subject) {
    return Fail(Error::Unauthenticated("userinfo subject does not match the ID token",
                                       Reason::kUserinfoSubMismatch));
  }
  claims.email = StringField(obj, "email");
  claims.email_verified = BoolField(obj, "email_verified");
  if (claims.name.empty()) claims.name = StringField(obj, "name");
  return Ok();
}

Result<IdTokenClaims> UpstreamIdp::ClaimsFromTokenResponse(const Discovered& d,
                                                           const HttpClientResponse& resp,
                                                           const std::string* expected_nonce) {
  auto v = ParseJson(resp.body);
  if (!v || !v->is_object()) {
    return Fail(IdpUnavailable("identity provider token response is not a JSON object"));
  }
  const auto& obj = v->as_object();
  std::string id_token = StringField(obj, "id_token");
  if (id_token.empty()) {
    return Fail(Error::Unauthenticated("token response has no id_token (is the openid scope set?)",
                                       Reason::kMissingIdToken));
  }
  CL_ASSIGN_OR_RETURN(crypto::Jwt jwt, VerifyIdToken(d, id_token));
  if (expected_nonce) {
    std::string nonce = jwt.StringClaim("nonce");
    if (expected_nonce->empty() || !crypto::ConstantTimeEquals(nonce, *expected_nonce)) {
      return Fail(Error::Unauthenticated("ID token nonce does not match the login request",
                                         Reason::kBadNonce));
    }
  }
  IdTokenClaims claims;
  claims.issuer = jwt.iss;
  claims.subject = jwt.sub;
  claims.email = StringField(jwt.claims, "email");
  claims.email_verified = BoolField(jwt.claims, "email_verified");
  claims.name = StringField(jwt.claims, "name");
  std::string access_token = StringField(obj, "access_token");
  if (claims.email.empty() && !d.metadata.userinfo_endpoint.empty() && !access_token.empty()) {
    CL_RETURN_IF_ERROR(FillFromUserinfo(d, access_token, claims));
  }
  return claims;
}

Result<IdTokenClaims> UpstreamIdp::ExchangeCode(const std::string& code,
                                                const std::string& code_verifier,
                                                const std::string& expected_nonce) {
  CL_ASSIGN_OR_RETURN(auto d, Discover());
  CL_ASSIGN_OR_RETURN(auto resp,
                      PostForm(d->metadata.token_endpoint, {{"grant_type", "authorization_code"},
                                                            {"code", code},
                                                            {"redirect_uri", config_.redirect_uri},
                                                            {"code_verifier", code_verifier}}));
  if (resp.status != 200) return Fail(TokenEndpointError(resp, OAuthErrorCode(resp)));
  return ClaimsFromTokenResponse(*d, resp, &expected_nonce);
}

Result<DeviceAuthorization> UpstreamIdp::StartDeviceAuthorization() {
  CL_ASSIGN_OR_RETURN(auto d, Discover());
  if (d->metadata.device_authorization_endpoint.empty()) {
    return Fail(Error::FailedPrecondition("the identity provider does not support the device flow",
                                          Reason::kDeviceFlowUnsupported));
  }
  CL_ASSIGN_OR_RETURN(
      auto resp, PostForm(d->metadata.device_authorization_endpoint, {{"scope", config_.scopes}}));
  if (resp.status != 200) return Fail(TokenEndpointError(resp, OAuthErrorCode(resp)));
  auto v = ParseJson(resp.body);
  if (!v || !v->is_object()) {
    return Fail(IdpUnavailable("device authorization response is not a JSON object"));
  }
  const auto& obj = v->as_object();
  DeviceAuthorization out;
  out.device_code = StringField(obj, "device_code");
  out.user_code = StringField(obj, "user_code");
  out.verification_uri = StringField(obj, "verification_uri");
  out.verification_uri_complete = StringField(obj, "verification_uri_complete");
  out.expires_in = IntField(obj, "expires_in").value_or(0);
  out.interval = IntField(obj, "interval").value_or(5);
  if (out.device_code.empty() || out.user_code.empty() || out.verification_uri.empty() ||
      out.expires_in <= 0) {
    return Fail(IdpUnavailable("device authorization response lacks required fields"));
  }
  if (out.interval < 1) out.interval = 1;
  return out;
}

Result<DevicePoll> UpstreamIdp::PollDeviceToken(const std::string& device_code) {
  CL_ASSIGN_OR_RETURN(auto d, Discover());
  CL_ASSIGN_OR_RETURN(
      auto resp, PostForm(d->metadata.token_endpoint, {{"grant_type", std::string(kDeviceGrant)},
                                                       {"device_code", device_code}}));
  DevicePoll poll;
  if (resp.status == 200) {
    CL_ASSIGN_OR_RETURN(auto claims, ClaimsFromTokenResponse(*d, resp, nullptr));
    poll.state = DevicePoll::State::kSuccess;
    poll.claims = std::move(claims);
    return poll;
  }
  std::string code = OAuthErrorCode(resp);
  if (resp.status == 400 || resp.status == 401) {
    const std::optional<Reason> oauth = ParseReason(code);
    if (oauth == Reason::kAuthorizationPending) {
      poll.state = DevicePoll::State::kPending;
      return poll;
    }
    if (oauth == Reason::kSlowDown) {
      poll.state = DevicePoll::State::kSlowDown;
      return poll;
    }
    if (oauth == Reason::kExpiredToken) {
      poll.state = DevicePoll::State::kExpired;
      return poll;
    }
    if (oauth == Reason::kAccessDenied) {
      poll.state = DevicePoll::State::kDenied;
      return poll;
    }
  }
  return Fail(TokenEndpointError(resp, code));
}

}  // namespace cl::oidc
