// Tests of JwksCache: cold fetch, unknown-kid refresh cooldown (from unknown-kid refetches only),
// last good set on failure, refetch after the maximum age (withdrawn keys).
#include "oidc/jwks_cache.h"

#include <gtest/gtest.h>

#include "crypto/jose_testing.h"

namespace cl::oidc {
namespace {

using crypto::TestSigningKey;

class JwksCacheTest : public ::testing::Test {
 protected:
  JwksCacheTest()
      : key1_(TestSigningKey::GenerateEcP256("k1")), key2_(TestSigningKey::GenerateEcP256("k2")) {}

  JwksCache::FetchTextFn Fetcher() {
    return [this](const std::string& url) -> Result<std::string> {
      ++fetches_;
      last_url_ = url;
      if (!up_) return Fail(Error::Unavailable("connection refused", Reason::kIdpUnavailable));
      return body_;
    };
  }

  FakeClock clock_;
  TestSigningKey key1_, key2_;
  std::string body_ = crypto::JwksJson({&key1_});
  bool up_ = true;
  int fetches_ = 0;
  std::string last_url_;
};

TEST_F(JwksCacheTest, FetchesOnceWhenColdThenServesFromMemory) {
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_);
  auto a = cache.Get();
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_NE((*a)->FindByKid("k1"), nullptr);
  auto b = cache.Get();
  ASSERT_TRUE(b);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(fetches_, 1);
  EXPECT_EQ(last_url_, "https://idp.example.com/jwks");
}

TEST_F(JwksCacheTest, ColdAndDownIsIdpUnavailable) {
  up_ = false;
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_);
  auto r = cache.Get();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsUnavailable());
  EXPECT_EQ(r.error().reason(), "idp_unavailable");
  // Fails fast for a while rather than hitting a dead IdP on every request...
  EXPECT_FALSE(cache.Get());
  EXPECT_EQ(fetches_, 1);
  // ...and recovers once it is back.
  up_ = true;
  clock_.Advance(10 * kMillisPerSecond);
  auto ok = cache.Get();
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(fetches_, 2);
}

TEST_F(JwksCacheTest, UnknownKidRefreshesAtMostOncePerCooldown) {
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_);
  ASSERT_TRUE(cache.Get());
  EXPECT_EQ(fetches_, 1);
  // The IdP rotates to k2: the first token naming it refetches.
  body_ = crypto::JwksJson({&key1_, &key2_});
  clock_.Advance(5 * kMillisPerSecond);
  auto r = cache.RefreshForUnknownKid();
  ASSERT_TRUE(r);
  EXPECT_NE((*r)->FindByKid("k2"), nullptr);
  EXPECT_EQ(fetches_, 2);
  // Tokens with made-up kids cannot make us hammer the IdP.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(10 * kMillisPerSecond);
    ASSERT_TRUE(cache.RefreshForUnknownKid());
  }
  EXPECT_EQ(fetches_, 2);
  clock_.Advance(10 * kMillisPerSecond - 1);  // 60 s - 1 ms after the unknown-kid refetch
  ASSERT_TRUE(cache.RefreshForUnknownKid());
  EXPECT_EQ(fetches_, 2);
  clock_.Advance(1);  // 60 s after it
  ASSERT_TRUE(cache.RefreshForUnknownKid());
  EXPECT_EQ(fetches_, 3);
}

// A rotation right after any fetch that was not itself an unknown-kid refetch (the cold one, the
// periodic one) is picked up by the very next token naming the new key: those fetches do not
// start the cooldown.
TEST_F(JwksCacheTest, RotationRightAfterColdOrPeriodicFetchIsPickedUpAtOnce) {
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_,
                  /*cooldown=*/60 * kMillisPerSecond, /*max_age=*/10 * kMillisPerMinute);
  ASSERT_TRUE(cache.Get());  // cold fetch
  EXPECT_EQ(fetches_, 1);
  body_ = crypto::JwksJson({&key2_});  // k1 withdrawn, k2 new
  clock_.Advance(1 * kMillisPerSecond);
  auto r = cache.RefreshForUnknownKid();
  ASSERT_TRUE(r);
  EXPECT_NE((*r)->FindByKid("k2"), nullptr);
  EXPECT_EQ(fetches_, 2);

  // Eleven minutes later the periodic refetch runs, and the IdP rotates right after it.
  TestSigningKey key3 = TestSigningKey::GenerateEcP256("k3");
  clock_.Advance(11 * kMillisPerMinute);
  ASSERT_TRUE(cache.Get());
  EXPECT_EQ(fetches_, 3);
  body_ = crypto::JwksJson({&key3});
  clock_.Advance(1 * kMillisPerSecond);
  r = cache.RefreshForUnknownKid();
  ASSERT_TRUE(r);
  EXPECT_NE((*r)->FindByKid("k3"), nullptr);
  EXPECT_EQ(fetches_, 4);
}

// The bound that protects an issuer from tokens with random kids (CI tokens come from anyone):
// over any period T, unknown-kid refetches number at most T / cooldown + 1, for every cooldown,
// on top of at most T / max_age + 1 periodic refetches.
TEST_F(JwksCacheTest, RandomKidFloodIsBoundedByTheCooldown) {
  for (UnixMillis cooldown :
       {1 * kMillisPerSecond, 5 * kMillisPerSecond, 60 * kMillisPerSecond, 10 * kMillisPerMinute}) {
    SCOPED_TRACE(cooldown);
    fetches_ = 0;
    const UnixMillis max_age = 10 * kMillisPerMinute;
    JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_, cooldown, max_age);
    ASSERT_TRUE(cache.Get());
    const UnixMillis period = 30 * kMillisPerMinute;
    for (UnixMillis t = 0; t < period; t += 250) {
      ASSERT_TRUE(cache.Get());
      ASSERT_TRUE(cache.RefreshForUnknownKid());
      clock_.Advance(250);
    }
    const int refetches = fetches_ - 1;
    EXPECT_LE(refetches, period / cooldown + 1 + period / max_age + 1);
    // ...and it does refetch (a cache that never refetched would pass the bound).
    EXPECT_GE(refetches, period / cooldown);
  }
}

TEST_F(JwksCacheTest, KeepsLastGoodKeysWhenRefreshFails) {
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_);
  ASSERT_TRUE(cache.Get());
  clock_.Advance(120 * kMillisPerSecond);
  up_ = false;
  auto r = cache.RefreshForUnknownKid();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_NE((*r)->FindByKid("k1"), nullptr);
  EXPECT_EQ(fetches_, 2);
  // A malformed document is a failure too.
  up_ = true;
  body_ = "{\"keys\": 17}";
  clock_.Advance(120 * kMillisPerSecond);
  r = cache.RefreshForUnknownKid();
  ASSERT_TRUE(r);
  EXPECT_NE((*r)->FindByKid("k1"), nullptr);
  auto g = cache.Get();
  ASSERT_TRUE(g);
  EXPECT_NE((*g)->FindByKid("k1"), nullptr);
}

TEST_F(JwksCacheTest, EmptyKeySetIsNotAccepted) {
  body_ = R"({"keys":[]})";
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_);
  auto r = cache.Get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "idp_unavailable");
}

TEST_F(JwksCacheTest, WithdrawnKeyStopsVerifyingOnceTheSetIsOlderThanMaxAge) {
  body_ = crypto::JwksJson({&key1_, &key2_});
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_, JwksCache::kDefaultCooldown,
                  /*max_age=*/10 * kMillisPerMinute);
  ASSERT_TRUE(cache.Get());
  // The issuer withdraws k1. Tokens naming k1 never trigger an unknown-kid refetch...
  body_ = crypto::JwksJson({&key2_});
  clock_.Advance(10 * kMillisPerMinute - 1);
  auto before = cache.Get();
  ASSERT_TRUE(before);
  EXPECT_NE((*before)->FindByKid("k1"), nullptr);
  EXPECT_EQ(fetches_, 1);
  // ...but the held set expires, and the refetched one no longer has k1.
  clock_.Advance(1);
  auto after = cache.Get();
  ASSERT_TRUE(after);
  EXPECT_EQ(fetches_, 2);
  EXPECT_EQ((*after)->FindByKid("k1"), nullptr);
  EXPECT_NE((*after)->FindByKid("k2"), nullptr);
  // Fresh again: served from memory.
  ASSERT_TRUE(cache.Get());
  EXPECT_EQ(fetches_, 2);
}

TEST_F(JwksCacheTest, FailedRefetchOfAnOldSetKeepsItAndRetriesAfterTheCooldown) {
  JwksCache cache("https://idp.example.com/jwks", Fetcher(), clock_,
                  /*cooldown=*/60 * kMillisPerSecond, /*max_age=*/10 * kMillisPerMinute);
  ASSERT_TRUE(cache.Get());
  up_ = false;
  clock_.Advance(10 * kMillisPerMinute);
  auto kept = cache.Get();  // refetch fails: the last good set answers
  ASSERT_TRUE(kept) << kept.error().ToString();
  EXPECT_NE((*kept)->FindByKid("k1"), nullptr);
  EXPECT_EQ(fetches_, 2);
  ASSERT_TRUE(cache.Get());  // within the cooldown: no new attempt
  EXPECT_EQ(fetches_, 2);
  up_ = true;
  body_ = crypto::JwksJson({&key2_});
  clock_.Advance(60 * kMillisPerSecond);
  auto fresh = cache.Get();
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fetches_, 3);
  EXPECT_EQ((*fresh)->FindByKid("k1"), nullptr);
}

}  // namespace
}  // namespace cl::oidc
