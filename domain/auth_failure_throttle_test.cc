// Tests of AuthFailureThrottle with a fake clock.
#include "domain/auth_failure_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"

namespace cl::domain {
namespace {

class CountingRandom : public Random {
 public:
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(next_++);
  }

 private:
  uint8_t next_ = 1;
};

AuthThrottleConfig SmallConfig() {
  AuthThrottleConfig c;
  c.failure_limit = 5;
  c.window = 60 * kMillisPerSecond;
  c.ban_duration = 2 * kMillisPerSecond;
  return c;
}

class AuthFailureThrottleTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  CountingRandom random_;
};

TEST_F(AuthFailureThrottleTest, BansAddressAfterLimitWithinWindow) {
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(t.OnFailure("192.0.2.1", "")) << "failure " << i + 1 << " is answered normally";
    clock_.Advance(100);
  }
  auto refusal = t.OnFailure("192.0.2.1", "");
  ASSERT_TRUE(refusal);
  EXPECT_TRUE(refusal->address);
  EXPECT_FALSE(refusal->credential);
  EXPECT_EQ(refusal->retry_after, 2 * kMillisPerSecond - 100);
  // Another address is not affected.
  EXPECT_FALSE(t.OnFailure("192.0.2.2", ""));
}

TEST_F(AuthFailureThrottleTest, WindowBoundaryResetsTheCount) {
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(t.OnFailure("192.0.2.1", ""));
  // The window counts from the first failure: at exactly 60 s it is over.
  clock_.Advance(60 * kMillisPerSecond);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(t.OnFailure("192.0.2.1", ""));
  clock_.Advance(60 * kMillisPerSecond - 1);
  // Still inside the second window: the fifth failure of it bans.
  EXPECT_FALSE(t.OnFailure("192.0.2.1", ""));
  EXPECT_TRUE(t.OnFailure("192.0.2.1", ""));
}

TEST_F(AuthFailureThrottleTest, BanExpiresAndCountingStartsAgain) {
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.OnFailure("192.0.2.1", ""));
  clock_.Advance(2 * kMillisPerSecond - 1);
  auto refusal = t.OnFailure("192.0.2.1", "");
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->retry_after, 1);
  clock_.Advance(1);
  // Refused failures did not count or extend the ban; after it a fresh count starts.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.OnFailure("192.0.2.1", "")) << i;
  EXPECT_TRUE(t.OnFailure("192.0.2.1", ""));
}

TEST_F(AuthFailureThrottleTest, CredentialIsTrackedAcrossAddresses) {
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(t.OnFailure("192.0.2." + std::to_string(i + 1), "clapi_stolen"));
  }
  auto refusal = t.OnFailure("198.51.100.7", "clapi_stolen");
  ASSERT_TRUE(refusal);
  EXPECT_TRUE(refusal->credential);
  EXPECT_FALSE(refusal->address);
  // Another credential from a fresh address is fine.
  EXPECT_FALSE(t.OnFailure("198.51.100.8", "clapi_other"));
}

TEST_F(AuthFailureThrottleTest, SuccessIsNeverConsulted) {
  // The contract is that callers only report failures: a banned address presenting a valid
  // credential is never asked about. Here: a ban on an address does not ban a credential that
  // later fails elsewhere, and refusals do not leak into other keys.
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 5; ++i) t.OnFailure("192.0.2.1", "");
  ASSERT_TRUE(t.OnFailure("192.0.2.1", "clapi_x"));
  EXPECT_FALSE(t.OnFailure("192.0.2.9", "clapi_x"));
}

TEST_F(AuthFailureThrottleTest, ZeroLimitDisables) {
  AuthThrottleConfig c = SmallConfig();
  c.failure_limit = 0;
  AuthFailureThrottle t(c, clock_, random_);
  EXPECT_FALSE(t.enabled());
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(t.OnFailure("192.0.2.1", "x"));
  EXPECT_EQ(t.TrackedKeys(), 0u);
}

TEST_F(AuthFailureThrottleTest, ExemptAddressesAreNotCountedButCredentialsAre) {
  AuthThrottleConfig c = SmallConfig();
  c.exempt.push_back(*Cidr::Parse("10.0.0.0/8"));
  AuthFailureThrottle t(c, clock_, random_);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(t.OnFailure("10.1.2.3", ""));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.OnFailure("10.1.2.3", "clses_guess"));
  auto refusal = t.OnFailure("10.1.2.3", "clses_guess");
  ASSERT_TRUE(refusal);
  EXPECT_TRUE(refusal->credential);
  EXPECT_FALSE(refusal->address);
}

TEST_F(AuthFailureThrottleTest, Ipv6IsTrackedPer64AndMappedIpv4AsIpv4) {
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(t.OnFailure("2001:db8:1:2::" + std::to_string(i + 1), ""));
  }
  EXPECT_TRUE(t.OnFailure("2001:db8:1:2:ffff::1", "")) << "same /64";
  EXPECT_FALSE(t.OnFailure("2001:db8:1:3::1", "")) << "another /64";

  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.OnFailure("203.0.113.5", ""));
  EXPECT_TRUE(t.OnFailure("::ffff:203.0.113.5", ""));
}

TEST_F(AuthFailureThrottleTest, BoundedMemoryEvictsOldest) {
  AuthThrottleConfig c = SmallConfig();
  c.max_keys = 160;  // 10 per shard
  AuthFailureThrottle t(c, clock_, random_);
  for (int i = 0; i < 10'000; ++i) {
    t.OnFailure("", "guess-" + std::to_string(i));
    EXPECT_LE(t.TrackedKeys(), 160u);
  }
  EXPECT_GT(t.TrackedKeys(), 100u);
}

TEST_F(AuthFailureThrottleTest, StaleEntriesArePruned) {
  AuthThrottleConfig c = SmallConfig();
  c.max_keys = 16 * 1000;
  AuthFailureThrottle t(c, clock_, random_);
  for (int i = 0; i < 2000; ++i) t.OnFailure("", "old-" + std::to_string(i));
  EXPECT_EQ(t.TrackedKeys(), 2000u);
  clock_.Advance(61 * kMillisPerSecond);
  // Each insert drops up to a few stale entries from the cold end of its shard.
  for (int i = 0; i < 2000; ++i) t.OnFailure("", "new-" + std::to_string(i));
  EXPECT_EQ(t.TrackedKeys(), 2000u);
}

TEST_F(AuthFailureThrottleTest, BanIsLoggedWithoutTheCredential) {
  std::string sink;
  SetLogSinkForTest(&sink);
  AuthFailureThrottle t(SmallConfig(), clock_, random_);
  for (int i = 0; i < 5; ++i) t.OnFailure("192.0.2.44", "clapi_SECRETVALUE");
  SetLogSinkForTest(nullptr);
  EXPECT_NE(sink.find("client address banned"), std::string::npos) << sink;
  EXPECT_NE(sink.find("192.0.2.44"), std::string::npos) << sink;
  EXPECT_NE(sink.find("credential banned"), std::string::npos) << sink;
  EXPECT_EQ(sink.find("SECRETVALUE"), std::string::npos) << sink;
  // One line per ban, not per refused failure.
  sink.clear();
  SetLogSinkForTest(&sink);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.OnFailure("192.0.2.44", "clapi_SECRETVALUE"));
  SetLogSinkForTest(nullptr);
  EXPECT_EQ(sink, "");
}

TEST_F(AuthFailureThrottleTest, ConcurrentFailuresBanExactlyOnceAndStayBounded) {
  AuthThrottleConfig c = SmallConfig();
  c.failure_limit = 1000;
  c.max_keys = 1600;
  AuthFailureThrottle t(c, clock_, random_);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 8; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < 2000; ++i) {
        // A shared address (banned after 1000 counted failures) and private credentials.
        if (t.OnFailure("192.0.2.1", "t" + std::to_string(th) + "-" + std::to_string(i))) {
          refused.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  // 16000 failures: exactly 1000 counted before the ban (later ones are refused, never lost).
  EXPECT_EQ(refused.load(), 16000 - 1000);
  EXPECT_LE(t.TrackedKeys(), 1600u);
}

}  // namespace
}  // namespace cl::domain

namespace cl::domain {
namespace {

class SharedBansTest : public ::testing::Test {
 protected:
  // Two instances with the same configuration and credential hash key; A's bans go to B the
  // way the server wires them (through the database in production).
  SharedBansTest() : a_(Config(), clock_, random_), b_(Config(), clock_, random_) {
    a_.SetBanListener([this](const std::string& key) { announced_.push_back(key); });
  }
  static AuthThrottleConfig Config() {
    AuthThrottleConfig c = SmallConfig();
    c.credential_hash_key = "shared-key-derived-from-the-pepper";
    return c;
  }
  FakeClock clock_;
  CountingRandom random_;
  AuthFailureThrottle a_, b_;
  std::vector<std::string> announced_;
};

TEST_F(SharedBansTest, ABanDecidedOnOneInstanceAppliesOnAnother) {
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(a_.OnFailure("203.0.113.7", "clapi_forged"));
  // The address and the credential reached the limit together: two announcements, neither
  // holding the credential itself.
  ASSERT_EQ(announced_.size(), 2u);
  for (const auto& key : announced_) {
    EXPECT_EQ(key.find("clapi_forged"), std::string::npos);
    EXPECT_TRUE(b_.ApplyBan(key)) << key;
  }
  // B refuses the address's next failure (even with another credential) and the credential's
  // (even from another address) without having counted anything itself.
  auto by_address = b_.OnFailure("203.0.113.7", "clapi_other");
  ASSERT_TRUE(by_address);
  EXPECT_TRUE(by_address->address);
  auto by_credential = b_.OnFailure("198.51.100.1", "clapi_forged");
  ASSERT_TRUE(by_credential);
  EXPECT_TRUE(by_credential->credential);
  EXPECT_FALSE(b_.OnFailure("198.51.100.2", "clapi_innocent"));
  // A's own announcement coming back changes nothing.
  EXPECT_FALSE(a_.ApplyBan(announced_[0]));
  // The ban lasts B's ban_duration.
  clock_.Advance(2 * kMillisPerSecond);
  EXPECT_FALSE(b_.OnFailure("203.0.113.7", "clapi_other"));
}

TEST_F(SharedBansTest, Ipv6BansCoverTheSlash64) {
  for (int i = 0; i < 5; ++i) (void)a_.OnFailure("2001:db8:1:2::10", "");
  ASSERT_EQ(announced_.size(), 1u);
  ASSERT_TRUE(b_.ApplyBan(announced_[0]));
  EXPECT_TRUE(b_.OnFailure("2001:db8:1:2:ffff::1", ""));
  EXPECT_FALSE(b_.OnFailure("2001:db8:1:3::1", ""));
}

TEST_F(SharedBansTest, MalformedAnnouncementsAreIgnored) {
  for (const char* bad : {"", "a:", "x:1.2.3.4", "a:1.2.3.4 OR 1=1", "c:abc",
                          "c:0123456789abcdef0123456789ABCDEF", "a:<script>", "clapi_x"}) {
    EXPECT_FALSE(b_.ApplyBan(bad)) << bad;
  }
  EXPECT_EQ(b_.TrackedKeys(), 0u);
  AuthThrottleConfig off = Config();
  off.failure_limit = 0;
  AuthFailureThrottle disabled(off, clock_, random_);
  EXPECT_FALSE(disabled.ApplyBan("a:203.0.113.7"));
}

}  // namespace
}  // namespace cl::domain
