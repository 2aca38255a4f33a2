// CredentialCache: the Authenticator's bounded, in-memory map from a credential's hash to what
// the database said about it, and the rules of when that answer may be reused.
//
// - Revalidation: an entry read `revalidate_after` ago or longer is stale. Lookups do not
//   return it (the caller reloads), and stale entries are dropped at most once per
//   `revalidate_after`, so the cache holds the recent working set.
// - Bound: at most `max_entries` entries; a full cache drops stale entries first, then
//   arbitrary ones.
// - Revocation: Forget / ForgetAll drop entries at once and bump an epoch; an entry read
//   before a Forget (FindFresh reports the epoch) is not inserted after it, since what was read
//   may predate the revocation.
// - Older peppers: a credential found under an older pepper's hash is also reachable by that
//   hash, so a revocation announced with it still drops the entry.
//
// - Memory: an API token costs one 160-byte block (CachedCredential, API token inline) and a
//   16-byte slot in a table 3/8 to 3/4 full, about 210 bytes in all (domain/auth_bench's
//   bytes_per_token); its organization and project are shared with the other tokens of the
//   project (Scope).
//
// Only live credentials should be inserted (the Authenticator never caches a refused one).
// Thread-safe: lookups share a lock, inserts and Forget take it exclusively.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "crypto/credential.h"
#include "crypto/hash.h"
#include "domain/digest_map.h"
#include "domain/principal.h"
#include "store/store.h"

namespace cl::domain {

// Text held by a cached credential (ids, names) in 17 bytes, where a std::string takes 32 and
// a heap block for anything over 15 characters: a canonical lower-case UUID (every stored id) as
// its 16 bytes, other text of up to 16 bytes inline, longer text in one heap block. str() gives
// back exactly the text it was made from.
class CompactText {
 public:
  CompactText() = default;
  explicit CompactText(std::string_view text);
  CompactText(const CompactText& o);
  CompactText(CompactText&& o) noexcept;
  CompactText& operator=(CompactText o) noexcept;
  ~CompactText();

  std::string str() const;
  size_t size() const;
  bool empty() const { return size() == 0; }

 private:
  static constexpr uint8_t kUuid = 0xfe;  // bytes_: the UUID's 16 bytes
  static constexpr uint8_t kHeap = 0xff;  // bytes_: {char* data, size_t size}
  const char* heap_data() const;
  size_t heap_size() const;

  uint8_t mode_ = 0;  // 0..16: the length of the text inline in bytes_; or kUuid, kHeap
  unsigned char bytes_[16] = {};
};

// std::optional<UnixMillis> in 8 bytes, for instants read from the database. REQUIRES: no value
// is INT64_MIN (which stands for none).
class OptionalMillis {
 public:
  OptionalMillis() = default;
  OptionalMillis(std::optional<UnixMillis> v)  // NOLINT: implicit, like the optional it packs
      : v_(v.value_or(kNone)) {}
  explicit operator bool() const { return v_ != kNone; }
  UnixMillis operator*() const { return v_; }
  UnixMillis value_or(UnixMillis fallback) const { return v_ != kNone ? v_ : fallback; }
  std::optional<UnixMillis> get() const {
    return v_ != kNone ? std::optional<UnixMillis>(v_) : std::nullopt;
  }

 private:
  static constexpr UnixMillis kNone = std::numeric_limits<UnixMillis>::min();
  UnixMillis v_ = kNone;
};

// Where an API token may act: its organization and project. Tokens of one project share one
// (CredentialCache::Scope), so a cached token holds a pointer instead of two ids.
struct TokenScope : RefCounted {
  std::string org_id;
  std::optional<std::string> project_id;
};

// What authentication reads of an API token, packed: the record is 80 bytes and, with a UUID id
// and a name of up to 16 bytes, owns no heap block. The hash and pepper id it was read under are
// not kept (the cache key is the hash; Authenticator::Load hands them over separately).
struct CachedApiToken {
  CompactText id;
  CompactText name;

 private:
  // Here, not with the other fields: the two texts and this byte share the first 40 bytes.
  uint8_t revocation_reason_ = 0;  // 0: none; else the reason + 1

 public:
  RefPtr<const TokenScope> scope;  // REQUIRES: set before use
  std::optional<store::RevocationReason> revocation_reason() const {
    if (revocation_reason_ == 0) return std::nullopt;
    return static_cast<store::RevocationReason>(revocation_reason_ - 1);
  }
  void set_revocation_reason(std::optional<store::RevocationReason> r) {
    revocation_reason_ = r ? static_cast<uint8_t>(static_cast<int>(*r) + 1) : 0;
  }
  OptionalMillis expires_at;
  OptionalMillis revoked_at;
  // A rotated token stops working at this instant, before its revocation is recorded.
  OptionalMillis rotation_deadline;
  // COALESCE(last_used_at, created_at) as read: the Authenticator writes the first use after a
  // long idle period at once (RecordPromptUse).
  UnixMillis last_activity = 0;
};

// A session and its user's email. Few are cached (one per signed-in browser), so they live
// behind a pointer and do not widen every API token's entry.
struct CachedSession {
  store::Session session;
  std::string email;
  std::string user_name;  // the person's name (whoami)
};

// One credential as read from the database, shared by the cache and the requests using it.
struct CachedCredential : RefCounted {
  crypto::CredentialKind kind = crypto::CredentialKind::kSession;
  // HMAC of the credential under the newest pepper: the cache key (DigestMap).
  crypto::Digest256 key{};
  // Only the record of `kind`: API tokens inline (the bulk of a large cache), the rarely cached
  // kinds behind a pointer.
  std::variant<std::monostate, CachedApiToken, std::unique_ptr<CachedSession>,
               std::unique_ptr<store::FederatedToken>>
      record;
  CachedSession& session() { return *std::get<std::unique_ptr<CachedSession>>(record); }
  const CachedSession& session() const { return *std::get<std::unique_ptr<CachedSession>>(record); }
  CachedApiToken& token() { return std::get<CachedApiToken>(record); }
  const CachedApiToken& token() const { return std::get<CachedApiToken>(record); }
  store::FederatedToken& federated() {
    return *std::get<std::unique_ptr<store::FederatedToken>>(record);
  }
  const store::FederatedToken& federated() const {
    return *std::get<std::unique_ptr<store::FederatedToken>>(record);
  }
  // token.permissions / federated.permissions, interned, handed to every Principal.
  PermissionList permissions;
  // When the database was read for it; moved forward in place (CredentialCache::Renew) when a
  // re-read found the row unchanged.
  mutable std::atomic<UnixMillis> fetched_at{0};
  // Last time this entry reported a use to the UsageRecorder: lets the hot path skip the
  // recorder's lock for all but about one request per second per token.
  mutable std::atomic<UnixMillis> last_usage_report{0};
};

class CredentialCache {
 public:
  CredentialCache(size_t max_entries, UnixMillis revalidate_after)
      : max_entries_(max_entries), revalidate_after_(revalidate_after) {}
  CredentialCache(const CredentialCache&) = delete;
  CredentialCache& operator=(const CredentialCache&) = delete;

  // The entry stored under `key` when it is of `kind` and fresh at `now` (read less than
  // revalidate_after ago); else nullptr. `epoch`, when given, receives the forget epoch read
  // under the same lock: pass it to Insert after reloading.
  RefPtr<const CachedCredential> FindFresh(const crypto::Digest256& key,
                                           crypto::CredentialKind kind, UnixMillis now,
                                           uint64_t* epoch = nullptr) const;

  // Caches `entry` (read at `now`, stored under entry->key) unless something was forgotten
  // since `epoch` was read: then returns false and caches nothing. `old_hash`, when not empty,
  // is the hex hash under an older pepper the credential was found under.
  bool Insert(RefPtr<const CachedCredential> entry, uint64_t epoch, UnixMillis now,
              const std::string& old_hash = "");

  // Cached API tokens worth re-reading ahead of their expiry at `now`: read at least half of
  // revalidate_after ago but still fresh, and used (a reported use, last_usage_report) since
  // `used_since`. At most `max` of them. `epoch` receives the forget epoch: pass it to Insert
  // with the re-read entries.
  std::vector<RefPtr<const CachedCredential>> DueForRefresh(UnixMillis now, UnixMillis used_since,
                                                            size_t max, uint64_t* epoch) const;

  // Marks `entry`, found unchanged by a database read that started at `read_at`, as read then,
  // unless something was forgotten since `epoch` was read or `entry` is no longer the one cached
  // under its key: then returns false. No allocation and only the shared lock, unlike Insert.
  bool Renew(const CachedCredential& entry, uint64_t epoch, UnixMillis read_at);

  // Drops the entry whose hash (hex, under the newest or an older pepper) is `token_hash`.
  void Forget(const std::string& token_hash);
  // Drops every entry.
  void ForgetAll();

  size_t size() const;
  UnixMillis revalidate_after() const { return revalidate_after_; }

  // The shared TokenScope with these ids: the one already held by a cached token if there is
  // one, else a new one. Scopes no cached token holds any more are dropped as the table grows.
  RefPtr<const TokenScope> Scope(std::string_view org_id,
                                 const std::optional<std::string>& project_id);
  // Number of distinct scopes held (tests).
  size_t ScopeCount() const;

 private:
  const size_t max_entries_;
  const UnixMillis revalidate_after_;
  mutable std::shared_mutex mu_;  // readers: lookups; writers: inserts and Forget
  // Keyed by the raw HMAC under the newest pepper, held in a flat table: a lookup neither
  // hex-encodes nor allocates, and costs one slot read before the entry itself.
  DigestMap<CachedCredential> cache_;  // GUARDED_BY(mu_)
  // When stale entries (older than revalidate_after_, which lookups reload anyway) were last
  // dropped: at most once per revalidate_after_, so the cache holds the recent working set.
  UnixMillis last_prune_ = 0;  // GUARDED_BY(mu_)
  // Bumped by every Forget / ForgetAll. A load that saw another value before reading the
  // database may have read a row that has been revoked since, and is not cached.
  uint64_t forget_epoch_ = 0;  // GUARDED_BY(mu_)
  // Hash under an older pepper -> cache key, for credentials found under an older pepper: a
  // revocation announced with the old hash (read before the re-hash) still reaches the entry.
  std::unordered_map<std::string, crypto::Digest256> old_hashes_;  // GUARDED_BY(mu_)
  // Scope(): keyed by org_id, a space, and the project id or "-" (ids hold no spaces, and "-"
  // alone is no id). Its own lock: Load calls it outside mu_.
  mutable std::mutex scopes_mu_;
  std::unordered_map<std::string, RefPtr<const TokenScope>> scopes_;  // GUARDED_BY(scopes_mu_)
  size_t sweep_scopes_at_ = 64;                                       // GUARDED_BY(scopes_mu_)
};

}  // namespace cl::domain
