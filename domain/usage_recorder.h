// UsageRecorder: coalesces "API token used at T, from this address and User-Agent" on the
// request path without I/O.
//
// Touch() is O(1) under a mutex and queues at most one update per token per coalescing
// window (default one minute); a background writer (jobs/usage_flusher) takes the queue and
// writes it in one batch. The address and User-Agent go with the time they were seen at: they
// are copied only when a use is queued, so a coalesced Touch allocates nothing. Thread-safe.
//
// Memory: the coalescing state holds only tokens used in the last few windows. It lives in two
// generations; once two windows have passed since the current one began, TakePending (the
// writer's thread, not the request path) drops the older generation and starts a new one.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace cl::domain {

// Where a request came from: the trusted-proxy-aware client address and the raw User-Agent
// header. Views: valid only during the call they are passed to.
struct RequestOrigin {
  std::string_view address;
  std::string_view user_agent;
};

// How much of a User-Agent is recorded.
inline constexpr size_t kMaxRecordedUserAgentBytes = 200;

// The first kMaxRecordedUserAgentBytes bytes of `user_agent` as stored: a multi-byte character
// cut at the end is dropped, and bytes that are not valid UTF-8 (and NUL) are written as the text
// \xNN, since the database only stores valid UTF-8. Everything else, control characters
// included, is kept as is: whoever shows it escapes it.
std::string ClipUserAgent(std::string_view user_agent);

class UsageRecorder {
 public:
  explicit UsageRecorder(UnixMillis window = kMillisPerMinute) : window_(window) {}

  void Touch(const std::string& token_id, UnixMillis now, RequestOrigin origin = {});

  // Removes and returns the queued uses (token id, last use time, its address and User-Agent).
  std::vector<store::ApiTokenUse> TakePending();
  // Puts back uses a failed write could not store (keeps the newer use per token).
  void Restore(const std::vector<store::ApiTokenUse>& usage);

  size_t PendingCount() const;
  // Tokens held for coalescing (tests: memory stays bounded by recent use).
  size_t TrackedCount() const;

 private:
  using Times = std::unordered_map<std::string, UnixMillis>;
  struct Use {
    UnixMillis at = 0;
    std::string address;
    std::string user_agent;
  };

  const UnixMillis window_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Use> pending_;  // GUARDED_BY(mu_)
  Times queued_now_;     // GUARDED_BY(mu_) last queue time, tokens queued since generation_start_
  Times queued_before_;  // GUARDED_BY(mu_) the same for the generation before
  UnixMillis generation_start_ = 0;  // GUARDED_BY(mu_)
  UnixMillis latest_touch_ = 0;      // GUARDED_BY(mu_)
};

}  // namespace cl::domain
