// CredentialRefresher: a periodic call of Authenticator::RefreshCachedApiTokens.
#include "jobs/credential_refresher.h"

#include "common/log.h"

namespace cl::jobs {

CredentialRefresher::CredentialRefresher(domain::Authenticator& authenticator,
                                         UnixMillis interval_ms)
    : authenticator_(authenticator), interval_ms_(interval_ms) {}

CredentialRefresher::~CredentialRefresher() { Stop(); }

void CredentialRefresher::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void CredentialRefresher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  bool failing = false;
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    auto refreshed = authenticator_.RefreshCachedApiTokens();
    // A failed read only means entries age out and are reloaded by their requests, as without
    // a refresh: worth one warning per outage, not one per pass.
    if (!refreshed && !failing) {
      Log(LogLevel::kWarn, "could not refresh cached API tokens; requests will reload them",
          {{"error", refreshed.error().message()}});
    }
    failing = !refreshed;
    lock.lock();
  }
}

void CredentialRefresher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cl::jobs
