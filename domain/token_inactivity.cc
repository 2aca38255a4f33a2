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

std::string_view ApiTokenStateName(ApiTokenState state) {
  switch (state) {
    case ApiTokenState::kActive:
      return "active";
    case ApiTokenState::kExpired:
      return "expired";
    case ApiTokenState::kRevoked:
      return "revoked";
  }
  return "unknown";
}

std::optional<ApiTokenState> ParseApiTokenState(std::string_view name) {
  for (auto s : {ApiTokenState::kActive, ApiTokenState::kExpired, ApiTokenState::kRevoked}) {
    if (ApiTokenStateName(s) == name) return s;
  }
  return std::nullopt;
}

ApiTokenState StateAt(const store::ApiToken& t, UnixMillis now) {
  if (t.revoked_at) return ApiTokenState::kRevoked;
  // A rotated token past its grace period is refused by authentication before the rotation job
  // records the revocation.
  if (t.rotation_deadline && *t.rotation_deadline <= now) return ApiTokenState::kRevoked;
  if (t.expires_at && *t.expires_at <= now) return ApiTokenState::kExpired;
  return ApiTokenState::kActive;
}

UnixMillis LastActivity(const store::ApiToken& t) { return t.last_used_at.value_or(t.created_at); }

namespace {

// The last instant `t` is still active under the threshold, ignoring state and expiry.
std::optional<UnixMillis> InactivityDeadline(const store::ApiToken& t,
                                             std::optional<int> threshold_days) {
  if (!threshold_days) return std::nullopt;
  return LastActivity(t) + static_cast<UnixMillis>(*threshold_days) * kMillisPerDay;
}

}  // namespace

std::optional<UnixMillis> AutoRevokeAt(const store::ApiToken& t, std::optional<int> threshold_days,
                                       UnixMillis now) {
  if (StateAt(t, now) != ApiTokenState::kActive) return std::nullopt;
  auto at = InactivityDeadline(t, threshold_days);
  // The first sweep that could revoke it runs at `at + 1`; by then the token must not have
  // expired.
  if (at && t.expires_at && *t.expires_at <= *at + 1) return std::nullopt;
  return at;
}

bool IsInactive(const store::ApiToken& t, std::optional<int> threshold_days, UnixMillis now) {
  if (StateAt(t, now) != ApiTokenState::kActive) return false;
  auto at = InactivityDeadline(t, threshold_days);
  return at && *at < now;
}

}  // namespace cl::domain
