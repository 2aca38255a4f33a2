// UsageFlusher: the background writer of coalesced API token usage (last_used_at).
//
// Every `interval` it takes the UsageRecorder's queue and writes it with one
// RecordApiTokenUsage call; a failed write is put back and retried next time. Stop() flushes
// once more, so a graceful shutdown loses no usage.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "domain/usage_recorder.h"
#include "store/store.h"

namespace cl::jobs {

class UsageFlusher {
 public:
  UsageFlusher(domain::UsageRecorder& recorder, store::ApiTokenStore& store,
               UnixMillis interval_ms);
  ~UsageFlusher();  // calls Stop()

  void Start();
  // Writes whatever is queued now. Thread-safe; also used by tests and by the revoker.
  Status FlushNow();
  // Stops the thread after a final flush. Idempotent.
  void Stop();

 private:
  void Run();

  domain::UsageRecorder& recorder_;
  store::ApiTokenStore& store_;
  const UnixMillis interval_ms_;
  std::mutex flush_mu_;  // serialises flushes
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cl::jobs
