// DevicePollPacer: per-device-login polling interval and slow_down (RFC 8628 section 3.5).
#include "domain/device_poll_pacer.h"

namespace cl::domain {

bool DevicePollPacer::PollIsEarly(const std::string& key, UnixMillis now,
                                  UnixMillis initial_interval, UnixMillis expires_at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxTracked) {
      std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires_at <= now; });
      if (entries_.size() >= kMaxTracked) return false;
    }
    entries_.emplace(key, Entry{now, initial_interval, expires_at});
    return false;
  }
  Entry& e = it->second;
  const bool early = now >= e.last_poll && now - e.last_poll < e.interval;
  // Measured from the latest poll, early or not: a client keeps slowing down until the gap
  // between two of its polls reaches the (grown) interval.
  e.last_poll = now;
  if (early) e.interval += kSlowDownStep;
  return early;
}

void DevicePollPacer::SlowDown(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.interval += kSlowDownStep;
}

void DevicePollPacer::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

UnixMillis DevicePollPacer::IntervalFor(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.interval;
}

}  // namespace cl::domain
