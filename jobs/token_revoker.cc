// TokenRevoker: flush usage, one set-based sweep, publish, metrics, one log line; see the header.
#include "jobs/token_revoker.h"

#include "common/log.h"
#include "domain/audit_events.h"
#include "http/metrics.h"
#include "jobs/usage_flusher.h"

namespace cl::jobs {
namespace {

constexpr std::string_view kSweepsTotal = "chainloop_token_revoker_sweeps_total";
constexpr std::string_view kRevokedTotal = "chainloop_token_revoker_revoked_total";
constexpr std::string_view kLastDuration = "chainloop_token_revoker_last_sweep_duration_seconds";
constexpr std::string_view kLastTimestamp = "chainloop_token_revoker_last_sweep_timestamp_seconds";
constexpr std::string_view kDuration = "chainloop_token_revoker_sweep_duration_seconds";

// A sweep is one set-based transaction: milliseconds when healthy, seconds when the database
// struggles, minutes when something is badly wrong.
const std::vector<double>& SweepDurationBuckets() {
  static const std::vector<double> kBuckets = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};
  return kBuckets;
}

}  // namespace

store::AuditEvent InactivityRevocationEvent(const store::RevokedToken& token, UnixMillis now,
                                            Random& random) {
  return domain::NewAuditEvent(domain::AuditActor::System(),
                               {token.org_id, domain::AuditAction::kApiTokenRevoked,
                                domain::AuditTarget::kApiToken, token.id,
                                "system has revoked the API token " + token.name + " after " +
                                    std::to_string(token.days) + " days of inactivity"},
                               now, random);
}

TokenRevoker::TokenRevoker(store::TokenRevocationStore& store, const Clock& clock, Random& random,
                           UsageFlusher* flusher, PublishRevocation publish, http::Metrics* metrics)
    : store_(store),
      clock_(clock),
      random_(random),
      flusher_(flusher),
      publish_(std::move(publish)),
      metrics_(metrics) {}

TokenRevoker::~TokenRevoker() { Stop(); }

Result<SweepReport> TokenRevoker::RunOnce() {
  std::lock_guard<std::mutex> lock(sweep_mu_);
  const auto started = std::chrono::steady_clock::now();
  auto count_sweep = [&](std::string_view result) {
    if (metrics_) {
      metrics_->IncCounter(kSweepsTotal, "Inactive API token sweeps run, by result.",
                           {{"result", result}});
    }
  };

  // Usage still queued in memory must reach the database before the sweep judges activity.
  if (flusher_ != nullptr) {
    Status flushed = flusher_->FlushNow();
    if (!flushed) {
      count_sweep("error");
      Log(LogLevel::kError, "token revoker sweep skipped: usage flush failed",
          {{"error", flushed.error().message()}});
      return Fail(flushed.error().WithMessage("token revoker: usage flush failed: " +
                                              flushed.error().message()));
    }
  }

  SweepReport report;
  report.started_at = clock_.Now();
  const UnixMillis now = report.started_at;
  auto sweep = store_.RevokeInactiveApiTokens(now, [&](const store::RevokedToken& t) {
    return InactivityRevocationEvent(t, now, random_);
  });
  if (!sweep) {
    count_sweep("error");
    Log(LogLevel::kError, "token revoker sweep failed", {{"error", sweep.error().message()}});
    return Fail(sweep.error());
  }

  report.skipped_locked = sweep->skipped_locked;
  report.revoked_total = static_cast<int64_t>(sweep->revoked.size());
  for (const store::RevokedToken& t : sweep->revoked) {
    ++report.revoked_per_org[t.org_name];
    // After the commit: every instance (this one included) drops the token from its cache.
    if (publish_) publish_(t.token_hash);
  }
  report.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (report.skipped_locked) {
    count_sweep("skipped_locked");
    Log(LogLevel::kInfo, "token revoker sweep skipped: another instance holds the lock");
    return report;
  }
  count_sweep("ok");
  if (metrics_) {
    metrics_->IncCounter(kRevokedTotal, "API tokens revoked for inactivity.", {},
                         static_cast<double>(report.revoked_total));
    metrics_->SetGauge(kLastDuration, "Duration of the last completed inactive token sweep.",
                       report.duration_seconds);
    metrics_->ObserveHistogram(kDuration, "Duration of completed inactive token sweeps.",
                               SweepDurationBuckets(), report.duration_seconds);
    metrics_->SetGauge(kLastTimestamp,
                       "Unix time of the last completed inactive token sweep, in seconds.",
                       static_cast<double>(now) / 1000.0);
  }
  Log(LogLevel::kInfo, "token revoker sweep",
      {{"revoked", report.revoked_total},
       {"organizations", static_cast<int64_t>(report.revoked_per_org.size())},
       {"duration_ms", static_cast<int64_t>(report.duration_seconds * 1000)}});
  return report;
}

void TokenRevoker::Start(std::chrono::milliseconds interval,
                         std::chrono::milliseconds max_initial_delay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  if (interval.count() <= 0) interval = std::chrono::hours(1);
  std::chrono::milliseconds first_delay(0);
  if (max_initial_delay.count() > 0) {
    uint64_t r = 0;
    random_.Fill(reinterpret_cast<uint8_t*>(&r), sizeof r);
    first_delay = std::chrono::milliseconds(
        static_cast<int64_t>(r % (static_cast<uint64_t>(max_initial_delay.count()) + 1)));
  }
  thread_ = std::thread([this, interval, first_delay] { Loop(interval, first_delay); });
}

void TokenRevoker::Loop(std::chrono::milliseconds interval, std::chrono::milliseconds first_delay) {
  std::unique_lock<std::mutex> lock(mu_);
  // Deadlines on the steady clock, so a wall-clock jump neither skips nor repeats sweeps.
  auto next = std::chrono::steady_clock::now() + first_delay;
  while (!stopping_) {
    if (cv_.wait_until(lock, next, [this] { return stopping_; })) break;
    lock.unlock();
    (void)RunOnce();  // failures are logged and counted; the next interval retries
    lock.lock();
    ++background_sweeps_;
    next += interval;
    // After a sweep longer than the interval, start the next one from now instead of
    // running several back to back.
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + interval;
  }
}

void TokenRevoker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t TokenRevoker::BackgroundSweeps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return background_sweeps_;
}

}  // namespace cl::jobs
