// Opaque credentials issued by the control plane: `<prefix>_<secret><checksum>`.
//
// - prefix names the kind (see CredentialKind); it never contains '_'.
// - secret: 43 base62 characters drawn uniformly from the OS CSPRNG (43*log2(62) > 256 bits).
// - checksum: CRC32 (IEEE) of everything before it ("<prefix>_<secret>"), as 6 base62 digits,
//   so the CLI and secret scanners reject mistyped or truncated tokens offline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/result.h"

namespace cl::crypto {

enum class CredentialKind {
  kApiToken,      // prefix "clapi"
  kSession,       // prefix "clses"
  kFederated,     // prefix "clfed": short-lived token exchanged for a CI ID token
  kLoginCode,     // prefix "clcode": one-time code given to the CLI's loopback listener
  kDeviceHandle,  // prefix "cldev": handle the CLI polls during the device flow
};

inline constexpr size_t kCredentialSecretChars = 43;
inline constexpr size_t kCredentialChecksumChars = 6;

std::string_view CredentialPrefix(CredentialKind kind);

// A fresh credential of `kind`.
std::string GenerateCredential(CredentialKind kind, Random& random);

// Checks shape, prefix and checksum. Errors are Unauthenticated with reason "malformed_token"
// and a message that never echoes the credential.
Result<CredentialKind> ParseCredential(std::string_view credential);

// Building blocks, exposed for tests and fuzzing.
uint32_t Crc32(std::string_view data);
std::string Base62Fixed(uint64_t value, size_t width);  // left-padded with '0'
bool IsBase62(std::string_view s);

}  // namespace cl::crypto
