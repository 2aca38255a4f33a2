// Config and attestation-state files: TOML via toml++, JSON via Boost.JSON, atomic 0600 writes.
#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "cli/control_plane_url.h"
#include "common/json.h"
#include "crypto/hash.h"

namespace cl::cli {
namespace {

std::string ParentDir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p with mode 0700 for every directory it creates.
Status MakeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return Ok();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return Fail(Error::FailedPrecondition(dir + " exists and is not a directory"));
  }
  CL_RETURN_IF_ERROR(MakeDirs(ParentDir(dir)));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(Error::Internal("cannot create directory " + dir + ": " + std::strerror(errno)));
  }
  return Ok();
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Internal(std::string("write failed: ") + std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

}  // namespace

std::string DefaultConfigPath(std::string_view xdg_config_home, std::string_view home) {
  std::string base;
  if (!xdg_config_home.empty()) {
    base = std::string(xdg_config_home);
  } else if (!home.empty()) {
    base = std::string(home) + "/.config";
  } else {
    base = ".config";
  }
  return base + "/chainloop/config.toml";
}

const StoredSession* CliConfig::SessionFor(std::string_view normalized_url) const {
  for (const auto& s : sessions) {
    if (s.control_plane == normalized_url) return &s;
  }
  return nullptr;
}

void CliConfig::SetSession(StoredSession session) {
  RemoveSession(session.control_plane);
  sessions.push_back(std::move(session));
}

bool CliConfig::RemoveSession(std::string_view normalized_url) {
  auto before = sessions.size();
  std::erase_if(sessions,
                [&](const StoredSession& s) { return s.control_plane == normalized_url; });
  return sessions.size() != before;
}

Result<CliConfig> LoadConfig(const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text) {
    if (text.error().IsNotFound()) return CliConfig{};
    return Fail(text.error());
  }
  CliConfig config;
  std::string legacy_token, legacy_expires_at;
  try {
    toml::table table = toml::parse(*text, path);
    auto get = [&](const toml::table& t, const std::string& where, const char* key,
                   std::string& out) -> Status {
      const toml::node* node = t.get(key);
      if (node == nullptr) return Ok();
      auto value = node->value<std::string>();
      if (!value) {
        return Fail(Error::InvalidArgument("config file " + path + ": key '" + where + key +
                                           "' must be a string"));
      }
      out = *value;
      return Ok();
    };
    CL_RETURN_IF_ERROR(get(table, "", "control_plane", config.control_plane));
    CL_RETURN_IF_ERROR(get(table, "", "organization", config.organization));
    CL_RETURN_IF_ERROR(get(table, "", "session_token", legacy_token));
    CL_RETURN_IF_ERROR(get(table, "", "session_expires_at", legacy_expires_at));
    if (const toml::node* node = table.get("sessions"); node != nullptr) {
      const toml::array* list = node->as_array();
      if (list == nullptr) {
        return Fail(Error::InvalidArgument("config file " + path +
                                           ": 'sessions' must be an array of tables"));
      }
      for (size_t i = 0; i < list->size(); ++i) {
        std::string where = "sessions[" + std::to_string(i) + "].";
        const toml::table* entry = list->get(i)->as_table();
        if (entry == nullptr) {
          return Fail(Error::InvalidArgument("config file " + path + ": '" +
                                             where.substr(0, where.size() - 1) +
                                             "' must be a table"));
        }
        StoredSession session;
        std::string url;
        CL_RETURN_IF_ERROR(get(*entry, where, "control_plane", url));
        CL_RETURN_IF_ERROR(get(*entry, where, "token", session.token));
        CL_RETURN_IF_ERROR(get(*entry, where, "expires_at", session.expires_at));
        auto normalized = NormalizeControlPlaneUrl(url);
        if (!normalized || session.token.empty()) {
          // A session the CLI cannot bind to one control plane must never be used.
          return Fail(Error::InvalidArgument("config file " + path + ": '" + where +
                                             "control_plane' and '" + where +
                                             "token' must name a valid URL and a session"));
        }
        session.control_plane = std::move(*normalized);
        if (config.SessionFor(session.control_plane) != nullptr) {
          return Fail(Error::InvalidArgument("config file " + path +
                                             ": two sessions for the same control plane"));
        }
        config.sessions.push_back(std::move(session));
      }
    }
  } catch (const toml::parse_error& e) {
    // The parser's description names the syntax problem and position, not the values.
    std::ostringstream msg;
    msg << "config file " << path << " is not valid TOML: " << e.description() << " (line "
        << e.source().begin.line << ")";
    return Fail(Error::InvalidArgument(msg.str()));
  } catch (const std::exception& e) {
    return Fail(Error::InvalidArgument("config file " + path + " cannot be read"));
  }
  if (!legacy_token.empty()) {
    // See the header: the legacy session belongs to the control plane recorded with it.
    auto issuer = NormalizeControlPlaneUrl(config.control_plane.empty()
                                               ? std::string_view(kDefaultControlPlane)
                                               : std::string_view(config.control_plane));
    if (issuer && config.SessionFor(*issuer) == nullptr) {
      config.sessions.push_back({*issuer, legacy_token, legacy_expires_at});
    }
  }
  return config;
}

std::string RenderConfig(const CliConfig& config) {
  toml::table table;
  if (!config.control_plane.empty()) table.insert("control_plane", config.control_plane);
  if (!config.organization.empty()) table.insert("organization", config.organization);
  if (!config.sessions.empty()) {
    toml::array list;
    for (const auto& s : config.sessions) {
      toml::table entry;
      entry.insert("control_plane", s.control_plane);
      entry.insert("token", s.token);
      if (!s.expires_at.empty()) entry.insert("expires_at", s.expires_at);
      list.push_back(std::move(entry));
    }
    table.insert("sessions", std::move(list));
  }
  std::ostringstream out;
  out << "# chainloop CLI configuration (contains your login sessions: keep it private)\n";
  out << "# Each session is sent only to the control plane that issued it.\n";
  out << table << "\n";
  return out.str();
}

Status SaveConfig(const std::string& path, const CliConfig& config) {
  return WritePrivateFileAtomic(path, RenderConfig(config));
}

Status WritePrivateFileAtomic(const std::string& path, std::string_view content) {
  std::string dir = ParentDir(path);
  CL_RETURN_IF_ERROR(MakeDirs(dir));
  std::string tmpl = path + ".tmp-XXXXXX";
  // mkstemp creates the file with mode 0600 before any byte is written.
  int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    return Fail(Error::Internal("cannot create a temporary file next to " + path + ": " +
                                std::strerror(errno)));
  }
  auto cleanup = [&] {
    close(fd);
    unlink(tmpl.c_str());
  };
  if (fchmod(fd, 0600) != 0) {
    cleanup();
    return Fail(Error::Internal("cannot set permissions on " + tmpl));
  }
  if (auto st = WriteAll(fd, content); !st) {
    cleanup();
    return Fail(Error::Internal("cannot write " + path + ": " + st.error().message()));
  }
  if (fsync(fd) != 0) {
    cleanup();
    return Fail(Error::Internal("cannot sync " + path + ": " + std::strerror(errno)));
  }
  if (close(fd) != 0) {
    unlink(tmpl.c_str());
    return Fail(Error::Internal("cannot close " + path + ": " + std::strerror(errno)));
  }
  if (rename(tmpl.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmpl.c_str());
    return Fail(Error::Internal("cannot replace " + path + ": " + std::strerror(err)));
  }
  return Ok();
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Fail(Error::NotFound("file " + path + " does not exist"));
    return Fail(Error::InvalidArgument("cannot open " + path + ": " + std::strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Fail(Error::InvalidArgument(path + " is not a regular file"));
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    close(fd);
    return Fail(Error::PayloadTooLarge(path + " is larger than the limit of " +
                                       std::to_string(max_bytes) + " bytes"));
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return Fail(Error::InvalidArgument("cannot read " + path + ": " + std::strerror(errno)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // the file grew after fstat
      close(fd);
      return Fail(Error::PayloadTooLarge(path + " is larger than the limit of " +
                                         std::to_string(max_bytes) + " bytes"));
    }
  }
  close(fd);
  return out;
}

std::string AttestationStatePath(const std::string& config_path,
                                 std::string_view normalized_control_plane,
                                 std::string_view identity_key) {
  std::string material = "chainloop-cli attestation state v1";
  material.push_back('\0');
  material.append(normalized_control_plane);
  material.push_back('\0');
  material.append(identity_key);
  std::string key = crypto::HexEncode(crypto::Sha256(material)).substr(0, 32);
  return ParentDir(config_path) + "/attestations/" + key + ".json";
}

Result<std::optional<AttestationState>> LoadAttestationState(const std::string& path) {
  auto text = ReadSmallFile(path, 64 * 1024);
  if (!text) {
    if (text.error().IsNotFound()) return std::optional<AttestationState>();
    return Fail(text.error());
  }
  auto bad = [&] {
    return Error::InvalidArgument(
        "attestation state file " + path +
        " is damaged; remove it and run `chainloop attestation init` again");
  };
  auto parsed = ParseJson(*text);
  if (!parsed || !parsed->is_object()) return Fail(bad());
  const auto& obj = parsed->as_object();
  AttestationState state;
  auto id = obj.if_contains("attestation_id");
  if (id == nullptr || !id->is_string() || id->as_string().empty()) return Fail(bad());
  state.attestation_id = std::string(id->as_string());
  if (auto org = obj.if_contains("organization"); org != nullptr && org->is_string()) {
    state.organization = std::string(org->as_string());
  }
  return std::optional<AttestationState>(std::move(state));
}

Status SaveAttestationState(const std::string& path, const AttestationState& state) {
  boost::json::object obj;
  obj["attestation_id"] = state.attestation_id;
  obj["organization"] = state.organization;
  return WritePrivateFileAtomic(path, SerializeJson(obj) + "\n");
}

Status RemoveAttestationState(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Fail(Error::Internal("cannot remove " + path + ": " + std::strerror(errno)));
  }
  return Ok();
}

}  // namespace cl::cli
