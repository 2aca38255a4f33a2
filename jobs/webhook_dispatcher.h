// WebhookDispatcher: the background job that delivers organizations' webhook events.
//
// Each pass (RunOnce) claims a batch of due deliveries from the outbox (store::WebhookStore, with
// a lease so no other instance sends them meanwhile) and sends them, a few at once so one slow
// receiver does not hold the rest: it opens the webhook's sealed secret (re-sealing it under the
// newest pepper when it was sealed under an older one), POSTs the signed JSON body through the
// outbound address guard, and records the attempt: delivered on a 2xx answer, else retried with
// exponential backoff until the retry window ends, then failed. Hourly it enqueues the "soon"
// notices of API tokens (token.expiring_soon, token.auto_revoke_soon); daily it prunes old
// history. Start() runs passes on a thread every poll interval (at once again while batches come
// back full).
//
// What a receiver gets (docs/operations.md, "Webhooks"): a POST whose body is
//   {"id","event","created_at","timestamp","organization":{"id","name"},"data":{...}}
// with X-Chainloop-Event, -Event-Id, -Delivery, -Timestamp (= the body's "timestamp", the time
// of this attempt) and X-Chainloop-Signature-256: sha256=HEX(HMAC-SHA256(secret, body)).
// Logs name the webhook, delivery, event and outcome; never the secret, the URL or the body.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/address.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "store/store.h"

namespace cl::crypto {
class SecretBox;
}
namespace cl::http {
class Metrics;
}

namespace cl::jobs {

struct WebhookDispatcherOptions {
  // Non-public addresses deliveries may reach (webhook_allowed_networks); public ones always.
  AddressPolicy address_policy;
  int64_t timeout_ms = 10'000;  // each attempt, connect to last byte
  int64_t retry_initial_delay_ms = 30'000;
  int64_t retry_max_delay_ms = kMillisPerHour;
  int64_t retry_window_ms = kMillisPerDay;  // from the event's enqueueing; then "failed"
  int batch_size = 32;
  int parallelism = 4;  // attempts in flight at once within a batch
  int64_t lease_ms = 60'000;
  size_t max_response_bytes = 64 * 1024;  // read at most this much of an answer, then drop it
  int64_t history_retention_ms = 30 * kMillisPerDay;
  int64_t prune_interval_ms = kMillisPerDay;
  int64_t notice_interval_ms = kMillisPerHour;
  int64_t notice_ahead_ms = 7 * kMillisPerDay;
};

// What one pass did.
struct DispatchReport {
  int claimed = 0;
  int delivered = 0;
  int retried = 0;                // failed attempts with another one scheduled
  int failed = 0;                 // given up
  int deferred = 0;               // claimed but left for the next claim (no time left in the lease)
  std::optional<int64_t> pruned;  // set when history was pruned in this pass
  std::optional<int> notices;     // set when token notices were enqueued in this pass
};

// The exact body of one attempt (compact JSON). `payload` is the event's stored "data" object.
std::string WebhookDeliveryBody(const store::ClaimedDelivery& claimed, UnixMillis attempt_at);
// "sha256=" + lower-hex HMAC-SHA256(secret, body).
std::string WebhookSignature(std::string_view secret, std::string_view body);
// The delay before the attempt after attempt number `attempts` (1 = the first one failed):
// initial * 2^(attempts-1), capped at max, then scaled by a factor drawn from [0.9, 1.1].
int64_t WebhookRetryDelay(const WebhookDispatcherOptions& options, int attempts, Random& random);
// The outbox event of one "soon" notice: a fresh id, created now, data
// {"api_token":{"id","name","project_id"},"due_at":RFC3339}.
store::WebhookEvent TokenNoticeEvent(const store::TokenNotice& notice, UnixMillis now,
                                     Random& random);

class WebhookDispatcher {
 public:
  // All references must outlive the dispatcher; `metrics` may be null.
  WebhookDispatcher(store::WebhookStore& store, const crypto::SecretBox& secrets,
                    const Clock& clock, Random& random, http::Metrics* metrics,
                    WebhookDispatcherOptions options);
  ~WebhookDispatcher();  // calls Stop()
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // One pass: token notices when an hour has passed since the last (or on the first pass),
  // pruning when a day has, then one batch of due deliveries, sent before it returns. Fails
  // when the claim fails (nothing was sent); notice and prune failures are logged, not fatal.
  // Thread-safe: concurrent calls run one at a time.
  Result<DispatchReport> RunOnce();

  // Runs RunOnce on a background thread every `poll_interval`, and again at once after a full
  // batch. Failures are logged and retried at the next interval. No-op if already started.
  // REQUIRES: poll_interval > 0.
  void Start(std::chrono::milliseconds poll_interval = std::chrono::seconds(1));
  // Wakes and joins the thread; a pass in progress finishes first. Idempotent.
  void Stop();

 private:
  struct Outcome;
  Outcome Attempt(const store::ClaimedDelivery& claimed, UnixMillis claimed_at);
  void Record(const store::ClaimedDelivery& claimed, const Outcome& outcome,
              DispatchReport& report);
  void Housekeeping(UnixMillis now, DispatchReport& report);
  void Loop(std::chrono::milliseconds poll_interval);

  store::WebhookStore& store_;
  const crypto::SecretBox& secrets_;
  const Clock& clock_;
  Random& random_;
  http::Metrics* const metrics_;
  const WebhookDispatcherOptions options_;

  std::mutex run_mu_;                          // serialises RunOnce
  std::optional<UnixMillis> last_notices_at_;  // GUARDED_BY(run_mu_)
  std::optional<UnixMillis> last_prune_at_;    // GUARDED_BY(run_mu_)

  std::mutex histogram_mu_;
  std::vector<uint64_t> duration_counts_;  // GUARDED_BY(histogram_mu_): per bucket, +Inf last
  double duration_sum_ = 0;                // GUARDED_BY(histogram_mu_)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace cl::jobs
