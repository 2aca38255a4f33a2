// Fuzz target: JWS compact parsing and verification (crypto/jose), as done for every CI ID token
// and upstream ID token.
//
// The first input byte picks a mode:
//   even: the rest is a compact token, decoded and verified as is against a fixed key set;
//   odd:  the rest is "<header JSON>\n<payload JSON>", signed in-process with one of the key
//         set's keys, so the claim checks behind the signature are reached too.
// Invariants: a token that verifies has an allow-listed alg, the expected issuer and audience,
// and is inside its validity window; errors are Unauthenticated with a JOSE reason.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/jose.h"
#include "crypto/jose_testing.h"
#include "fuzz/fuzz_support.h"

using namespace cl;

namespace {

constexpr std::string_view kIssuer = "https://issuer.fuzz.test";
constexpr std::string_view kAudience = "https://cp.fuzz.test";
constexpr UnixMillis kNow = 1'700'000'000'000;

struct Keys {
  // Key generation happens once per process; kids are fixed so seeds can name them.
  crypto::TestSigningKey rsa = crypto::TestSigningKey::GenerateRsa("rsa-1");
  crypto::TestSigningKey ec = crypto::TestSigningKey::GenerateEcP256("ec-1");
  crypto::Jwks jwks;
  Keys() {
    auto parsed = crypto::Jwks::Parse(crypto::JwksJson({&rsa, &ec}));
    fuzz::Check(parsed && parsed->keys.size() == 2, "fixed key set parses");
    jwks = std::move(*parsed);
  }
};

Keys& TheKeys() {
  static Keys* keys = new Keys();
  return *keys;
}

void Verify(std::string_view token, const crypto::JwtCheck& check) {
  (void)crypto::LooksLikeJwt(token);
  if (auto decoded = crypto::DecodeJwtUnverified(token)) {
    (void)decoded->StringClaim("sub");
    (void)decoded->StringClaim("project_id");
  }
  auto jwt = crypto::VerifyJwt(token, TheKeys().jwks, check);
  if (!jwt) {
    fuzz::Check(jwt.error().IsUnauthenticated(), "verification errors are Unauthenticated");
    // Token-shaped inputs only: a short fuzzed string may well be a piece of a fixed message.
    if (token.size() >= 32 && std::count(token.begin(), token.end(), '.') == 2) {
      fuzz::Check(jwt.error().message().find(token) == std::string::npos,
                  "error message does not echo the token");
    }
    return;
  }
  fuzz::Check(std::find(check.allowed_algs.begin(), check.allowed_algs.end(), jwt->alg) !=
                  check.allowed_algs.end(),
              "alg is allow-listed");
  fuzz::Check(jwt->iss == check.issuer, "issuer matches");
  fuzz::Check(std::find(jwt->aud.begin(), jwt->aud.end(), std::string(kAudience)) != jwt->aud.end(),
              "audience matches");
  const int64_t now_s = check.now / 1000;
  // Written so that no claim value can overflow the comparison.
  fuzz::Check(jwt->exp > now_s - check.leeway_seconds, "not expired");
  fuzz::Check(jwt->iat <= now_s + check.leeway_seconds, "not issued in the future");
  if (jwt->nbf) fuzz::Check(*jwt->nbf <= now_s + check.leeway_seconds, "not before nbf");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 20'000) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  crypto::JwtCheck check;
  check.issuer = std::string(kIssuer);
  check.audiences = {std::string(kAudience)};
  check.now = kNow;
  check.leeway_seconds = 60;
  if (data[0] & 2) check.max_age_seconds = 3600;
  if (data[0] & 4) check.allowed_algs = {"ES256"};

  if ((data[0] & 1) == 0) {
    Verify(rest, check);
    return 0;
  }
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return 0;
  const crypto::TestSigningKey& key = (data[0] & 8) ? TheKeys().rsa : TheKeys().ec;
  std::string token = key.SignRaw(rest.substr(0, nl), rest.substr(nl + 1));
  Verify(token, check);
  return 0;
}
