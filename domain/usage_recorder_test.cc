#include "domain/usage_recorder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace cl::domain {
namespace {

constexpr UnixMillis kWindow = 60'000;
constexpr UnixMillis kStart = 1'700'000'000'000;

// (token id, time) of each use, sorted.
std::vector<std::pair<std::string, UnixMillis>> Sorted(
    const std::vector<store::ApiTokenUse>& uses) {
  std::vector<std::pair<std::string, UnixMillis>> v;
  for (const auto& u : uses) v.emplace_back(u.id, u.at);
  std::sort(v.begin(), v.end());
  return v;
}

TEST(UsageRecorderTest, QueuesOneUpdatePerTokenPerWindow) {
  UsageRecorder r(kWindow);
  r.Touch("a", kStart);
  r.Touch("a", kStart + 1000);  // coalesced
  r.Touch("b", kStart + 2000);
  EXPECT_EQ(Sorted(r.TakePending()),
            (std::vector<std::pair<std::string, UnixMillis>>{{"a", kStart}, {"b", kStart + 2000}}));
  r.Touch("a", kStart + kWindow - 1);  // still within a's window
  EXPECT_TRUE(r.TakePending().empty());
  r.Touch("a", kStart + kWindow);  // a window later: queued again
  EXPECT_EQ(Sorted(r.TakePending()),
            (std::vector<std::pair<std::string, UnixMillis>>{{"a", kStart + kWindow}}));
}

// Flushes between touches rotate the coalescing state; a token must stay coalesced for its
// whole window whatever the rotation did meanwhile.
TEST(UsageRecorderTest, CoalescingSurvivesRotations) {
  UsageRecorder r(kWindow);
  UnixMillis now = kStart;
  r.Touch("a", now);
  ASSERT_EQ(r.TakePending().size(), 1u);
  for (int step = 1; step <= 30; ++step) {
    now += kWindow / 10;
    r.Touch("other-" + std::to_string(step), now);  // moves the recorder's notion of time
    auto taken = r.TakePending();
    const bool a_again =
        std::any_of(taken.begin(), taken.end(), [](const auto& u) { return u.id == "a"; });
    EXPECT_FALSE(a_again) << step;
    r.Touch("a", now);
    taken = r.TakePending();
    const bool queued =
        std::any_of(taken.begin(), taken.end(), [](const auto& u) { return u.id == "a"; });
    // `a` was last queued at a multiple of the window from kStart.
    EXPECT_EQ(queued, (now - kStart) % kWindow == 0) << "step " << step;
  }
}

// Tokens come and go (created, used once, revoked): the coalescing state keeps only those
// used in the last two windows, however many have been seen.
TEST(UsageRecorderTest, MemoryIsBoundedByRecentUse) {
  UsageRecorder r(kWindow);
  UnixMillis now = kStart;
  size_t most = 0;
  for (int second = 0; second < 600; ++second) {
    for (int i = 0; i < 20; ++i) r.Touch("t-" + std::to_string(second * 20 + i), now);
    if (second % 10 == 9) {  // the writer flushes every 10 s
      r.TakePending();
      most = std::max(most, r.TrackedCount());
    }
    now += 1000;
  }
  // 12,000 tokens seen; at most about four windows' worth (20 per second) are held.
  EXPECT_LE(most, 4u * 60 * 20 + 200);
  EXPECT_GT(most, 0u);
}

// Request threads touching while the writer takes the queue and rotates the coalescing state
// (runs under TSan in CI). Every token touched is handed to the writer, at most once per
// thread that touched it (each thread touches each token once; how often depends on how far
// apart the threads' times are, which scheduling decides).
TEST(UsageRecorderTest, ConcurrentTouchesAndFlushes) {
  UsageRecorder r(kWindow);
  constexpr int kThreads = 3;
  constexpr int kTokens = 3000;
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int n = 0; n < kThreads; ++n) {
    threads.emplace_back([&, n] {
      // Time moves 100 ms per token: 300 s in all, so generations rotate several times.
      for (int i = 0; i < kTokens; ++i) r.Touch("t-" + std::to_string(i), kStart + i * 100 + n);
      --running;
    });
  }
  std::vector<store::ApiTokenUse> written;
  while (running > 0) {
    auto taken = r.TakePending();
    written.insert(written.end(), taken.begin(), taken.end());
  }
  for (auto& t : threads) t.join();
  auto taken = r.TakePending();
  written.insert(written.end(), taken.begin(), taken.end());

  std::map<std::string, int> handed;
  for (const auto& use : written) ++handed[use.id];
  EXPECT_EQ(handed.size(), static_cast<size_t>(kTokens));
  for (const auto& [id, times] : handed) EXPECT_LE(times, kThreads) << id;
  EXPECT_LE(r.TrackedCount(), static_cast<size_t>(kTokens));
}

TEST(UsageRecorderTest, RestoreKeepsTheNewerTime) {
  UsageRecorder r(kWindow);
  r.Touch("a", kStart + 10);
  r.Restore({{"a", kStart + 5, "192.0.2.5", "old"}, {"b", kStart + 7, "192.0.2.7", "b-agent"}});
  EXPECT_EQ(Sorted(r.TakePending()), (std::vector<std::pair<std::string, UnixMillis>>{
                                         {"a", kStart + 10}, {"b", kStart + 7}}));
  EXPECT_EQ(r.PendingCount(), 0u);
}

// The address and User-Agent travel with the use they were seen at: a coalesced touch changes
// neither the time nor the details; the next queued one brings its own.
TEST(UsageRecorderTest, DetailsGoWithTheQueuedUse) {
  UsageRecorder r(kWindow);
  r.Touch("a", kStart, {"203.0.113.1", "curl/8.0"});
  r.Touch("a", kStart + 1000, {"203.0.113.2", "other"});  // coalesced
  auto taken = r.TakePending();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], (store::ApiTokenUse{"a", kStart, "203.0.113.1", "curl/8.0"}));
  r.Touch("a", kStart + kWindow, {"2001:db8::1", ""});
  taken = r.TakePending();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], (store::ApiTokenUse{"a", kStart + kWindow, "2001:db8::1", ""}));
  // Restore keeps the newer use with its details.
  r.Restore({{"a", kStart + 1, "192.0.2.1", "older"}});
  r.Restore({{"a", kStart + 2, "192.0.2.2", "newer"}});
  taken = r.TakePending();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], (store::ApiTokenUse{"a", kStart + 2, "192.0.2.2", "newer"}));
}

TEST(UsageRecorderTest, UserAgentsAreClippedToValidUtf8) {
  EXPECT_EQ(ClipUserAgent("Mozilla/5.0 (X11) \x1b[31m"), "Mozilla/5.0 (X11) \x1b[31m");
  const std::string long_ua(300, 'x');
  EXPECT_EQ(ClipUserAgent(long_ua), std::string(kMaxRecordedUserAgentBytes, 'x'));
  // A two-byte character (U+00E9) straddling byte 200 is dropped whole, not cut in half.
  const std::string straddling = std::string(199, 'x') + "\xc3\xa9" + "tail";
  EXPECT_EQ(ClipUserAgent(straddling), std::string(199, 'x'));
  // One that fits is kept.
  EXPECT_EQ(ClipUserAgent(std::string(198, 'x') + "\xc3\xa9z"), std::string(198, 'x') + "\xc3\xa9");
  // Bytes that are not UTF-8, and NUL, become the text \xNN.
  EXPECT_EQ(ClipUserAgent(std::string("a\xff"
                                      "b") +
                          '\0' + "c"),
            "a\\xffb\\x00c");
  EXPECT_EQ(ClipUserAgent("\xc3("), "\\xc3(");
  EXPECT_EQ(ClipUserAgent("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

}  // namespace
}  // namespace cl::domain
