// Hashing primitives on OpenSSL 3 EVP: SHA-256, HMAC-SHA256, constant-time compare, base64url.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cl::crypto {

// Raw 32-byte digests.
std::string Sha256(std::string_view data);
// HMAC-SHA256(key, data), raw 32 bytes. Thread-safe; keeps one EVP_MAC_CTX per thread.
std::string HmacSha256(std::string_view key, std::string_view data);

std::string HexEncode(std::string_view bytes);  // lower-case
// Constant-time equality for equal-length inputs (returns false on length mismatch).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// RFC 4648 section 5, no padding on output; decoding accepts no padding and rejects bad chars
// and non-zero trailing bits (so each byte string has exactly one accepted encoding).
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

// The hash stored for a credential: hex(HMAC-SHA256(pepper, credential)).
class CredentialHasher {
 public:
  explicit CredentialHasher(std::string pepper) : pepper_(std::move(pepper)) {}
  std::string Hash(std::string_view credential) const {
    return HexEncode(HmacSha256(pepper_, credential));
  }

 private:
  std::string pepper_;
};

// PKCE S256 (RFC 7636): base64url(SHA-256(verifier)).
std::string PkceS256Challenge(std::string_view verifier);

}  // namespace cl::crypto
