#include "domain/usage_recorder.h"

namespace cl::domain {

void UsageRecorder::Touch(const std::string& token_id, UnixMillis now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = last_queued_.try_emplace(token_id, now);
  if (!inserted) {
    if (now - it->second < window_) return;
    it->second = now;
  }
  pending_[token_id] = now;
}

std::vector<std::pair<std::string, UnixMillis>> UsageRecorder::TakePending() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, UnixMillis>> out(pending_.begin(), pending_.end());
  pending_.clear();
  // Bound memory: once the queue is drained, forget coalescing state that is past its window
  // only when it grows large (tokens come and go).
  if (last_queued_.size() > 200'000) last_queued_.clear();
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

}  // namespace cl::domain
