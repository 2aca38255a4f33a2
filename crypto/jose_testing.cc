// TestSigningKey: key generation and JWS signing on OpenSSL 3 EVP, for tests only.
#include "crypto/jose_testing.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <cstdlib>

#include "crypto/hash.h"

namespace cl::crypto {
namespace {

namespace json = boost::json;

std::string BnParam(EVP_PKEY* pkey, const char* name, int pad_to = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) std::abort();
  int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(len), '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len) != len) std::abort();
  BN_free(bn);
  return out;
}

}  // namespace

TestSigningKey TestSigningKey::GenerateRsa(std::string kid, int bits) {
  TestSigningKey k;
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  if (pkey == nullptr) std::abort();
  k.pkey_.reset(pkey, EVP_PKEY_free);
  k.kid_ = std::move(kid);
  k.alg_ = "RS256";
  return k;
}

TestSigningKey TestSigningKey::GenerateEcP256(std::string kid) {
  TestSigningKey k;
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (pkey == nullptr) std::abort();
  k.pkey_.reset(pkey, EVP_PKEY_free);
  k.kid_ = std::move(kid);
  k.alg_ = "ES256";
  return k;
}

boost::json::object TestSigningKey::PublicJwk() const {
  json::object jwk;
  jwk["kid"] = kid_;
  jwk["use"] = "sig";
  jwk["alg"] = alg_;
  if (alg_ == "RS256") {
    jwk["kty"] = "RSA";
    jwk["n"] = Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_RSA_N));
    jwk["e"] = Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_RSA_E));
  } else {
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] = Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32));
    jwk["y"] = Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32));
  }
  return jwk;
}

std::string TestSigningKey::PublicJwkJson() const { return json::serialize(PublicJwk()); }

std::string TestSigningKey::SignatureOver(std::string_view signing_input) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, pkey_.get(), nullptr) != 1 ||
      EVP_DigestSign(ctx, nullptr, &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    std::abort();
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    std::abort();
  }
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  if (alg_ != "ES256") return sig;

  // DER ECDSA-Sig-Value -> JWS r||s, each left-padded to 32 bytes.
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (ecdsa == nullptr) std::abort();
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), out, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), out + 32, 32) != 32) {
    std::abort();
  }
  ECDSA_SIG_free(ecdsa);
  return raw;
}

std::string TestSigningKey::SignRaw(std::string_view header_json,
                                    std::string_view payload_json) const {
  std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  std::string sig = SignatureOver(input);
  return input + "." + Base64UrlEncode(sig);
}

std::string TestSigningKey::Sign(const boost::json::object& header_extra,
                                 const boost::json::object& claims) const {
  json::object header;
  header["alg"] = alg_;
  header["typ"] = "JWT";
  header["kid"] = kid_;
  for (const auto& kv : header_extra) {
    if (kv.value().is_null()) {
      header.erase(kv.key());
    } else {
      header[kv.key()] = kv.value();
    }
  }
  return SignRaw(json::serialize(header), json::serialize(claims));
}

std::string JwksJson(const std::vector<const TestSigningKey*>& keys) {
  json::array arr;
  for (const auto* k : keys) arr.push_back(k->PublicJwk());
  json::object doc;
  doc["keys"] = std::move(arr);
  return json::serialize(doc);
}

}  // namespace cl::crypto
