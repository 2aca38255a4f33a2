// Signature verification on OpenSSL 3 EVP shared by the key types of crypto/ (JWKs in jwk.cc,
// PEM ECDSA keys in ecdsa.cc): a verification context is set up once per key and copied for
// each call, so no call fetches algorithms from OpenSSL's provider store. Not part of the public
// API: include crypto/jose.h or crypto/ecdsa.h instead.
#pragma once

#include <openssl/evp.h>

#include <string_view>

namespace cl::crypto {

// SHA-256, fetched once and never freed.
const EVP_MD* Sha256Md();

// A verification context for `pkey` with SHA-256 and, when `rsa_pkcs1`, PKCS#1 v1.5 padding
// (else ECDSA over the digest); nullptr on failure. The caller owns it (EVP_PKEY_CTX_free).
EVP_PKEY_CTX* NewSha256VerifyTemplate(EVP_PKEY* pkey, bool rsa_pkcs1);

// Verifies `signature` (DER ECDSA-Sig-Value for EC keys) over SHA-256(`message`) with a copy of
// `tmpl`, which is never used directly (a context is not safe to share between threads).
bool VerifySha256(const EVP_PKEY_CTX* tmpl, std::string_view message, std::string_view signature);

}  // namespace cl::crypto
