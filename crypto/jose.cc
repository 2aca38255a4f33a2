// JOSE: JWS compact decoding and verification (RS256, ES256) and registered-claim checks for ID
// tokens. Keys (JWK/JWKS -> EVP_PKEY, signature checks) are in jwk.cc.
//
// Order of checks in VerifyJwt, each with its own reason: shape and JSON (jwt_malformed), header
// alg against the allow-list (jwt_bad_alg), key by kid (jwt_unknown_kid), key type/declared alg
// (jwt_key_alg_mismatch), signature (bad_signature), then claims: iss, aud, exp, nbf, iat, age.
// Claims are only looked at after the signature verified, so nothing unauthenticated decides
// anything beyond which key to try.
#include "crypto/jose.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/json.h"
#include "crypto/hash.h"
#include "crypto/jose_internal.h"

namespace cl::crypto {

namespace json = boost::json;

// Returns the member as a string, or nullptr when absent or not a string.
const json::string* StringMember(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return nullptr;
  return &it->value().get_string();
}

namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr int64_t kMaxLeewaySeconds = 60;

Error JoseFail(JoseError e, std::string message) {
  return Error::Unauthenticated(std::move(message), JoseErrorReason(e));
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

}  // namespace

Reason JoseErrorReason(JoseError e) {
  switch (e) {
    case JoseError::kJwtMalformed:
      return Reason::kJwtMalformed;
    case JoseError::kJwtHeaderBadAlg:
      return Reason::kJwtBadAlg;
    case JoseError::kJwtUnknownKid:
      return Reason::kJwtUnknownKid;
    case JoseError::kJwtKeyAlgMismatch:
      return Reason::kJwtKeyAlgMismatch;
    case JoseError::kJwtBadSignature:
      return Reason::kBadSignature;
    case JoseError::kJwtExpired:
      return Reason::kTokenExpired;
    case JoseError::kJwtNotYetValid:
      return Reason::kJwtNotYetValid;
    case JoseError::kJwtIssuedInFuture:
      return Reason::kJwtIssuedInFuture;
    case JoseError::kJwtTooOld:
      return Reason::kJwtTooOld;
    case JoseError::kJwtBadIssuer:
      return Reason::kBadIssuer;
    case JoseError::kJwtBadAudience:
      return Reason::kBadAudience;
    case JoseError::kJwtMissingClaim:
      return Reason::kJwtMissingClaim;
    case JoseError::kJwksMalformed:
      return Reason::kJwksMalformed;
    case JoseError::kJwkUnsupported:
      return Reason::kJwkUnsupported;
  }
  return Reason::kJwtMalformed;
}

std::string_view JoseErrorString(JoseError e) { return ReasonName(JoseErrorReason(e)); }

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
