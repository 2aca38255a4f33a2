// Tests of RateLimiter with a fake clock.
#include "domain/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace cl::domain {
namespace {

TEST(RateLimiterTest, AllowsBurstThenRefillsContinuously) {
  FakeClock clock;
  RateLimiter r(60, clock);
  for (int i = 0; i < 60; ++i) {
    ASSERT_FALSE(r.Check("org-a")) << i;
    r.Charge("org-a");
  }
  auto wait = r.Check("org-a");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1000);  // one unit per second
  EXPECT_FALSE(r.Check("org-b")) << "other organizations are not affected";
  clock.Advance(999);
  ASSERT_TRUE(r.Check("org-a"));
  EXPECT_EQ(*r.Check("org-a"), 1);
  clock.Advance(1);
  EXPECT_FALSE(r.Check("org-a"));
  r.Charge("org-a");
  EXPECT_TRUE(r.Check("org-a"));
  // A full minute refills the whole burst, never more.
  clock.Advance(10 * kMillisPerMinute);
  for (int i = 0; i < 60; ++i) {
    ASSERT_FALSE(r.Check("org-a")) << i;
    r.Charge("org-a");
  }
  EXPECT_TRUE(r.Check("org-a"));
}

TEST(RateLimiterTest, CheckDoesNotConsumeAndDebtIsWaitedOut) {
  FakeClock clock;
  RateLimiter r(60, clock);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(r.Check("org"));
  EXPECT_EQ(r.TrackedKeys(), 0u) << "Check alone never adds a key";
  // 62 operations passed Check concurrently and all succeeded: 2 units of debt.
  for (int i = 0; i < 62; ++i) r.Charge("org");
  EXPECT_EQ(*r.Check("org"), 3000);
}

TEST(RateLimiterTest, ZeroDisables) {
  FakeClock clock;
  RateLimiter r(0, clock);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(r.Check("org"));
    r.Charge("org");
  }
  EXPECT_EQ(r.TrackedKeys(), 0u);
}

TEST(RateLimiterTest, BoundedAndRefilledBucketsDropped) {
  FakeClock clock;
  RateLimiter r(10, clock, 160);
  for (int i = 0; i < 5000; ++i) {
    r.Charge("org-" + std::to_string(i));
    ASSERT_LE(r.TrackedKeys(), 160u);
  }
  clock.Advance(kMillisPerMinute);
  for (int i = 0; i < 100; ++i) r.Charge("fresh-" + std::to_string(i));
  EXPECT_LE(r.TrackedKeys(), 160u);
}

TEST(RateLimiterTest, ConcurrentChargesAreAllAccounted) {
  FakeClock clock;
  RateLimiter r(600, clock);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&] {
      for (int i = 0; i < 150; ++i) r.Charge("org");
    });
  }
  for (auto& th : threads) th.join();
  // 600 charges empty the bucket exactly: the next unit is 100 ms away.
  EXPECT_EQ(*r.Check("org"), 100);
}

// The per-address limit of anonymous login starts: 20 per minute, burst 10.
TEST(RateLimiterTest, TryTakeAllowsTheBurstThenOnePerRefill) {
  FakeClock clock;
  RateLimiter r(20, 10, clock);
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(r.TryTake("198.51.100.7")) << i;
  auto wait = r.TryTake("198.51.100.7");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 3000);  // 20 per minute: one unit every 3 s
  EXPECT_FALSE(r.TryTake("198.51.100.8")) << "other addresses are not affected";
  // A refused TryTake takes nothing: the wait shrinks with time, not with retries.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(r.TryTake("198.51.100.7"));
  clock.Advance(2999);
  EXPECT_EQ(*r.TryTake("198.51.100.7"), 1);
  clock.Advance(1);
  EXPECT_FALSE(r.TryTake("198.51.100.7"));
  EXPECT_TRUE(r.TryTake("198.51.100.7"));
  // Any idle time refills at most the burst, not a minute's worth.
  clock.Advance(10 * kMillisPerMinute);
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(r.TryTake("198.51.100.7")) << i;
  EXPECT_TRUE(r.TryTake("198.51.100.7"));
}

TEST(RateLimiterTest, BurstTableOfCases) {
  struct Case {
    int64_t per_minute, burst;
    int allowed_at_once;
    UnixMillis then_wait;
  } cases[] = {
      {20, 10, 10, 3000}, {60, 60, 60, 1000},
      {60, 1, 1, 1000},   {6, 0, 1, 10'000},  // burst below 1 counts as 1
      {600, 5, 5, 100},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.per_minute << "/min burst " << c.burst);
    FakeClock clock;
    RateLimiter r(c.per_minute, c.burst, clock);
    for (int i = 0; i < c.allowed_at_once; ++i) ASSERT_FALSE(r.TryTake("k")) << i;
    auto wait = r.TryTake("k");
    ASSERT_TRUE(wait);
    EXPECT_EQ(*wait, c.then_wait);
    // Check agrees with TryTake.
    EXPECT_EQ(r.Check("k"), wait);
  }
}

TEST(RateLimiterTest, ConcurrentTryTakesNeverExceedTheBurst) {
  FakeClock clock;  // time stands still: nothing refills
  RateLimiter r(20, 10, clock);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 8; ++th) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!r.TryTake("203.0.113.9")) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 10);
}

}  // namespace
}  // namespace cl::domain
