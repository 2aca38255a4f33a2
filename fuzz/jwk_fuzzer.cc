// Fuzz target: JWK and JWKS documents (crypto/jose), as fetched from an issuer's jwks_uri.
//
// The input is parsed both as a JWKS document and as a single JWK. Every key that parses is
// then used: Accepts() for each algorithm and a Verify() of a junk signature, which must fail.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.h"
#include "crypto/jose.h"
#include "fuzz/fuzz_support.h"

using namespace cl;

namespace {

void Exercise(const crypto::Jwk& key) {
  fuzz::Check(key.kty() == "RSA" || key.kty() == "EC", "parsed key type is RSA or EC");
  for (std::string_view alg : {"RS256", "ES256", "none", "HS256", "EdDSA", "RS512"}) {
    bool accepts = key.Accepts(alg);
    if (alg == "none" || alg == "HS256") fuzz::Check(!accepts, "none/HS* never accepted");
    if (accepts) {
      fuzz::Check(!key.Verify(alg, "header.payload", std::string(64, '\x01')),
                  "a junk signature never verifies");
      (void)key.Verify(alg, "", "");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto jwks = crypto::Jwks::Parse(in)) {
    for (const auto& key : jwks->keys) {
      fuzz::Check(key != nullptr, "no null keys in a JWKS");
      Exercise(*key);
      fuzz::Check(jwks->FindByKid(key->kid()) != nullptr, "every key is found by its kid");
    }
    (void)jwks->FindByKid("");
  }
  if (auto value = ParseJson(in)) {
    if (auto key = crypto::Jwk::Parse(*value)) Exercise(**key);
  }
  return 0;
}
