// RevocationNotifier: tells every control-plane instance that an API token was revoked, so each
// can drop it from its authentication cache within a second (DESIGN.md, "The hot path").
//
// PROPOSAL, additive to store/store.h: PostgreSQL deployments use LISTEN/NOTIFY on the channel
// "chainloop_revocations" with the token hash (lower-case hex, not a secret) as the payload;
// the embedded SQLite deployment is a single instance, so its notifier just calls the local
// subscribers. Notifications are best effort: a listener that lost its connection misses what
// was sent meanwhile, which is why it reports the gap (SubscribeGaps) and why the cache keeps a
// short re-validation bound as the backstop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace cl::store {

class RevocationNotifier {
 public:
  using RevocationCallback = std::function<void(const std::string& token_hash)>;
  using GapCallback = std::function<void()>;

  virtual ~RevocationNotifier() = default;

  // Announces the revocation to every instance, this one included (its subscribers are called
  // too, so callers need no special case). REQUIRES: `token_hash` is 64 lower-case hex chars
  // (InvalidArgument otherwise). Unavailable when the database cannot be reached.
  virtual Status PublishRevocation(const std::string& token_hash) = 0;

  // Adds a callback for every revocation announced by any instance. The first subscription
  // starts the listener (PostgreSQL: a background thread with its own connection, reconnecting
  // with backoff) and waits up to a few seconds for it to listen, so a revocation published
  // after Subscribe returns is normally delivered. Callbacks run on the listener thread
  // (PostgreSQL) or inside PublishRevocation (in-process); they must be quick and must not
  // call Stop().
  virtual void Subscribe(RevocationCallback callback) = 0;

  // Adds a callback run after the listener reconnected: revocations announced while it was
  // disconnected were lost, so a cache should re-validate (or drop) every entry.
  virtual void SubscribeGaps(GapCallback callback) = 0;

  // Stops the listener and joins its thread; no callback runs after Stop returns. It may wait
  // for a connection attempt in progress (at most 5 s). Idempotent; the destructor calls it.
  virtual void Stop() = 0;
};

// The notifier for a database URL, as accepted by OpenDatabase: "sqlite:..." gives the
// in-process notifier; "postgres://" / "postgresql://" connect once (Unavailable when the server
// cannot be reached). InvalidArgument for any other scheme.
Result<std::unique_ptr<RevocationNotifier>> OpenRevocationNotifier(const std::string& database_url);

// The single-instance notifier (exposed for tests of code that takes a RevocationNotifier).
std::unique_ptr<RevocationNotifier> NewInProcessRevocationNotifier();

// True for 64 lower-case hex characters: the only payload the notifiers send or deliver.
bool IsTokenHashHex(const std::string& s);

}  // namespace cl::store
