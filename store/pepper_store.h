// PepperRotationStore: moving stored credential hashes to the newest pepper and counting what
// still uses each pepper. Part of store::Database (store/store.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace cl::store {

// How many live credentials depend on one pepper.
struct PepperUsage {
  std::string pepper_id;   // empty: hashes written before pepper tracking (not attributed yet)
  int64_t api_tokens = 0;  // not revoked and not expired
  int64_t sessions = 0;    // not revoked and not expired
};

// Pepper rotation (crypto::CredentialHasher): moving stored hashes of API tokens and sessions
// to the newest pepper, and counting what still uses each one.
class PepperRotationStore {
 public:
  virtual ~PepperRotationStore() = default;
  // Replaces the hash of the API token / session `id` with `new_hash` computed under pepper
  // `pepper_id`, but only while its hash is still `old_hash` (old and new may be equal: then
  // only pepper_id is set). Returns whether this call changed the row: false when another
  // instance already moved it, the row is revoked (its hash stays what it was at revocation)
  // or gone. Idempotent; safe to race.
  virtual Result<bool> RehashApiToken(const std::string& id, const std::string& old_hash,
                                      const std::string& new_hash,
                                      const std::string& pepper_id) = 0;
  virtual Result<bool> RehashSession(const std::string& id, const std::string& old_hash,
                                     const std::string& new_hash, const std::string& pepper_id) = 0;
  // Live credentials (not revoked, not expired at `now`) per pepper id, ordered by pepper id
  // (the unattributed ones, pepper_id "", first). Peppers with no live credential are absent.
  virtual Result<std::vector<PepperUsage>> CountCredentialsByPepper(UnixMillis now) = 0;
  // Sets pepper_id on every API token and session that has none (all rows, live or not), in
  // one transaction. Only correct when `pepper_id` is the only pepper those hashes can use.
  // Returns the number of rows changed.
  virtual Result<int64_t> AttributeUnknownPepper(const std::string& pepper_id) = 0;
};

}  // namespace cl::store
