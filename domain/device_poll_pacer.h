// DevicePollPacer: enforces the polling interval of the device flow (RFC 8628 section 3.5). A
// client that polls a device login sooner than its interval after its previous poll is told
// `slow_down`, and its interval grows by 5 seconds for that poll and every later one.
//
// Per instance, in memory: behind a load balancer a client's polls may reach several
// instances, and each sees only its share, so pacing can only be laxer than the interval, never
// stricter. A client that honours its interval is never told to slow down.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace cl::domain {

class DevicePollPacer {
 public:
  // What RFC 8628 adds to the interval on each slow_down.
  static constexpr UnixMillis kSlowDownStep = 5 * kMillisPerSecond;
  // Device logins tracked at once; beyond it (after forgetting expired ones) new ones are not
  // paced. max_pending_logins bounds the device logins well below this by default.
  static constexpr size_t kMaxTracked = 100'000;

  DevicePollPacer() = default;
  DevicePollPacer(const DevicePollPacer&) = delete;
  DevicePollPacer& operator=(const DevicePollPacer&) = delete;

  // Records a poll of the device login `key` at `now`. True when it came less than the
  // current interval after the previous poll of `key` (the interval then grows by
  // kSlowDownStep). The first poll of a key is never early; its interval starts at
  // `initial_interval`. `expires_at` is when the device login ends (the entry may be forgotten
  // then). A clock that went back never makes a poll early. Thread-safe.
  bool PollIsEarly(const std::string& key, UnixMillis now, UnixMillis initial_interval,
                   UnixMillis expires_at);

  // The upstream IdP said slow_down for `key`: its interval grows by kSlowDownStep too.
  void SlowDown(const std::string& key);

  // The device login `key` ended (approved, denied, expired).
  void Forget(const std::string& key);

  // The interval `key` must now keep (0 when untracked); for tests.
  UnixMillis IntervalFor(const std::string& key) const;

 private:
  struct Entry {
    UnixMillis last_poll = 0;
    UnixMillis interval = 0;
    UnixMillis expires_at = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
};

}  // namespace cl::domain
