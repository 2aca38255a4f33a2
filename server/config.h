// ServerConfig: the control plane's settings, merged from defaults < TOML file < environment
// (CHAINLOOP_<KEY>) < command-line flags. Every key has the same name in all three sources.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace cl::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:8000";  // HOST:PORT
  std::string external_url;               // default: http://<listen>
  std::string data_dir = ".data";
  std::string web_dir = "web/dist";  // built web UI (empty: no UI)
  std::string database;  // "sqlite:PATH" or "postgres://..."; default sqlite:<data_dir>/controlplane.db
  std::string pepper_file;  // default <data_dir>/pepper (generated, mode 0600, on first start)
  std::string oidc_issuer = "http://127.0.0.1:8090";
  std::string oidc_client_id = "chainloop-dev";
  std::string oidc_client_secret;  // never logged
  UnixMillis session_lifetime = 24 * kMillisPerHour;
  std::string log_level = "info";
  bool migrate = true;  // apply migrations on start
  int io_threads = 0;   // 0: one per core
  int worker_threads = 16;
  int64_t max_body_bytes = 1 << 20;
  int64_t max_connections = 10000;
  // How long a cached credential is trusted before it is re-read (backstop for lost
  // revocation notifications).
  UnixMillis auth_cache_revalidate = 5 * kMillisPerSecond;
  // Auto-revocation of inactive API tokens: sweep interval and the random delay before the first.
  UnixMillis token_revoker_interval = kMillisPerHour;
  UnixMillis token_revoker_initial_delay = kMillisPerMinute;
  UnixMillis usage_flush_interval = 10 * kMillisPerSecond;  // API token last_used_at writer
  // Keyless CI: the issuers organizations may trust at all (compared byte for byte with `iss`).
  // Each must be an https URL, or a plain-http loopback URL listed explicitly (tests).
  std::vector<std::string> federation_issuers = {"https://gitlab.com",
                                                 "https://token.actions.githubusercontent.com"};

  std::string ListenHost() const;
  int ListenPort() const;
};

// Keys accepted everywhere (flags, env, TOML), e.g. "session_lifetime".
const std::map<std::string, std::string>& ConfigKeysWithHelp();

// `flags` holds only the flags given on the command line (key -> value); `env` is a lookup
// function (getenv in production). Unknown TOML keys, bad durations and bad numbers are errors.
Result<ServerConfig> LoadServerConfig(const std::optional<std::string>& toml_file,
                                      const std::map<std::string, std::string>& flags,
                                      const std::function<const char*(const char*)>& env);

// "24h", "90m", "30s", "1500ms", "7d" -> milliseconds. Positive only.
Result<UnixMillis> ParseDuration(std::string_view text);

// Reads the pepper file, or creates it with 32 random bytes (hex) and mode 0600 when absent.
// Refuses a pepper file readable by group/others.
Result<std::string> LoadOrCreatePepper(const std::string& path);

}  // namespace cl::server
