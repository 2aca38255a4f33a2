#include "domain/token_inactivity.h"

#include <string>

namespace cl::domain {

Result<std::optional<int>> InactivityThreshold(std::optional<int64_t> requested_days) {
  if (!requested_days || *requested_days == 0) return std::optional<int>();
  if (*requested_days < kMinThresholdDays || *requested_days > kMaxThresholdDays) {
    return Fail(Error::InvalidArgument(
        "api_token_max_days_inactive must be from " + std::to_string(kMinThresholdDays) + " to " +
        std::to_string(kMaxThresholdDays) + " days (0 turns auto-revocation off)"));
  }
  return std::optional<int>(static_cast<int>(*requested_days));
}

UnixMillis LastActivity(const store::ApiToken& t) { return t.last_used_at.value_or(t.created_at); }

std::optional<UnixMillis> AutoRevokeAt(const store::ApiToken& t,
                                       std::optional<int> threshold_days) {
  if (t.revoked_at || !threshold_days) return std::nullopt;
  return LastActivity(t) + static_cast<UnixMillis>(*threshold_days) * kMillisPerDay;
}

bool IsInactive(const store::ApiToken& t, std::optional<int> threshold_days, UnixMillis now) {
  auto at = AutoRevokeAt(t, threshold_days);
  return at && *at < now;
}

}  // namespace cl::domain
