// Token states and inactivity: the one definition of an API token's state (active, expired,
// revoked) and of when an organization's API token counts as inactive and is revoked
// automatically (DESIGN.md, "Auto-revocation of inactive API tokens").
//
// An organization may set a threshold of kMinThresholdDays..kMaxThresholdDays days (none: off).
// A token's last activity is its last recorded use, or its creation when never used. It is
// inactive once its last activity is MORE than the threshold ago: AutoRevokeAt is the last
// instant it is still active. Only active tokens are revoked for inactivity: an expired token is
// dead already, and one that expires before its auto-revoke date never reaches it. The store's
// set-based sweep (store::TokenRevocationStore) is SQL of this same predicate;
// domain/token_inactivity_test.cc checks, on both databases and at the boundaries, that it revokes
// exactly the tokens IsInactive names.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace cl::domain {

inline constexpr int kMinThresholdDays = 1;
inline constexpr int kMaxThresholdDays = 365;
// Tokens this close to their auto-revoke date (or their expiry) are flagged (CLI `api-token list`,
// web UI).
inline constexpr UnixMillis kAutoRevokeWarning = 7 * kMillisPerDay;
// A use of a token idle this long is written at once rather than coalesced (Authenticator):
// half the shortest threshold, so no coalesced use can be missed by a sweep on another instance.
inline constexpr UnixMillis kPromptUseAfter = kMinThresholdDays * kMillisPerDay / 2;

// The threshold a requested value stands for: nullopt (off) for 0 or none; the number of days
// for 1..365; InvalidArgument naming the range otherwise.
Result<std::optional<int>> InactivityThreshold(std::optional<int64_t> requested_days);

// Where an API token stands at a given time. Revoked wins over expired: a revoked token keeps
// its revocation reason whatever its expiry.
enum class ApiTokenState {
  kActive,   // "active": not revoked and not expired
  kExpired,  // "expired": past its expires_at (expires_at <= now), not revoked
  kRevoked,  // "revoked": revoked (store::RevocationReason says why), or rotated and past its
             // rotation_deadline
};

// "active", "expired", "revoked".
std::string_view ApiTokenStateName(ApiTokenState state);
// The value whose name is exactly `name`; nullopt otherwise.
std::optional<ApiTokenState> ParseApiTokenState(std::string_view name);

// The state of `t` at `now`.
ApiTokenState StateAt(const store::ApiToken& t, UnixMillis now);

// When the token was last active: its last use, else its creation.
UnixMillis LastActivity(const store::ApiToken& t);

// The last instant `t` is still active under `threshold_days`, as seen at `now`; nullopt when
// the organization has no threshold, the token is not active at `now` (revoked or expired), or
// it expires before the sweep could revoke it (expires_at <= that instant + 1 ms).
std::optional<UnixMillis> AutoRevokeAt(const store::ApiToken& t, std::optional<int> threshold_days,
                                       UnixMillis now);

// True when the sweep at `now` revokes `t`: active at `now`, and its last activity plus the
// threshold is before `now`.
bool IsInactive(const store::ApiToken& t, std::optional<int> threshold_days, UnixMillis now);

}  // namespace cl::domain
