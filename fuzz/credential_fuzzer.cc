// Fuzz target: opaque credential strings (prefix, base62 alphabet, CRC32 checksum), the first
// thing the server does with every Bearer token it receives.
//
// Invariants: a credential that parses has exactly the documented shape; error messages never
// echo the input; a freshly generated credential parses, and any single-character change to it
// is rejected (CRC32 catches every burst of up to 32 bits).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/credential.h"
#include "fuzz/fuzz_support.h"

using namespace cl;

namespace {

constexpr crypto::CredentialKind kKinds[] = {
    crypto::CredentialKind::kApiToken, crypto::CredentialKind::kSession,
    crypto::CredentialKind::kFederated, crypto::CredentialKind::kLoginCode,
    crypto::CredentialKind::kDeviceHandle};

void CheckParsed(std::string_view in) {
  auto kind = crypto::ParseCredential(in);
  if (!kind) {
    const std::string& msg = kind.error().message();
    fuzz::Check(kind.error().Is(Reason::kMalformedToken), "reason is malformed_token");
    // Fixed messages only: no room in them for a 50+ character credential.
    fuzz::Check(msg.rfind("token is malformed: ", 0) == 0 && msg.size() < 80,
                "error message is one of the fixed texts");
    return;
  }
  std::string_view prefix = crypto::CredentialPrefix(*kind);
  fuzz::Check(in.size() == prefix.size() + 1 + crypto::kCredentialSecretChars +
                               crypto::kCredentialChecksumChars,
              "length of a parsed credential");
  fuzz::Check(in.substr(0, prefix.size()) == prefix && in[prefix.size()] == '_', "prefix");
  std::string_view body = in.substr(prefix.size() + 1);
  fuzz::Check(crypto::IsBase62(body), "alphabet");
  std::string_view head = in.substr(0, in.size() - crypto::kCredentialChecksumChars);
  fuzz::Check(crypto::Base62Fixed(crypto::Crc32(head), crypto::kCredentialChecksumChars) ==
                  in.substr(head.size()),
              "checksum");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckParsed(in);

  // Generated credentials: seeded by the input, then one character substituted.
  if (size >= 3) {
    uint64_t seed = 0;
    for (size_t i = 0; i < size && i < 8; ++i) seed = (seed << 8) | data[i];
    fuzz::DeterministicRandom random(seed);
    auto kind = kKinds[data[0] % std::size(kKinds)];
    std::string cred = crypto::GenerateCredential(kind, random);
    auto parsed = crypto::ParseCredential(cred);
    fuzz::Check(parsed && *parsed == kind, "a generated credential parses as its kind");
    std::string changed = cred;
    size_t pos = data[1] % changed.size();
    char c = static_cast<char>(data[2]);
    if (c != changed[pos]) {
      changed[pos] = c;
      fuzz::Check(!crypto::ParseCredential(changed), "one changed character is rejected");
    }
  }
  // Base62Fixed never yields a non-base62 character and keeps its width.
  if (size >= 9) {
    uint64_t v = 0;
    for (size_t i = 1; i < 9; ++i) v = (v << 8) | data[i];
    size_t width = data[0] % 16;
    std::string s = crypto::Base62Fixed(v, width);
    fuzz::Check(s.size() == width && crypto::IsBase62(s), "Base62Fixed shape");
  }
  return 0;
}
