// The table of server settings: each key's --help text (ConfigKeysWithHelp) and the placeholder
// --help shows for its value (ConfigPlaceholder). Parsing the values is server/config.cc's job.
#include <map>
#include <string>
#include <string_view>

#include "server/config.h"

namespace cl::server {

const std::map<std::string, std::string>& ConfigKeysWithHelp() {
  static const std::map<std::string, std::string> keys = {
      {"listen", "address to listen on, HOST:PORT (default 127.0.0.1:8000)"},
      {"admin_listen",
       "HOST:PORT of a second listener serving only /metrics, /healthz and /readyz; /metrics "
       "then leaves the public port (default: none)"},
      {"external_url", "URL people and CLIs use to reach this server (default http://LISTEN)"},
      {"web_dir", "directory of the built web UI (default web/dist)"},
      {"data_dir", "data directory of the embedded default (default .data)"},
      {"database", "sqlite:PATH or postgres://... (default sqlite:DATA_DIR/controlplane.db)"},
      {"database_listen_url",
       "PostgreSQL: direct (or session-pooled) URL for the revocation listener when database "
       "goes through a transaction pooler such as PgBouncer (default: database)"},
      {"pepper_file", "file holding the credential-hashing pepper (default DATA_DIR/pepper)"},
      {"pepper_files",
       "pepper rotation: comma-separated pepper files, newest first (replaces pepper_file)"},
      {"oidc_issuer", "upstream OpenID Provider issuer URL"},
      {"oidc_client_id", "OIDC client id at the upstream IdP"},
      {"federation_issuers",
       "comma-separated CI token issuers organizations may trust (default "
       "https://gitlab.com,https://token.actions.githubusercontent.com)"},
      {"secret_scanning_github_keys_url",
       "GitHub secret scanning: URL of GitHub's key list, e.g. "
       "https://api.github.com/meta/public_keys/secret_scanning (default empty: off)"},
      {"secret_scanning_hmac_secret_file",
       "generic secret scanning: file holding the shared HMAC secret, mode 0600 or stricter, "
       "at least 32 characters (default empty: off)"},
      {"oidc_client_secret", "OIDC client secret (prefer the environment variable)"},
      {"oidc_client_secret_file",
       "file holding the OIDC client secret, mode 0600 or stricter (e.g. a systemd credential)"},
      {"oidc_id_token_max_age",
       "login ID tokens issued longer ago than this (plus 60s leeway) are refused, 1m..1h "
       "(default 10m)"},
      {"session_lifetime", "lifetime of login sessions, e.g. 24h (default 24h)"},
      {"log_level", "debug, info, warn or error (default info)"},
      {"log_format",
       "json (one object per line, for collectors) or text (one readable line, for development) "
       "(default json)"},
      {"auth_cache_revalidate",
       "how long a cached credential is trusted before re-reading it (default 5s)"},
      {"token_revoker_interval", "how often inactive API tokens are revoked (default 1h)"},
      {"token_revoker_initial_delay",
       "upper bound of the random delay before the first sweep (default 1m; 0 = at once)"},
      {"usage_flush_interval", "how often API token last-used times are written (default 10s)"},
      {"migrate", "apply database migrations on start (default true)"},
      {"sqlite_cache_mib",
       "SQLite page cache bound in MiB; memory grows with the database up to it (default 64)"},
      {"io_threads", "I/O threads, 0 = one per core (default 0)"},
      {"worker_threads", "threads for database and IdP calls (default 16)"},
      {"max_body_bytes",
       "largest request body, accepted only by routes that take large bodies (attestation "
       "statements) (default 1048576)"},
      {"default_max_body_bytes", "largest request body of every other route (default 65536)"},
      {"body_budget_bytes",
       "request-body bytes all connections may hold at once; beyond it 503 (default 67108864)"},
      {"max_connections", "concurrent connection limit (default 10000)"},
      {"federation_jwks_refresh_cooldown",
       "least time between two key-set refetches of one CI issuer for unknown kids (default 60s)"},
      {"max_connections_per_ip", "concurrent connections per client address (default 512, 0 off)"},
      {"read_timeout", "time for a whole request to arrive once started (default 30s)"},
      {"idle_timeout", "keep-alive idle time before a connection is closed (default 60s)"},
      {"tls_cert_file", "PEM certificate chain: serve HTTPS (with tls_key_file)"},
      {"tls_key_file", "PEM private key for tls_cert_file (must not be readable by others)"},
      {"auth_failure_limit",
       "failed authentications of one client address or credential that ban it (default 30; "
       "0 = off)"},
      {"auth_failure_window", "window in which auth_failure_limit failures ban (default 3m)"},
      {"auth_ban_duration", "how long a banned address or credential gets 429 (default 15m)"},
      {"auth_throttle_exempt_cidrs",
       "comma-separated address blocks never banned, e.g. 10.0.0.0/8 (default none)"},
      {"trusted_proxies",
       "comma-separated address blocks of load balancers whose forwarding header names the "
       "client, e.g. 10.0.0.0/8 (default none: forwarding headers are ignored)"},
      {"trusted_proxy_header",
       "the header trusted_proxies write: x-forwarded-for or forwarded (RFC 7239) (default "
       "x-forwarded-for)"},
      {"api_token_create_per_minute",
       "API tokens an organization may create per minute (default 60; 0 = off)"},
      {"federated_exchange_per_minute",
       "keyless CI token exchanges per organization per minute (default 600; 0 = off)"},
      {"idp_max_concurrent_calls",
       "calls to the login IdP in flight at once, below worker_threads (default 0 = "
       "worker_threads/4)"},
      {"idp_timeout", "total time allowed for each HTTP call to the login IdP (default 5s)"},
      {"federation_max_concurrent_fetches",
       "requests fetching or waiting for a CI issuer's discovery or keys at once (default 0 = "
       "worker_threads/8)"},
      {"login_start_per_minute",
       "login and device-login starts per client address per minute (default 20; 0 = off)"},
      {"login_start_burst", "login starts one client address may make at once (default 10)"},
      {"max_pending_logins",
       "login and device requests stored at once; more are refused (default 10000; 0 = off)"},
      {"webhook_allowed_networks",
       "comma-separated address blocks webhooks may reach although not public (loopback, "
       "private, link-local...), e.g. 10.1.0.0/16 (default none)"},
      {"webhook_timeout", "total time of each webhook delivery attempt, 100ms..30s (default 10s)"},
      {"webhook_retry_initial_delay",
       "delay before a failed webhook delivery is retried, doubling per attempt up to 1h "
       "(default 30s)"},
      {"webhook_retry_window",
       "how long after its event a webhook delivery is retried before it is marked failed "
       "(default 24h)"},
      {"webhook_poll_interval", "how often due webhook deliveries are looked for (default 1s)"},
  };
  return keys;
}

std::string_view ConfigPlaceholder(std::string_view key) {
  static const std::map<std::string, std::string, std::less<>> placeholders = {
      {"listen", "HOST:PORT"},
      {"admin_listen", "HOST:PORT"},
      {"external_url", "URL"},
      {"web_dir", "DIR"},
      {"data_dir", "DIR"},
      {"database", "URL"},
      {"database_listen_url", "URL"},
      {"pepper_file", "PATH"},
      {"pepper_files", "PATH,..."},
      {"oidc_issuer", "URL"},
      {"oidc_client_id", "ID"},
      {"oidc_client_secret", "SECRET"},
      {"oidc_client_secret_file", "PATH"},
      {"federation_issuers", "URL,..."},
      {"secret_scanning_github_keys_url", "URL"},
      {"secret_scanning_hmac_secret_file", "PATH"},
      {"oidc_id_token_max_age", "DURATION"},
      {"session_lifetime", "DURATION"},
      {"log_level", "LEVEL"},
      {"log_format", "FORMAT"},
      {"auth_cache_revalidate", "DURATION"},
      {"token_revoker_interval", "DURATION"},
      {"token_revoker_initial_delay", "DURATION"},
      {"usage_flush_interval", "DURATION"},
      {"migrate", "BOOL"},
      {"sqlite_cache_mib", "MIB"},
      {"io_threads", "COUNT"},
      {"worker_threads", "COUNT"},
      {"max_body_bytes", "BYTES"},
      {"default_max_body_bytes", "BYTES"},
      {"body_budget_bytes", "BYTES"},
      {"max_connections", "COUNT"},
      {"federation_jwks_refresh_cooldown", "DURATION"},
      {"max_connections_per_ip", "COUNT"},
      {"read_timeout", "DURATION"},
      {"idle_timeout", "DURATION"},
      {"tls_cert_file", "PATH"},
      {"tls_key_file", "PATH"},
      {"auth_failure_limit", "COUNT"},
      {"auth_failure_window", "DURATION"},
      {"auth_ban_duration", "DURATION"},
      {"auth_throttle_exempt_cidrs", "CIDR,..."},
      {"trusted_proxies", "CIDR,..."},
      {"trusted_proxy_header", "HEADER"},
      {"api_token_create_per_minute", "PER_MINUTE"},
      {"federated_exchange_per_minute", "PER_MINUTE"},
      {"idp_max_concurrent_calls", "COUNT"},
      {"idp_timeout", "DURATION"},
      {"federation_max_concurrent_fetches", "COUNT"},
      {"login_start_per_minute", "PER_MINUTE"},
      {"login_start_burst", "COUNT"},
      {"max_pending_logins", "COUNT"},
      {"webhook_allowed_networks", "CIDR,..."},
      {"webhook_timeout", "DURATION"},
      {"webhook_retry_initial_delay", "DURATION"},
      {"webhook_retry_window", "DURATION"},
      {"webhook_poll_interval", "DURATION"},
  };
  auto it = placeholders.find(key);
  return it == placeholders.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace cl::server
