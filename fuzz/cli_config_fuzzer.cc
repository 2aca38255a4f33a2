// Fuzz target: the CLI's TOML config file (cli/config), which a user or another program may
// have edited (login sessions bound to control plane URLs, legacy `session_token` files), and
// the JSON attestation state file beside it.
//
// Invariants: loading never throws; a config that loads round-trips through RenderConfig and
// LoadConfig unchanged; error messages never echo the file's values (they name the file only).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/config.h"
#include "cli/control_plane_url.h"
#include "crypto/credential.h"
#include "fuzz/fuzz_support.h"

using namespace cl;

namespace {

const std::string& Dir() {
  static std::string* dir = [] {
    char tmpl[] = "/tmp/cl-fuzz-cli-config-XXXXXX";
    char* d = mkdtemp(tmpl);
    fuzz::Check(d != nullptr, "mkdtemp");
    return new std::string(d);
  }();
  return *dir;
}

void WriteFile(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  fuzz::Check(fd >= 0, "open");
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    fuzz::Check(n > 0, "write");
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string path = Dir() + "/config.toml";
  WriteFile(path, in);
  auto config = cli::LoadConfig(path);
  if (config) {
    std::string rendered = cli::RenderConfig(*config);
    const std::string again_path = Dir() + "/again.toml";
    WriteFile(again_path, rendered);
    auto again = cli::LoadConfig(again_path);
    fuzz::Check(again.has_value(), "a rendered config loads");
    fuzz::Check(again->control_plane == config->control_plane &&
                    again->organization == config->organization &&
                    again->sessions == config->sessions,
                "config round-trips");
    // Every loaded session is bound to exactly one control plane, in normalized form.
    for (const auto& session : config->sessions) {
      auto normalized = cli::NormalizeControlPlaneUrl(session.control_plane);
      fuzz::Check(normalized.has_value() && *normalized == session.control_plane &&
                      !session.token.empty(),
                  "a loaded session is bound to a normalized control plane URL");
    }
  } else {
    fuzz::Check(config.error().IsInvalidArgument(), "a bad config is InvalidArgument");
    // A credential-shaped session token in the file (prefix, '_', 20+ base62 characters) must
    // not appear in the error; shorter strings may be pieces of the fixed message texts.
    auto at = in.find("token");
    if (at != std::string_view::npos) {
      size_t q1 = in.find('"', at);
      size_t q2 = q1 == std::string_view::npos ? q1 : in.find('"', q1 + 1);
      if (q2 != std::string_view::npos) {
        std::string_view value = in.substr(q1 + 1, q2 - q1 - 1);
        size_t sep = value.find('_');
        bool credential_shaped =
            sep != std::string_view::npos && sep > 0 && value.size() - sep - 1 >= 20 &&
            crypto::IsBase62(value.substr(sep + 1)) && crypto::IsBase62(value.substr(0, sep));
        if (credential_shaped) {
          fuzz::Check(config.error().message().find(value) == std::string::npos,
                      "error message does not echo the session token");
        }
      }
    }
  }

  const std::string state_path = Dir() + "/attestation-state.json";
  WriteFile(state_path, in);
  (void)cli::LoadAttestationState(state_path);
  return 0;
}
