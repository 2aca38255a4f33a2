// SecretBox: seals secrets the server must read back (webhook signing secrets) under a key
// derived from the credential pepper, so a copy of the database alone does not reveal them.
//
// AES-256-GCM with key = HMAC-SHA256(pepper, "chainloop webhook secret key v1") and a fresh
// 12-byte random nonce per seal. The sealed text is
//   v1.<pepper id>.<base64url(nonce | ciphertext | 16-byte tag)>
// where the pepper id is crypto::CredentialHasher::PepperIdOf(pepper); "v1.<pepper id>" is bound
// as additional authenticated data, so neither part can be swapped. Like CredentialHasher it
// holds several peppers, newest first: Seal uses the newest, Open any of them, and callers
// re-seal what SealedUnderNewest says is under an older one. Immutable, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/result.h"

namespace cl::crypto {

class SecretBox {
 public:
  // REQUIRES: !peppers.empty(); peppers[0] is the newest. Callers reject duplicates.
  explicit SecretBox(std::vector<std::string> peppers);
  ~SecretBox();
  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;

  // `plaintext` sealed under the newest pepper, with a nonce from `random`.
  std::string Seal(std::string_view plaintext, Random& random) const;
  // The plaintext. Internal error, never naming the secret, when the text is not a sealed box,
  // is sealed under a pepper this box does not hold, or fails authentication (changed bytes).
  Result<std::string> Open(std::string_view sealed) const;
  // True when `sealed` names the newest pepper (false for any other text).
  bool SealedUnderNewest(std::string_view sealed) const;
  // The pepper id a sealed text names ("" when it has no such field): `pepper status` counts.
  static std::string PepperIdOf(std::string_view sealed);

 private:
  std::vector<std::string> ids_;   // CredentialHasher::PepperIdOf of each pepper, newest first
  std::vector<std::string> keys_;  // the derived AES keys, in the same order
};

}  // namespace cl::crypto
