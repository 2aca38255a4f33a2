// JWK and JWKS parsing on OpenSSL 3 EVP: each supported key (RSA n/e, EC P-256 x/y) becomes an
// EVP_PKEY and a verification context once, at Parse; Jwk::Verify checks one JWS signature
// (RS256, ES256) with them. The JWS itself and its claims are checked in jose.cc.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <memory>

#include "common/json.h"
#include "crypto/evp_verify.h"
#include "crypto/hash.h"
#include "crypto/jose.h"
#include "crypto/jose_internal.h"

namespace cl::crypto {
namespace {

namespace json = boost::json;

constexpr size_t kMaxJwksBytes = 1024 * 1024;
constexpr size_t kMaxJwksKeys = 100;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;  // Bounds verification cost for keys from the network.

Error JwkFail(JoseError e, std::string message) {
  return Error::InvalidArgument(std::move(message), JoseErrorReason(e));
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

struct Deleters {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Deleters>;

// Raw JWS r||s (64 bytes) to the DER ECDSA-Sig-Value OpenSSL verifies.
std::optional<std::string> Es256RawToDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(p, 32, nullptr));
  BnPtr s(BN_bin2bn(p + 32, 32, nullptr));
  Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return std::nullopt;
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // Now owned by sig.
  (void)s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

Result<std::string> DecodeKeyPart(const json::object& jwk, std::string_view name) {
  const auto* s = StringMember(jwk, name);
  if (s == nullptr) {
    return Fail(JwkFail(JoseError::kJwksMalformed,
                        "JWK member '" + std::string(name) + "' is missing or not a string"));
  }
  auto raw = Base64UrlDecode(*s);
  if (!raw || raw->empty()) {
    return Fail(JwkFail(JoseError::kJwksMalformed,
                        "JWK member '" + std::string(name) + "' is not valid base64url"));
  }
  return std::move(*raw);
}

// Builds a public EVP_PKEY of `type` from the params; nullptr on failure.
EVP_PKEY* PkeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  Owned<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return pkey;
}

Result<EVP_PKEY*> RsaFromJwk(const json::object& jwk) {
  CL_ASSIGN_OR_RETURN(std::string n, DecodeKeyPart(jwk, "n"));
  CL_ASSIGN_OR_RETURN(std::string e, DecodeKeyPart(jwk, "e"));
  if (n.size() > kMaxRsaBits / 8 + 1 || e.size() > 8) {
    return Fail(JwkFail(JoseError::kJwkUnsupported, "RSA key parameters are too large"));
  }
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()),
                       nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()),
                       nullptr));
  if (!bn_n || !bn_e) return Fail(JwkFail(JoseError::kJwksMalformed, "RSA key: out of memory"));
  int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits) {
    return Fail(JwkFail(JoseError::kJwkUnsupported, "RSA key is shorter than 2048 bits"));
  }
  if (bits > kMaxRsaBits) {
    return Fail(JwkFail(JoseError::kJwkUnsupported, "RSA key is longer than 8192 bits"));
  }
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "RSA key has an invalid exponent"));
  }
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "RSA key could not be built"));
  }
  EVP_PKEY* pkey = PkeyFromParams("RSA", bld.get());
  if (pkey == nullptr) return Fail(JwkFail(JoseError::kJwksMalformed, "RSA key is invalid"));
  return pkey;
}

Result<EVP_PKEY*> EcFromJwk(const json::object& jwk) {
  const auto* crv = StringMember(jwk, "crv");
  if (crv == nullptr) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "EC JWK has no crv"));
  }
  if (*crv != "P-256") {
    return Fail(JwkFail(JoseError::kJwkUnsupported, "EC curve is not supported"));
  }
  CL_ASSIGN_OR_RETURN(std::string x, DecodeKeyPart(jwk, "x"));
  CL_ASSIGN_OR_RETURN(std::string y, DecodeKeyPart(jwk, "y"));
  // RFC 7518 6.2.1.2: coordinates are the full field size.
  if (x.size() != 32 || y.size() != 32) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "P-256 coordinates must be 32 bytes"));
  }
  std::string point = "\x04" + x + y;
  char group[] = "prime256v1";
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "EC key could not be built"));
  }
  EVP_PKEY* pkey = PkeyFromParams("EC", bld.get());
  if (pkey == nullptr) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "EC key is not a point on P-256"));
  }
  // Decoding already rejects off-curve points; the explicit check also covers the identity.
  Owned<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    EVP_PKEY_free(pkey);
    return Fail(JwkFail(JoseError::kJwksMalformed, "EC key failed the public key check"));
  }
  return pkey;
}

}  // namespace

Jwk::~Jwk() {
  EVP_PKEY_CTX_free(verify_ctx_);
  EVP_PKEY_free(pkey_);
}

Result<std::shared_ptr<const Jwk>> Jwk::Parse(const boost::json::value& value) {
  if (!value.is_object()) return Fail(JwkFail(JoseError::kJwksMalformed, "JWK is not an object"));
  const json::object& o = value.get_object();
  const auto* kty = StringMember(o, "kty");
  if (kty == nullptr) return Fail(JwkFail(JoseError::kJwksMalformed, "JWK has no kty"));
  if (auto it = o.find("use"); it != o.end()) {
    if (!it->value().is_string() || it->value().get_string() != "sig") {
      return Fail(JwkFail(JoseError::kJwkUnsupported, "JWK is not a signature key"));
    }
  }
  std::shared_ptr<Jwk> key(new Jwk());
  if (auto it = o.find("kid"); it != o.end()) {
    if (!it->value().is_string()) {
      return Fail(JwkFail(JoseError::kJwksMalformed, "JWK kid is not a string"));
    }
    key->kid_ = std::string(it->value().get_string());
  }
  if (auto it = o.find("alg"); it != o.end()) {
    if (!it->value().is_string()) {
      return Fail(JwkFail(JoseError::kJwksMalformed, "JWK alg is not a string"));
    }
    key->alg_ = std::string(it->value().get_string());
  }
  key->kty_ = std::string(*kty);
  if (*kty == "RSA") {
    CL_ASSIGN_OR_RETURN(key->pkey_, RsaFromJwk(o));
  } else if (*kty == "EC") {
    CL_ASSIGN_OR_RETURN(key->pkey_, EcFromJwk(o));
  } else {
    return Fail(JwkFail(JoseError::kJwkUnsupported, "JWK key type is not supported"));
  }
  // The padding and digest of the key's one algorithm (RS256: PKCS#1 v1.5 + SHA-256; ES256:
  // ECDSA over a SHA-256 digest).
  key->verify_ctx_ = NewSha256VerifyTemplate(key->pkey_, *kty == "RSA");
  if (key->verify_ctx_ == nullptr) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "JWK cannot be set up for verification"));
  }
  return std::shared_ptr<const Jwk>(std::move(key));
}

bool Jwk::Accepts(std::string_view alg) const {
  if (!alg_.empty() && alg_ != alg) return false;
  if (alg == "RS256") return kty_ == "RSA";
  if (alg == "ES256") return kty_ == "EC";  // Only P-256 EC keys are ever parsed.
  return false;
}

bool Jwk::Verify(std::string_view alg, std::string_view signing_input,
                 std::string_view signature) const {
  if (pkey_ == nullptr || verify_ctx_ == nullptr || !Accepts(alg)) return false;
  std::string der;
  if (alg == "ES256") {
    auto converted = Es256RawToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey_))) {
    return false;  // RS256 signatures are exactly the modulus length.
  }
  return VerifySha256(verify_ctx_, signing_input, signature);
}

Result<Jwks> Jwks::Parse(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "JWKS document is too large"));
  }
  auto doc = ParseJson(text);
  if (!doc || !doc->is_object()) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "JWKS is not a JSON object"));
  }
  auto it = doc->get_object().find("keys");
  if (it == doc->get_object().end() || !it->value().is_array()) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "JWKS has no keys array"));
  }
  const json::array& keys = it->value().get_array();
  if (keys.size() > kMaxJwksKeys) {
    return Fail(JwkFail(JoseError::kJwksMalformed, "JWKS has too many keys"));
  }
  Jwks out;
  for (const auto& k : keys) {
    auto key = Jwk::Parse(k);
    if (key) out.keys.push_back(std::move(*key));  // Keys we cannot use are skipped.
  }
  return out;
}

const Jwk* Jwks::FindByKid(std::string_view kid) const {
  for (const auto& k : keys) {
    if (k->kid() == kid) return k.get();
  }
  return nullptr;
}
}  // namespace cl::crypto
