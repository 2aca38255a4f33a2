// The HTTP API's abuse limits: reporting failed authentications to the throttle (which answers
// 429 too_many_failed_attempts for banned addresses and credentials), the per-organization rate
// limits (429 rate_limited) and the per-address limit on anonymous login starts, with the
// metrics that count each refusal. Internal to api/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/api.h"
#include "common/clock.h"
#include "common/result.h"
#include "http/http.h"

namespace cl::api {

class AbuseLimits {
 public:
  // `deps` must outlive this object.
  explicit AbuseLimits(const ApiDeps& deps) : d_(deps) {}
  AbuseLimits(const AbuseLimits&) = delete;
  AbuseLimits& operator=(const AbuseLimits&) = delete;

  // A failure counts when a credential was presented and refused; a request without any
  // credential does not count.
  static bool IsAuthFailure(const Error& e);
  // Failures of the login legs that mean a wrong code, state or handle was presented (not
  // "still pending", "slow down" or the person declining).
  static bool IsLoginFailure(const Error& e);

  // Reports a failed authentication of `req` presenting `credential` (empty: none). Returns
  // how long to wait when its address or credential is banned: answer 429 instead of the
  // failure. Successful authentications never come here.
  std::optional<UnixMillis> ReportAuthFailure(const http::Request& req,
                                              std::string_view credential) const;
  // The 429 too_many_failed_attempts answer (JSON envelope, Retry-After).
  static http::Response Throttled(UnixMillis wait);

  // Per-organization rate limits: nullopt when `org` may go ahead (charge it on success).
  // `limiter` may be null (no limit); `limit` names the metric label, `what` the message.
  std::optional<http::Response> OverRateLimit(domain::RateLimiter* limiter, const std::string& org,
                                              std::string_view limit, std::string_view what) const;

  // The I/O-thread fast path of the anonymous login starts, which write a pending login and
  // may call the IdP: each takes a unit of its client address's bucket (memory only, never
  // blocks), or is answered 429 right there (JSON envelope, all three routes), so a flood of
  // refused starts never queues for the worker pool. Admitted starts go on to the pool.
  http::FastHandler LoginStartLimit(std::string route) const;
  // Returns `e`, counting it when it refuses a login start for lack of capacity (503: the IdP
  // busy or down, too many pending logins).
  const Error& CountedLoginError(std::string_view route, const Error& e) const;

 private:
  void CountLoginRefusal(std::string_view route, std::string_view reason) const;

  const ApiDeps& d_;
};

}  // namespace cl::api
