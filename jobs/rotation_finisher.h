// RotationFinisher: the background job that records the end of rotated API tokens' grace
// periods.
//
// A rotation with a grace period leaves the old token working until its rotation_deadline;
// authentication refuses it from that instant on by itself (domain/authenticator.h), so this job
// only makes the revocation durable and visible: RunOnce asks the store to revoke every rotated
// token whose deadline has passed (revoked_at = the deadline, reason "rotated", one audit event
// each, system as actor) and publishes each revoked hash so caches drop it. Start() runs it on a
// thread every interval. Several instances may run it at once: each token is revoked once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "store/store.h"

namespace cl::jobs {

// The audit event of a rotated token's revocation at its deadline: actor "system", action
// "api_token.revoked", message "system has revoked the API token NAME at the end of its
// rotation grace period".
store::AuditEvent RotationRevocationEvent(const store::RevokedToken& token, UnixMillis now,
                                          Random& random);

class RotationFinisher {
 public:
  using PublishRevocation = std::function<void(const std::string& token_hash)>;

  // All references must outlive the finisher; `publish` may be empty.
  RotationFinisher(store::TokenRevocationStore& store, const Clock& clock, Random& random,
                   PublishRevocation publish);
  ~RotationFinisher();  // calls Stop()
  RotationFinisher(const RotationFinisher&) = delete;
  RotationFinisher& operator=(const RotationFinisher&) = delete;

  // Revokes the rotated tokens whose deadline is at or before the clock's now; returns how many.
  // Thread-safe: concurrent calls run one at a time.
  Result<int64_t> RunOnce();

  // Runs RunOnce every `interval` on a background thread; failures are logged and retried at
  // the next interval. No-op if already started. REQUIRES: interval > 0.
  void Start(std::chrono::milliseconds interval = std::chrono::seconds(30));
  // Wakes and joins the thread. Idempotent.
  void Stop();

 private:
  void Loop(std::chrono::milliseconds interval);

  store::TokenRevocationStore& store_;
  const Clock& clock_;
  Random& random_;
  const PublishRevocation publish_;

  std::mutex run_mu_;  // serialises RunOnce; guards random_ use
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cl::jobs
