// Keyless CI credentials: JWT shape checks, discovery in GitLab CI / GitHub Actions, and the
// RFC 8693-style exchange for a short-lived control plane token.
#include "cli/keyless.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <cstring>

#include "cli/context.h"
#include "common/http_client.h"
#include "common/json.h"
#include "crypto/credential.h"
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
  const bool in_gitlab = !env.gitlab_ci.empty() && !env.ci_job_url.empty();
  if (in_gitlab && !env.gitlab_oidc.empty()) {
    return from_variable(env.gitlab_oidc, "$GITLAB_OIDC");
  }
  std::string ignored;
  if (!env.gitlab_oidc.empty()) {
    // Only a GitLab job's own variable is trusted to be meant for us; say why it was passed over
    // rather than fail later with a puzzling "not logged in".
    std::string missing = env.gitlab_ci.empty() && env.ci_job_url.empty()
                              ? "$GITLAB_CI and $CI_JOB_URL are"
                          : env.gitlab_ci.empty() ? "$GITLAB_CI is"
                                                  : "$CI_JOB_URL is";
    ignored = "note: ignoring $GITLAB_OIDC: it is read only inside a GitLab CI job, and " +
              missing + " not set; outside GitLab CI pass the ID token as $CHAINLOOP_OIDC_TOKEN";
  }
  CiIdToken found;
  if (!env.actions_id_token_request_url.empty() && !env.actions_id_token_request_token.empty()) {
    CL_ASSIGN_OR_RETURN(found, RequestGitHubIdToken(env, audience, timeout_ms));
  }
  found.ignored = std::move(ignored);
  return found;
}

Result<ExchangedCiToken> ExchangeCiIdToken(ApiClient& client, const std::string& jwt,
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
  ExchangedCiToken out;
  out.access_token = std::string(token->as_string());
  const auto* expires_in = resp->as_object().if_contains("expires_in");
  if (expires_in != nullptr && expires_in->is_int64() && expires_in->as_int64() > 0) {
    out.expires_in_seconds = expires_in->as_int64();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ExchangedTokenCache

namespace {

// Largest cache file read: a token and a timestamp take well under 200 bytes.
constexpr size_t kMaxCacheFileBytes = 4096;

std::string LastOsError() { return std::strerror(errno); }

}  // namespace

ExchangedTokenCache::ExchangedTokenCache(const std::string& base_dir, uid_t owner) : owner_(owner) {
  if (!base_dir.empty()) dir_ = base_dir + "/chainloop-keyless-" + std::to_string(owner);
}

ExchangedTokenCache ExchangedTokenCache::ForEnvironment(const CliEnvironment& env) {
  return ExchangedTokenCache(!env.runner_temp.empty() ? env.runner_temp : env.tmpdir, geteuid());
}

std::string ExchangedTokenCache::PathFor(const std::string& control_plane_key,
                                         const std::string& org, const std::string& jwt) const {
  std::string key = control_plane_key + '\0' + org + '\0' + jwt;
  return dir_ + "/" + crypto::HexEncode(crypto::Sha256(key)) + ".json";
}

Status ExchangedTokenCache::Usable() const {
  if (dir_.empty()) return Fail(Error::FailedPrecondition("no cache directory"));
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(Error::FailedPrecondition("cannot create " + dir_ + ": " + LastOsError()));
  }
  struct stat st {};
  if (lstat(dir_.c_str(), &st) != 0) {
    return Fail(Error::FailedPrecondition("cannot read " + dir_ + ": " + LastOsError()));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != owner_ || (st.st_mode & 077) != 0) {
    return Fail(Error::FailedPrecondition(
        dir_ + " is not a directory of this user closed to group and others"));
  }
  return Ok();
}

std::optional<std::string> ExchangedTokenCache::Load(const std::string& control_plane_key,
                                                     const std::string& org, const std::string& jwt,
                                                     UnixMillis now, std::string* why) const {
  auto ignore = [&](std::string reason) -> std::optional<std::string> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  if (dir_.empty()) return ignore("no cache directory");
  if (auto usable = Usable(); !usable) return ignore(usable.error().message());
  const std::string path = PathFor(control_plane_key, org, jwt);
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ignore(errno == ENOENT ? "no cached token" : path + ": " + LastOsError());
  struct stat st {};
  std::string text;
  bool trusted =
      fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == owner_ && (st.st_mode & 077) == 0;
  if (trusted) {
    text.resize(kMaxCacheFileBytes + 1);
    ssize_t n = read(fd, text.data(), text.size());
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  close(fd);
  if (!trusted) return ignore(path + " belongs to another user or is open to others");
  if (text.size() > kMaxCacheFileBytes) return ignore(path + " is too large");
  auto parsed = ParseJson(text);
  const boost::json::object* o = parsed && parsed->is_object() ? &parsed->as_object() : nullptr;
  const auto* token = o ? o->if_contains("access_token") : nullptr;
  const auto* expires_at = o ? o->if_contains("expires_at") : nullptr;
  if (token == nullptr || !token->is_string() || expires_at == nullptr || !expires_at->is_int64()) {
    return ignore(path + " is not a cached token");
  }
  auto kind = crypto::ParseCredential(token->as_string());
  if (!kind || *kind != crypto::CredentialKind::kFederated) {
    return ignore(path + " does not hold an exchanged token");
  }
  if (expires_at->as_int64() - kExpiryMargin <= now) return ignore("the cached token expired");
  return std::string(token->as_string());
}

Status ExchangedTokenCache::Store(const std::string& control_plane_key, const std::string& org,
                                  const std::string& jwt, const std::string& token,
                                  UnixMillis expires_at) const {
  CL_RETURN_IF_ERROR(Usable());
  const std::string path = PathFor(control_plane_key, org, jwt);
  std::string tmp = path + ".XXXXXX";
  int fd = mkstemps(tmp.data(), 0);  // 0600
  if (fd < 0) return Fail(Error::Internal("cannot write in " + dir_ + ": " + LastOsError()));
  const std::string text =
      SerializeJson(boost::json::object{{"access_token", token}, {"expires_at", expires_at}});
  bool ok = fchmod(fd, 0600) == 0 &&
            write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = LastOsError();
    unlink(tmp.c_str());
    return Fail(Error::Internal("cannot write " + path + ": " + err));
  }
  return Ok();
}

}  // namespace cl::cli
