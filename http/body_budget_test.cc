#include "http/body_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cl::http {
namespace {

TEST(BodyBudget, TakesWhatFitsAndRefusesTheRest) {
  BodyBudget budget(100);
  EXPECT_TRUE(budget.TryTake(60));
  EXPECT_FALSE(budget.TryTake(41));  // all or nothing
  EXPECT_EQ(budget.in_use(), 60u);
  EXPECT_TRUE(budget.TryTake(40));
  EXPECT_FALSE(budget.TryTake(1));
  budget.Give(100);
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_FALSE(budget.TryTake(101));
  EXPECT_TRUE(budget.TryTake(0));
}

TEST(BodyReservation, GrowsAndGivesBackOnDestruction) {
  BodyBudget budget(100);
  {
    BodyReservation a(budget);
    EXPECT_TRUE(a.GrowTo(30));
    EXPECT_TRUE(a.GrowTo(20));  // never shrinks
    EXPECT_EQ(a.bytes(), 30u);
    EXPECT_TRUE(a.GrowTo(70));
    EXPECT_EQ(budget.in_use(), 70u);
    BodyReservation b(budget);
    EXPECT_FALSE(b.GrowTo(31));
    EXPECT_EQ(b.bytes(), 0u);
    EXPECT_TRUE(b.GrowTo(30));
    b.Release();
    EXPECT_EQ(budget.in_use(), 70u);
  }  // `a` abandoned without Release(): its destructor gives the bytes back
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST(BodyBudget, DrainCallbackOnlyAfterABurst) {
  int drained = 0;
  BodyBudget budget(1000, /*burst_bytes=*/500, [&] { ++drained; });
  EXPECT_TRUE(budget.TryTake(100));
  budget.Give(100);
  EXPECT_EQ(drained, 0);  // never reached the burst size
  EXPECT_TRUE(budget.TryTake(300));
  EXPECT_TRUE(budget.TryTake(300));
  budget.Give(300);
  EXPECT_EQ(drained, 0);  // not zero yet
  budget.Give(300);
  EXPECT_EQ(drained, 1);
  EXPECT_TRUE(budget.TryTake(100));
  budget.Give(100);
  EXPECT_EQ(drained, 1);  // the peak was reset at the drain
}

TEST(BodyBudget, ConcurrentTakersNeverExceedTheCapacity) {
  BodyBudget budget(1000);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (budget.TryTake(300)) {
          if (budget.in_use() > 1000) over = true;
          budget.Give(300);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(budget.in_use(), 0u);
}

}  // namespace
}  // namespace cl::http
