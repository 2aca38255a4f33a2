// chainloop-controlplane: the server binary. Parses flags (the only CLI11 translation unit of
// the server), loads configuration, opens and migrates the database, wires the layers and
// serves until SIGINT/SIGTERM.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "api/api.h"
#include "common/log.h"
#include "common/random.h"
#include "common/version.h"
#include "crypto/hash.h"
#include "domain/api_tokens.h"
#include "domain/attestations.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/federation.h"
#include "domain/login.h"
#include "domain/organizations.h"
#include "domain/scanner_key_cache.h"
#include "domain/secret_scanning.h"
#include "domain/throttle.h"
#include "domain/usage_recorder.h"
#include "domain/webhooks.h"
#include "http/client_address.h"
#include "http/metrics.h"
#include "http/server.h"
#include "jobs/credential_refresher.h"
#include "jobs/rotation_finisher.h"
#include "jobs/token_revoker.h"
#include "jobs/usage_flusher.h"
#include "jobs/webhook_dispatcher.h"
#include "oidc/ci_verifier.h"
#include "oidc/discovery.h"
#include "server/background_jobs.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/idp_adapter.h"
#include "server/schema_check.h"
#include "store/notifications.h"
#include "store/store.h"

namespace cl::server {
namespace {

LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

// The hasher over the loaded peppers, newest first.
crypto::CredentialHasher HasherOf(const std::vector<LoadedPepper>& peppers) {
  std::vector<std::string> secrets;
  for (const auto& p : peppers) secrets.push_back(p.pepper);
  return crypto::CredentialHasher(std::move(secrets));
}

}  // namespace

// `chainloop-controlplane pepper status`: how many live API tokens and sessions, and how many
// webhook signing secrets, still depend on each pepper, so an operator knows when an old pepper
// can be removed from pepper_files.
int PepperStatus(const ServerConfig& c) {
  auto peppers = LoadPeppers(c, /*create=*/false);
  if (!peppers) {
    std::cerr << "error: " << peppers.error().message() << "\n";
    return 1;
  }
  auto db = OpenAndCheckSchema(c, c.migrate);
  if (!db) {
    std::cerr << "error: " << db.error().message() << "\n";
    return 1;
  }
  SystemClock clock;
  auto usage = (*db)->CountCredentialsByPepper(clock.Now());
  if (!usage) {
    std::cerr << "error: " << usage.error().message() << "\n";
    return 1;
  }
  auto webhooks = (*db)->CountWebhookSecretsByPepper();
  if (!webhooks) {
    std::cerr << "error: " << webhooks.error().message() << "\n";
    return 1;
  }
  crypto::CredentialHasher hasher = HasherOf(*peppers);
  struct Usage {
    store::PepperUsage credentials;
    int64_t webhook_secrets = 0;
  };
  std::map<std::string, Usage> by_id;
  for (const auto& u : *usage) by_id[u.pepper_id].credentials = u;
  for (const auto& [id, n] : *webhooks) by_id[id].webhook_secrets = n;
  auto row = [](const std::string& id, const std::string& state, const Usage& u,
                const std::string& file) {
    char line[160];
    std::snprintf(line, sizeof line, "%-9s %-14s %10lld %9lld %9lld  ", id.c_str(), state.c_str(),
                  static_cast<long long>(u.credentials.api_tokens),
                  static_cast<long long>(u.credentials.sessions),
                  static_cast<long long>(u.webhook_secrets));
    std::cout << line << file << "\n";
  };
  std::cout << "PEPPER    STATE          API_TOKENS  SESSIONS  WEBHOOKS  FILE\n";
  Usage not_current;
  auto add = [&](const Usage& u) {
    not_current.credentials.api_tokens += u.credentials.api_tokens;
    not_current.credentials.sessions += u.credentials.sessions;
    not_current.webhook_secrets += u.webhook_secrets;
  };
  for (size_t i = 0; i < hasher.pepper_count(); ++i) {
    const std::string& id = hasher.pepper_id(i);
    Usage u = by_id.count(id) ? by_id[id] : Usage{};
    by_id.erase(id);
    row(id, i == 0 ? "current" : "older", u, (*peppers)[i].path);
    if (i > 0) add(u);
  }
  // What is left was hashed (or sealed) under no configured pepper, or before ids were recorded.
  for (const auto& [id, u] : by_id) {
    row(id.empty() ? "unknown" : id, id.empty() ? "unattributed" : "NOT CONFIGURED", u,
        id.empty() ? "(hashed before pepper ids were recorded)"
                   : "(these credentials are refused, these webhook secrets unreadable)");
    add(u);
  }
  std::cout << "not on the current pepper: " << not_current.credentials.api_tokens
            << " API tokens, " << not_current.credentials.sessions << " sessions, "
            << not_current.webhook_secrets << " webhook secrets\n";
  return 0;
}

namespace {

int Serve(const ServerConfig& c) {
  auto peppers = LoadPeppers(c, /*create=*/true);
  if (!peppers) {
    Log(LogLevel::kError, "cannot load pepper", {{"error", peppers.error().message()}});
    return 1;
  }
  if (!c.pepper_files.empty() && !c.pepper_file.empty() &&
      std::find(c.pepper_files.begin(), c.pepper_files.end(), c.pepper_file) ==
          c.pepper_files.end()) {
    Log(LogLevel::kWarn, "pepper_file is ignored because pepper_files is set",
        {{"pepper_file", c.pepper_file}});
  }
  auto db = OpenAndCheckSchema(c, c.migrate);
  if (!db) {
    Log(LogLevel::kError, "cannot open database", {{"error", db.error().message()}});
    return 1;
  }
  SystemClock clock;
  SystemRandom random;
  crypto::CredentialHasher hasher = HasherOf(*peppers);
  {
    std::string older;
    for (size_t i = 1; i < hasher.pepper_count(); ++i) {
      older += (i > 1 ? "," : "") + hasher.pepper_id(i);
    }
    Log(LogLevel::kInfo, "peppers loaded",
        {{"current", hasher.current_pepper_id()}, {"older", older.empty() ? "none" : older}});
  }
  if (hasher.pepper_count() == 1) {
    // With one pepper, hashes written before pepper ids were recorded can only use that one.
    auto attributed = (*db)->AttributeUnknownPepper(hasher.current_pepper_id());
    if (!attributed) {
      Log(LogLevel::kWarn, "cannot record the pepper id of existing credentials",
          {{"error", attributed.error().message()}});
    } else if (*attributed > 0) {
      Log(LogLevel::kInfo, "recorded the pepper id of existing credentials",
          {{"pepper", hasher.current_pepper_id()}, {"rows", *attributed}});
    }
  }
  http::Metrics metrics;
  domain::UsageRecorder usage;
  jobs::UsageFlusher usage_flusher(usage, **db, c.usage_flush_interval);
  domain::Authenticator authenticator(
      domain::Authenticator::Stores{
          .users = **db, .sessions = **db, .tokens = **db, .federation = **db, .peppers = **db},
      hasher, clock, &usage, 200'000, c.auth_cache_revalidate);
  // API tokens in use are re-read in bulk before their cache entries age out.
  jobs::CredentialRefresher credential_refresher(
      authenticator, std::max<UnixMillis>(1, c.auth_cache_revalidate / 4));
  // Revocations reach the other instances through PostgreSQL LISTEN/NOTIFY: the database
  // announces every ended credential when the ending transaction commits.
  store::NotifierOptions notifier_options;
  notifier_options.listen_url = c.database_listen_url;
  auto notifier = store::OpenRevocationNotifier(c.database, notifier_options);
  if (!notifier) {
    Log(LogLevel::kError, "cannot start the revocation listener",
        {{"error", notifier.error().message()}});
    return 1;
  }
  // Hearing again after a deaf spell: what was announced meanwhile may be lost.
  (*notifier)->SubscribeGaps([&authenticator] { authenticator.ForgetAll(); });
  (*notifier)->Subscribe([&authenticator](const std::string& hash) { authenticator.Forget(hash); });
  // Deaf: fail closed, every request re-reads its credential.
  authenticator.SetCacheTrust([n = notifier->get()] { return n->Hearing(); });
  domain::Authorizer authorizer(**db, **db);
  // Anonymous login legs call the IdP from the shared workers: the gate keeps those calls
  // below the worker count (docs/configuration.md, "Login limits").
  domain::IdpCallGate idp_gate(c.IdpMaxConcurrentCalls(), [&metrics] {
    metrics.IncCounter("chainloop_idp_calls_refused_total",
                       "Calls to the login IdP refused at once (503) because "
                       "idp_max_concurrent_calls were in flight",
                       {});
  });
  auto idp = NewIdentityProvider(c, clock, idp_gate);
  domain::LoginConfig login_config;
  login_config.max_pending_logins = c.max_pending_logins;
  login_config.session_lifetime = c.session_lifetime;
  login_config.allowed_redirect_prefixes = {c.external_url + "/auth/web/callback"};
  domain::LoginService login(
      domain::LoginService::Stores{
          .users = **db, .invitations = **db, .sessions = **db, .login_state = **db},
      *idp, hasher, authenticator, clock, random, login_config);
  domain::OrganizationService orgs(
      domain::OrganizationService::Stores{
          .orgs = **db, .projects = **db, .invitations = **db, .audit = **db},
      authorizer, clock, random);
  domain::AttestationService attestations(
      domain::AttestationService::Stores{.workflows = **db, .projects = **db}, authorizer, orgs,
      clock, random);
  domain::ApiTokenService api_tokens(
      domain::ApiTokenService::Stores{.tokens = **db, .projects = **db}, authorizer, orgs,
      authenticator, hasher, clock, random);
  // Keyless CI: only issuers on the instance allow-list are ever contacted.
  oidc::CiVerifierOptions ci_options;
  ci_options.allowed_issuers = c.federation_issuers;
  ci_options.jwks_refresh_cooldown = c.federation_jwks_refresh_cooldown;
  // Tokens naming an allowed issuer come from anyone: waits on a slow issuer are bounded like
  // the login IdP's calls (docs/configuration.md, "Login limits").
  ci_options.max_concurrent_fetches = c.FederationMaxConcurrentFetches();
  ci_options.on_fetch_refused = [&metrics] {
    metrics.IncCounter("chainloop_ci_issuer_fetches_refused_total",
                       "Requests refused at once (503 issuer_unavailable) because "
                       "federation_max_concurrent_fetches were fetching or waiting for CI issuer "
                       "keys",
                       {});
  };
  // The issuer label is bounded by the allow-list: nothing else is ever fetched.
  ci_options.on_fetch = [&metrics](const std::string& issuer, std::string_view document, bool ok) {
    metrics.IncCounter(
        "chainloop_ci_issuer_fetches_total",
        "Fetches of CI issuers' discovery documents and keys, by issuer, document "
        "(discovery, jwks) and outcome (ok, error).",
        {{"issuer", issuer}, {"document", document}, {"outcome", ok ? "ok" : "error"}});
  };
  oidc::CiTokenVerifier ci_verifier(ci_options, clock);
  domain::FederationConfig federation_config;
  federation_config.default_audience = c.external_url;
  domain::FederationService federation(
      domain::FederationService::Stores{
          .federation = **db, .orgs = **db, .projects = **db, .audit = **db},
      authorizer, orgs, ci_verifier, hasher, clock, random, federation_config, &authenticator);
  // Event webhooks: their secrets sealed under the peppers; literal addresses in the operator's
  // allowed networks (webhook_allowed_networks) may be registered, and only those are reached.
  const crypto::SecretBox webhook_secrets = WebhookSecretBox(*peppers);
  const jobs::WebhookDispatcherOptions webhook_options = WebhookDispatcherOptionsOf(c);
  domain::WebhookService webhooks(**db, authorizer, orgs, webhook_secrets, clock, random,
                                  webhook_options.address_policy.allowed());

  // Leaked-credential reports: off unless configured (docs/secret-scanning.md). GitHub's key
  // list comes only from the configured URL, with the outbound limits of other key fetches.
  std::unique_ptr<domain::ScannerKeyCache> github_keys;
  if (!c.secret_scanning_github_keys_url.empty()) {
    oidc::FetchOptions fetch;
    fetch.timeout_ms = 5'000;
    fetch.max_response_bytes = 64 * 1024;
    github_keys = std::make_unique<domain::ScannerKeyCache>(
        [url = c.secret_scanning_github_keys_url, fetch]() {
          return oidc::FetchDocument(url, fetch, "secret scanning key list");
        },
        clock, domain::ScannerKeyCache::Options{});
  }
  std::unique_ptr<domain::SecretScanningService> secret_scanning;
  if (github_keys || !c.secret_scanning_hmac_secret.empty()) {
    domain::SecretScanningConfig scanning_config;
    scanning_config.hmac_secret = c.secret_scanning_hmac_secret;
    secret_scanning = std::make_unique<domain::SecretScanningService>(
        domain::SecretScanningService::Stores{
            .tokens = **db, .sessions = **db, .federation = **db, .orgs = **db, .audit = **db},
        hasher, clock, random, scanning_config, github_keys.get(), &authenticator);
  }

  jobs::TokenRevoker revoker(
      **db, clock, random, &usage_flusher,
      [&authenticator](const std::string& hash) { authenticator.NotifyRevoked(hash); }, &metrics);
  jobs::RotationFinisher rotation_finisher(
      **db, clock, random,
      [&authenticator](const std::string& hash) { authenticator.NotifyRevoked(hash); });
  // Webhook deliveries leave only for the addresses the guard allows (webhook_allowed_networks).
  jobs::WebhookDispatcher webhook_dispatcher(**db, webhook_secrets, clock, random, &metrics,
                                             webhook_options);

  // Abuse limits, in memory per instance; failed-authentication bans are announced to every
  // instance (docs/configuration.md, "Throttling"; docs/scale-out.md).
  domain::AuthThrottleConfig throttle_config;
  throttle_config.failure_limit = static_cast<int>(c.auth_failure_limit);
  throttle_config.window = c.auth_failure_window;
  throttle_config.ban_duration = c.auth_ban_duration;
  for (const auto& block : c.auth_throttle_exempt_cidrs) {
    if (auto cidr = domain::Cidr::Parse(block)) throttle_config.exempt.push_back(*cidr);
  }
  // Instances share bans: the credential keys must agree, so they come from the pepper.
  throttle_config.credential_hash_key = hasher.HashWith(0, "chainloop auth failure throttle");
  domain::AuthFailureThrottle auth_throttle(throttle_config, clock, random);
  auth_throttle.SetBanListener(
      [n = notifier->get()](const std::string& key) { n->PublishBan(key); });
  (*notifier)->SubscribeBans(
      [&auth_throttle](const std::string& key) { (void)auth_throttle.ApplyBan(key); });
  domain::RateLimiter token_create_limit(c.api_token_create_per_minute, clock);
  domain::RateLimiter exchange_limit(c.federated_exchange_per_minute, clock);
  domain::RateLimiter login_start_limit(c.login_start_per_minute, c.login_start_burst, clock,
                                        100'000);

  http::Router router;
  api::ApiDeps deps;
  deps.db = db->get();
  deps.authenticator = &authenticator;
  deps.login = &login;
  deps.orgs = &orgs;
  deps.attestations = &attestations;
  deps.api_tokens = &api_tokens;
  deps.federation = &federation;
  deps.webhooks = &webhooks;
  deps.secret_scanning = secret_scanning.get();
  deps.metrics = &metrics;
  deps.metrics_on_admin_listener = !c.admin_listen.empty();
  deps.notifier = notifier->get();
  deps.auth_throttle = &auth_throttle;
  deps.token_create_limit = &token_create_limit;
  deps.exchange_limit = &exchange_limit;
  deps.login_start_limit = &login_start_limit;
  deps.login_limit_exempt = throttle_config.exempt;
  deps.random = &random;
  deps.external_url = c.external_url;
  deps.web_dir = c.web_dir;
  deps.session_lifetime = c.session_lifetime;
  auto api_holder = api::RegisterRoutes(router, deps);

  http::ServerOptions opts;
  opts.address = c.ListenHost();
  opts.port = static_cast<uint16_t>(c.ListenPort());
  opts.io_threads = c.io_threads;
  opts.worker_threads = c.worker_threads;
  opts.max_body_bytes = static_cast<size_t>(c.max_body_bytes);
  opts.default_max_body_bytes = static_cast<size_t>(c.default_max_body_bytes);
  opts.body_budget_bytes = static_cast<size_t>(c.body_budget_bytes);
  opts.max_connections = static_cast<size_t>(c.max_connections);
  opts.max_connections_per_ip = static_cast<size_t>(c.max_connections_per_ip);
  {
    std::vector<Cidr> proxies;
    for (const auto& block : c.trusted_proxies) {
      if (auto cidr = Cidr::Parse(block)) proxies.push_back(*cidr);
    }
    opts.trusted_proxies =
        http::TrustedProxies(std::move(proxies), c.trusted_proxy_header == "forwarded"
                                                     ? http::ForwardedHeader::kForwarded
                                                     : http::ForwardedHeader::kXForwardedFor);
  }
  opts.read_timeout = std::chrono::milliseconds(c.read_timeout);
  opts.idle_timeout = std::chrono::milliseconds(c.idle_timeout);
  opts.tls_cert_file = c.tls_cert_file;
  opts.tls_key_file = c.tls_key_file;
  if (!c.tls_key_file.empty()) {
    // Like the pepper: a private key readable by other users is refused, not silently used.
    struct stat key_stat {};
    if (::stat(c.tls_key_file.c_str(), &key_stat) != 0) {
      Log(LogLevel::kError, "cannot read the TLS key file", {{"file", c.tls_key_file}});
      return 1;
    }
    if ((key_stat.st_mode & 077) != 0) {
      Log(LogLevel::kError, "the TLS key file is readable by group or others; run chmod 600 on it",
          {{"file", c.tls_key_file}});
      return 1;
    }
  }
  // The admin listener: /metrics, /healthz and /readyz only, on an address operators keep
  // private. Small: one I/O thread, two workers (/readyz and /metrics each run on one).
  http::Router admin_router;
  std::shared_ptr<void> admin_holder;
  std::unique_ptr<http::Server> admin_server;
  if (!c.admin_listen.empty()) {
    admin_holder = api::RegisterAdminRoutes(admin_router, deps);
    http::ServerOptions admin_opts;
    admin_opts.address = c.AdminListenHost();
    admin_opts.port = static_cast<uint16_t>(c.AdminListenPort());
    admin_opts.io_threads = 1;
    admin_opts.worker_threads = 2;
    admin_opts.max_connections = 64;
    admin_opts.read_timeout = opts.read_timeout;
    admin_opts.idle_timeout = opts.idle_timeout;
    admin_server = std::make_unique<http::Server>(admin_opts, admin_router, &metrics);
    auto admin_st = admin_server->Start();
    if (!admin_st) {
      Log(LogLevel::kError, "cannot listen on admin_listen",
          {{"error", admin_st.error().message()}, {"admin_listen", c.admin_listen}});
      return 1;
    }
    Log(LogLevel::kInfo, "admin listener: /metrics, /healthz, /readyz",
        {{"address", admin_opts.address}, {"port", static_cast<int64_t>(admin_server->port())}});
  }
  http::Server server(opts, router, &metrics);
  auto st = server.Start();
  if (!st) {
    Log(LogLevel::kError, "cannot listen", {{"error", st.error().message()}});
    return 1;
  }
  Log(LogLevel::kInfo, "listening",
      {{"address", opts.address},
       {"port", static_cast<int64_t>(server.port())},
       {"external_url", c.external_url},
       {"database", (*db)->Dialect()},
       {"oidc_issuer", c.oidc_issuer}});
  usage_flusher.Start();
  credential_refresher.Start();
  // Authentication refuses a rotated token at its deadline by itself; this only records it, so
  // every 30 s is enough (sooner when the operator runs the sweep more often, as tests do).
  rotation_finisher.Start(std::chrono::milliseconds(
      std::min<int64_t>(30'000, std::max<int64_t>(1, c.token_revoker_interval))));
  revoker.Start(std::chrono::milliseconds(c.token_revoker_interval),
                std::chrono::milliseconds(c.token_revoker_initial_delay));
  webhook_dispatcher.Start(std::chrono::milliseconds(c.webhook_poll_interval));
  server.RunUntilSignal();
  if (admin_server) admin_server->Stop();
  // In-flight requests are done: stop the sweeps, then write the last coalesced usage.
  webhook_dispatcher.Stop();
  credential_refresher.Stop();
  rotation_finisher.Stop();
  revoker.Stop();
  usage_flusher.Stop();
  (*notifier)->Stop();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

// Help for the commands that take the root command's options through fallthrough (serve,
// migrate, ...): CLI11 lists only a command's own options, so the inherited ones are added.
class InheritedOptionsFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    std::string help = CLI::Formatter::make_help(app, name, mode);
    if (mode == CLI::AppFormatMode::Sub) return help;
    for (const CLI::App* a = app; a->get_parent() != nullptr && a->get_fallthrough();
         a = a->get_parent()) {
      const CLI::App* parent = a->get_parent();
      auto inherited = parent->get_options([parent](const CLI::Option* o) {
        return o->nonpositional() && o != parent->get_help_ptr() && o != parent->get_version_ptr();
      });
      if (inherited.empty()) continue;
      const std::string from = parent->get_parent() == nullptr ? std::string("Server options")
                                                               : "Options of " + parent->get_name();
      while (help.size() >= 2 && help.compare(help.size() - 2, 2, "\n\n") == 0) help.pop_back();
      help += make_group(from, false, inherited);
    }
    return help;
  }
};

}  // namespace
}  // namespace cl::server

int main(int argc, char** argv) {
  using namespace cl;
  CLI::App app{"chainloop-controlplane: the Chainloop control plane server"};
  const std::string version_line = "chainloop-controlplane " + std::string(Version()) +
                                   " (commit " + std::string(Commit()) + ")";
  app.set_version_flag("--version", version_line);
  app.formatter(std::make_shared<server::InheritedOptionsFormatter>());  // subcommands inherit it
  std::string config_file;
  app.add_option("--config", config_file, "TOML configuration file")
      ->envname("CHAINLOOP_CONFIG")
      ->type_name("PATH");
  std::map<std::string, std::string> flags;
  std::map<std::string, std::string> values;
  for (const auto& [key, help] : server::ConfigKeysWithHelp()) {
    std::string flag = "--" + key;
    for (auto& ch : flag)
      if (ch == '_') ch = '-';
    app.add_option(flag, values[key], help)->type_name(std::string(server::ConfigPlaceholder(key)));
  }
  auto* serve = app.add_subcommand("serve", "run the server (the default)");
  auto* migrate = app.add_subcommand("migrate", "apply database migrations and exit");
  auto* version = app.add_subcommand("version", "print the version and commit and exit");
  auto* routes = app.add_subcommand("routes", "print every route the server serves (METHOD PATH)");
  auto* pepper_cmd = app.add_subcommand("pepper", "credential-hashing pepper rotation");
  auto* pepper_status = pepper_cmd->add_subcommand(
      "status", "count live API tokens and sessions per pepper (same flags as serve)");
  pepper_cmd->require_subcommand(1);
  pepper_cmd->fallthrough();
  pepper_status->fallthrough();
  auto* backup_cmd = app.add_subcommand(
      "backup", "copy the SQLite database while servers run (same flags as serve)");
  std::string backup_to;
  backup_cmd->add_option("--to", backup_to, "the new file (mode 0600; never overwritten)")
      ->required();
  backup_cmd->fallthrough();
  auto* jobs_cmd = app.add_subcommand("jobs", "background jobs");
  auto* jobs_run = jobs_cmd->add_subcommand("run", "run one job now and print what it did");
  std::string job_name;
  jobs_run->add_option("job", job_name, "the job: token-revoker or webhook-dispatcher")->required();
  jobs_cmd->require_subcommand(1);
  app.require_subcommand(0, 1);
  serve->fallthrough();
  migrate->fallthrough();
  routes->fallthrough();
  jobs_cmd->fallthrough();
  jobs_run->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (const auto& [key, help] : server::ConfigKeysWithHelp()) {
    std::string flag = "--" + key;
    for (auto& ch : flag)
      if (ch == '_') ch = '-';
    if (app.count(flag) > 0) flags[key] = values[key];
  }
  if (version->parsed()) {
    std::cout << version_line << "\n";
    return 0;
  }
  if (routes->parsed()) {
    // The same registration as `serve`; handlers are never called here.
    http::Router router;
    api::ApiDeps deps;
    deps.web_dir = "-";
    auto holder = api::RegisterRoutes(router, deps);
    for (const auto& r : router.routes()) std::cout << r.method << " " << r.pattern << "\n";
    return 0;
  }
  std::optional<std::string> toml;
  if (!config_file.empty()) toml = config_file;
  auto config = server::LoadServerConfig(toml, flags, [](const char* n) { return std::getenv(n); });
  if (!config) {
    std::cerr << "error: " << config.error().message() << "\n";
    return 2;
  }
  SetMinLogLevel(server::ParseLevel(config->log_level));
  SetLogFormat(config->log_format == "text" ? LogFormat::kText : LogFormat::kJson);
  if (jobs_run->parsed()) return server::RunJob(*config, job_name);
  if (pepper_status->parsed()) return server::PepperStatus(*config);
  if (backup_cmd->parsed()) {
    auto report = server::BackupDatabase(config->database, backup_to);
    if (!report) {
      std::cerr << "error: " << report.error().message() << "\n";
      return 1;
    }
    std::cout << "backed up " << report->pages << " pages (" << report->bytes << " bytes) to "
              << backup_to << "\n"
              << "the pepper is not in the backup: restore it with the pepper file(s) it was "
                 "written under\n";
    return 0;
  }
  if (migrate->parsed()) {
    auto db = store::OpenDatabase(config->database);
    if (!db) {
      std::cerr << "error: " << db.error().message() << "\n";
      return 1;
    }
    auto outcome = server::PrepareSchema(**db, /*migrate=*/true);
    if (!outcome) {
      std::cerr << "error: " << outcome.error().message() << "\n";
      return 1;
    }
    const store::SchemaCompatibility& at = outcome->at_start;
    const store::MigrationReport& done = outcome->migrated;
    if (!done.applied.empty()) {
      std::cout << "schema at version " << done.applied.back() << " (was " << done.from_version
                << "); applied " << done.applied.size() << " migration(s)\n";
    } else if (at.database_version > at.known_version) {
      std::cout << "schema at version " << at.database_version << ", newer than this binary ("
                << at.known_version << "); nothing to apply\n";
    } else {
      auto version = (*db)->SchemaVersion();  // another instance may have just migrated it
      std::cout << "schema at version " << (version ? *version : at.database_version)
                << " (nothing to apply)\n";
    }
    return 0;
  }
  if (auto resolved = server::ResolveSecretFiles(*config); !resolved) {
    std::cerr << "error: " << resolved.error().message() << "\n";
    return 2;
  }
  return server::Serve(*config);
}
