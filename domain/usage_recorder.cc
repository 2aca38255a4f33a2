#include "domain/usage_recorder.h"

#include <algorithm>

namespace cl::domain {

void UsageRecorder::Touch(const std::string& token_id, UnixMillis now) {
  std::lock_guard<std::mutex> lock(mu_);
  latest_touch_ = std::max(latest_touch_, now);
  if (generation_start_ == 0) generation_start_ = now;
  // A token queued less than a window ago is in one of the two generations: each spans at
  // least a window, so anything older than the previous one is more than a window old.
  auto recent = [&](const Times& times) {
    auto it = times.find(token_id);
    return it != times.end() && now - it->second < window_;
  };
  if (recent(queued_now_) || recent(queued_before_)) return;
  queued_now_[token_id] = now;
  pending_[token_id] = now;
}

std::vector<std::pair<std::string, UnixMillis>> UsageRecorder::TakePending() {
  Times dropped;  // freed after the lock is released
  std::vector<std::pair<std::string, UnixMillis>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.assign(pending_.begin(), pending_.end());
    pending_.clear();
    // Generations span two windows: one for the proof above, one of slack for a request
    // thread whose clock reading lags the latest touch (dropping too early would only cost a
    // repeated write, but there is no need to).
    if (generation_start_ != 0 && latest_touch_ - generation_start_ >= 2 * window_) {
      dropped.swap(queued_before_);
      queued_before_.swap(queued_now_);
      generation_start_ = latest_touch_;
    }
  }
  return out;
}

void UsageRecorder::Restore(const std::vector<std::pair<std::string, UnixMillis>>& usage) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, t] : usage) {
    auto& slot = pending_[id];
    if (t > slot) slot = t;
  }
}

size_t UsageRecorder::PendingCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

size_t UsageRecorder::TrackedCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_now_.size() + queued_before_.size();
}

}  // namespace cl::domain
