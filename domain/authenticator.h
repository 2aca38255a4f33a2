// Authenticator: turns a bearer credential into a Principal.
//
// The hot path: the credential is extracted and its shape and checksum checked offline
// (domain/credential_extractor.h), then its HMAC is looked up in a bounded in-memory cache
// (domain/credential_cache.h); the database is consulted only on a miss or when the cached entry
// is older than the re-validation bound (1 s), so a revocation made by another instance takes
// effect within that bound, and at once on this instance (Forget). This class does the
// database side: loading a credential, moving it to the newest pepper, writing a first use after
// a long idle period, and turning what was read into a Principal (or the precise refusal).
//
// Pepper rotation (crypto::CredentialHasher): the cache is keyed by the hash under the newest
// pepper, so the cached path costs one HMAC however many peppers are configured. On a miss the
// database is asked under the newest pepper first, then under each older one; an API token or
// session found under an older pepper (and still usable) is re-hashed under the newest one,
// once, with a conditional UPDATE that concurrent instances may race safely.
//
// API token usage goes to the coalescing UsageRecorder, except the first use after a long idle
// period, which is written at once (RecordPromptUse) so no instance's inactivity sweep misses it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/credential.h"
#include "crypto/hash.h"
#include "domain/credential_cache.h"
#include "domain/credential_extractor.h"
#include "domain/principal.h"
#include "domain/token_inactivity.h"
#include "domain/usage_recorder.h"
#include "store/store.h"

namespace cl::domain {

class Authenticator {
 public:
  // Half the shortest inactivity limit (domain/token_inactivity.h): a token used within this
  // much of its last recorded activity cannot reach any limit before the recorder's next flush.
  static constexpr UnixMillis kPromptUseAfter = domain::kPromptUseAfter;

  // The stores credentials are read from (and re-hashed / first uses written to). REQUIRES:
  // each outlives the Authenticator.
  struct Stores {
    store::UserStore& users;
    store::SessionStore& sessions;
    store::ApiTokenStore& tokens;
    store::FederationStore& federation;
    store::PepperRotationStore& peppers;
  };

  // `usage` (nullable) receives API token uses for the coalesced last_used_at writes.
  Authenticator(Stores stores, const crypto::CredentialHasher& hasher, const Clock& clock,
                UsageRecorder* usage = nullptr, size_t max_cache_entries = 200'000,
                UnixMillis revalidate_after = 1000);

  // `authorization` is the raw Authorization header value; `origin` is where the request came
  // from, recorded with an API token's use (UsageRecorder). Errors are Unauthenticated with
  // reason "unauthenticated" (none), "malformed_token", "invalid_token", "session_expired",
  // "session_revoked", "token_expired", "token_revoked" (also: a rotated API token from its
  // rotation_deadline on); or Unavailable when the database is down on a cache miss.
  Result<Principal> Authenticate(std::string_view authorization, RequestOrigin origin = {});

  // The hot path without I/O: the answer when it can be given from the cache alone (a fresh
  // entry while the cache is trusted, or a credential that fails offline checks), nullopt when
  // the database is needed.
  std::optional<Result<Principal>> AuthenticateCached(std::string_view authorization,
                                                      RequestOrigin origin = {});

  // Drops a cached credential at once (after logout or revocation on this instance).
  void Forget(const std::string& token_hash);
  // Drops every cached credential (after a gap in revocation notifications).
  void ForgetAll();

  // A credential was ended on this instance: forget it here at once. Other instances hear of it
  // from the database (PostgreSQL announces every ended credential from inside the ending
  // transaction, store/migrations/0008_revocation_announcements.sql).
  void NotifyRevoked(const std::string& token_hash);

  // Whether cached answers may be used: false while the instance may be missing revocations
  // announced by other instances (store::RevocationNotifier::Hearing). While it is false, every
  // request reads its credential from the database (fail closed). Called on every request that
  // could be answered from the cache; set before serving. Unset: always trusted.
  void SetCacheTrust(std::function<bool()> trusted) { cache_trusted_ = std::move(trusted); }

  // Re-reads in bulk the cached API tokens in use whose entries will be stale soon
  // (CredentialCache::DueForRefresh), a few queries of kMaxHashesPerRead tokens each, so a large
  // working set is revalidated off the request path instead of by one database read per request
  // as entries age out. Every entry is still re-read within revalidate_after. An entry is
  // replaced only by a live row stored under the same hash and the newest pepper and not due a
  // prompt use; anything else is left to age out and be reloaded by its next request, as
  // without a refresh. Needs the UsageRecorder (its reported uses tell which entries are in
  // use). Returns how many entries were refreshed. jobs::CredentialRefresher calls it.
  Result<size_t> RefreshCachedApiTokens();
  // At most this many entries per call.
  static constexpr size_t kMaxRefreshPerPass = 1'000'000;

  // Number of cached credentials (tests and metrics).
  size_t CachedEntries();

  // Counts since start, for /metrics. The hot path adds to them with relaxed atomic increments
  // only (no lock, no allocation).
  struct Stats {
    std::array<uint64_t, kPrincipalKindCount> successes{};  // by Principal::Kind
    uint64_t cache_hits = 0;                                // answered from a fresh cache entry
    uint64_t cache_misses = 0;                              // read from the database
    uint64_t cache_refreshes = 0;  // entries re-read ahead of expiry (RefreshCachedApiTokens)
  };
  Stats GetStats() const;

  // Tests only: runs `hook` on the requesting thread after each database read of a credential
  // and before it is cached, to place a revocation exactly there. Set before use.
  void SetAfterLoadHookForTesting(std::function<void()> hook) {
    after_load_for_testing_ = std::move(hook);
  }

 private:
  // The cached entry for `token`, whose HMAC under the newest pepper is `key`, loading it on a
  // miss or when stale.
  Result<RefPtr<const CachedCredential>> Lookup(std::string_view token,
                                                const crypto::Digest256& key,
                                                crypto::CredentialKind kind, UnixMillis now,
                                                RequestOrigin origin);
  // The hash a session or API token row holds, and the id of its pepper: needed while loading
  // (pepper moves), not kept in the cache.
  struct StoredHash {
    std::string token_hash;
    std::string pepper_id;
  };
  // Reads the credential stored under `hash` into `e` and what its row says about its hash into
  // `stored`: false when there is none.
  Result<bool> Load(CachedCredential& e, const std::string& hash, StoredHash& stored);
  // Moves the stored hash of the session or API token in `e` to the newest pepper (`hash`), or
  // records the pepper id of a hash stored before ids were. Best effort: a failure is logged and
  // retried on the next miss. Updates `stored` to what the row holds afterwards.
  void MoveToCurrentPepper(CachedCredential& e, const std::string& hash, StoredHash& stored);
  // An API token whose last activity is older than kPromptUseAfter: writes this use now, not
  // through the coalescing UsageRecorder, so an inactivity sweep on any instance either sees it
  // or has already revoked the token (then `e` is updated to the revocation and this request is
  // refused). False when the write or the read after it failed: the request is answered from
  // what was read, the use goes through the recorder, and `e` must not be cached. An error
  // (invalid_token) when the token no longer exists.
  Result<bool> RecordPromptUse(CachedCredential& e, UnixMillis now, RequestOrigin origin);
  Result<Principal> FromEntry(const CachedCredential& e, UnixMillis now, RequestOrigin origin);
  Result<Principal> FromSession(const CachedCredential& e, UnixMillis now);
  Result<Principal> FromApiToken(const CachedCredential& e, UnixMillis now, RequestOrigin origin);
  Result<Principal> FromFederated(const CachedCredential& e, UnixMillis now);

  store::UserStore& users_;
  store::SessionStore& sessions_;
  store::ApiTokenStore& tokens_;
  store::FederationStore& federation_;
  store::PepperRotationStore& peppers_;
  const crypto::CredentialHasher& hasher_;
  const Clock& clock_;
  UsageRecorder* usage_;
  // Sharded by thread, each shard on its own cache line: every request adds to two of them,
  // and threads adding to one shared line would pass it back and forth on every request.
  struct alignas(64) Counters {
    std::array<std::atomic<uint64_t>, kPrincipalKindCount> successes{};
    std::atomic<uint64_t> cache_hits{0};
    std::atomic<uint64_t> cache_misses{0};
    std::atomic<uint64_t> cache_refreshes{0};
  };
  static constexpr size_t kCounterShards = 16;
  // This thread's shard (threads are spread over the shards in the order they first count).
  Counters& MyCounters();
  std::array<Counters, kCounterShards> counters_;
  // Counts `r` when it is a success.
  const Result<Principal>& CountSuccess(const Result<Principal>& r);
  CredentialCache cache_;
  std::function<bool()> cache_trusted_;
  std::function<void()> after_load_for_testing_;
};

}  // namespace cl::domain
