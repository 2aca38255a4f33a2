// RotationFinisher: one store call per run, publish, one log line; see the header.
#include "jobs/rotation_finisher.h"

#include "common/log.h"
#include "domain/audit_events.h"

namespace cl::jobs {

store::AuditEvent RotationRevocationEvent(const store::RevokedToken& token, UnixMillis now,
                                          Random& random) {
  return domain::NewAuditEvent(domain::AuditActor::System(),
                               {token.org_id, domain::AuditAction::kApiTokenRevoked,
                                domain::AuditTarget::kApiToken, token.id,
                                "system has revoked the API token " + token.name +
                                    " at the end of its rotation grace period"},
                               now, random);
}

RotationFinisher::RotationFinisher(store::TokenRevocationStore& store, const Clock& clock,
                                   Random& random, PublishRevocation publish)
    : store_(store), clock_(clock), random_(random), publish_(std::move(publish)) {}

RotationFinisher::~RotationFinisher() { Stop(); }

Result<int64_t> RotationFinisher::RunOnce() {
  std::lock_guard<std::mutex> lock(run_mu_);
  const UnixMillis now = clock_.Now();
  auto revoked = store_.RevokeRotatedApiTokens(
      now, [&](const store::RevokedToken& t) { return RotationRevocationEvent(t, now, random_); });
  if (!revoked) {
    Log(LogLevel::kError, "rotation finisher failed", {{"error", revoked.error().message()}});
    return Fail(revoked.error());
  }
  for (const store::RevokedToken& t : *revoked) {
    if (publish_) publish_(t.token_hash);
  }
  if (!revoked->empty()) {
    Log(LogLevel::kInfo, "rotated API tokens revoked at the end of their grace period",
        {{"revoked", static_cast<int64_t>(revoked->size())}});
  }
  return static_cast<int64_t>(revoked->size());
}

void RotationFinisher::Start(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this, interval] { Loop(interval); });
}

void RotationFinisher::Loop(std::chrono::milliseconds interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    (void)RunOnce();
    lock.lock();
  }
}

void RotationFinisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cl::jobs
