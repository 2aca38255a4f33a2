// Abuse limits of the HTTP API: throttle reporting, rate limits, login-start limit (see the
// header).
#include "api/abuse_limits.h"

#include "api/errors.h"
#include "api/web.h"

namespace cl::api {

bool AbuseLimits::IsAuthFailure(const Error& e) {
  if (e.IsUnauthenticated()) return !e.Is(Reason::kUnauthenticated);
  // A genuine CI token that no trust policy admits: probing, as far as we can tell.
  return e.Is(Reason::kNoMatchingTrustPolicy);
}

bool AbuseLimits::IsLoginFailure(const Error& e) {
  return e.IsUnauthenticated() || e.Is(Reason::kInvalidState) || e.Is(Reason::kInvalidGrant) ||
         e.Is(Reason::kExpiredToken);
}

std::optional<UnixMillis> AbuseLimits::ReportAuthFailure(const http::Request& req,
                                                         std::string_view credential) const {
  if (d_.auth_throttle == nullptr) return std::nullopt;
  auto refusal = d_.auth_throttle->OnFailure(req.remote_addr, credential);
  if (!refusal) return std::nullopt;
  if (d_.metrics) {
    d_.metrics->IncCounter(
        "chainloop_auth_throttled_total",
        "Failed authentications answered 429 because the client address or credential is banned",
        {{"scope", refusal->address ? "address" : "credential"}});
  }
  return refusal->retry_after;
}

http::Response AbuseLimits::Throttled(UnixMillis wait) {
  return RetryLaterResponse(TooManyFailedAttempts(), wait);
}

std::optional<http::Response> AbuseLimits::OverRateLimit(domain::RateLimiter* limiter,
                                                         const std::string& org,
                                                         std::string_view limit,
                                                         std::string_view what) const {
  if (limiter == nullptr) return std::nullopt;
  auto wait = limiter->Check(org);
  if (!wait) return std::nullopt;
  if (d_.metrics) {
    d_.metrics->IncCounter("chainloop_rate_limited_total",
                           "Requests answered 429 because an organization is over a rate limit",
                           {{"limit", limit}});
  }
  return RetryLaterResponse(RateLimited(what), *wait);
}

http::FastHandler AbuseLimits::LoginStartLimit(std::string route) const {
  return [this, route = std::move(route)](http::Request& req) -> std::optional<http::Response> {
    if (d_.login_start_limit == nullptr) return std::nullopt;
    for (const auto& block : d_.login_limit_exempt) {
      if (block.Contains(req.remote_addr)) return std::nullopt;
    }
    auto wait = d_.login_start_limit->TryTake(domain::ClientAddressKey(req.remote_addr));
    if (!wait) return std::nullopt;
    CountLoginRefusal(route, ReasonName(Reason::kRateLimited));
    http::Response r = RetryLaterResponse(
        Error::ResourceExhausted("too many logins started from this address; retry later",
                                 Reason::kRateLimited),
        *wait);
    AddSecurityHeaders(r);
    return r;
  };
}

const Error& AbuseLimits::CountedLoginError(std::string_view route, const Error& e) const {
  if (e.IsUnavailable()) CountLoginRefusal(route, e.reason());
  return e;
}

void AbuseLimits::CountLoginRefusal(std::string_view route, std::string_view reason) const {
  if (d_.metrics == nullptr) return;
  d_.metrics->IncCounter("chainloop_login_refused_total",
                         "Anonymous login starts refused (429 per-address limit, 503 no capacity)",
                         {{"route", route}, {"reason", reason}});
}

}  // namespace cl::api
