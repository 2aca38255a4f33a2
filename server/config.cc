#include "server/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/random.h"
#include "crypto/hash.h"
#include "domain/throttle.h"
#include "oidc/discovery.h"

namespace cl::server {
namespace {

Result<int64_t> ParseInt(std::string_view key, std::string_view v) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return Fail(Error::InvalidArgument("config " + std::string(key) + ": '" + std::string(v) +
                                       "' is not an integer"));
  }
  return n;
}

Result<bool> ParseBool(std::string_view key, std::string_view v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return Fail(Error::InvalidArgument("config " + std::string(key) + ": '" + std::string(v) +
                                     "' is not a boolean"));
}

// A comma-separated list: items trimmed of spaces, empty items dropped.
std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = std::min(v.find(',', start), v.size());
    std::string item(v.substr(start, end - start));
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) items.push_back(std::move(item));
    start = end + 1;
  }
  return items;
}

// A comma-separated list of address blocks (common/address.h), each checked.
Result<std::vector<std::string>> ParseCidrList(std::string_view key, std::string_view v) {
  std::vector<std::string> blocks = SplitList(v);
  for (const std::string& block : blocks) {
    auto cidr = domain::Cidr::Parse(block);
    if (!cidr) {
      return Fail(
          Error::InvalidArgument("config " + std::string(key) + ": " + cidr.error().message()));
    }
  }
  return blocks;
}

Status Apply(ServerConfig& c, const std::string& key, const std::string& v) {
  if (key == "listen") {
    c.listen = v;
  } else if (key == "admin_listen") {
    c.admin_listen = v;
  } else if (key == "external_url") {
    c.external_url = v;
  } else if (key == "web_dir") {
    c.web_dir = v;
  } else if (key == "data_dir") {
    c.data_dir = v;
  } else if (key == "database") {
    c.database = v;
  } else if (key == "database_listen_url") {
    c.database_listen_url = v;
  } else if (key == "pepper_file") {
    c.pepper_file = v;
  } else if (key == "pepper_files") {
    c.pepper_files = SplitList(v);
  } else if (key == "oidc_issuer") {
    c.oidc_issuer = v;
  } else if (key == "federation_issuers") {
    c.federation_issuers = SplitList(v);
    for (const std::string& issuer : c.federation_issuers) {
      if (!oidc::IsAllowedIssuerUrl(issuer)) {
        return Fail(
            Error::InvalidArgument("config federation_issuers: '" + issuer +
                                   "' must be an https URL (plain http only for a loopback host)"));
      }
    }
  } else if (key == "secret_scanning_github_keys_url") {
    if (!v.empty() && !oidc::IsAllowedIssuerUrl(v)) {
      return Fail(
          Error::InvalidArgument("config secret_scanning_github_keys_url: '" + v +
                                 "' must be an https URL (plain http only for a loopback host)"));
    }
    c.secret_scanning_github_keys_url = v;
  } else if (key == "secret_scanning_hmac_secret_file") {
    c.secret_scanning_hmac_secret_file = v;
  } else if (key == "oidc_client_id") {
    c.oidc_client_id = v;
  } else if (key == "oidc_client_secret") {
    c.oidc_client_secret = v;
  } else if (key == "oidc_client_secret_file") {
    c.oidc_client_secret_file = v;
  } else if (key == "oidc_id_token_max_age") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    if (*d < kMillisPerMinute || *d > kMillisPerHour) {
      return Fail(Error::InvalidArgument("config " + key + " must be between 1m and 1h"));
    }
    c.oidc_id_token_max_age = *d;
  } else if (key == "session_lifetime") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config session_lifetime: " + d.error().message()));
    c.session_lifetime = *d;
  } else if (key == "auth_cache_revalidate" || key == "usage_flush_interval") {
    // At most an hour: a credential is re-read, and a batched use written, well within the
    // 12 h after which an idle API token's first use is written at once (domain::Authenticator
    // kPromptUseAfter), which is what keeps inactivity sweeps from missing uses.
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    if (*d > kMillisPerHour) {
      return Fail(Error::InvalidArgument("config " + key + " must be at most 1h"));
    }
    (key == "auth_cache_revalidate" ? c.auth_cache_revalidate : c.usage_flush_interval) = *d;
  } else if (key == "token_revoker_interval") {
    auto d = ParseDuration(v);
    if (!d)
      return Fail(Error::InvalidArgument("config token_revoker_interval: " + d.error().message()));
    c.token_revoker_interval = *d;
  } else if (key == "token_revoker_initial_delay") {
    if (v == "0") {
      c.token_revoker_initial_delay = 0;
    } else {
      auto d = ParseDuration(v);
      if (!d) {
        return Fail(
            Error::InvalidArgument("config token_revoker_initial_delay: " + d.error().message()));
      }
      c.token_revoker_initial_delay = *d;
    }
  } else if (key == "federation_jwks_refresh_cooldown") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    if (*d < kMillisPerSecond || *d > kMillisPerHour) {
      return Fail(Error::InvalidArgument("config " + key + " must be between 1s and 1h"));
    }
    c.federation_jwks_refresh_cooldown = *d;
  } else if (key == "log_format") {
    if (v != "json" && v != "text") {
      return Fail(Error::InvalidArgument("config log_format must be json or text"));
    }
    c.log_format = v;
  } else if (key == "log_level") {
    if (v != "debug" && v != "info" && v != "warn" && v != "error") {
      return Fail(Error::InvalidArgument("config log_level must be debug, info, warn or error"));
    }
    c.log_level = v;
  } else if (key == "migrate") {
    CL_ASSIGN_OR_RETURN(c.migrate, ParseBool(key, v));
  } else if (key == "sqlite_cache_mib") {
    CL_ASSIGN_OR_RETURN(auto n, ParseInt(key, v));
    if (n < 1 || n > 4096) {
      return Fail(Error::InvalidArgument("config sqlite_cache_mib must be 1..4096"));
    }
    c.sqlite_cache_mib = static_cast<int>(n);
  } else if (key == "io_threads") {
    CL_ASSIGN_OR_RETURN(auto n, ParseInt(key, v));
    if (n < 0 || n > 256) return Fail(Error::InvalidArgument("config io_threads must be 0..256"));
    c.io_threads = static_cast<int>(n);
  } else if (key == "worker_threads") {
    CL_ASSIGN_OR_RETURN(auto n, ParseInt(key, v));
    if (n < 1 || n > 1024)
      return Fail(Error::InvalidArgument("config worker_threads must be 1..1024"));
    c.worker_threads = static_cast<int>(n);
  } else if (key == "max_body_bytes") {
    CL_ASSIGN_OR_RETURN(c.max_body_bytes, ParseInt(key, v));
    if (c.max_body_bytes < 1024)
      return Fail(Error::InvalidArgument("config max_body_bytes must be >= 1024"));
  } else if (key == "default_max_body_bytes") {
    CL_ASSIGN_OR_RETURN(c.default_max_body_bytes, ParseInt(key, v));
    if (c.default_max_body_bytes < 1024)
      return Fail(Error::InvalidArgument("config default_max_body_bytes must be >= 1024"));
  } else if (key == "body_budget_bytes") {
    CL_ASSIGN_OR_RETURN(c.body_budget_bytes, ParseInt(key, v));
    if (c.body_budget_bytes < 1024)
      return Fail(Error::InvalidArgument("config body_budget_bytes must be >= 1024"));
  } else if (key == "max_connections_per_ip") {
    CL_ASSIGN_OR_RETURN(c.max_connections_per_ip, ParseInt(key, v));
    if (c.max_connections_per_ip < 0) {
      return Fail(Error::InvalidArgument("config max_connections_per_ip must be >= 0"));
    }
  } else if (key == "read_timeout" || key == "idle_timeout") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    if (*d < 100) return Fail(Error::InvalidArgument("config " + key + " must be >= 100ms"));
    (key == "read_timeout" ? c.read_timeout : c.idle_timeout) = *d;
  } else if (key == "tls_cert_file") {
    c.tls_cert_file = v;
  } else if (key == "tls_key_file") {
    c.tls_key_file = v;
  } else if (key == "max_connections") {
    CL_ASSIGN_OR_RETURN(c.max_connections, ParseInt(key, v));
    if (c.max_connections < 1)
      return Fail(Error::InvalidArgument("config max_connections must be >= 1"));
  } else if (key == "auth_failure_limit") {
    CL_ASSIGN_OR_RETURN(c.auth_failure_limit, ParseInt(key, v));
    if (c.auth_failure_limit < 0 || c.auth_failure_limit > 1'000'000) {
      return Fail(Error::InvalidArgument("config auth_failure_limit must be 0..1000000 (0 = off)"));
    }
  } else if (key == "auth_failure_window" || key == "auth_ban_duration") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    (key == "auth_failure_window" ? c.auth_failure_window : c.auth_ban_duration) = *d;
  } else if (key == "auth_throttle_exempt_cidrs") {
    CL_ASSIGN_OR_RETURN(c.auth_throttle_exempt_cidrs, ParseCidrList(key, v));
  } else if (key == "trusted_proxies") {
    CL_ASSIGN_OR_RETURN(c.trusted_proxies, ParseCidrList(key, v));
  } else if (key == "trusted_proxy_header") {
    if (v != "x-forwarded-for" && v != "forwarded") {
      return Fail(Error::InvalidArgument(
          "config trusted_proxy_header must be x-forwarded-for or forwarded"));
    }
    c.trusted_proxy_header = v;
  } else if (key == "api_token_create_per_minute" || key == "federated_exchange_per_minute") {
    CL_ASSIGN_OR_RETURN(auto n, ParseInt(key, v));
    if (n < 0 || n > 1'000'000) {
      return Fail(Error::InvalidArgument("config " + key + " must be 0..1000000 (0 = off)"));
    }
    (key == "api_token_create_per_minute" ? c.api_token_create_per_minute
                                          : c.federated_exchange_per_minute) = n;
  } else if (key == "idp_max_concurrent_calls" || key == "federation_max_concurrent_fetches") {
    CL_ASSIGN_OR_RETURN(auto n, ParseInt(key, v));
    if (n < 0 || n > 1023) {
      return Fail(Error::InvalidArgument("config " + key + " must be 0..1023"));
    }
    (key == "idp_max_concurrent_calls" ? c.idp_max_concurrent_calls
                                       : c.federation_max_concurrent_fetches) = static_cast<int>(n);
  } else if (key == "idp_timeout") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    if (*d < 100 || *d > kMillisPerMinute) {
      return Fail(Error::InvalidArgument("config idp_timeout must be 100ms..60s"));
    }
    c.idp_timeout = *d;
  } else if (key == "login_start_per_minute" || key == "login_start_burst" ||
             key == "max_pending_logins") {
    CL_ASSIGN_OR_RETURN(auto n, ParseInt(key, v));
    const int64_t min = key == "login_start_burst" ? 1 : 0;
    if (n < min || n > 100'000'000) {
      return Fail(Error::InvalidArgument("config " + key + " must be " + std::to_string(min) +
                                         "..100000000" + (min == 0 ? " (0 = off)" : "")));
    }
    (key == "login_start_per_minute" ? c.login_start_per_minute
     : key == "login_start_burst"    ? c.login_start_burst
                                     : c.max_pending_logins) = n;
  } else if (key == "webhook_allowed_networks") {
    CL_ASSIGN_OR_RETURN(c.webhook_allowed_networks, ParseCidrList(key, v));
  } else if (key == "webhook_timeout" || key == "webhook_retry_initial_delay" ||
             key == "webhook_retry_window" || key == "webhook_poll_interval") {
    auto d = ParseDuration(v);
    if (!d) return Fail(Error::InvalidArgument("config " + key + ": " + d.error().message()));
    // An attempt must end well within the 60 s lease on its delivery (or another instance
    // could send it again meanwhile).
    if (key == "webhook_timeout" && (*d < 100 || *d > 30 * kMillisPerSecond)) {
      return Fail(Error::InvalidArgument("config webhook_timeout must be 100ms..30s"));
    }
    (key == "webhook_timeout"               ? c.webhook_timeout
     : key == "webhook_retry_initial_delay" ? c.webhook_retry_initial_delay
     : key == "webhook_retry_window"        ? c.webhook_retry_window
                                            : c.webhook_poll_interval) = *d;
  } else {
    return Fail(Error::InvalidArgument("unknown configuration key '" + key + "'"));
  }
  return Ok();
}

}  // namespace

namespace {

std::string HostOf(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

int PortOf(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  int port = -1;
  std::string_view p(address.data() + colon + 1, address.size() - colon - 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || ptr != p.data() + p.size() || port < 0 || port > 65535) return -1;
  return port;
}

}  // namespace

std::string ServerConfig::ListenHost() const { return HostOf(listen); }
int ServerConfig::ListenPort() const { return PortOf(listen); }
std::string ServerConfig::AdminListenHost() const { return HostOf(admin_listen); }
int ServerConfig::AdminListenPort() const { return PortOf(admin_listen); }

Result<UnixMillis> ParseDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 12) {
    return Fail(Error::InvalidArgument("'" + std::string(text) +
                                       "' is not a duration (examples: 24h, 30m, 90s, 7d)"));
  }
  int64_t n = 0;
  std::from_chars(text.data(), text.data() + i, n);
  std::string_view unit = text.substr(i);
  int64_t mult = 0;
  if (unit == "ms")
    mult = 1;
  else if (unit == "s")
    mult = kMillisPerSecond;
  else if (unit == "m")
    mult = kMillisPerMinute;
  else if (unit == "h")
    mult = kMillisPerHour;
  else if (unit == "d")
    mult = kMillisPerDay;
  if (mult == 0 || n <= 0) {
    return Fail(Error::InvalidArgument(
        "'" + std::string(text) + "' is not a positive duration (examples: 24h, 30m, 90s, 7d)"));
  }
  return n * mult;
}

Result<ServerConfig> LoadServerConfig(const std::optional<std::string>& toml_file,
                                      const std::map<std::string, std::string>& flags,
                                      const std::function<const char*(const char*)>& env) {
  ServerConfig c;
  if (toml_file) {
    toml::table tbl;
    try {
      tbl = toml::parse_file(*toml_file);
    } catch (const toml::parse_error& e) {
      return Fail(Error::InvalidArgument("cannot read config file " + *toml_file + ": " +
                                         std::string(e.description())));
    }
    for (const auto& [k, node] : tbl) {
      std::string key(k.str());
      std::string value;
      if (auto s = node.value<std::string>()) {
        value = *s;
      } else if (auto i = node.value<int64_t>()) {
        value = std::to_string(*i);
      } else if (auto b = node.value<bool>()) {
        value = *b ? "true" : "false";
      } else if (const toml::array* list = node.as_array();
                 list && (key == "pepper_files" || key == "trusted_proxies" ||
                          key == "webhook_allowed_networks")) {
        // A TOML list: the same as the comma-separated form of flags and environment.
        for (const auto& item : *list) {
          auto path = item.value<std::string>();
          if (!path || path->find(',') != std::string::npos) {
            return Fail(Error::InvalidArgument("config file key '" + key +
                                               "' must be a list of strings without commas"));
          }
          if (!value.empty()) value += ",";
          value += *path;
        }
      } else {
        return Fail(Error::InvalidArgument("config file key '" + key +
                                           "' must be a string, integer or boolean"));
      }
      CL_RETURN_IF_ERROR(Apply(c, key, value));
    }
  }
  for (const auto& [key, help] : ConfigKeysWithHelp()) {
    std::string name = "CHAINLOOP_";
    for (char ch : key)
      name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (const char* v = env(name.c_str()); v && *v) CL_RETURN_IF_ERROR(Apply(c, key, v));
  }
  for (const auto& [key, value] : flags) CL_RETURN_IF_ERROR(Apply(c, key, value));

  // Checked once all sources are merged: each may set one key of a pair.
  if (c.default_max_body_bytes > c.max_body_bytes) {
    return Fail(Error::InvalidArgument(
        "config default_max_body_bytes (" + std::to_string(c.default_max_body_bytes) +
        ") must not exceed max_body_bytes (" + std::to_string(c.max_body_bytes) + ")"));
  }
  if (c.body_budget_bytes < c.max_body_bytes) {
    return Fail(Error::InvalidArgument(
        "config body_budget_bytes (" + std::to_string(c.body_budget_bytes) +
        ") must be at least max_body_bytes (" + std::to_string(c.max_body_bytes) +
        "), or the largest bodies could never be accepted"));
  }
  if (c.webhook_retry_window < c.webhook_retry_initial_delay) {
    return Fail(
        Error::InvalidArgument("config webhook_retry_window must be at least "
                               "webhook_retry_initial_delay, or no retry would happen"));
  }
  if (c.ListenPort() < 0) {
    return Fail(Error::InvalidArgument("listen must be HOST:PORT, got '" + c.listen + "'"));
  }
  if (!c.admin_listen.empty() && (c.AdminListenPort() < 0 || c.AdminListenHost().empty())) {
    return Fail(
        Error::InvalidArgument("admin_listen must be HOST:PORT, got '" + c.admin_listen + "'"));
  }
  if (c.external_url.empty()) c.external_url = "http://" + c.listen;
  while (!c.external_url.empty() && c.external_url.back() == '/') c.external_url.pop_back();
  if (!c.oidc_client_secret.empty() && !c.oidc_client_secret_file.empty()) {
    return Fail(Error::InvalidArgument(
        "config oidc_client_secret and oidc_client_secret_file are both set; set one"));
  }
  if (c.database.empty()) c.database = "sqlite:" + c.data_dir + "/controlplane.db";
  if (c.pepper_file.empty() && c.pepper_files.empty()) c.pepper_file = c.data_dir + "/pepper";
  // Outbound calls that anonymous requests trigger (the login IdP, CI issuers) must never take
  // every worker: the rest of the API and /readyz need one.
  if (c.worker_threads < 3) {
    return Fail(Error::InvalidArgument(
        "config worker_threads must be at least 3: calls to the login IdP and to CI issuers may "
        "never hold every worker"));
  }
  if (c.IdpMaxConcurrentCalls() + c.FederationMaxConcurrentFetches() >= c.worker_threads) {
    return Fail(Error::InvalidArgument(
        "config idp_max_concurrent_calls (" + std::to_string(c.IdpMaxConcurrentCalls()) +
        ") plus federation_max_concurrent_fetches (" +
        std::to_string(c.FederationMaxConcurrentFetches()) + ") must be below worker_threads (" +
        std::to_string(c.worker_threads) + ")"));
  }
  return c;
}

int ServerConfig::IdpMaxConcurrentCalls() const {
  if (idp_max_concurrent_calls > 0) return idp_max_concurrent_calls;
  return std::max(1, worker_threads / 4);
}

int ServerConfig::FederationMaxConcurrentFetches() const {
  if (federation_max_concurrent_fetches > 0) return federation_max_concurrent_fetches;
  return std::max(1, worker_threads / 8);
}

Result<std::string> LoadOrCreatePepper(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec)
      return Fail(Error::Internal("cannot create directory for " + path + ": " + ec.message()));
  }
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    SystemRandom random;
    uint8_t raw[32];
    random.Fill(raw, sizeof raw);
    std::string hex = crypto::HexEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
    // O_EXCL: if another process created it meanwhile, read that one instead.
    int wfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd >= 0) {
      bool ok = ::write(wfd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) &&
                ::fsync(wfd) == 0;
      ::close(wfd);
      if (!ok) return Fail(Error::Internal("cannot write pepper file " + path));
    } else if (errno != EEXIST) {
      return Fail(Error::Internal("cannot create pepper file " + path));
    }
  }
  return LoadPepperFile(path);
}

Result<std::string> ReadSecretFile(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    return Fail(Error::FailedPrecondition("cannot open " + name + ": " + std::strerror(err)));
  }
  // fstat on the opened descriptor: what is checked is what is read (no symlink swap between).
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(Error::FailedPrecondition(name + " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Fail(
        Error::FailedPrecondition(name + " must not be readable by group or others (chmod 600)"));
  }
  std::string content(4096, '\0');
  ssize_t n = ::read(fd, content.data(), content.size());
  ::close(fd);
  if (n < 0) return Fail(Error::Internal("cannot read " + name));
  content.resize(static_cast<size_t>(n));
  while (!content.empty() && std::isspace(static_cast<unsigned char>(content.back())))
    content.pop_back();
  return content;
}

Status ResolveSecretFiles(ServerConfig& c) {
  if (!c.secret_scanning_hmac_secret_file.empty()) {
    CL_ASSIGN_OR_RETURN(std::string secret, ReadSecretFile(c.secret_scanning_hmac_secret_file,
                                                           "secret scanning HMAC secret file"));
    if (secret.size() < 32) {
      return Fail(Error::FailedPrecondition("secret scanning HMAC secret file " +
                                            c.secret_scanning_hmac_secret_file +
                                            " holds fewer than 32 characters"));
    }
    c.secret_scanning_hmac_secret = std::move(secret);
  }
  if (c.oidc_client_secret_file.empty()) return Ok();
  CL_ASSIGN_OR_RETURN(std::string secret,
                      ReadSecretFile(c.oidc_client_secret_file, "OIDC client secret file"));
  if (secret.empty()) {
    return Fail(Error::FailedPrecondition("OIDC client secret file " + c.oidc_client_secret_file +
                                          " is empty"));
  }
  c.oidc_client_secret = std::move(secret);
  return Ok();
}

Result<std::string> LoadPepperFile(const std::string& path) {
  CL_ASSIGN_OR_RETURN(std::string content, ReadSecretFile(path, "pepper file"));
  if (content.size() < 32) {
    return Fail(
        Error::FailedPrecondition("pepper file " + path + " holds fewer than 32 characters"));
  }
  return content;
}

Result<std::vector<LoadedPepper>> LoadPeppers(const ServerConfig& c, bool create) {
  std::vector<LoadedPepper> out;
  if (c.pepper_files.empty()) {
    auto pepper = create ? LoadOrCreatePepper(c.pepper_file) : LoadPepperFile(c.pepper_file);
    if (!pepper) return Fail(pepper.error());
    out.push_back({c.pepper_file, std::move(*pepper)});
    return out;
  }
  for (const auto& path : c.pepper_files) {
    CL_ASSIGN_OR_RETURN(std::string pepper, LoadPepperFile(path));
    for (const auto& earlier : out) {
      if (earlier.pepper == pepper) {
        return Fail(Error::FailedPrecondition("pepper files " + earlier.path + " and " + path +
                                              " hold the same pepper; list each pepper once"));
      }
    }
    out.push_back({path, std::move(pepper)});
  }
  return out;
}

}  // namespace cl::server
