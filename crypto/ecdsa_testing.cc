// TestEcdsaKey on OpenSSL 3 EVP: EVP_PKEY_Q_keygen, PEM_write_bio_PUBKEY, EVP_DigestSign.
#include "crypto/ecdsa_testing.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>

namespace cl::crypto {

TestEcdsaKey TestEcdsaKey::Generate(const std::string& group) {
  TestEcdsaKey k;
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group.c_str());
  if (pkey == nullptr) std::abort();
  k.pkey_.reset(pkey, &EVP_PKEY_free);
  return k;
}

std::string TestEcdsaKey::PublicPem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) std::abort();
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string TestEcdsaKey::SignDer(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey_.get(), nullptr) !=
          1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    std::abort();
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    std::abort();
  }
  sig.resize(len);
  return sig;
}

}  // namespace cl::crypto
