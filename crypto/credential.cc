// Opaque credentials: generation (CSPRNG, base62 by rejection sampling) and offline checks
// (prefix, length, alphabet, CRC32 checksum). Errors never echo the credential.
#include "crypto/credential.h"

#include <array>
#include <optional>

namespace cl::crypto {
namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// 248 = 4 * 62: bytes below it map uniformly onto the alphabet; the rest are redrawn.
constexpr unsigned kRejectFrom = 248;

struct KindPrefix {
  CredentialKind kind;
  std::string_view prefix;
};
constexpr KindPrefix kKinds[] = {
    {CredentialKind::kApiToken, "clapi"},     {CredentialKind::kSession, "clses"},
    {CredentialKind::kFederated, "clfed"},    {CredentialKind::kLoginCode, "clcode"},
    {CredentialKind::kDeviceHandle, "cldev"},
};

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

std::optional<CredentialKind> KindForPrefix(std::string_view prefix) {
  for (const auto& k : kKinds) {
    if (k.prefix == prefix) return k.kind;
  }
  return std::nullopt;
}

Error Malformed(std::string_view why) {
  return Error::Unauthenticated("token is malformed: " + std::string(why), Reason::kMalformedToken);
}

}  // namespace

std::string_view CredentialPrefix(CredentialKind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.prefix;
  }
  return {};  // Unreachable for valid enum values.
}

uint32_t Crc32(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = kCrcTable[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string Base62Fixed(uint64_t value, size_t width) {
  std::string out(width, '0');
  for (size_t i = width; i > 0 && value > 0; --i) {
    out[i - 1] = kBase62[value % 62];
    value /= 62;
  }
  return out;
}

bool IsBase62(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!ok) return false;
  }
  return true;
}

std::string GenerateCredential(CredentialKind kind, Random& random) {
  std::string out(CredentialPrefix(kind));
  out.push_back('_');
  const size_t secret_start = out.size();
  std::array<uint8_t, 64> buf;
  while (out.size() - secret_start < kCredentialSecretChars) {
    random.Fill(buf.data(), buf.size());
    for (uint8_t b : buf) {
      if (b >= kRejectFrom) continue;
      out.push_back(kBase62[b % 62]);
      if (out.size() - secret_start == kCredentialSecretChars) break;
    }
  }
  buf.fill(0);
  out += Base62Fixed(Crc32(out), kCredentialChecksumChars);
  return out;
}

Result<CredentialKind> ParseCredential(std::string_view credential) {
  size_t sep = credential.find('_');
  if (sep == std::string_view::npos) return Fail(Malformed("missing prefix"));
  auto kind = KindForPrefix(credential.substr(0, sep));
  if (!kind) return Fail(Malformed("unknown prefix"));
  const size_t want = sep + 1 + kCredentialSecretChars + kCredentialChecksumChars;
  if (credential.size() != want) {
    return Fail(Malformed("wrong length (mistyped or truncated?)"));
  }
  std::string_view body = credential.substr(sep + 1);
  if (!IsBase62(body)) return Fail(Malformed("invalid character"));
  std::string_view covered = credential.substr(0, want - kCredentialChecksumChars);
  std::string_view checksum = credential.substr(want - kCredentialChecksumChars);
  if (Base62Fixed(Crc32(covered), kCredentialChecksumChars) != checksum) {
    return Fail(Malformed("checksum mismatch (mistyped or truncated?)"));
  }
  return *kind;
}

}  // namespace cl::crypto
