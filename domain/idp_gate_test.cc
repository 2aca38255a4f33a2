// IdpCallGate / GatedIdentityProvider: at most max_in_flight IdP calls run at once, and the
// others are refused at once (never queued), whichever IdentityProvider method they call.
#include "domain/idp_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "domain/idp_testing.h"

namespace cl::domain {
namespace {

using namespace std::chrono_literals;

// An IdP that holds every call until Release(), like one that answers slowly.
class BlockingIdp final : public IdentityProvider {
 public:
  Result<std::string> AuthorizationUrl(const std::string&, const std::string&,
                                       const std::string&) override {
    Hold();
    return std::string("https://idp.test/auth");
  }
  Result<VerifiedIdentity> ExchangeCode(const std::string&, const std::string&,
                                        const std::string&) override {
    Hold();
    return VerifiedIdentity{"https://idp.test", "alice", "", false, ""};
  }
  Result<DeviceAuthorizationStart> StartDeviceAuthorization() override {
    Hold();
    return DeviceAuthorizationStart{};
  }
  Result<DevicePollOutcome> PollDevice(const std::string&) override {
    Hold();
    return DevicePollOutcome{};
  }

  // Waits until `n` calls are held (false after 10 s).
  bool WaitHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return held_ == n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }

 private:
  void Hold() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    ++held_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    --held_;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;        // GUARDED_BY(mu_)
  int held_ = 0;           // GUARDED_BY(mu_)
  bool released_ = false;  // GUARDED_BY(mu_)
};

// One call of each IdentityProvider method, reduced to its error reason ("" on success).
struct Method {
  const char* name;
  std::function<std::string(IdentityProvider&)> call;
};
template <typename T>
std::string ReasonOf(const Result<T>& r) {
  return r ? "" : r.error().reason();
}
const std::vector<Method>& Methods() {
  static const std::vector<Method> methods = {
      {"AuthorizationUrl",
       [](IdentityProvider& idp) { return ReasonOf(idp.AuthorizationUrl("s", "n", "c")); }},
      {"ExchangeCode",
       [](IdentityProvider& idp) { return ReasonOf(idp.ExchangeCode("c", "v", "n")); }},
      {"StartDeviceAuthorization",
       [](IdentityProvider& idp) { return ReasonOf(idp.StartDeviceAuthorization()); }},
      {"PollDevice", [](IdentityProvider& idp) { return ReasonOf(idp.PollDevice("d")); }},
  };
  return methods;
}

TEST(IdpCallGate, AdmitsUpToTheCapAndRefusesTheRestAtOnceForEveryMethod) {
  for (const Method& m : Methods()) {
    SCOPED_TRACE(m.name);
    constexpr int kCap = 3;
    constexpr int kCallers = 12;
    std::atomic<int> refusals_seen{0};
    IdpCallGate gate(kCap, [&] { ++refusals_seen; });
    auto owned = std::make_unique<BlockingIdp>();
    BlockingIdp& idp = *owned;
    GatedIdentityProvider gated(std::move(owned), gate);

    // kCap callers get in and are held by the IdP.
    std::vector<std::string> admitted(kCap);
    std::vector<std::thread> holders;
    for (int i = 0; i < kCap; ++i) {
      holders.emplace_back([&, i] { admitted[i] = m.call(gated); });
    }
    ASSERT_TRUE(idp.WaitHeld(kCap));
    EXPECT_EQ(gate.in_flight(), kCap);

    // Everyone else is refused while they are held: these calls return although the IdP
    // never answers, so none of them waited for a slot.
    std::mutex refused_mu;
    std::vector<std::string> refused;
    std::vector<std::thread> others;
    for (int i = kCap; i < kCallers; ++i) {
      others.emplace_back([&] {
        std::string reason = m.call(gated);
        std::lock_guard<std::mutex> lock(refused_mu);
        refused.push_back(reason);
      });
    }
    for (auto& t : others) t.join();
    EXPECT_EQ(idp.entered(), kCap);
    ASSERT_EQ(refused.size(), static_cast<size_t>(kCallers - kCap));
    for (const auto& reason : refused) EXPECT_EQ(reason, "idp_unavailable");
    EXPECT_EQ(gate.refused(), kCallers - kCap);
    EXPECT_EQ(refusals_seen, kCallers - kCap);

    idp.Release();
    for (auto& t : holders) t.join();
    for (const auto& reason : admitted) EXPECT_EQ(reason, "");
    EXPECT_EQ(gate.in_flight(), 0);
    EXPECT_EQ(m.call(gated), "");  // slots are given back
  }
}

TEST(IdpCallGate, FailedCallsGiveTheirSlotBack) {
  IdpCallGate gate(1);
  auto owned = std::make_unique<testing::FakeIdp>();
  testing::FakeIdp& fake = *owned;
  GatedIdentityProvider gated(std::move(owned), gate);
  fake.down = true;
  for (int i = 0; i < 5; ++i) {
    auto r = gated.AuthorizationUrl("s", "n", "c");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "idp down");  // the IdP's own error, not the gate's
    EXPECT_EQ(gate.in_flight(), 0);
  }
  fake.down = false;
  auto bad = gated.ExchangeCode("wrong-code", "v", "n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason(), "invalid_grant");
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_EQ(gate.refused(), 0);
  EXPECT_TRUE(gated.AuthorizationUrl("s", "n", "c"));
}

TEST(IdpCallGate, BusyIsA503IdpUnavailable) {
  Error e = IdpCallGate::Busy();
  EXPECT_TRUE(e.IsUnavailable());
  EXPECT_EQ(e.reason(), "idp_unavailable");
}

TEST(IdpCallGate, CapBelowOneCountsAsOne) {
  IdpCallGate gate(0);
  EXPECT_EQ(gate.max_in_flight(), 1);
  auto r = gate.Call([]() -> Result<int> { return 7; });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 7);
}

}  // namespace
}  // namespace cl::domain
