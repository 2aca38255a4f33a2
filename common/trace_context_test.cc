// Tests of W3C traceparent parsing (the rule, case by case) and of the ids the server makes.
#include "common/trace_context.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace cl {
namespace {

const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string kValid = "00-" + kTrace + "-00f067aa0ba902b7-01";

TEST(Traceparent, AValidHeaderGivesItsTraceId) {
  EXPECT_EQ(TraceIdFromTraceparent(kValid), kTrace);
  EXPECT_EQ(TraceIdFromTraceparent("00-" + kTrace + "-00f067aa0ba902b7-00"), kTrace);  // unsampled
  // A later version may add fields after a dash; its first four are read as version 00's.
  EXPECT_EQ(TraceIdFromTraceparent("01-" + kTrace + "-00f067aa0ba902b7-01-future"), kTrace);
  EXPECT_EQ(TraceIdFromTraceparent("01-" + kTrace + "-00f067aa0ba902b7-01"), kTrace);
}

TEST(Traceparent, EveryMalformedShapeStartsANewTrace) {
  const std::string bad[] = {
      "",
      "00",
      kValid.substr(0, 54),                                       // one short
      kValid + "-extra",                                          // version 00 is exact
      "ff-" + kTrace + "-00f067aa0ba902b7-01",                    // forbidden version
      "0g-" + kTrace + "-00f067aa0ba902b7-01",                    // not hex
      "00-" + std::string(32, '0') + "-00f067aa0ba902b7-01",      // all-zero trace id
      "00-" + kTrace + "-0000000000000000-01",                    // all-zero parent id
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
      "00-" + kTrace + "-00F067AA0BA902B7-01",                    // uppercase
      "00_" + kTrace + "-00f067aa0ba902b7-01",                    // wrong separator
      "00-" + kTrace + "_00f067aa0ba902b7-01",
      "00-" + kTrace + "-00f067aa0ba902b7_01",
      "00-" + kTrace + "-00f067aa0ba902b7-0x",                 // flags not hex
      "01-" + kTrace + "-00f067aa0ba902b7-01x",                // later version, no dash
      "00-" + kTrace.substr(0, 31) + "g-00f067aa0ba902b7-01",  // not hex in the id
      "00-" + kTrace + "-00f067aa0ba902b7-01\n",
  };
  for (const auto& h : bad) EXPECT_FALSE(TraceIdFromTraceparent(h)) << h;
}

TEST(Traceparent, NewIdsAreWellFormedAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string trace = NewTraceId();
    ASSERT_EQ(trace.size(), 32u);
    std::string header = OutboundTraceparent(trace);
    ASSERT_EQ(TraceIdFromTraceparent(header), trace) << header;
    EXPECT_EQ(NewSpanId().size(), 16u);
    seen.insert(trace);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Traceparent, OutboundCallsGetAFreshSpanEachTime) {
  EXPECT_NE(OutboundTraceparent(kTrace), OutboundTraceparent(kTrace));
}

}  // namespace
}  // namespace cl
