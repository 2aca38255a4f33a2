// Local checks of command-line values, so obviously wrong input is refused before any request:
// API token names, permissions, expiration durations, the inactivity threshold, and the RFC 3339
// timestamps the control plane sends back (for "is this soon?" display decisions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace cl::cli {

// True for a DNS-1123 label: 1-63 characters of [a-z0-9-], starting and ending alphanumeric.
bool IsDns1123Label(std::string_view s);

// True for "resource:action", each part [a-z][a-z0-9_]* (e.g. "workflow_run:create").
bool IsPermissionShape(std::string_view s);

// Parses a positive duration made of integer+unit parts, units s, m, h, d ("24h", "90d",
// "30m", "1h30m"), into seconds. InvalidArgument naming the flag and the accepted forms
// otherwise (zero, negative, fractional, unknown unit, absurdly long).
Result<int64_t> ParseDurationSeconds(std::string_view text, std::string_view flag);

// Longest duration ParseDurationSeconds accepts: 100 years of days.
inline constexpr int64_t kMaxDurationSeconds = int64_t{36500} * 24 * 3600;

// Parses --api-token-max-days-inactive: an integer 0..365 (0 disables auto-revocation).
Result<int> ParseMaxDaysInactive(std::string_view text);

// RFC 3339 timestamps: cl::ParseRfc3339 (common/clock.h), shared with the control plane.
using cl::ParseRfc3339;

}  // namespace cl::cli
