#include "api/errors.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace cl::api {
namespace {

TEST(ErrorResponse, MapsCodesToStatusAndEnvelope) {
  struct Case {
    Error error;
    int status;
  } cases[] = {
      {Error::InvalidArgument("x"), 400},      {Error::Unauthenticated("x"), 401},
      {Error::PermissionDenied("x"), 403},     {Error::NotFound("x"), 404},
      {Error::AlreadyExists("x"), 409},        {Error::PayloadTooLarge("x"), 413},
      {Error::ResourceExhausted("x"), 429},    {Error::Unavailable("x"), 503},
      {Error::Internal("secret detail"), 500},
  };
  for (const auto& c : cases) {
    auto r = ErrorResponse(c.error);
    EXPECT_EQ(r.status, c.status);
    auto v = ParseJson(r.body);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->at("error").at("code").as_string(), c.error.reason());
  }
  // Internal details stay in logs.
  EXPECT_EQ(ErrorResponse(Error::Internal("secret detail")).body.find("secret"), std::string::npos);
}

// A message that quotes client input (an organization named like a token, say) never echoes a
// credential back, whatever error carries it.
TEST(ErrorResponse, RedactsCredentialsInMessages) {
  const std::string secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk";
  for (const Error& e : {Error::NotFound("organization 'clapi_" + secret + "' not found"),
                         Error::InvalidArgument("bad name x" + std::string("clses_") + secret),
                         Error::PermissionDenied("no: clfed_" + secret),
                         Error::Unauthenticated("clapi_" + secret)}) {
    auto r = ErrorResponse(e);
    EXPECT_EQ(r.body.find(secret), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<redacted>"), std::string::npos) << r.body;
  }
}

TEST(ErrorResponse, WwwAuthenticateFollowsRfc6750) {
  auto none = ErrorResponse(Error::Unauthenticated("no credential", Reason::kUnauthenticated));
  bool found = false;
  for (const auto& [k, v] : none.headers) {
    if (k == "WWW-Authenticate") {
      found = true;
      EXPECT_EQ(v.find("error="), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
  auto expired = ErrorResponse(Error::Unauthenticated("expired", Reason::kSessionExpired));
  found = false;
  for (const auto& [k, v] : expired.headers) {
    if (k == "WWW-Authenticate") {
      found = true;
      EXPECT_NE(v.find("error=\"invalid_token\""), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
}

std::string HeaderOf(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(RetryLaterResponse, CarriesRetryAfterInWholeSecondsRoundedUp) {
  struct Case {
    UnixMillis wait;
    std::string header;
  } cases[] = {{0, "1"}, {1, "1"}, {999, "1"}, {1000, "1"}, {1001, "2"}, {900'000, "900"}};
  for (const auto& c : cases) {
    auto r = RetryLaterResponse(TooManyFailedAttempts(), c.wait);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(HeaderOf(r, "Retry-After"), c.header) << c.wait;
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "");
    auto v = ParseJson(r.body);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->at("error").at("code").as_string(), "too_many_failed_attempts");
  }
  auto limited = RetryLaterResponse(RateLimited("API token creation"), 2500);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(HeaderOf(limited, "Retry-After"), "3");
  auto v = ParseJson(limited.body);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->at("error").at("code").as_string(), "rate_limited");
}

TEST(ErrorResponse, EveryUnavailableCarriesRetryAfterAndNothingElseDoes) {
  struct Case {
    Error error;
    std::string retry_after;
  } cases[] = {
      {Error::Unavailable("busy", Reason::kIdpUnavailable), "5"},
      {Error::Unavailable("db", Reason::kUnavailable), "5"},
      {Error::Unavailable("full", Reason::kLoginCapacityExhausted), "30"},
      {Error::InvalidArgument("x"), ""},
      {Error::Unauthenticated("x"), ""},
      {Error::ResourceExhausted("x"), ""},  // its wait is the caller's (RetryLaterResponse)
      {Error::Internal("x"), ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(HeaderOf(ErrorResponse(c.error), "Retry-After"), c.retry_after) << c.error.ToString();
    EXPECT_EQ(RetryAfterFor(c.error).has_value(), !c.retry_after.empty()) << c.error.ToString();
  }
  // RetryLaterResponse's own wait wins over the default, without a second header.
  auto r = RetryLaterResponse(Error::Unavailable("busy", Reason::kIdpUnavailable), 1000);
  int n = 0;
  for (const auto& [k, v] : r.headers) n += k == "Retry-After";
  EXPECT_EQ(n, 1);
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
}

}  // namespace
}  // namespace cl::api
