// Tests for domain/scanner_key_cache.h: the key list shape and its bounds, an unknown key
// identifier refetching once per cooldown (a flood of made-up identifiers costs one fetch), the
// last good list kept when a refetch fails, and old lists refetched.
#include "domain/scanner_key_cache.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json.h"
#include "crypto/ecdsa_testing.h"

namespace cl::domain {
namespace {

std::string KeyList(const std::vector<std::pair<std::string, const crypto::TestEcdsaKey*>>& keys) {
  boost::json::array list;
  for (const auto& [id, key] : keys) {
    list.push_back({{"key_identifier", id}, {"key", key->PublicPem()}, {"is_current", true}});
  }
  return SerializeJson(boost::json::object{{"public_keys", list}});
}

class ScannerKeyCacheTest : public ::testing::Test {
 protected:
  ScannerKeyCache::Options options_{.cooldown = 60 * kMillisPerSecond,
                                    .cold_retry = 5 * kMillisPerSecond,
                                    .max_age = kMillisPerHour,
                                    .max_waiting = 2};
  FakeClock clock_;
  crypto::TestEcdsaKey k1_ = crypto::TestEcdsaKey::Generate();
  crypto::TestEcdsaKey k2_ = crypto::TestEcdsaKey::Generate();
  std::string served_ = KeyList({{"k1", &k1_}});
  bool fail_ = false;
  int fetches_ = 0;
  ScannerKeyCache cache_{[this]() -> Result<std::string> {
                           ++fetches_;
                           if (fail_) return Fail(Error::Unavailable("down"));
                           return served_;
                         },
                         clock_, options_};
};

TEST_F(ScannerKeyCacheTest, FetchesOnceAndServesKnownKeysFromMemory) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cache_.Find("k1"));
  EXPECT_EQ(fetches_, 1);
}

TEST_F(ScannerKeyCacheTest, AnUnknownIdRefetchesOnceThenWaitsForTheCooldown) {
  ASSERT_TRUE(cache_.Find("k1"));
  // The scanner rotates: the next report names k2, which one refetch finds.
  served_ = KeyList({{"k1", &k1_}, {"k2", &k2_}});
  clock_.Advance(kMillisPerSecond);
  auto k2 = cache_.Find("k2");
  ASSERT_TRUE(k2) << k2.error().ToString();
  EXPECT_EQ(fetches_, 2);
  // A flood of made-up ids within the cooldown: no more fetches, each refused at once.
  for (int i = 0; i < 100; ++i) {
    auto r = cache_.Find("made-up-" + std::to_string(i));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().Is(Reason::kBadSignature));
  }
  EXPECT_EQ(fetches_, 2);
  // After the cooldown, one more refetch for an unknown id, then quiet again.
  clock_.Advance(options_.cooldown);
  EXPECT_FALSE(cache_.Find("made-up-a"));
  EXPECT_FALSE(cache_.Find("made-up-b"));
  EXPECT_EQ(fetches_, 3);
}

TEST_F(ScannerKeyCacheTest, KeepsTheLastGoodListWhenARefetchFails) {
  ASSERT_TRUE(cache_.Find("k1"));
  fail_ = true;
  clock_.Advance(options_.max_age);  // old: refetched, which fails
  ASSERT_TRUE(cache_.Find("k1"));
  EXPECT_EQ(fetches_, 2);
  ASSERT_TRUE(cache_.Find("k1"));  // not retried before the cooldown
  EXPECT_EQ(fetches_, 2);
}

TEST_F(ScannerKeyCacheTest, AnOldListIsRefetchedSoAWithdrawnKeyStopsVerifying) {
  ASSERT_TRUE(cache_.Find("k1"));
  served_ = KeyList({{"k2", &k2_}});
  clock_.Advance(options_.max_age);
  auto gone = cache_.Find("k1");
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().Is(Reason::kBadSignature));
  EXPECT_TRUE(cache_.Find("k2"));
}

TEST_F(ScannerKeyCacheTest, AColdCacheThatCannotFetchIsUnavailableAndRetriesLater) {
  fail_ = true;
  auto r = cache_.Find("k1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Error::Code::kUnavailable);
  EXPECT_FALSE(cache_.Find("k1"));
  EXPECT_EQ(fetches_, 1);  // within cold_retry: not fetched again
  fail_ = false;
  clock_.Advance(options_.cold_retry);
  EXPECT_TRUE(cache_.Find("k1"));
  EXPECT_EQ(fetches_, 2);
}

TEST(ParseScannerKeyList, TakesP256KeysAndSkipsOthers) {
  auto p256 = crypto::TestEcdsaKey::Generate();
  auto p384 = crypto::TestEcdsaKey::Generate("secp384r1");
  auto keys = ParseScannerKeyList(KeyList({{"good", &p256}, {"wrong-curve", &p384}}));
  ASSERT_TRUE(keys) << keys.error().ToString();
  EXPECT_EQ(keys->size(), 1u);
  EXPECT_TRUE(keys->count("good"));
  EXPECT_FALSE(ParseScannerKeyList(KeyList({{"wrong-curve", &p384}})));  // nothing usable
  EXPECT_FALSE(ParseScannerKeyList("[]"));
  EXPECT_FALSE(ParseScannerKeyList(R"({"public_keys":{}})"));
  EXPECT_FALSE(ParseScannerKeyList("not json"));
}

TEST(ParseScannerKeyList, RefusesMoreThanTheBoundOfKeys) {
  auto key = crypto::TestEcdsaKey::Generate();
  std::vector<std::pair<std::string, const crypto::TestEcdsaKey*>> many;
  for (size_t i = 0; i <= kMaxScannerKeys; ++i) many.push_back({"k" + std::to_string(i), &key});
  EXPECT_FALSE(ParseScannerKeyList(KeyList(many)));
  many.pop_back();
  EXPECT_TRUE(ParseScannerKeyList(KeyList(many)));
}

}  // namespace
}  // namespace cl::domain
