// JOSE on OpenSSL 3 EVP: JWK/JWKS parsing and JWS (compact) verification for ID tokens.
//
// Model: google/jwt_verify_lib. Keys are parsed into EVP_PKEY once and kept. Algorithms are
// allow-listed (RS256, ES256) and must match the key's type (and the JWK's `alg` when given);
// the token's `alg` alone never selects the verification method. `none` and HS* are refused.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

// OpenSSL's EVP_PKEY and EVP_PKEY_CTX, declared here so this header does not pull in OpenSSL.
struct evp_pkey_st;
struct evp_pkey_ctx_st;

namespace cl::crypto {

// One precise reason per failure. Each has its Error Reason (JoseErrorReason), whose wire string
// is JoseErrorString; kJwtExpired shares Reason::kTokenExpired with expired API tokens.
enum class JoseError {
  kJwtMalformed,       // not three base64url parts, bad JSON, ...
  kJwtHeaderBadAlg,    // alg missing, "none", HS*, or not allow-listed
  kJwtUnknownKid,      // no key with that kid (or no kid and several candidate keys)
  kJwtKeyAlgMismatch,  // alg does not fit the key type / the key's declared alg
  kJwtBadSignature,
  kJwtExpired,
  kJwtNotYetValid,     // nbf in the future (beyond leeway)
  kJwtIssuedInFuture,  // iat in the future (beyond leeway)
  kJwtTooOld,          // iat older than the maximum age
  kJwtBadIssuer,
  kJwtBadAudience,
  kJwtMissingClaim,  // a required claim (exp, iat, sub, iss, aud) is absent or mistyped
  kJwksMalformed,
  kJwkUnsupported,  // key type/curve we do not support (skipped in a JWKS)
};
Reason JoseErrorReason(JoseError e);
std::string_view JoseErrorString(
    JoseError e);  // ReasonName(JoseErrorReason(e)), e.g. "bad_signature"

// A parsed public key, immutable and thread-safe. The EVP_PKEY and a verification context set
// up for its algorithm (padding, digest) are built once at Parse; Verify copies that context
// instead of fetching algorithms from OpenSSL's provider store on every call.
class Jwk {
 public:
  ~Jwk();
  Jwk(const Jwk&) = delete;
  Jwk& operator=(const Jwk&) = delete;

  // Parses one JWK (RSA with n/e, or EC P-256 with x/y). Reason: JoseErrorString(...).
  static Result<std::shared_ptr<const Jwk>> Parse(const boost::json::value& jwk);

  const std::string& kid() const { return kid_; }
  const std::string& kty() const { return kty_; }  // "RSA" or "EC"
  const std::string& alg() const { return alg_; }  // may be empty
  // True when the JWS `alg` may be verified with this key.
  bool Accepts(std::string_view alg) const;
  // Verifies `signature` (JWS encoding: raw r||s for ES256) over `signing_input`.
  bool Verify(std::string_view alg, std::string_view signing_input,
              std::string_view signature) const;

 private:
  Jwk() = default;
  std::string kid_, kty_, alg_;
  ::evp_pkey_st* pkey_ = nullptr;
  ::evp_pkey_ctx_st* verify_ctx_ = nullptr;  // initialized for verify; only ever duplicated
};

struct Jwks {
  std::vector<std::shared_ptr<const Jwk>> keys;
  // Parses a JWKS document; unsupported keys are skipped; fails only on malformed documents.
  static Result<Jwks> Parse(std::string_view json);
  const Jwk* FindByKid(std::string_view kid) const;
};

// A decoded, signature-checked JWT.
struct Jwt {
  std::string alg, kid;
  boost::json::object header;
  boost::json::object claims;
  std::string iss, sub, jti;
  std::vector<std::string> aud;
  int64_t exp = 0, iat = 0;
  std::optional<int64_t> nbf;
  // Claim as a string if it is a string (or a number, printed), else empty.
  std::string StringClaim(std::string_view name) const;
};

// A JSON string as is, a number printed (integers without a fraction), else empty.
std::string JsonScalarText(const boost::json::value& v);

// Splits and decodes without verifying (for routing by `iss`/`kid`). Fails on malformed input.
Result<Jwt> DecodeJwtUnverified(std::string_view token);

// A compact JWS split and decoded but NOT verified: nothing in it may be trusted until
// VerifyDecodedJwt succeeds. Lets a caller decode once, route by `iss`, then verify.
// `signing_input` points into the token text: REQUIRES the token to outlive this value.
struct DecodedJwt {
  Jwt jwt;
  std::string_view signing_input;  // header "." payload, as sent
  std::string signature;           // decoded signature bytes
};
Result<DecodedJwt> DecodeJwt(std::string_view token);

// True when `token` has the shape of a compact JWS of at most 16 KiB: three non-empty
// base64url parts separated by dots, the header starting with "eyJ" (base64url of `{"`).
// Tells a raw CI ID token apart from the control plane's opaque credentials (clapi_, ...);
// it proves nothing about the token.
bool LooksLikeJwt(std::string_view token);

struct JwtCheck {
  std::string issuer;                  // exact match required
  std::vector<std::string> audiences;  // one of them must be in `aud`
  UnixMillis now = 0;
  // Capped to [0, 60]. Boundaries: expired once now >= exp + leeway; not yet valid while
  // now < nbf - leeway; issued in the future when iat > now + leeway; too old once
  // now >= iat + max_age + leeway. Fractional NumericDates are rounded down.
  int64_t leeway_seconds = 60;
  std::optional<int64_t> max_age_seconds;  // iat must be newer than now - max_age
  std::vector<std::string> allowed_algs = {"RS256", "ES256"};
};

// Decodes, picks the key by kid, checks alg against the allow-list and the key, verifies the
// signature and then the registered claims. Errors are Unauthenticated with reason
// JoseErrorString(...) and a message naming what failed (never the token).
Result<Jwt> VerifyJwt(std::string_view token, const Jwks& jwks, const JwtCheck& check);

// VerifyJwt's checks on an already decoded token (no second decode, no copy of the claims).
// On success `decoded.jwt` is the verified token. May be called again on the same value (e.g.
// with a refreshed key set after "jwt_unknown_kid"). Errors as VerifyJwt's.
Status VerifyDecodedJwt(const DecodedJwt& decoded, const Jwks& jwks, const JwtCheck& check);

}  // namespace cl::crypto
