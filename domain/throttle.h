// Abuse throttling: bans on repeated failed authentication (domain/auth_failure_throttle.h) and
// token buckets for per-organization and per-address rate limits (domain/rate_limiter.h).
// Includes both, and names the address helpers of common/address.h they are configured with.
#pragma once

#include "common/address.h"
#include "domain/auth_failure_throttle.h"
#include "domain/rate_limiter.h"

namespace cl::domain {

using cl::Cidr;              // common/address.h
using cl::ClientAddressKey;  // common/address.h

}  // namespace cl::domain
