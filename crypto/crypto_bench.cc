// Micro-benchmarks of the per-request crypto: credential hash (HMAC), credential parse, and
// JWT verification (RS256, ES256) with keys parsed once.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include "crypto/credential.h"
#include "crypto/hash.h"
#include "crypto/jose.h"
#include "crypto/jose_testing.h"

namespace cl::crypto {
namespace {

constexpr UnixMillis kNow = 1'700'000'000'000;

void BM_CredentialHash(benchmark::State& state) {
  SystemRandom random;
  std::string token = GenerateCredential(CredentialKind::kApiToken, random);
  CredentialHasher hasher(std::string(32, 'p'));
  for (auto _ : state) benchmark::DoNotOptimize(hasher.Hash(token));
}
BENCHMARK(BM_CredentialHash);

void BM_ParseCredential(benchmark::State& state) {
  SystemRandom random;
  std::string token = GenerateCredential(CredentialKind::kApiToken, random);
  for (auto _ : state) benchmark::DoNotOptimize(ParseCredential(token));
}
BENCHMARK(BM_ParseCredential);

void VerifyBench(benchmark::State& state, const TestSigningKey& key) {
  auto jwks = Jwks::Parse(JwksJson({&key}));
  boost::json::object claims{{"iss", "https://issuer.example"},
                             {"aud", "chainloop"},
                             {"sub", "s"},
                             {"iat", kNow / 1000},
                             {"exp", kNow / 1000 + 300}};
  std::string token = key.Sign({}, claims);
  JwtCheck check;
  check.issuer = "https://issuer.example";
  check.audiences = {"chainloop"};
  check.now = kNow;
  if (!jwks || !VerifyJwt(token, *jwks, check)) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(VerifyJwt(token, *jwks, check));
}

void BM_VerifyRs256(benchmark::State& state) {
  static const TestSigningKey key = TestSigningKey::GenerateRsa("rsa");
  VerifyBench(state, key);
}
BENCHMARK(BM_VerifyRs256);

void BM_VerifyEs256(benchmark::State& state) {
  static const TestSigningKey key = TestSigningKey::GenerateEcP256("ec");
  VerifyBench(state, key);
}
BENCHMARK(BM_VerifyEs256);

}  // namespace
}  // namespace cl::crypto

BENCHMARK_MAIN();
