// TokenRevoker: the background job that auto-revokes inactive API tokens.
//
// One sweep (RunOnce) first flushes the coalesced usage of this instance, so a token used
// within the flush window is never judged on a stale last_used_at, then asks the store to
// revoke every inactive token of every organization with a threshold in one set-based
// transaction (one audit event per token, system as actor), then publishes each revoked
// token's hash so every instance drops it from its authentication cache. Start() runs sweeps
// on a thread: the first after a random delay (so instances started together spread out), then
// every interval. On PostgreSQL the store's advisory lock lets one instance sweep at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "store/store.h"

namespace cl::http {
class Metrics;
}

namespace cl::jobs {

class UsageFlusher;

struct SweepReport {
  // Another instance held the sweep lock: this instance did nothing.
  bool skipped_locked = false;
  UnixMillis started_at = 0;  // the sweep's "now", from the injected clock
  int64_t revoked_total = 0;
  // Organization name -> tokens revoked in it; organizations with none are absent.
  std::map<std::string, int64_t> revoked_per_org;
  double duration_seconds = 0;  // wall time of the whole sweep, flush included
};

// The audit event written for a token revoked by the sweep: actor kind/id/name "system",
// action "api_token.revoked", message "system has revoked the API token NAME after N days of
// inactivity". Exposed so tests and tools build the same event.
store::AuditEvent InactivityRevocationEvent(const store::RevokedToken& token, UnixMillis now,
                                            Random& random);

class TokenRevoker {
 public:
  using PublishRevocation = std::function<void(const std::string& token_hash)>;

  // All references must outlive the revoker. `flusher` may be null in a process that serves no
  // requests (`chainloop-controlplane jobs run token-revoker`): it has no pending usage.
  // `publish` may be empty (nothing to invalidate); `metrics` may be null.
  TokenRevoker(store::TokenRevocationStore& store, const Clock& clock, Random& random,
               UsageFlusher* flusher, PublishRevocation publish, http::Metrics* metrics);
  ~TokenRevoker();  // calls Stop()
  TokenRevoker(const TokenRevoker&) = delete;
  TokenRevoker& operator=(const TokenRevoker&) = delete;

  // One sweep now. Fails without revoking anything when the usage flush fails (a stale
  // last_used_at could revoke a token in use). Thread-safe: concurrent calls run one at a time.
  Result<SweepReport> RunOnce();

  // Runs RunOnce on a background thread: first after a delay drawn uniformly from
  // [0, max_initial_delay], then every `interval`. A failed sweep is logged and retried at the
  // next interval. No-op if already started. REQUIRES: interval > 0.
  void Start(std::chrono::milliseconds interval = std::chrono::hours(1),
             std::chrono::milliseconds max_initial_delay = std::chrono::seconds(60));
  // Wakes and joins the thread; a sweep in progress finishes first. Idempotent.
  void Stop();

  // Sweeps completed by the background thread (tests).
  int64_t BackgroundSweeps() const;

 private:
  void Loop(std::chrono::milliseconds interval, std::chrono::milliseconds first_delay);

  store::TokenRevocationStore& store_;
  const Clock& clock_;
  Random& random_;
  UsageFlusher* const flusher_;
  const PublishRevocation publish_;
  http::Metrics* const metrics_;

  std::mutex sweep_mu_;  // serialises RunOnce; guards random_ use

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;          // GUARDED_BY(mu_)
  int64_t background_sweeps_ = 0;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cl::jobs
