// Cost of verifying one CI ID token with a warm key cache (the keyless hot path), next to the
// RSA-2048 signature check it contains. Compare with `openssl speed -seconds 5 rsa2048`'s
// verify/s on the same machine (issue "Keyless OIDC for CI", target <= 1.5x raw RSA verify);
// BM_RawRsa2048Verify is that same operation (EVP_PKEY_verify of a digest, context set up
// once) in this process, so the ratio can be read from one run on a loaded machine.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <memory>

#include "crypto/jose.h"
#include "crypto/jose_testing.h"
#include "oidc/ci_verifier.h"

namespace cl::oidc {
namespace {

constexpr char kIssuer[] = "https://gitlab.com";
constexpr char kJwksUrl[] = "https://gitlab.com/oauth/discovery/keys";
constexpr char kAudience[] = "https://cp.example.com";

struct Fixture {
  FakeClock clock{1'800'000'000'000};
  crypto::TestSigningKey key = crypto::TestSigningKey::GenerateRsa("gl-rsa-1");
  std::unique_ptr<CiTokenVerifier> verifier;
  std::vector<TrustPolicy> policies;
  std::string token;

  Fixture() {
    std::string discovery =
        boost::json::serialize(boost::json::object{{"issuer", kIssuer}, {"jwks_uri", kJwksUrl}});
    std::string jwks = crypto::JwksJson({&key});
    CiVerifierOptions options;
    options.fetch.fetch = [discovery,
                           jwks](const HttpClientRequest& req) -> Result<HttpClientResponse> {
      if (req.url == std::string(kIssuer) + "/.well-known/openid-configuration") {
        return HttpClientResponse{200, discovery, {}};
      }
      if (req.url == kJwksUrl) return HttpClientResponse{200, jwks, {}};
      return HttpClientResponse{404, "", {}};
    };
    verifier = std::make_unique<CiTokenVerifier>(options, clock);
    TrustPolicy p;
    p.id = "pol";
    p.org_id = "org";
    p.name = "app main";
    p.issuer = kIssuer;
    p.provider = "gitlab";
    p.audience = kAudience;
    p.bound_claims = {{"project_id", "20"}, {"ref", "main"}};
    p.permissions = {"workflow_run:create"};
    policies = {p};
    const int64_t now = clock.Now() / 1000;
    token = key.Sign({}, boost::json::object{{"iss", kIssuer},
                                             {"sub", "project_path:g/app:ref_type:branch:ref:main"},
                                             {"aud", kAudience},
                                             {"iat", now},
                                             {"nbf", now},
                                             {"exp", now + 300},
                                             {"jti", "0b8c5b1e-7d3a-4a55-9a0e-5d2f3c1e9a11"},
                                             {"project_id", "20"},
                                             {"project_path", "g/app"},
                                             {"ref", "main"},
                                             {"ref_type", "branch"},
                                             {"pipeline_id", "574"}});
    auto warm = verifier->Verify(token, policies);  // discovery + JWKS fetched once
    if (!warm) std::abort();
  }
};

Fixture& Shared() {
  static Fixture* f = new Fixture();
  return *f;
}

// Whole keyless verification: decode, issuer allow-list, policy candidates, cached keys,
// RS256 signature, registered claims, bound-claim matching.
void BM_CiTokenVerifyWarmCache(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    auto id = f.verifier->Verify(f.token, f.policies);
    benchmark::DoNotOptimize(id);
  }
}
BENCHMARK(BM_CiTokenVerifyWarmCache);

// Only the JOSE layer (decode + RS256 verify + claims) against the same key set.
void BM_JwtVerifyRs256(benchmark::State& state) {
  Fixture& f = Shared();
  auto jwks = crypto::Jwks::Parse(crypto::JwksJson({&f.key}));
  crypto::JwtCheck check;
  check.issuer = kIssuer;
  check.audiences = {kAudience};
  check.now = f.clock.Now();
  for (auto _ : state) {
    auto jwt = crypto::VerifyJwt(f.token, *jwks, check);
    benchmark::DoNotOptimize(jwt);
  }
}
BENCHMARK(BM_JwtVerifyRs256);

// Only splitting, base64url and JSON decoding of the token (no signature, no claims checks).
void BM_DecodeJwt(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    auto d = crypto::DecodeJwt(f.token);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecodeJwt);

// What `openssl speed rsa2048` times as "verify": EVP_PKEY_verify of a prepared digest with a
// context initialized once (PKCS#1 v1.5, SHA-256 DigestInfo), on a fresh 2048-bit key.
void BM_RawRsa2048Verify(benchmark::State& state) {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  EVP_PKEY_CTX* sctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
  EVP_PKEY_CTX* vctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
  unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[512];
  size_t sig_len = sizeof(sig);
  bool ok = pkey && sctx && vctx && EVP_PKEY_sign_init(sctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(sctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_CTX_set_signature_md(sctx, EVP_sha256()) == 1 &&
            EVP_PKEY_sign(sctx, sig, &sig_len, digest, sizeof(digest)) == 1 &&
            EVP_PKEY_verify_init(vctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_CTX_set_signature_md(vctx, EVP_sha256()) == 1;
  if (!ok) std::abort();
  for (auto _ : state) {
    int r = EVP_PKEY_verify(vctx, sig, sig_len, digest, sizeof(digest));
    if (r != 1) std::abort();
    benchmark::DoNotOptimize(r);
  }
  EVP_PKEY_CTX_free(vctx);
  EVP_PKEY_CTX_free(sctx);
  EVP_PKEY_free(pkey);
}
BENCHMARK(BM_RawRsa2048Verify);

}  // namespace
}  // namespace cl::oidc

BENCHMARK_MAIN();
