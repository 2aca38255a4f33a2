// Micro-benchmarks of the request authentication hot path: Authenticator::Authenticate("Bearer
// clapi_...") on the cached path (extract, parse + CRC32 checksum, HMAC-SHA256, cache lookup,
// usage touch) followed by the token's permission check, with 1,000, 100,000 and 1,000,000
// distinct tokens cached and taken in random order, next to one HMAC-SHA256 of a token. Each
// size also reports the heap bytes its cache holds per token (counter bytes_per_token).
//
// Tokens come from an in-memory ApiTokenStore (TokenTable below), so a million of them are set
// up in seconds; the clock is a FakeClock that never moves, so after the warm-up every lookup is
// a cache hit (the re-validation re-read, at most once per token per bound, is amortised away in
// a server and not measured here).
//
// Run: build-bench/domain/auth_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "crypto/credential.h"
#include "crypto/hash.h"
#include "domain/api_tokens.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
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

// API tokens served from memory: the one store the cached path reads (on the warm-up miss of
// each token). Holding one record per token, or going through SQLite, would make a million tokens
// cost gigabytes and minutes to set up; here token i's record is derived from i, and only the
// headers and a sorted index of their hashes are stored.
class TokenTable final : public store::ApiTokenStore {
 public:
  TokenTable(size_t n, const crypto::CredentialHasher& hasher, UnixMillis now)
      : hasher_(hasher), now_(now) {
    SystemRandom random;
    offsets_.reserve(n + 1);
    offsets_.push_back(0);
    index_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::string token = crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random);
      text_ += "Bearer " + token;
      offsets_.push_back(static_cast<uint32_t>(text_.size()));
      index_.push_back({Tag(hasher_.Digest(token)), static_cast<uint32_t>(i)});
    }
    std::sort(index_.begin(), index_.end());
  }

  size_t size() const { return index_.size(); }
  std::string_view header(size_t i) const {
    return std::string_view(text_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  std::string_view token(size_t i) const { return header(i).substr(7); }  // after "Bearer "
  // Token i's id: a UUID made of its hash, like the random ones the service assigns.
  std::string id(size_t i) const {
    crypto::Digest256 d = hasher_.Digest(token(i));
    std::string hex =
        crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(d.data()), 16));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20, 12);
  }

  Result<store::ApiToken> GetApiTokenByHash(const std::string& token_hash) override {
    auto digest = crypto::DigestFromHex(token_hash);
    if (!digest) return Fail(Error::NotFound("no such API token"));
    const uint64_t tag = Tag(*digest);
    for (auto it =
             std::lower_bound(index_.begin(), index_.end(), std::pair<uint64_t, uint32_t>{tag, 0});
         it != index_.end() && it->first == tag; ++it) {
      if (hasher_.Digest(token(it->second)) == *digest) return Record(it->second, token_hash);
    }
    return Fail(Error::NotFound("no such API token"));
  }
  Result<std::vector<store::ApiToken>> GetApiTokensByHashes(
      const std::vector<std::string>&) override {
    return Unsupported();
  }
  Status CreateApiToken(const store::ApiToken&, const store::AuditEvent&) override {
    return Unsupported();
  }
  Result<store::ApiToken> GetApiToken(const std::string&, const std::string&) override {
    return Unsupported();
  }
  Result<std::vector<store::ApiToken>> ListApiTokens(const store::ApiTokenFilter&) override {
    return Unsupported();
  }
  Result<store::Page<store::ApiToken, store::TimeKey>> ListApiTokens(
      const store::ApiTokenFilter&, const store::PageRequest<store::TimeKey>&) override {
    return Unsupported();
  }
  Status RevokeApiToken(const std::string&, const std::string&, UnixMillis, store::RevocationReason,
                        const std::string&, const store::AuditEvent&) override {
    return Unsupported();
  }
  Status RecordApiTokenUsage(const std::vector<store::ApiTokenUse>&) override {
    return Unsupported();
  }
  Status RotateApiToken(const std::string&, const store::ApiToken&, UnixMillis,
                        const store::AuditEvent&) override {
    return Unsupported();
  }

 private:
  static tl::unexpected<Error> Unsupported() {
    return Fail(Error::Internal("not used by the cached path"));
  }
  static uint64_t Tag(const crypto::Digest256& d) {
    uint64_t t;
    std::memcpy(&t, d.data(), sizeof(t));
    return t;
  }

  // What the database would hold: half the tokens scoped to a project, all with the default
  // permissions, an expiry, and a use just now (so no first use after a long idle period).
  store::ApiToken Record(size_t i, const std::string& token_hash) const {
    store::ApiToken t;
    t.id = id(i);
    t.org_id = "3f0c6a52-9d7e-4b1a-8c2d-5e6f7a8b9c0d";
    if (i % 2 == 1) t.project_id = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
    t.name = "bench-" + std::to_string(i);
    t.token_hash = token_hash;
    t.permissions = DefaultApiTokenPermissions();
    t.created_by_kind = "user";
    t.created_by_id = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
    t.created_by_name = "owner@example.com";
    t.created_at = now_ - kMillisPerHour;
    t.expires_at = now_ + 90 * 24 * kMillisPerHour;
    t.last_used_at = now_;
    t.pepper_id = hasher_.current_pepper_id();
    return t;
  }

  const crypto::CredentialHasher& hasher_;
  const UnixMillis now_;
  std::string text_;               // the headers, back to back
  std::vector<uint32_t> offsets_;  // header i is text_[offsets_[i], offsets_[i + 1])
  std::vector<std::pair<uint64_t, uint32_t>> index_;  // {first 8 bytes of the hash, i}, sorted
};

// Heap bytes in use (malloc's arenas and its mmap-ed blocks, which hold large tables).
size_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// `n` API tokens (TokenTable), each authenticated once so that it sits in the cache (bounded at
// n), with the heap growth that filling the cache caused. The other stores are a SQLite database
// in a temp dir, never read on this path.
class Fixture {
 public:
  explicit Fixture(size_t n) : table_(n, hasher_, clock_.Now()) {
    // $TMPDIR, else /dev/shm: the database is not what is measured here.
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
            .users = *db_, .sessions = *db_, .tokens = table_, .federation = *db_, .peppers = *db_},
        hasher_, clock_, &usage_, /*max_cache_entries=*/n);
    // The first use of each token queues it in the usage recorder; queue them all beforehand so
    // that what is measured below is the cache alone (a queued token's next Touch is coalesced
    // and allocates nothing).
    for (size_t i = 0; i < n; ++i) usage_.Touch(table_.id(i), clock_.Now());
    const size_t before = HeapInUse();
    for (size_t i = 0; i < n; ++i) {
      auto p = authn_->Authenticate(table_.header(i));
      if (!p) Die(p.error().ToString());
      if (!HasPermission(*p, perm::kWorkflowRunCreate)) Die("token lacks workflow_run:create");
    }
    bytes_per_token_ = static_cast<double>(HeapInUse() - before) / static_cast<double>(n);
    if (authn_->CachedEntries() != n) Die("not every token stayed cached");
  }
  ~Fixture() {
    authn_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  Authenticator& authn() { return *authn_; }
  const TokenTable& table() const { return table_; }
  double bytes_per_token() const { return bytes_per_token_; }

 private:
  [[noreturn]] static void Die(const std::string& what) {
    std::fprintf(stderr, "auth_bench setup failed: %s\n", what.c_str());
    std::exit(1);
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  crypto::CredentialHasher hasher_{kPepper};
  TokenTable table_;
  UsageRecorder usage_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Authenticator> authn_;
  double bytes_per_token_ = 0;
};

// One fixture per token count, built on first use (a million tokens take a few seconds), shared
// by the threads of a run, and destroyed (temp dir removed) at exit.
Fixture& Tokens(size_t n) {
  static std::mutex mu;
  static std::map<size_t, std::unique_ptr<Fixture>> fixtures;
  std::lock_guard<std::mutex> lock(mu);
  auto& f = fixtures[n];
  if (!f) f = std::make_unique<Fixture>(n);
  return *f;
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

// The whole cached path, plus the permission check, with state.range(0) distinct tokens cached,
// each iteration a random one of them. Target: <= 2 us CPU at every size. The counter
// bytes_per_token is the heap growth of filling the cache, divided by the number of tokens.
void BM_AuthenticateCached(benchmark::State& state) {
  Fixture& f = Tokens(static_cast<size_t>(state.range(0)));
  // A pre-drawn random order, so the RNG is not part of the measurement.
  std::vector<uint32_t> order(1 << 20);
  std::mt19937 rng(42 + state.thread_index());
  std::uniform_int_distribution<uint32_t> pick(0, static_cast<uint32_t>(f.table().size() - 1));
  for (auto& i : order) i = pick(rng);
  size_t k = 0;
  for (auto _ : state) {
    auto p = f.authn().Authenticate(f.table().header(order[k++ & (order.size() - 1)]));
    if (!p || !HasPermission(*p, perm::kWorkflowRunCreate)) {
      state.SkipWithError("authentication or permission check failed");
      break;
    }
    benchmark::DoNotOptimize(p);
  }
  // Each thread reports the same figure: average them, not sum.
  state.counters["bytes_per_token"] =
      benchmark::Counter(f.bytes_per_token(), benchmark::Counter::kAvgThreads);
}
// Two threads share the one cache (as the I/O threads of a server do).
BENCHMARK(BM_AuthenticateCached)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_AuthenticateCached)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Threads(2)
    ->UseRealTime();

}  // namespace
}  // namespace cl::domain

BENCHMARK_MAIN();
