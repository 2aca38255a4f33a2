#include "jobs/usage_flusher.h"

#include "common/log.h"

namespace cl::jobs {

UsageFlusher::UsageFlusher(domain::UsageRecorder& recorder, store::ApiTokenStore& store,
                           UnixMillis interval_ms)
    : recorder_(recorder), store_(store), interval_ms_(interval_ms) {}

UsageFlusher::~UsageFlusher() { Stop(); }

void UsageFlusher::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

Status UsageFlusher::FlushNow() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  auto pending = recorder_.TakePending();
  if (pending.empty()) return Ok();
  auto st = store_.RecordApiTokenUsage(pending);
  if (!st) {
    recorder_.Restore(pending);
    Log(LogLevel::kWarn, "token usage flush failed; will retry",
        {{"pending", static_cast<int64_t>(pending.size())}, {"error", st.error().message()}});
    return st;
  }
  Log(LogLevel::kDebug, "token usage flushed", {{"tokens", static_cast<int64_t>(pending.size())}});
  return Ok();
}

void UsageFlusher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    (void)FlushNow();
    lock.lock();
  }
}

void UsageFlusher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)FlushNow();
}

}  // namespace cl::jobs
