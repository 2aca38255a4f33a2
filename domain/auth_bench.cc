// Micro-benchmarks of the request authentication hot path (issue "API tokens", Benchmarks):
// Authenticator::Authenticate("Bearer clapi_...") on the cached path (extract, parse + CRC32
// checksum, HMAC-SHA256, cache lookup, usage touch) followed by the token's permission check,
// next to one HMAC-SHA256 of a token, and the same path with 100,000 distinct tokens cached.
//
// Setup uses the real domain services on a SQLite store in a temp dir; the clock is a FakeClock
// that never moves, so after the warm-up every lookup is a cache hit (the re-validation re-read,
// at most once per token per bound, is amortised away in a server and not measured here).
//
// Run: build-bench/domain/auth_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "crypto/credential.h"
#include "crypto/hash.h"
#include "domain/api_tokens.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/organizations.h"
#include "domain/usage_recorder.h"
#include "store/store.h"

namespace cl::domain {
namespace {

constexpr char kPepper[] = "bench-pepper-bench-pepper-bench-pepper-32b";

// True when the principal's explicit permission list holds `permission` (what a handler's
// authorize() does first for an API token, without any database access).
bool HasPermission(const Principal& p, std::string_view permission) {
  return std::find(p.permissions.begin(), p.permissions.end(), permission) != p.permissions.end();
}

// A SQLite store in a fresh temp dir with one owner, one organization "acme" and `n` API tokens
// created through ApiTokenService, each authenticated once so that it sits in the cache.
class Fixture {
 public:
  explicit Fixture(size_t n) {
    // $TMPDIR, else /dev/shm: 100,000 inserts, one transaction each, take minutes when every
    // commit is fsynced to a disk, and the database is not what is measured here.
    const char* env = std::getenv("TMPDIR");
    std::string base = env && *env                                 ? env
                       : std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                                                   : "/tmp";
    std::string tmpl = base + "/cl-auth-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
    dir_ = tmpl;
    auto db = store::OpenDatabase("sqlite:" + (dir_ / "db.sqlite").string());
    if (!db) Die(db.error().ToString());
    db_ = std::move(*db);
    if (auto st = db_->Migrate(); !st) Die(st.error().ToString());
    authn_ = std::make_unique<Authenticator>(
        Authenticator::Stores{
            .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
        hasher_, clock_, &usage_);
    authz_ = std::make_unique<Authorizer>(*db_, *db_);
    orgs_ = std::make_unique<OrganizationService>(
        OrganizationService::Stores{
            .orgs = *db_, .projects = *db_, .invitations = *db_, .audit = *db_},
        *authz_, clock_, random_);
    tokens_ =
        std::make_unique<ApiTokenService>(ApiTokenService::Stores{.tokens = *db_, .projects = *db_},
                                          *authz_, *orgs_, *authn_, hasher_, clock_, random_);

    store::User u;
    u.id = NewUuid(random_);
    u.issuer = "https://idp.bench";
    u.subject = "owner";
    u.email = "owner@example.com";
    u.email_verified = true;
    u.name = "Owner";
    u.created_at = u.updated_at = clock_.Now();
    auto user = db_->UpsertUser(u);
    if (!user) Die(user.error().ToString());
    Principal owner;
    owner.kind = Principal::Kind::kUser;
    owner.id = user->id;
    owner.display_name = user->email;
    if (auto org = orgs_->Create(owner, "acme"); !org) Die(org.error().ToString());

    headers_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      CreateApiTokenRequest req;
      req.name = "bench-" + std::to_string(i);
      auto created = tokens_->Create(owner, "acme", req);
      if (!created) Die(created.error().ToString());
      headers_.push_back("Bearer " + created->token);
    }
    for (const auto& h : headers_) {
      auto p = authn_->Authenticate(h);  // warm the cache
      if (!p) Die(p.error().ToString());
      if (!HasPermission(*p, perm::kWorkflowRunCreate)) Die("token lacks workflow_run:create");
    }
  }
  ~Fixture() {
    tokens_.reset();
    orgs_.reset();
    authz_.reset();
    authn_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  Authenticator& authn() { return *authn_; }
  const std::vector<std::string>& headers() const { return headers_; }

 private:
  [[noreturn]] static void Die(const std::string& what) {
    std::fprintf(stderr, "auth_bench setup failed: %s\n", what.c_str());
    std::exit(1);
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  crypto::CredentialHasher hasher_{kPepper};
  UsageRecorder usage_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<OrganizationService> orgs_;
  std::unique_ptr<ApiTokenService> tokens_;
  std::vector<std::string> headers_;
};

// Fixtures are built once per process (the 100k one takes a while), shared by threads, and
// destroyed (temp dir removed) at exit.
Fixture& OneToken() {
  static Fixture f(1);
  return f;
}
Fixture& ManyTokens() {
  static Fixture f(100'000);
  return f;
}

// One HMAC-SHA256(pepper, token): the cryptographic floor of the cached path.
void BM_HmacSha256OfToken(benchmark::State& state) {
  SystemRandom random;
  std::string token = crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random);
  std::string pepper = kPepper;
  for (auto _ : state) benchmark::DoNotOptimize(crypto::HmacSha256(pepper, token));
}
BENCHMARK(BM_HmacSha256OfToken);

// The stored-hash form: hex(HMAC), as CredentialHasher::Hash computes it per request.
void BM_CredentialHasherHash(benchmark::State& state) {
  SystemRandom random;
  std::string token = crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random);
  crypto::CredentialHasher hasher(kPepper);
  for (auto _ : state) benchmark::DoNotOptimize(hasher.Hash(token));
}
BENCHMARK(BM_CredentialHasherHash);

// Extract the bearer token and check its prefix and CRC32 checksum.
void BM_ExtractAndParse(benchmark::State& state) {
  SystemRandom random;
  std::string header =
      "Bearer " + crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random);
  for (auto _ : state) {
    auto token = ExtractBearer(header);
    benchmark::DoNotOptimize(crypto::ParseCredential(*token));
  }
}
BENCHMARK(BM_ExtractAndParse);

// The whole cached path for one token, plus the permission check. Target: <= 2 us.
void BM_AuthenticateCachedApiToken(benchmark::State& state) {
  Fixture& f = OneToken();
  const std::string& header = f.headers().front();
  for (auto _ : state) {
    auto p = f.authn().Authenticate(header);
    if (!p || !HasPermission(*p, perm::kWorkflowRunCreate)) {
      state.SkipWithError("authentication or permission check failed");
      break;
    }
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_AuthenticateCachedApiToken);
// Two threads on the one cache (its mutex is shared by all requests of a server).
BENCHMARK(BM_AuthenticateCachedApiToken)->Threads(2)->UseRealTime();

// 100,000 distinct tokens cached; each iteration authenticates a random one of them.
void BM_AuthenticateCached100kTokens(benchmark::State& state) {
  Fixture& f = ManyTokens();
  const auto& headers = f.headers();
  // A pre-drawn random order, so the RNG is not part of the measurement.
  std::vector<uint32_t> order(1 << 20);
  std::mt19937 rng(42 + state.thread_index());
  std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(headers.size() - 1));
  for (auto& i : order) i = pick(rng);
  size_t k = 0;
  for (auto _ : state) {
    auto p = f.authn().Authenticate(headers[order[k++ & (order.size() - 1)]]);
    if (!p || !HasPermission(*p, perm::kWorkflowRunCreate)) {
      state.SkipWithError("authentication or permission check failed");
      break;
    }
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_AuthenticateCached100kTokens);
BENCHMARK(BM_AuthenticateCached100kTokens)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace cl::domain

BENCHMARK_MAIN();
