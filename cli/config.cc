// Config and attestation-state files: TOML via toml++, JSON via Boost.JSON, atomic 0600 writes.
#include "cli/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/json.h"

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

Result<CliConfig> LoadConfig(const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text) {
    if (text.error().IsNotFound()) return CliConfig{};
    return Fail(text.error());
  }
  CliConfig config;
  try {
    toml::table table = toml::parse(*text, path);
    auto get = [&](const char* key, std::string& out) -> Status {
      const toml::node* node = table.get(key);
      if (node == nullptr) return Ok();
      auto value = node->value<std::string>();
      if (!value) {
        return Fail(
            Error::InvalidArgument("config file " + path + ": key '" + key + "' must be a string"));
      }
      out = *value;
      return Ok();
    };
    CL_RETURN_IF_ERROR(get("control_plane", config.control_plane));
    CL_RETURN_IF_ERROR(get("organization", config.organization));
    CL_RETURN_IF_ERROR(get("session_token", config.session_token));
    CL_RETURN_IF_ERROR(get("session_expires_at", config.session_expires_at));
  } catch (const toml::parse_error& e) {
    // The parser's description names the syntax problem and position, not the values.
    std::ostringstream msg;
    msg << "config file " << path << " is not valid TOML: " << e.description() << " (line "
        << e.source().begin.line << ")";
    return Fail(Error::InvalidArgument(msg.str()));
  } catch (const std::exception& e) {
    return Fail(Error::InvalidArgument("config file " + path + " cannot be read"));
  }
  return config;
}

std::string RenderConfig(const CliConfig& config) {
  toml::table table;
  if (!config.control_plane.empty()) table.insert("control_plane", config.control_plane);
  if (!config.organization.empty()) table.insert("organization", config.organization);
  if (!config.session_token.empty()) table.insert("session_token", config.session_token);
  if (!config.session_expires_at.empty()) {
    table.insert("session_expires_at", config.session_expires_at);
  }
  std::ostringstream out;
  out << "# chainloop CLI configuration (contains your login session: keep it private)\n";
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

std::string AttestationStatePath(const std::string& config_path) {
  return ParentDir(config_path) + "/attestation-state.json";
}

Result<std::optional<AttestationState>> LoadAttestationState(const std::string& path) {
  auto text = ReadSmallFile(path, 64 * 1024);
  if (!text) {
    if (text.error().IsNotFound()) return std::optional<AttestationState>();
    return Fail(text.error());
  }
  auto bad = [&] {
    return Error::InvalidArgument("attestation state file " + path +
                                  " is damaged; remove it and run `chainloop attestation init`");
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
