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
// Only live credentials should be inserted (the Authenticator never caches a refused one).
// Thread-safe: lookups share a lock, inserts and Forget take it exclusively.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
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

// What authentication reads of an API token: about a third of store::ApiToken's size, so
// 100,000 cached tokens take less memory and a lookup touches fewer cache lines.
struct CachedApiToken {
  std::string id;
  std::string org_id;
  std::optional<std::string> project_id;
  std::string name;
  std::optional<UnixMillis> expires_at;
  std::optional<UnixMillis> revoked_at;
  std::optional<store::RevocationReason> revocation_reason;
  // A rotated token stops working at this instant, before its revocation is recorded.
  std::optional<UnixMillis> rotation_deadline;
  // COALESCE(last_used_at, created_at) as read: the Authenticator writes the first use after a
  // long idle period at once (RecordPromptUse).
  UnixMillis last_activity = 0;
  // Needed only while loading (pepper moves); token_hash is emptied once cached.
  std::string token_hash;
  std::string pepper_id;
};

// One credential as read from the database.
struct CachedCredential {
  // HMAC of the credential under the newest pepper: the cache key (DigestMap).
  crypto::Digest256 key{};
  crypto::CredentialKind kind = crypto::CredentialKind::kSession;
  // Only the record of `kind`: a cache of 100,000 API tokens holds no empty sessions or
  // federated tokens.
  std::variant<std::monostate, store::Session, CachedApiToken, store::FederatedToken> record;
  std::string email;      // kSession
  std::string user_name;  // kSession
  store::Session& session() { return std::get<store::Session>(record); }
  const store::Session& session() const { return std::get<store::Session>(record); }
  CachedApiToken& token() { return std::get<CachedApiToken>(record); }
  const CachedApiToken& token() const { return std::get<CachedApiToken>(record); }
  const store::FederatedToken& federated() const { return std::get<store::FederatedToken>(record); }
  // token.permissions / federated.permissions, interned, handed to every Principal.
  PermissionList permissions;
  UnixMillis fetched_at = 0;
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
  std::shared_ptr<const CachedCredential> FindFresh(const crypto::Digest256& key,
                                                    crypto::CredentialKind kind, UnixMillis now,
                                                    uint64_t* epoch = nullptr) const;

  // Caches `entry` (read at `now`, stored under entry->key) unless something was forgotten
  // since `epoch` was read: then returns false and caches nothing. `old_hash`, when not empty,
  // is the hex hash under an older pepper the credential was found under.
  bool Insert(std::shared_ptr<const CachedCredential> entry, uint64_t epoch, UnixMillis now,
              const std::string& old_hash = "");

  // Cached API tokens worth re-reading ahead of their expiry at `now`: read at least half of
  // revalidate_after ago but still fresh, and used (a reported use, last_usage_report) since
  // `used_since`. At most `max` of them. `epoch` receives the forget epoch: pass it to Insert
  // with the re-read entries.
  std::vector<std::shared_ptr<const CachedCredential>> DueForRefresh(UnixMillis now,
                                                                     UnixMillis used_since,
                                                                     size_t max,
                                                                     uint64_t* epoch) const;

  // Drops the entry whose hash (hex, under the newest or an older pepper) is `token_hash`.
  void Forget(const std::string& token_hash);
  // Drops every entry.
  void ForgetAll();

  size_t size() const;
  UnixMillis revalidate_after() const { return revalidate_after_; }

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
};

}  // namespace cl::domain
