// UsageRecorder: coalesces "API token used at T" on the request path without I/O.
//
// Touch() is O(1) under a mutex and queues at most one update per token per coalescing
// window (default one minute); a background writer (jobs/usage_flusher) takes the queue and
// writes it in one batch. Thread-safe.
//
// Memory: the coalescing state holds only tokens used in the last few windows. It lives in two
// generations; once two windows have passed since the current one began, TakePending (the
// writer's thread, not the request path) drops the older generation and starts a new one.
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
  // Tokens held for coalescing (tests: memory stays bounded by recent use).
  size_t TrackedCount() const;

 private:
  using Times = std::unordered_map<std::string, UnixMillis>;

  const UnixMillis window_;
  mutable std::mutex mu_;
  Times pending_;        // GUARDED_BY(mu_)
  Times queued_now_;     // GUARDED_BY(mu_) last queue time, tokens queued since generation_start_
  Times queued_before_;  // GUARDED_BY(mu_) the same for the generation before
  UnixMillis generation_start_ = 0;  // GUARDED_BY(mu_)
  UnixMillis latest_touch_ = 0;      // GUARDED_BY(mu_)
};

}  // namespace cl::domain
