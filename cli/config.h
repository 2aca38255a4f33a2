// The CLI's on-disk state: the TOML config file (control plane, organization, login session)
// and the "current attestation" state file beside it.
//
// Both files hold secrets or secret-adjacent data, so they are always written with mode 0600
// into a 0700 directory, atomically (temp file + rename): never world-readable, even briefly,
// and never half-written.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cl::cli {

struct CliConfig {
  std::string control_plane;
  std::string organization;
  std::string session_token;       // "clses_..." or empty when logged out
  std::string session_expires_at;  // RFC 3339, as given by the server
};

// $XDG_CONFIG_HOME/chainloop/config.toml, else $HOME/.config/chainloop/config.toml.
// Empty arguments mean "unset".
std::string DefaultConfigPath(std::string_view xdg_config_home, std::string_view home);

// Reads the config; a missing file yields an empty config. Unknown keys are ignored.
// Fails with InvalidArgument on a malformed file (the message names the file, never values).
Result<CliConfig> LoadConfig(const std::string& path);

// Writes the config atomically with mode 0600, creating missing directories with mode 0700.
Status SaveConfig(const std::string& path, const CliConfig& config);

// The TOML text SaveConfig writes (exposed for tests).
std::string RenderConfig(const CliConfig& config);

// Writes `content` to `path` atomically: a 0600 temp file in the same directory, fsync, rename.
// Creates missing parent directories with mode 0700.
Status WritePrivateFileAtomic(const std::string& path, std::string_view content);

// Reads a whole file, refusing files larger than `max_bytes`. NotFound when absent.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

// The attestation started by `attestation init` and not yet pushed.
struct AttestationState {
  std::string attestation_id;
  std::string organization;
};

// attestation-state.json in the config file's directory.
std::string AttestationStatePath(const std::string& config_path);
Result<std::optional<AttestationState>> LoadAttestationState(const std::string& path);
Status SaveAttestationState(const std::string& path, const AttestationState& state);
Status RemoveAttestationState(const std::string& path);

}  // namespace cl::cli
