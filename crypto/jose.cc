// JOSE on OpenSSL 3 EVP: JWK -> EVP_PKEY (once), JWS compact verification (RS256, ES256) and
// registered-claim checks for ID tokens.
//
// Order of checks in VerifyJwt, each with its own reason: shape and JSON (jwt_malformed), header
// alg against the allow-list (jwt_bad_alg), key by kid (jwt_unknown_kid), key type/declared alg
// (jwt_key_alg_mismatch), signature (bad_signature), then claims: iss, aud, exp, nbf, iat, age.
// Claims are only looked at after the signature verified, so nothing unauthenticated decides
// anything beyond which key to try.
#include "crypto/jose.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/json.h"
#include "crypto/hash.h"

namespace cl::crypto {
namespace {

namespace json = boost::json;

constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr size_t kMaxJwksBytes = 1024 * 1024;
constexpr size_t kMaxJwksKeys = 100;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;  // Bounds verification cost for keys from the network.
constexpr int64_t kMaxLeewaySeconds = 60;

Error JoseFail(JoseError e, std::string message) {
  return Error::Unauthenticated(std::move(message), std::string(JoseErrorString(e)));
}

Error JwkFail(JoseError e, std::string message) {
  return Error::InvalidArgument(std::move(message), std::string(JoseErrorString(e)));
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

struct Deleters {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Deleters>;

const EVP_MD* Sha256Md() {
  // Fetched once and never freed (see hash.cc): avoids a per-verify fetch.
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// Returns the member as a string, or nullptr when absent or not a string.
const json::string* StringMember(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return nullptr;
  return &it->value().get_string();
}

// NumericDate (RFC 7519): integer or finite number of seconds; fractions are truncated down.
std::optional<int64_t> NumericDate(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (!std::isfinite(d) || d < -9.0e15 || d > 9.0e15) return std::nullopt;
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

// Seconds to milliseconds without overflow (timestamps far outside any real range saturate).
int64_t SecondsToMillis(int64_t s) {
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;
  if (s > kLimit) return std::numeric_limits<int64_t>::max();
  if (s < -kLimit) return std::numeric_limits<int64_t>::min();
  return s * 1000;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

Result<json::object> DecodeJsonPart(std::string_view part, const char* what) {
  auto raw = Base64UrlDecode(part);
  if (!raw) {
    return Fail(
        JoseFail(JoseError::kJwtMalformed, std::string("JWT ") + what + " is not valid base64url"));
  }
  auto v = ParseJson(*raw);
  if (!v || !v->is_object()) {
    return Fail(
        JoseFail(JoseError::kJwtMalformed, std::string("JWT ") + what + " is not a JSON object"));
  }
  return std::move(v->get_object());
}

Result<DecodedJwt> DecodeCompact(std::string_view token) {
  if (token.empty()) return Fail(JoseFail(JoseError::kJwtMalformed, "JWT is empty"));
  if (token.size() > kMaxTokenBytes) {
    return Fail(JoseFail(JoseError::kJwtMalformed, "JWT is too large"));
  }
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Fail(JoseFail(JoseError::kJwtMalformed, "JWT must have three dot-separated parts"));
  }
  std::string_view header_b64 = token.substr(0, d1);
  std::string_view payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  std::string_view sig_b64 = token.substr(d2 + 1);
  if (header_b64.empty() || payload_b64.empty()) {
    return Fail(JoseFail(JoseError::kJwtMalformed, "JWT header or payload is empty"));
  }

  DecodedJwt out;
  CL_ASSIGN_OR_RETURN(out.jwt.header, DecodeJsonPart(header_b64, "header"));
  CL_ASSIGN_OR_RETURN(out.jwt.claims, DecodeJsonPart(payload_b64, "payload"));
  auto sig = Base64UrlDecode(sig_b64);
  if (!sig) {
    return Fail(JoseFail(JoseError::kJwtMalformed, "JWT signature is not valid base64url"));
  }
  out.signature = std::move(*sig);
  out.signing_input = token.substr(0, d2);

  Jwt& jwt = out.jwt;
  if (const auto* alg = StringMember(jwt.header, "alg")) jwt.alg = std::string(*alg);
  if (auto it = jwt.header.find("kid"); it != jwt.header.end()) {
    if (!it->value().is_string()) {
      return Fail(JoseFail(JoseError::kJwtMalformed, "JWT header kid is not a string"));
    }
    jwt.kid = std::string(it->value().get_string());
  }
  // Claims are filled in only when well-typed; VerifyJwt reports absent or mistyped ones.
  if (const auto* s = StringMember(jwt.claims, "iss")) jwt.iss = std::string(*s);
  if (const auto* s = StringMember(jwt.claims, "sub")) jwt.sub = std::string(*s);
  if (const auto* s = StringMember(jwt.claims, "jti")) jwt.jti = std::string(*s);
  if (auto it = jwt.claims.find("aud"); it != jwt.claims.end()) {
    if (it->value().is_string()) {
      jwt.aud.emplace_back(it->value().get_string());
    } else if (it->value().is_array()) {
      bool all_strings = true;
      for (const auto& a : it->value().get_array()) all_strings &= a.is_string();
      if (all_strings) {
        for (const auto& a : it->value().get_array()) jwt.aud.emplace_back(a.get_string());
      }
    }
  }
  if (auto it = jwt.claims.find("exp"); it != jwt.claims.end()) {
    jwt.exp = NumericDate(it->value()).value_or(0);
  }
  if (auto it = jwt.claims.find("iat"); it != jwt.claims.end()) {
    jwt.iat = NumericDate(it->value()).value_or(0);
  }
  if (auto it = jwt.claims.find("nbf"); it != jwt.claims.end()) {
    jwt.nbf = NumericDate(it->value());
  }
  return out;
}

bool IsSupportedAlg(std::string_view alg) { return alg == "RS256" || alg == "ES256"; }

// Raw JWS r||s (64 bytes) to the DER ECDSA-Sig-Value OpenSSL verifies.
std::optional<std::string> Es256RawToDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(p, 32, nullptr));
  BnPtr s(BN_bin2bn(p + 32, 32, nullptr));
  Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return std::nullopt;
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // Now owned by sig.
  s.release();
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

// A verification context for `pkey` with the padding and digest of its one algorithm (RS256:
// PKCS#1 v1.5 + SHA-256; ES256: ECDSA over a SHA-256 digest); nullptr on failure.
EVP_PKEY_CTX* NewVerifyTemplate(EVP_PKEY* pkey, bool rsa) {
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || Sha256Md() == nullptr || EVP_PKEY_verify_init(ctx.get()) != 1) return nullptr;
  if (rsa && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return nullptr;
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), Sha256Md()) != 1) return nullptr;
  return ctx.release();
}

}  // namespace

std::string_view JoseErrorString(JoseError e) {
  switch (e) {
    case JoseError::kJwtMalformed:
      return "jwt_malformed";
    case JoseError::kJwtHeaderBadAlg:
      return "jwt_bad_alg";
    case JoseError::kJwtUnknownKid:
      return "jwt_unknown_kid";
    case JoseError::kJwtKeyAlgMismatch:
      return "jwt_key_alg_mismatch";
    case JoseError::kJwtBadSignature:
      return "bad_signature";
    case JoseError::kJwtExpired:
      return "token_expired";
    case JoseError::kJwtNotYetValid:
      return "jwt_not_yet_valid";
    case JoseError::kJwtIssuedInFuture:
      return "jwt_issued_in_future";
    case JoseError::kJwtTooOld:
      return "jwt_too_old";
    case JoseError::kJwtBadIssuer:
      return "bad_issuer";
    case JoseError::kJwtBadAudience:
      return "bad_audience";
    case JoseError::kJwtMissingClaim:
      return "jwt_missing_claim";
    case JoseError::kJwksMalformed:
      return "jwks_malformed";
    case JoseError::kJwkUnsupported:
      return "jwk_unsupported";
  }
  return "jwt_malformed";
}

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
  key->verify_ctx_ = NewVerifyTemplate(key->pkey_, *kty == "RSA");
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
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(signing_input.data(), signing_input.size(), digest, &digest_len, Sha256Md(),
                 nullptr) != 1) {
    return false;
  }
  // The template is never used directly: a context is not safe to share between threads, and a
  // copy skips the provider lookups EVP_DigestVerifyInit would do on every call.
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_dup(verify_ctx_));
  if (!ctx) return false;
  return EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(), digest, digest_len) == 1;
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

std::string JsonScalarText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      return std::to_string(static_cast<int64_t>(d));
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", d);
    return buf;
  }
  return {};
}

std::string Jwt::StringClaim(std::string_view name) const {
  auto it = claims.find(name);
  if (it == claims.end()) return {};
  return JsonScalarText(it->value());
}

bool LooksLikeJwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes || token.substr(0, 3) != "eyJ") return false;
  int dots = 0;
  size_t part_len = 0;
  for (char c : token) {
    if (c == '.') {
      if (part_len == 0) return false;
      ++dots;
      part_len = 0;
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_') {
      ++part_len;
    } else {
      return false;
    }
  }
  return dots == 2 && part_len > 0;
}

Result<Jwt> DecodeJwtUnverified(std::string_view token) {
  CL_ASSIGN_OR_RETURN(DecodedJwt d, DecodeCompact(token));
  return std::move(d.jwt);
}

Result<DecodedJwt> DecodeJwt(std::string_view token) { return DecodeCompact(token); }

Result<Jwt> VerifyJwt(std::string_view token, const Jwks& jwks, const JwtCheck& check) {
  CL_ASSIGN_OR_RETURN(DecodedJwt d, DecodeCompact(token));
  CL_RETURN_IF_ERROR(VerifyDecodedJwt(d, jwks, check));
  return std::move(d.jwt);
}

Status VerifyDecodedJwt(const DecodedJwt& d, const Jwks& jwks, const JwtCheck& check) {
  const Jwt& jwt = d.jwt;

  // Header.
  if (jwt.header.contains("crit")) {
    // RFC 7515 4.1.11: we understand no extensions, so a token that requires one is rejected.
    return Fail(JoseFail(JoseError::kJwtMalformed, "JWT header has unsupported crit"));
  }
  auto alg_it = jwt.header.find("alg");
  if (alg_it == jwt.header.end() || !alg_it->value().is_string()) {
    return Fail(JoseFail(JoseError::kJwtHeaderBadAlg, "JWT header has no alg"));
  }
  bool allowed = std::find(check.allowed_algs.begin(), check.allowed_algs.end(), jwt.alg) !=
                 check.allowed_algs.end();
  if (!allowed || !IsSupportedAlg(jwt.alg)) {
    return Fail(JoseFail(JoseError::kJwtHeaderBadAlg, "JWT alg is not allowed"));
  }

  // Key.
  const Jwk* key = nullptr;
  if (!jwt.header.contains("kid")) {
    const Jwk* only = nullptr;
    size_t candidates = 0;
    for (const auto& k : jwks.keys) {
      if (k->Accepts(jwt.alg)) {
        only = k.get();
        ++candidates;
      }
    }
    if (candidates != 1) {
      return Fail(JoseFail(JoseError::kJwtUnknownKid,
                           "JWT has no kid and the key set has no single matching key"));
    }
    key = only;
  } else {
    bool kid_found = false;
    for (const auto& k : jwks.keys) {
      if (k->kid() != jwt.kid) continue;
      kid_found = true;
      if (k->Accepts(jwt.alg)) {
        key = k.get();
        break;
      }
    }
    if (!kid_found) return Fail(JoseFail(JoseError::kJwtUnknownKid, "JWT kid is not known"));
    if (key == nullptr) {
      return Fail(JoseFail(JoseError::kJwtKeyAlgMismatch, "JWT alg does not fit the key"));
    }
  }

  if (!key->Verify(jwt.alg, d.signing_input, d.signature)) {
    return Fail(JoseFail(JoseError::kJwtBadSignature, "JWT signature does not verify"));
  }

  // Claims. Presence and type first, so a mistyped claim never reads as a mismatch.
  const json::object& c = jwt.claims;
  auto missing = [](const char* name) {
    return JoseFail(JoseError::kJwtMissingClaim,
                    std::string("JWT claim '") + name + "' is missing or mistyped");
  };
  if (!StringMember(c, "iss")) return Fail(missing("iss"));
  if (jwt.iss != check.issuer) {
    return Fail(JoseFail(JoseError::kJwtBadIssuer, "JWT issuer is not the expected issuer"));
  }
  if (!c.contains("aud") || jwt.aud.empty()) return Fail(missing("aud"));
  bool aud_ok = false;
  for (const auto& a : jwt.aud) {
    aud_ok |= std::find(check.audiences.begin(), check.audiences.end(), a) != check.audiences.end();
  }
  if (!aud_ok) {
    return Fail(JoseFail(JoseError::kJwtBadAudience, "JWT audience is not accepted"));
  }
  if (!StringMember(c, "sub")) return Fail(missing("sub"));
  auto exp_it = c.find("exp");
  if (exp_it == c.end() || !NumericDate(exp_it->value())) return Fail(missing("exp"));
  auto iat_it = c.find("iat");
  if (iat_it == c.end() || !NumericDate(iat_it->value())) return Fail(missing("iat"));
  if (auto nbf_it = c.find("nbf"); nbf_it != c.end() && !jwt.nbf) return Fail(missing("nbf"));

  const int64_t leeway = std::clamp<int64_t>(check.leeway_seconds, 0, kMaxLeewaySeconds);
  const UnixMillis now = check.now;
  // Valid while now < exp + leeway (the instant exp + leeway is already expired).
  if (now >= SecondsToMillis(SaturatingAdd(jwt.exp, leeway))) {
    return Fail(JoseFail(JoseError::kJwtExpired, "JWT has expired"));
  }
  // Valid from nbf - leeway inclusive.
  if (jwt.nbf && now < SecondsToMillis(SaturatingAdd(*jwt.nbf, -leeway))) {
    return Fail(JoseFail(JoseError::kJwtNotYetValid, "JWT is not valid yet"));
  }
  // iat may be at most `leeway` ahead of now (inclusive).
  if (SecondsToMillis(jwt.iat) > SaturatingAdd(now, SecondsToMillis(leeway))) {
    return Fail(JoseFail(JoseError::kJwtIssuedInFuture, "JWT was issued in the future"));
  }
  // Too old once now >= iat + max_age + leeway, the same boundary rule as exp.
  if (check.max_age_seconds &&
      now >=
          SecondsToMillis(SaturatingAdd(SaturatingAdd(jwt.iat, *check.max_age_seconds), leeway))) {
    return Fail(JoseFail(JoseError::kJwtTooOld, "JWT is older than the maximum age"));
  }
  return Ok();
}

}  // namespace cl::crypto
