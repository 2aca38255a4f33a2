// RevocationNotifier: how an instance hears that a credential was ended anywhere, so it can drop
// it from its authentication cache at once (DESIGN.md, "The hot path"), and whether it can trust
// that it hears.
//
// PostgreSQL: the database itself announces every ended credential on the channel
// "chainloop_revocations" from inside the ending transaction (migration 0008's triggers), with
// the token hash (lower-case hex, not a secret) as the payload; every instance LISTENs on a
// connection of its own (`NotifierOptions::listen_url`, which must not go through a transaction
// pooler). Each instance also NOTIFYs itself a heartbeat several times a second through the
// database URL and checks that it hears it: an instance that has not heard a heartbeat sent
// within `deaf_after` is deaf (Hearing() false), and its cache must not be trusted. When it hears
// again, the gap callbacks run first (revocations announced meanwhile may have been lost), then
// Hearing() turns true.
//
// SQLite deployments are a single instance: the in-process notifier always hears (its cache is
// told of revocations directly) and has no listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace cl::store {

// Where and how often the PostgreSQL notifier checks it hears (ignored by the in-process one).
struct NotifierOptions {
  // The listener's connection: a direct connection or a session-mode pooler, never a
  // transaction-mode pooler (which does not deliver notifications). Empty: the database URL.
  std::string listen_url;
  // How often a heartbeat is sent, and how long after a heartbeat was sent the instance may go
  // without hearing it (or a later one) before it is deaf.
  std::chrono::milliseconds heartbeat_interval{250};
  std::chrono::milliseconds deaf_after{750};
};

// What /readyz and /metrics report about the listener.
struct ListenerHealth {
  bool connected = false;  // the listener holds a LISTENing connection
  bool hearing = false;    // Hearing()
  // The listen connection reaches PostgreSQL through a pooler or proxy (the backend pid libpq
  // was given differs from the server's): fine in session mode, deaf in transaction mode.
  bool through_pooler = false;
  std::string problem;            // why it is not hearing, "" when it is
  int64_t heartbeat_lag_ms = -1;  // send-to-hear time of the last heartbeat heard (-1: none)
  uint64_t deaf_periods = 0;      // times it went from hearing to deaf
  uint64_t bans_dropped = 0;      // ban announcements dropped (queue full, or not sent)
};

class RevocationNotifier {
 public:
  using RevocationCallback = std::function<void(const std::string& token_hash)>;
  using GapCallback = std::function<void()>;

  virtual ~RevocationNotifier() = default;

  // Announces a revocation to every instance, this one included (its subscribers are called
  // too). The database already announces every credential it ends (PostgreSQL); this is for
  // announcements that are not a row change. REQUIRES: `token_hash` is 64 lower-case hex chars
  // (InvalidArgument otherwise). Unavailable when the database cannot be reached.
  virtual Status PublishRevocation(const std::string& token_hash) = 0;

  // Adds a callback for every revocation announced by any instance. The first subscription
  // starts the listener and the heartbeat (PostgreSQL: background threads with connections of
  // their own, reconnecting at once and then with backoff capped at 0.5 s) and waits up to a few
  // seconds until the instance hears its own heartbeat. Callbacks run on the listener thread
  // (PostgreSQL) or inside PublishRevocation (in-process); they must be quick and must not call
  // Stop().
  virtual void Subscribe(RevocationCallback callback) = 0;

  // Adds a callback run each time the instance starts hearing again (the first time included):
  // revocations announced while it was deaf may have been lost, so a cache must drop (or
  // re-validate) every entry. It runs before Hearing() turns true. Add it before Subscribe.
  virtual void SubscribeGaps(GapCallback callback) = 0;

  // True while every revocation committed more than about `deaf_after` ago has been delivered
  // (PostgreSQL: a heartbeat sent less than `deaf_after` ago was heard). Cheap: called on every
  // authenticated request. Always true in-process.
  virtual bool Hearing() const = 0;

  // Shared abuse state: a failed-authentication ban decided on this instance ("a:<address>" or
  // "c:<keyed hash>", domain::AuthFailureThrottle), announced on "chainloop_bans" so that every
  // instance applies it. Never blocks: the key is queued and sent by a background thread
  // (PostgreSQL; at most 1024 waiting, more are dropped and counted in Health()). The
  // in-process notifier has no other instance to tell: a no-op.
  virtual void PublishBan(const std::string& ban_key) = 0;
  using BanCallback = std::function<void(const std::string& ban_key)>;
  // Adds a callback for every ban announced by any instance (this one's included), run on the
  // listener thread. The payload is checked by the receiver (anyone who can connect may NOTIFY).
  virtual void SubscribeBans(BanCallback callback) = 0;

  virtual ListenerHealth Health() const = 0;

  // Stops the listener and joins its threads; no callback runs after Stop returns. It may wait
  // for a connection attempt in progress (at most 5 s). Idempotent; the destructor calls it.
  virtual void Stop() = 0;
};

// The notifier for a database URL, as accepted by OpenDatabase: "sqlite:..." gives the
// in-process notifier; "postgres://" / "postgresql://" connect once to each of the database URL
// and the listen URL (Unavailable when the server cannot be reached). InvalidArgument for any
// other scheme, and for a listen URL that is not PostgreSQL's.
Result<std::unique_ptr<RevocationNotifier>> OpenRevocationNotifier(
    const std::string& database_url, const NotifierOptions& options = {});

// The single-instance notifier (exposed for tests of code that takes a RevocationNotifier).
std::unique_ptr<RevocationNotifier> NewInProcessRevocationNotifier();

// True for 64 lower-case hex characters: the only payload the notifiers send or deliver.
bool IsTokenHashHex(const std::string& s);

}  // namespace cl::store
