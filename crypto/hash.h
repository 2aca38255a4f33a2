// Hashing primitives on OpenSSL 3 EVP: SHA-256, HMAC-SHA256, constant-time compare, base64url.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cl::crypto {

// Raw 32-byte digests.
std::string Sha256(std::string_view data);
// HMAC-SHA256(key, data), raw 32 bytes. Thread-safe; keeps one EVP_MAC_CTX per thread.
std::string HmacSha256(std::string_view key, std::string_view data);
// The same into a fixed buffer: no allocation (the request hot path).
using Digest256 = std::array<unsigned char, 32>;
void HmacSha256Into(std::string_view key, std::string_view data, Digest256& out);
// The digest a 64-character lower-case HexEncode stands for; nullopt for anything else.
std::optional<Digest256> DigestFromHex(std::string_view hex);

std::string HexEncode(std::string_view bytes);  // lower-case
// Constant-time equality for equal-length inputs (returns false on length mismatch).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// RFC 4648 section 5, no padding on output; decoding accepts no padding and rejects bad chars
// and non-zero trailing bits (so each byte string has exactly one accepted encoding).
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);
// RFC 4648 section 4 (standard alphabet) with padding: a length that is a multiple of four,
// at most two trailing '=', no whitespace, canonical trailing bits; unpadded input is accepted
// too. Base64url characters ('-', '_') are refused.
Result<std::string> Base64Decode(std::string_view text);

// The hash stored for a credential: hex(HMAC-SHA256(pepper, credential)).
//
// Holds one or more peppers, newest first, so a pepper can be rotated without invalidating the
// credentials hashed under the old one: new hashes always use the newest pepper (Hash), lookups
// try the older ones too (HashWith) and callers re-hash what they find under an old pepper.
// Each pepper has a short public id (PepperIdOf) stored beside each hash, so an operator can
// count what still depends on an old pepper before removing it. Immutable, thread-safe.
class CredentialHasher {
 public:
  explicit CredentialHasher(std::string pepper);
  // REQUIRES: !peppers.empty(); peppers[0] is the newest. Callers reject duplicates.
  explicit CredentialHasher(std::vector<std::string> peppers);

  // Under the newest pepper: what new credentials are stored as and the cache is keyed by.
  std::string Hash(std::string_view credential) const {
    return HexEncode(HmacSha256(peppers_.front(), credential));
  }
  // The raw digest behind Hash(): what in-memory caches key by.
  Digest256 Digest(std::string_view credential) const {
    Digest256 d;
    HmacSha256Into(peppers_.front(), credential, d);
    return d;
  }
  // Under pepper `index` (0 = newest). REQUIRES: index < pepper_count().
  std::string HashWith(size_t index, std::string_view credential) const {
    return HexEncode(HmacSha256(peppers_[index], credential));
  }
  size_t pepper_count() const { return peppers_.size(); }
  // REQUIRES: index < pepper_count().
  const std::string& pepper_id(size_t index) const { return ids_[index]; }
  const std::string& current_pepper_id() const { return ids_.front(); }

  // The first 8 hex characters of SHA-256(pepper): names a pepper in the database, logs and
  // `chainloop-controlplane pepper status` without revealing it (32 bits of a hash of a
  // 256-bit secret). Operators can compute it with `printf %s PEPPER | sha256sum | cut -c1-8`.
  static std::string PepperIdOf(std::string_view pepper);

 private:
  std::vector<std::string> peppers_;
  std::vector<std::string> ids_;
};

// PKCE S256 (RFC 7636): base64url(SHA-256(verifier)).
std::string PkceS256Challenge(std::string_view verifier);

}  // namespace cl::crypto
