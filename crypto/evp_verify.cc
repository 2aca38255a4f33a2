// The shared EVP verification steps of crypto/evp_verify.h.
#include "crypto/evp_verify.h"

#include <openssl/rsa.h>

#include <memory>

namespace cl::crypto {
namespace {

struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

}  // namespace

const EVP_MD* Sha256Md() {
  // Fetched once and never freed (see hash.cc): avoids a per-verify fetch.
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

EVP_PKEY_CTX* NewSha256VerifyTemplate(EVP_PKEY* pkey, bool rsa_pkcs1) {
  CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || Sha256Md() == nullptr || EVP_PKEY_verify_init(ctx.get()) != 1) return nullptr;
  if (rsa_pkcs1 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return nullptr;
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), Sha256Md()) != 1) return nullptr;
  return ctx.release();
}

bool VerifySha256(const EVP_PKEY_CTX* tmpl, std::string_view message, std::string_view signature) {
  if (tmpl == nullptr || signature.empty()) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, Sha256Md(), nullptr) != 1) {
    return false;
  }
  // A copy skips the provider lookups EVP_DigestVerifyInit would do on every call.
  CtxPtr ctx(EVP_PKEY_CTX_dup(const_cast<EVP_PKEY_CTX*>(tmpl)));
  if (!ctx) return false;
  return EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(), digest, digest_len) == 1;
}

}  // namespace cl::crypto
