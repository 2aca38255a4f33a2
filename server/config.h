// ServerConfig: the control plane's settings, merged from defaults < TOML file < environment
// (CHAINLOOP_<KEY>) < command-line flags. Every key has the same name in all three sources.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace cl::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:8000";  // HOST:PORT
  // HOST:PORT of a second listener serving only /metrics, /healthz and /readyz; /metrics is then
  // not served on `listen`. Empty: none (/metrics on `listen`).
  std::string admin_listen;
  std::string external_url;  // default: http://<listen>
  std::string data_dir = ".data";
  std::string web_dir = "web/dist";  // built web UI (empty: no UI)
  std::string
      database;  // "sqlite:PATH" or "postgres://..."; default sqlite:<data_dir>/controlplane.db
  // PostgreSQL: the revocation listener's connection, when `database` goes through a
  // transaction-mode pooler (LISTEN needs a session). Empty: `database`.
  std::string database_listen_url;
  std::string pepper_file;  // default <data_dir>/pepper (generated, mode 0600, on first start)
  // Pepper rotation: the pepper files, newest first (never generated). When set, pepper_file is
  // ignored. New hashes use the first; credentials found under a later one are re-hashed.
  std::vector<std::string> pepper_files;
  std::string oidc_issuer = "http://127.0.0.1:8090";
  std::string oidc_client_id = "chainloop-dev";
  std::string oidc_client_secret;  // never logged
  // A file holding the client secret (e.g. a systemd credential, $CREDENTIALS_DIRECTORY/...),
  // read by ResolveSecretFiles when serving; excludes oidc_client_secret.
  std::string oidc_client_secret_file;
  // Login ID tokens whose iat is older than this (plus 60 s leeway) are refused.
  UnixMillis oidc_id_token_max_age = 10 * kMillisPerMinute;
  UnixMillis session_lifetime = 24 * kMillisPerHour;
  std::string log_level = "info";
  std::string log_format = "json";  // "json" (one object per line) or "text" (development)
  bool migrate = true;              // apply migrations on start
  int io_threads = 0;               // 0: one per core
  int worker_threads = 16;
  // Request bodies: routes that take large bodies (attestation statements) accept up to
  // max_body_bytes, every other route up to default_max_body_bytes; all connections together
  // hold at most body_budget_bytes of bodies in flight (beyond: 503, Retry-After).
  int64_t max_body_bytes = 1 << 20;
  int64_t default_max_body_bytes = 64 * 1024;
  int64_t body_budget_bytes = 64 << 20;
  int64_t max_connections = 10000;
  int64_t max_connections_per_ip = 512;  // 0: no per-address limit
  int sqlite_cache_mib = 64;             // SQLite page cache bound
  // A request must arrive completely within read_timeout of its first byte (slowloris bound);
  // a keep-alive connection idle for idle_timeout is closed.
  UnixMillis read_timeout = 30 * kMillisPerSecond;
  UnixMillis idle_timeout = 60 * kMillisPerSecond;
  // HTTPS served by the control plane itself (PEM files); both empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // How long a cached credential is trusted before it is re-read (backstop for lost
  // revocation notifications).
  UnixMillis auth_cache_revalidate = 5 * kMillisPerSecond;
  // Auto-revocation of inactive API tokens: sweep interval and the random delay before the first.
  UnixMillis token_revoker_interval = kMillisPerHour;
  UnixMillis token_revoker_initial_delay = kMillisPerMinute;
  UnixMillis usage_flush_interval = 10 * kMillisPerSecond;  // API token last_used_at writer
  // Keyless CI: an unknown `kid` refetches an issuer's key set at most once per this interval.
  UnixMillis federation_jwks_refresh_cooldown = 60 * kMillisPerSecond;
  // Keyless CI: the issuers organizations may trust at all (compared byte for byte with `iss`).
  // Each must be an https URL, or a plain-http loopback URL listed explicitly (tests).
  std::vector<std::string> federation_issuers = {"https://gitlab.com",
                                                 "https://token.actions.githubusercontent.com"};
  // Leaked-credential reports (docs/secret-scanning.md). GitHub's variant is on when
  // secret_scanning_github_keys_url is set (GitHub's:
  // https://api.github.com/meta/public_keys/secret_scanning); it must be an https URL, or a
  // plain-http loopback URL (tests). The generic variant is on when
  // secret_scanning_hmac_secret_file names a file (mode 0600 or stricter) holding the shared
  // secret, at least 32 characters; ResolveSecretFiles reads it into secret_scanning_hmac_secret.
  std::string secret_scanning_github_keys_url;
  std::string secret_scanning_hmac_secret_file;
  std::string secret_scanning_hmac_secret;  // never logged
  // Failed-authentication throttling: `auth_failure_limit` failures (0: off) of one client
  // address or credential within `auth_failure_window` ban it for `auth_ban_duration`.
  int64_t auth_failure_limit = 30;
  UnixMillis auth_failure_window = 3 * kMillisPerMinute;
  UnixMillis auth_ban_duration = 15 * kMillisPerMinute;
  std::vector<std::string> auth_throttle_exempt_cidrs;  // never banned (e.g. health checkers)
  // Load balancers (address blocks) whose forwarding header names the client: requests they
  // relay are limited and logged under that client (http/client_address.h). Empty:
  // forwarding headers are ignored. trusted_proxy_header: "x-forwarded-for" or "forwarded".
  std::vector<std::string> trusted_proxies;
  std::string trusted_proxy_header = "x-forwarded-for";
  // Per-organization rate limits, per minute (0: off).
  int64_t api_token_create_per_minute = 60;
  int64_t federated_exchange_per_minute = 600;
  // Anonymous login work (docs/configuration.md, "Login limits").
  // Calls to the people's IdP in flight at once (beyond: 503 idp_unavailable at once); 0 means
  // worker_threads / 4, at least 1. Always below worker_threads, so workers remain for the rest.
  int idp_max_concurrent_calls = 0;
  UnixMillis idp_timeout = 5 * kMillisPerSecond;  // total time of each HTTP call to the IdP
  // Requests fetching, or waiting for, a keyless CI issuer's discovery or keys at once (beyond:
  // 503 issuer_unavailable at once); 0 means worker_threads / 8, at least 1. Together with the
  // IdP calls always below worker_threads.
  int federation_max_concurrent_fetches = 0;
  // Login starts (GET /auth/login, GET /auth/web/login, POST /v1/auth/device) per client
  // address: a token bucket refilled at login_start_per_minute (0: off), holding
  // login_start_burst.
  int64_t login_start_per_minute = 20;
  int64_t login_start_burst = 10;
  int64_t max_pending_logins = 10'000;  // login + device requests stored at once; 0: no cap
  // Webhook deliveries (jobs/webhook_dispatcher.h): non-public address blocks they may reach
  // (public addresses always), the time of each attempt, the first retry delay (doubling up to
  // 1 h), how long after the event retries go on, and how often due deliveries are looked for.
  std::vector<std::string> webhook_allowed_networks;
  UnixMillis webhook_timeout = 10 * kMillisPerSecond;
  UnixMillis webhook_retry_initial_delay = 30 * kMillisPerSecond;
  UnixMillis webhook_retry_window = kMillisPerDay;
  UnixMillis webhook_poll_interval = kMillisPerSecond;

  std::string ListenHost() const;
  // idp_max_concurrent_calls with 0 resolved.
  int IdpMaxConcurrentCalls() const;
  // federation_max_concurrent_fetches with 0 resolved.
  int FederationMaxConcurrentFetches() const;
  int ListenPort() const;
  // admin_listen's parts (REQUIRES: admin_listen set; the port is -1 when malformed).
  std::string AdminListenHost() const;
  int AdminListenPort() const;
};

// Keys accepted everywhere (flags, env, TOML), e.g. "session_lifetime".
const std::map<std::string, std::string>& ConfigKeysWithHelp();
// The placeholder `--help` shows for a key's value (DURATION, COUNT, BYTES, PATH, URL, ...);
// "" for a key it does not know (config_test requires one for every key).
std::string_view ConfigPlaceholder(std::string_view key);

// `flags` holds only the flags given on the command line (key -> value); `env` is a lookup
// function (getenv in production). Unknown TOML keys, bad durations and bad numbers are errors.
Result<ServerConfig> LoadServerConfig(const std::optional<std::string>& toml_file,
                                      const std::map<std::string, std::string>& flags,
                                      const std::function<const char*(const char*)>& env);

// "24h", "90m", "30s", "1500ms", "7d" -> milliseconds. Positive only.
Result<UnixMillis> ParseDuration(std::string_view text);

// Reads a file holding a secret: a regular file, not accessible by group or others, with
// trailing whitespace dropped. `what` names it in errors ("pepper file"); errors never hold
// its contents.
Result<std::string> ReadSecretFile(const std::string& path, std::string_view what);

// Replaces the *_file secret settings by their contents (oidc_client_secret_file into
// oidc_client_secret, secret_scanning_hmac_secret_file into secret_scanning_hmac_secret). Called
// only by commands that use the secrets, so that `migrate` or `backup` from an operator's shell
// need not read a service's credentials.
Status ResolveSecretFiles(ServerConfig& c);

// Reads the pepper file, or creates it with 32 random bytes (hex) and mode 0600 when absent.
// Refuses a pepper file readable by group/others.
Result<std::string> LoadOrCreatePepper(const std::string& path);
// Reads an existing pepper file: a regular file, not accessible by group or others, holding at
// least 32 characters (trailing whitespace dropped). Errors name the file, never its contents.
Result<std::string> LoadPepperFile(const std::string& path);

// The configured peppers, newest first: pepper_files when set (each must exist; two files with
// the same pepper are refused), else pepper_file (created when absent if `create`).
struct LoadedPepper {
  std::string path;
  std::string pepper;
};
Result<std::vector<LoadedPepper>> LoadPeppers(const ServerConfig& c, bool create);

}  // namespace cl::server
