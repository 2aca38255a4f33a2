// CliContext: precedence rules for the control plane URL, credentials and organization.
#include "cli/context.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>

#include "cli/keyless.h"
#include "cli/output.h"
#include "common/json.h"
#include "crypto/credential.h"
#include "crypto/hash.h"

namespace cl::cli {
namespace {

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// The unverified "sub" claim of a JWT (empty when absent); only used to tell identities apart.
std::string UnverifiedJwtSubject(std::string_view jwt) {
  size_t first = jwt.find('.');
  size_t second = jwt.find('.', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return {};
  auto payload = crypto::Base64UrlDecode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return {};
  auto parsed = ParseJson(*payload);
  if (!parsed || !parsed->is_object()) return {};
  const auto* sub = parsed->as_object().if_contains("sub");
  return sub != nullptr && sub->is_string() ? std::string(sub->as_string()) : std::string();
}

std::string IdentityKey(const ResolvedCredential& cred) {
  if (cred.source == CredentialSource::kSession && !cred.is_ci_id_token) return "session";
  if (cred.is_ci_id_token) {
    // GitHub Actions mints a new ID token per request, so init and push of one job hold
    // different tokens with the same issuer and subject.
    std::string iss = UnverifiedJwtIssuer(cred.token);
    std::string sub = UnverifiedJwtSubject(cred.token);
    if (!iss.empty() && !sub.empty()) return "ci:" + iss + '\0' + sub;
  }
  return "token:" + crypto::HexEncode(crypto::Sha256(cred.token));
}

}  // namespace

CliEnvironment CliEnvironment::FromProcess() {
  CliEnvironment env;
  env.chainloop_token = GetEnv("CHAINLOOP_TOKEN");
  env.control_plane_api = GetEnv("CHAINLOOP_CONTROL_PLANE_API");
  env.xdg_config_home = GetEnv("XDG_CONFIG_HOME");
  env.home = GetEnv("HOME");
  env.login_timeout_seconds = GetEnv("CHAINLOOP_LOGIN_TIMEOUT_SECONDS");
  env.chainloop_oidc_token = GetEnv("CHAINLOOP_OIDC_TOKEN");
  env.gitlab_ci = GetEnv("GITLAB_CI");
  env.ci_job_url = GetEnv("CI_JOB_URL");
  env.gitlab_oidc = GetEnv("GITLAB_OIDC");
  env.actions_id_token_request_url = GetEnv("ACTIONS_ID_TOKEN_REQUEST_URL");
  env.actions_id_token_request_token = GetEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
  env.stdin_is_terminal = isatty(STDIN_FILENO) == 1;
  env.runner_temp = GetEnv("RUNNER_TEMP");
  env.tmpdir = GetEnv("TMPDIR");
  if (env.tmpdir.empty()) env.tmpdir = "/tmp";
  return env;
}

CliContext::CliContext(GlobalOptions options, CliEnvironment env, std::ostream& out,
                       std::ostream& err)
    : options_(std::move(options)),
      env_(std::move(env)),
      out_(out),
      err_(err),
      random_(std::make_unique<SystemRandom>()),
      clock_(std::make_unique<SystemClock>()),
      in_(&std::cin) {}

Status CliContext::Confirm(const std::string& question) {
  if (options_.yes || !env_.stdin_is_terminal) return Ok();
  err_ << question << " [y/N]: " << std::flush;
  std::string answer;
  if (!std::getline(*in_, answer)) answer.clear();
  std::transform(answer.begin(), answer.end(), answer.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (answer == "y" || answer == "yes") return Ok();
  return Fail(
      Error::FailedPrecondition("aborted: nothing was changed (pass -y to skip this question)"));
}

Status CliContext::Init() {
  if (options_.output == "token" && !token_output_allowed_) {
    return Fail(Error::InvalidArgument(
        "--output token is only supported by `chainloop organization api-token create` and "
        "`rotate`; use table or json here"));
  }
  if (options_.output != "table" && options_.output != "json" && options_.output != "token") {
    return Fail(Error::InvalidArgument("--output must be 'table', 'json' or 'token', not '" +
                                       options_.output + "'"));
  }
  config_path_ = !options_.config_path.empty() ? options_.config_path
                                               : DefaultConfigPath(env_.xdg_config_home, env_.home);
  CL_ASSIGN_OR_RETURN(config_, LoadConfig(config_path_));
  struct stat st {};
  if (!config_.sessions.empty() && stat(config_path_.c_str(), &st) == 0 &&
      (st.st_mode & 077) != 0) {
    // Files this CLI writes are always 0600; another tool or a copy may have loosened them.
    err_ << "warning: " << config_path_
         << " holds your login session but is readable by other users; run `chmod 600 "
         << config_path_ << "`" << std::endl;
  }
  if (!options_.control_plane.empty()) {
    control_plane_ = options_.control_plane;
  } else if (!env_.control_plane_api.empty()) {
    control_plane_ = env_.control_plane_api;
  } else if (!config_.control_plane.empty()) {
    control_plane_ = config_.control_plane;
  } else {
    control_plane_ = kDefaultControlPlane;
  }
  while (!control_plane_.empty() && control_plane_.back() == '/') control_plane_.pop_back();
  CL_RETURN_IF_ERROR(CheckControlPlaneUrl(control_plane_, options_.insecure));
  CL_ASSIGN_OR_RETURN(control_plane_key_, NormalizeControlPlaneUrl(control_plane_));
  return Ok();
}

ApiClient CliContext::ClientWithToken(const std::string& token) {
  ApiClientOptions o;
  o.base_url = control_plane_;
  o.token = token;
  o.ca_file = options_.control_plane_ca;
  o.insecure = options_.insecure;
  o.debug_out = options_.debug ? &err_ : nullptr;
  return ApiClient(std::move(o));
}

Result<ApiClient*> CliContext::AuthenticatedClient(bool raw_ci_token) {
  if (client_) return &*client_;
  // Only the session this control plane issued: a session is never sent anywhere else, whatever
  // --control-plane or $CHAINLOOP_CONTROL_PLANE_API say.
  const StoredSession* session = config_.SessionFor(control_plane_key_);
  auto resolved =
      ResolveCredential(options_.token, env_.chainloop_token, session ? session->token : "");
  if (!resolved) {
    // A damaged stored session gets the "log in again" hint.
    if (options_.token.empty() && env_.chainloop_token.empty())
      source_ = CredentialSource::kSession;
    return Fail(resolved.error());
  }
  ResolvedCredential cred = std::move(*resolved);
  std::string ci_source = cred.source == CredentialSource::kFlag  ? "--token"
                          : cred.source == CredentialSource::kEnv ? "$CHAINLOOP_TOKEN"
                                                                  : "your login session";
  if (cred.source == CredentialSource::kNone) {
    CL_ASSIGN_OR_RETURN(CiIdToken ci, DiscoverCiIdToken(env_, control_plane_));
    if (!ci.ignored.empty()) err_ << ci.ignored << std::endl;
    if (ci.jwt.empty() && !config_.sessions.empty()) {
      std::string others;
      for (const auto& s : config_.sessions)
        others += (others.empty() ? "" : ", ") + s.control_plane;
      return Fail(Error::Unauthenticated(
          "not logged in to " + control_plane_ +
              (config_.sessions.size() == 1 ? " (your session is for "
                                            : " (your sessions are for ") +
              others + "): run `chainloop auth login --control-plane " + control_plane_ + "`",
          Reason::kUnauthenticated));
    }
    if (ci.jwt.empty()) {
      return Fail(Error::Unauthenticated(
          "you are not logged in: run `chainloop auth login` (or set $CHAINLOOP_TOKEN, or "
          "$CHAINLOOP_OIDC_TOKEN in CI)",
          Reason::kUnauthenticated));
    }
    cred.token = std::move(ci.jwt);
    cred.source = CredentialSource::kCiEnvironment;
    cred.is_ci_id_token = true;
    ci_source = std::move(ci.source);
  }
  if (!cred.note.empty()) err_ << cred.note << std::endl;
  source_ = cred.source;
  identity_key_ = IdentityKey(cred);
  if (cred.is_ci_id_token) {
    // Only --org: a CI job has no config file, and a wrong default organization would make
    // the policy lookup fail in a confusing way.
    if (options_.org.empty()) {
      return Fail(Error::FailedPrecondition(
          "keyless authentication with the CI ID token from " + ci_source +
          " needs the organization whose trust policy applies: pass --org NAME"));
    }
    keyless_ = true;
    const std::string issuer = UnverifiedJwtIssuer(cred.token);
    const std::string shown_issuer = issuer.empty() ? "unknown" : TerminalSafe(issuer);
    const ExchangedTokenCache cache = ExchangedTokenCache::ForEnvironment(env_);
    std::string why;
    if (auto cached =
            cache.Load(control_plane_key_, options_.org, cred.token, clock_->Now(), &why)) {
      if (options_.debug) {
        err_ << "debug: keyless: using the token this job exchanged earlier (cached in "
             << cache.dir() << ")" << std::endl;
      }
      client_.emplace(ClientWithToken(*cached));
      return &*client_;
    }
    if (options_.debug) err_ << "debug: keyless: no cached token: " << why << std::endl;
    // Without a cache, an exchange here would spend the ID token that the job's next command
    // (attestation push) needs: the attestation endpoints take the ID token itself.
    if (raw_ci_token && !cache.Usable()) {
      if (options_.debug) {
        err_ << "debug: keyless: sending the CI ID token from " << ci_source << " (issuer "
             << shown_issuer << ") to the attestation endpoint" << std::endl;
      }
      client_.emplace(ClientWithToken(cred.token));
      return &*client_;
    }
    if (options_.debug) {
      err_ << "debug: keyless: exchanging the CI ID token from " << ci_source << " (issuer "
           << shown_issuer << ") for organization " << options_.org << std::endl;
    }
    const UnixMillis exchanged_at = clock_->Now();
    ApiClient anonymous = ClientWithToken("");
    CL_ASSIGN_OR_RETURN(ExchangedCiToken exchanged,
                        ExchangeCiIdToken(anonymous, cred.token, options_.org));
    if (exchanged.expires_in_seconds > 0) {
      auto stored =
          cache.Store(control_plane_key_, options_.org, cred.token, exchanged.access_token,
                      exchanged_at + exchanged.expires_in_seconds * kMillisPerSecond);
      if (!stored && options_.debug) {
        err_ << "debug: keyless: not cached: " << stored.error().message() << std::endl;
      }
    }
    if (options_.debug) {
      err_ << "debug: keyless: exchange succeeded; using a short-lived control plane token"
           << std::endl;
    }
    cred.token = std::move(exchanged.access_token);
  }
  client_.emplace(ClientWithToken(cred.token));
  return &*client_;
}

std::string CliContext::CurrentOrganization() const {
  return !options_.org.empty() ? options_.org : config_.organization;
}

Result<std::string> CliContext::Organization() {
  if (!options_.org.empty()) return options_.org;
  if (token_organization_) return *token_organization_;
  // Only an explicit API or exchanged CI token: it belongs to one organization, which the config's
  // current organization (chosen for a login session) need not be.
  const std::string& explicit_token =
      !options_.token.empty() ? options_.token : env_.chainloop_token;
  auto kind = crypto::ParseCredential(explicit_token);
  if (!explicit_token.empty() && kind &&
      (*kind == crypto::CredentialKind::kApiToken || *kind == crypto::CredentialKind::kFederated)) {
    CL_ASSIGN_OR_RETURN(ApiClient * client, AuthenticatedClient());
    auto whoami = client->Get("/v1/auth/whoami");
    if (!whoami && !whoami.error().IsNotFound()) return Fail(whoami.error());
    if (whoami && whoami->is_object()) {
      const auto* org = whoami->as_object().if_contains("organization");
      if (org != nullptr && org->is_object()) {
        std::string name = RawString(org->as_object(), "name");
        if (!name.empty()) {
          token_organization_ = std::move(name);
          return *token_organization_;
        }
      }
    }
  }
  std::string org = config_.organization;
  if (org.empty()) {
    return Fail(Error::FailedPrecondition(
        "no organization selected: pass --org NAME or run `chainloop organization set --name "
        "NAME`"));
  }
  return org;
}

void CliContext::PrintJson(const boost::json::value& v) {
  out_ << TerminalSafeJson(NullForAbsent(v)) << "\n";
}

int CliContext::ReportError(const Error& error) {
  if (json_output()) {
    boost::json::object e{{"code", error.reason()}, {"message", error.message()}};
    err_ << TerminalSafeJson(boost::json::object{{"error", std::move(e)}}) << std::endl;
    return 1;
  }
  err_ << FormatCliError(error, options_.debug, using_stored_session()) << std::endl;
  return 1;
}

}  // namespace cl::cli
