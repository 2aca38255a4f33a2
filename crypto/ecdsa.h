// ECDSA P-256 / SHA-256 public keys given as PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC
// KEY-----"), verifying DER signatures (ECDSA-Sig-Value): the form secret scanners such as
// GitHub's sign their reports with. Keys of any other type or curve are refused at parse time.
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"

// OpenSSL's EVP_PKEY and EVP_PKEY_CTX, declared here so this header does not pull in OpenSSL.
struct evp_pkey_st;
struct evp_pkey_ctx_st;

namespace cl::crypto {

// A parsed P-256 public key, immutable and thread-safe; the EVP_PKEY and its verification
// context are built once, at Parse.
class EcdsaP256PublicKey {
 public:
  static constexpr size_t kMaxPemBytes = 4096;

  ~EcdsaP256PublicKey();
  EcdsaP256PublicKey(const EcdsaP256PublicKey&) = delete;
  EcdsaP256PublicKey& operator=(const EcdsaP256PublicKey&) = delete;

  // Parses one PEM public key. InvalidArgument when it is not PEM, larger than kMaxPemBytes, not
  // an EC key, not on P-256, or fails the public key check. Errors never hold the PEM.
  static Result<std::shared_ptr<const EcdsaP256PublicKey>> FromPem(std::string_view pem);

  // True when `der_signature` is a valid DER ECDSA signature of SHA-256(`message`) by this key.
  // Anything else (raw r||s, trailing bytes, non-canonical DER, empty) is false.
  bool Verify(std::string_view message, std::string_view der_signature) const;

 private:
  EcdsaP256PublicKey() = default;
  ::evp_pkey_st* pkey_ = nullptr;
  ::evp_pkey_ctx_st* verify_ctx_ = nullptr;  // initialized for verify; only ever duplicated
};

}  // namespace cl::crypto
