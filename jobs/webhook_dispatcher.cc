// WebhookDispatcher: claim, send with bounded parallelism, record; notices and pruning on their
// own schedules; see the header.
#include "jobs/webhook_dispatcher.h"

#include <algorithm>
#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "common/http_client.h"
#include "common/json.h"
#include "common/log.h"
#include "common/printable.h"
#include "common/version.h"
#include "crypto/hash.h"
#include "crypto/secret_box.h"
#include "http/metrics.h"

namespace cl::jobs {
namespace {

constexpr std::string_view kDeliveriesTotal = "chainloop_webhook_deliveries_total";
constexpr std::string_view kDeliveriesHelp =
    "Webhook delivery attempts, by outcome (delivered, retry, failed).";
constexpr std::string_view kDuration = "chainloop_webhook_delivery_duration_seconds";
constexpr std::string_view kDurationHelp = "Time of each webhook delivery attempt.";
constexpr size_t kMaxErrorChars = 200;

const std::vector<double>& DurationBuckets() {
  static const std::vector<double> bounds = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return bounds;
}

// The attempt's error as stored and shown in the delivery log: short, printable, and without
// the URL (it may carry a receiver's own token in its path or query).
std::string ErrorText(std::string text, const std::string& url) {
  for (size_t at = text.find(url); !url.empty() && at != std::string::npos;
       at = text.find(url, at)) {
    text.replace(at, url.size(), "the webhook URL");
  }
  if (text.size() > kMaxErrorChars) text.resize(kMaxErrorChars);
  if (!IsPrintableText(text)) return "the request failed";
  return text;
}

}  // namespace

struct WebhookDispatcher::Outcome {
  UnixMillis at = 0;
  bool sent = false;  // false: deferred, nothing happened
  bool delivered = false;
  std::optional<int> response_status;
  std::string error;
  double seconds = 0;
};

std::string WebhookDeliveryBody(const store::ClaimedDelivery& claimed, UnixMillis attempt_at) {
  const store::WebhookDelivery& d = claimed.delivery;
  boost::json::object body;
  body["id"] = d.event_id;
  body["event"] = d.event;
  body["created_at"] = FormatRfc3339(claimed.event_created_at);
  body["timestamp"] = attempt_at / kMillisPerSecond;
  body["organization"] = boost::json::object{{"id", d.org_id}, {"name", claimed.org_name}};
  // The payload was written by the store as a JSON object; anything else is sent as {}.
  auto data = ParseJson(claimed.payload);
  body["data"] = data && data->is_object() ? std::move(*data) : boost::json::object();
  return SerializeJson(body);
}

std::string WebhookSignature(std::string_view secret, std::string_view body) {
  return "sha256=" + crypto::HexEncode(crypto::HmacSha256(secret, body));
}

int64_t WebhookRetryDelay(const WebhookDispatcherOptions& options, int attempts, Random& random) {
  int64_t delay = std::max<int64_t>(1, options.retry_initial_delay_ms);
  for (int i = 1; i < attempts && delay < options.retry_max_delay_ms; ++i) delay *= 2;
  delay = std::min(delay, options.retry_max_delay_ms);
  uint32_t r = 0;
  random.Fill(reinterpret_cast<uint8_t*>(&r), sizeof r);
  // A factor in [0.9, 1.1]: instances and receivers that failed together spread out.
  const double factor = 0.9 + 0.2 * (static_cast<double>(r) / 4294967295.0);
  return std::max<int64_t>(1, std::llround(static_cast<double>(delay) * factor));
}

store::WebhookEvent TokenNoticeEvent(const store::TokenNotice& notice, UnixMillis now,
                                     Random& random) {
  boost::json::object token{{"id", notice.token_id}, {"name", notice.token_name}};
  token["project_id"] = notice.project_id ? boost::json::value(*notice.project_id) : nullptr;
  boost::json::object data{{"api_token", std::move(token)},
                           {"due_at", FormatRfc3339(notice.due_at)}};
  return store::WebhookEvent{.id = NewUuid(random),
                             .org_id = notice.org_id,
                             .event = notice.event,
                             .payload = SerializeJson(data),
                             .created_at = now};
}

WebhookDispatcher::WebhookDispatcher(store::WebhookStore& store, const crypto::SecretBox& secrets,
                                     const Clock& clock, Random& random, http::Metrics* metrics,
                                     WebhookDispatcherOptions options)
    : store_(store),
      secrets_(secrets),
      clock_(clock),
      random_(random),
      metrics_(metrics),
      options_(std::move(options)),
      duration_counts_(DurationBuckets().size() + 1, 0) {
  // Every outcome on /metrics from the start, so alerts on it work before the first delivery.
  if (metrics_ != nullptr) {
    for (std::string_view outcome : {"delivered", "retry", "failed"}) {
      metrics_->IncCounter(kDeliveriesTotal, kDeliveriesHelp, {{"outcome", outcome}}, 0);
    }
  }
}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

WebhookDispatcher::Outcome WebhookDispatcher::Attempt(const store::ClaimedDelivery& claimed,
                                                      UnixMillis claimed_at) {
  Outcome out;
  out.at = clock_.Now();
  // Our lease ends at claimed_at + lease: an attempt that could outlast it might be claimed
  // and sent again by another instance, so it waits for the next claim instead.
  if (out.at + options_.timeout_ms > claimed_at + options_.lease_ms) return out;
  out.sent = true;
  const store::WebhookDelivery& d = claimed.delivery;

  auto secret = secrets_.Open(claimed.sealed_secret);
  if (!secret) {
    // An older pepper was removed before the secret was re-sealed: retrying lets the operator
    // put it back; the error says nothing of the secret.
    out.error = "cannot open the webhook secret (sealed under an unknown pepper)";
    return out;
  }
  if (!secrets_.SealedUnderNewest(claimed.sealed_secret)) {
    std::string resealed = secrets_.Seal(*secret, random_);
    auto changed = store_.ResealWebhookSecret(d.webhook_id, claimed.sealed_secret, resealed);
    if (!changed) {
      Log(LogLevel::kWarn, "cannot re-seal a webhook secret under the newest pepper",
          {{"webhook_id", d.webhook_id}, {"error", changed.error().message()}});
    }
  }

  const std::string body = WebhookDeliveryBody(claimed, out.at);
  HttpClientRequest req;
  req.method = "POST";
  req.url = claimed.url;
  req.body = body;
  req.timeout_ms = options_.timeout_ms;
  req.max_response_bytes = options_.max_response_bytes;
  req.truncate_response = true;
  req.address_policy = &options_.address_policy;
  req.headers = {
      {"Content-Type", "application/json"},
      {"User-Agent", "chainloop-controlplane/" + std::string(Version())},
      {"X-Chainloop-Event", d.event},
      {"X-Chainloop-Event-Id", d.event_id},
      {"X-Chainloop-Delivery", d.id},
      {"X-Chainloop-Timestamp", std::to_string(out.at / kMillisPerSecond)},
      {"X-Chainloop-Signature-256", WebhookSignature(*secret, body)},
  };
  const auto started = std::chrono::steady_clock::now();
  auto resp = HttpFetch(req);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!resp) {
    out.error = ErrorText(resp.error().message(), claimed.url);
  } else {
    out.response_status = resp->status;
    out.delivered = resp->status >= 200 && resp->status <= 299;
    if (!out.delivered) out.error = "the receiver answered HTTP " + std::to_string(resp->status);
  }
  return out;
}

void WebhookDispatcher::Record(const store::ClaimedDelivery& claimed, const Outcome& outcome,
                               DispatchReport& report) {
  const store::WebhookDelivery& d = claimed.delivery;
  if (!outcome.sent) {
    ++report.deferred;
    return;
  }
  store::WebhookAttempt attempt{.delivery_id = d.id,
                                .at = outcome.at,
                                .status = "delivered",
                                .response_status = outcome.response_status,
                                .error = outcome.error,
                                .next_attempt_at = 0};
  std::string_view metric_outcome = "delivered";
  if (!outcome.delivered) {
    const UnixMillis next = outcome.at + WebhookRetryDelay(options_, d.attempts + 1, random_);
    if (next > d.created_at + options_.retry_window_ms) {
      attempt.status = "failed";
      metric_outcome = "failed";
    } else {
      attempt.status = "pending";
      attempt.next_attempt_at = next;
      metric_outcome = "retry";
    }
  }
  (metric_outcome == "delivered" ? report.delivered
   : metric_outcome == "failed"  ? report.failed
                                 : report.retried)++;
  Status recorded = store_.RecordWebhookAttempt(attempt);
  if (!recorded && !recorded.error().IsNotFound()) {
    // The lease runs out and the delivery is claimed again: at least once, never lost.
    Log(LogLevel::kError, "cannot record a webhook delivery attempt",
        {{"webhook_id", d.webhook_id},
         {"delivery_id", d.id},
         {"error", recorded.error().message()}});
  }
  Log(LogLevel::kInfo, "webhook delivery attempt",
      {{"webhook_id", d.webhook_id},
       {"delivery_id", d.id},
       {"event", d.event},
       {"attempt", d.attempts + 1},
       {"status", attempt.status},
       {"response_status", static_cast<int64_t>(outcome.response_status.value_or(0))},
       {"error", outcome.error},
       {"duration_ms", static_cast<int64_t>(outcome.seconds * 1000)}});
  if (metrics_ != nullptr) {
    metrics_->IncCounter(kDeliveriesTotal, kDeliveriesHelp, {{"outcome", metric_outcome}});
    std::lock_guard<std::mutex> lock(histogram_mu_);
    const auto& bounds = DurationBuckets();
    const size_t bucket =
        std::lower_bound(bounds.begin(), bounds.end(), outcome.seconds) - bounds.begin();
    ++duration_counts_[bucket];
    duration_sum_ += outcome.seconds;
    metrics_->SetHistogram(kDuration, kDurationHelp, "", "", bounds, duration_counts_,
                           duration_sum_);
  }
}

void WebhookDispatcher::Housekeeping(UnixMillis now, DispatchReport& report) {
  if (!last_notices_at_ || now - *last_notices_at_ >= options_.notice_interval_ms) {
    last_notices_at_ = now;
    auto notices = store_.EnqueueTokenNotices(
        now, options_.notice_ahead_ms,
        [&](const store::TokenNotice& n) { return TokenNoticeEvent(n, now, random_); });
    if (!notices) {
      Log(LogLevel::kError, "cannot enqueue API token notices",
          {{"error", notices.error().message()}});
    } else {
      report.notices = static_cast<int>(notices->size());
      if (!notices->empty()) {
        Log(LogLevel::kInfo, "API token notices enqueued",
            {{"notices", static_cast<int64_t>(notices->size())}});
      }
    }
  }
  if (!last_prune_at_ || now - *last_prune_at_ >= options_.prune_interval_ms) {
    last_prune_at_ = now;
    auto pruned = store_.PruneWebhookHistory(now - options_.history_retention_ms);
    if (!pruned) {
      Log(LogLevel::kError, "cannot prune webhook delivery history",
          {{"error", pruned.error().message()}});
    } else {
      report.pruned = *pruned;
      Log(LogLevel::kInfo, "webhook delivery history pruned", {{"deliveries", *pruned}});
    }
  }
}

Result<DispatchReport> WebhookDispatcher::RunOnce() {
  std::lock_guard<std::mutex> lock(run_mu_);
  DispatchReport report;
  const UnixMillis now = clock_.Now();
  Housekeeping(now, report);

  auto claimed = store_.ClaimWebhookDeliveries(now, options_.batch_size, options_.lease_ms);
  if (!claimed) {
    Log(LogLevel::kError, "cannot claim webhook deliveries",
        {{"error", claimed.error().message()}});
    return Fail(claimed.error());
  }
  report.claimed = static_cast<int>(claimed->size());
  if (claimed->empty()) return report;

  // A few senders share the batch; each records its own attempts as they finish.
  std::atomic<size_t> next{0};
  std::mutex report_mu;
  auto sender = [&] {
    for (size_t i = next++; i < claimed->size(); i = next++) {
      Outcome outcome = Attempt((*claimed)[i], now);
      std::lock_guard<std::mutex> report_lock(report_mu);
      Record((*claimed)[i], outcome, report);
    }
  };
  const size_t workers =
      std::min(claimed->size(), static_cast<size_t>(std::max(1, options_.parallelism)));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) threads.emplace_back(sender);
  sender();
  for (std::thread& t : threads) t.join();
  return report;
}

void WebhookDispatcher::Start(std::chrono::milliseconds poll_interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  if (poll_interval.count() <= 0) poll_interval = std::chrono::seconds(1);
  thread_ = std::thread([this, poll_interval] { Loop(poll_interval); });
}

void WebhookDispatcher::Loop(std::chrono::milliseconds poll_interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto report = RunOnce();  // failures are logged; the next poll retries
    lock.lock();
    // A full batch means more are probably due: go on at once (Stop still wins).
    if (report && report->claimed >= options_.batch_size && report->deferred == 0) continue;
    cv_.wait_for(lock, poll_interval, [this] { return stopping_; });
  }
}

void WebhookDispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cl::jobs
