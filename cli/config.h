// The CLI's on-disk state: the TOML config file (control plane, organization, login sessions)
// and the pending-attestation state files beside it.
//
// Both files hold secrets or secret-adjacent data, so they are always written with mode 0600
// into a 0700 directory, atomically (temp file + rename): never world-readable, even briefly,
// and never half-written.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cl::cli {

// A login session and the control plane that issued it. The session is only ever sent to that
// control plane: `control_plane` is the issuer's NormalizeControlPlaneUrl form.
struct StoredSession {
  std::string control_plane;
  std::string token;       // "clses_..."
  std::string expires_at;  // RFC 3339, as given by the server
  bool operator==(const StoredSession&) const = default;
};

struct CliConfig {
  std::string control_plane;  // the default control plane (the last one logged in to)
  std::string organization;
  std::vector<StoredSession> sessions;  // at most one per control plane

  // The session issued by `normalized_url`, or nullptr.
  const StoredSession* SessionFor(std::string_view normalized_url) const;
  // Adds `session`, replacing the one for the same control plane.
  void SetSession(StoredSession session);
  // Forgets the session for `normalized_url`; false when there was none.
  bool RemoveSession(std::string_view normalized_url);
};

// $XDG_CONFIG_HOME/chainloop/config.toml, else $HOME/.config/chainloop/config.toml.
// Empty arguments mean "unset".
std::string DefaultConfigPath(std::string_view xdg_config_home, std::string_view home);

// Reads the config; a missing file yields an empty config. Unknown keys are ignored.
// Fails with InvalidArgument on a malformed file (the message names the file, never values).
//
// Files from before sessions were bound to a control plane have a top-level `session_token`
// without a URL. That session is bound to the file's `control_plane` (older CLIs wrote it only
// at login, together with the session, so it names the issuer), or to kDefaultControlPlane
// when the file has none; if `control_plane` is not a valid URL the session is dropped. The
// next save writes the new layout.
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

// An attestation started by `attestation init` and not yet pushed.
struct AttestationState {
  std::string attestation_id;
  std::string organization;
};

// The state file of the attestation pending for one identity on one control plane:
// <config dir>/attestations/<key>.json, where key is a SHA-256 over the normalized control plane
// URL and `identity_key`, so a run started with $CHAINLOOP_TOKEN and one started with the login
// session never share a file. `identity_key` must not be a secret (it is hashed, but callers
// pass e.g. "session" or a hash of a token, never the token).
std::string AttestationStatePath(const std::string& config_path,
                                 std::string_view normalized_control_plane,
                                 std::string_view identity_key);
Result<std::optional<AttestationState>> LoadAttestationState(const std::string& path);
Status SaveAttestationState(const std::string& path, const AttestationState& state);
Status RemoveAttestationState(const std::string& path);

}  // namespace cl::cli
