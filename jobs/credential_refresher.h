// CredentialRefresher: the background thread that keeps the API tokens in use fresh in the
// credential cache (domain::Authenticator::RefreshCachedApiTokens), so a large working set of
// tokens is revalidated by a few bulk reads instead of one database read per request.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "domain/authenticator.h"

namespace cl::jobs {

class CredentialRefresher {
 public:
  // Runs a refresh every `interval_ms` (the server uses a quarter of auth_cache_revalidate, so
  // an entry in use is re-read once or twice before it would have aged out).
  CredentialRefresher(domain::Authenticator& authenticator, UnixMillis interval_ms);
  ~CredentialRefresher();  // calls Stop()

  void Start();
  // Stops the thread. Idempotent.
  void Stop();

 private:
  void Run();

  domain::Authenticator& authenticator_;
  const UnixMillis interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cl::jobs
