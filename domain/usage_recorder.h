// UsageRecorder: coalesces "API token used at T" on the request path without I/O.
//
// Touch() is O(1) under a mutex and queues at most one update per token per coalescing
// window (default one minute); a background writer (jobs/usage_flusher) takes the queue and
// writes it in one batch. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace cl::domain {

class UsageRecorder {
 public:
  explicit UsageRecorder(UnixMillis window = kMillisPerMinute) : window_(window) {}

  void Touch(const std::string& token_id, UnixMillis now);

  // Removes and returns the queued updates (token id, last use time).
  std::vector<std::pair<std::string, UnixMillis>> TakePending();
  // Puts back updates a failed write could not store (keeps the newer time per token).
  void Restore(const std::vector<std::pair<std::string, UnixMillis>>& usage);

  size_t PendingCount() const;

 private:
  const UnixMillis window_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, UnixMillis> pending_;      // GUARDED_BY(mu_)
  std::unordered_map<std::string, UnixMillis> last_queued_;  // GUARDED_BY(mu_)
};

}  // namespace cl::domain
