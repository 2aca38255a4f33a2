// PEM P-256 public keys on OpenSSL 3 EVP: parsed with PEM_read_bio_PUBKEY, checked for type,
// curve and validity once; each verification copies a prepared context (crypto/evp_verify.h).
#include "crypto/ecdsa.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>

#include "crypto/evp_verify.h"

namespace cl::crypto {
namespace {

Error BadKey(std::string message) {
  return Error::InvalidArgument("public key: " + std::move(message), Reason::kInvalidArgument);
}

}  // namespace

EcdsaP256PublicKey::~EcdsaP256PublicKey() {
  EVP_PKEY_CTX_free(verify_ctx_);
  EVP_PKEY_free(pkey_);
}

Result<std::shared_ptr<const EcdsaP256PublicKey>> EcdsaP256PublicKey::FromPem(
    std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxPemBytes) {
    return Fail(BadKey("empty or larger than " + std::to_string(kMaxPemBytes) + " bytes"));
  }
  if (pem.find("-----BEGIN PUBLIC KEY-----") == std::string_view::npos) {
    return Fail(BadKey("not a PEM SubjectPublicKeyInfo (BEGIN PUBLIC KEY)"));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Fail(Error::Internal("out of memory"));
  std::shared_ptr<EcdsaP256PublicKey> key(new EcdsaP256PublicKey());
  key->pkey_ = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key->pkey_ == nullptr) return Fail(BadKey("cannot be decoded"));
  if (!EVP_PKEY_is_a(key->pkey_, "EC")) return Fail(BadKey("not an EC key"));
  char group[64] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(key->pkey_, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &group_len) != 1 ||
      std::strcmp(group, "prime256v1") != 0) {
    return Fail(BadKey("not on the P-256 curve"));
  }
  {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> check(
        EVP_PKEY_CTX_new_from_pkey(nullptr, key->pkey_, nullptr), &EVP_PKEY_CTX_free);
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
      return Fail(BadKey("fails the public key check"));
    }
  }
  key->verify_ctx_ = NewSha256VerifyTemplate(key->pkey_, /*rsa_pkcs1=*/false);
  if (key->verify_ctx_ == nullptr) return Fail(BadKey("cannot be set up for verification"));
  return std::shared_ptr<const EcdsaP256PublicKey>(std::move(key));
}

bool EcdsaP256PublicKey::Verify(std::string_view message, std::string_view der_signature) const {
  // A P-256 DER signature is at most 72 bytes; anything much longer is not one.
  if (der_signature.size() < 8 || der_signature.size() > 80) return false;
  return VerifySha256(verify_ctx_, message, der_signature);
}

}  // namespace cl::crypto
