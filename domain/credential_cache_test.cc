// CredentialCache on its own: freshness, kind, the bound, and Forget against loads in flight.
#include "domain/credential_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace cl::domain {
namespace {

constexpr UnixMillis kRevalidate = 1000;

crypto::Digest256 Key(uint8_t seed) {
  crypto::Digest256 key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  return key;
}

std::string Hex(const crypto::Digest256& key) {
  return crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

std::shared_ptr<CachedCredential> Session(uint8_t seed, UnixMillis fetched_at) {
  auto e = std::make_shared<CachedCredential>();
  e->key = Key(seed);
  e->kind = crypto::CredentialKind::kSession;
  e->record = store::Session{};
  e->fetched_at = fetched_at;
  return e;
}

TEST(CredentialCache, FreshEntriesOfTheRightKindOnly) {
  CredentialCache cache(10, kRevalidate);
  uint64_t epoch = 0;
  EXPECT_EQ(cache.FindFresh(Key(1), crypto::CredentialKind::kSession, 0, &epoch), nullptr);
  ASSERT_TRUE(cache.Insert(Session(1, 0), epoch, 0));
  EXPECT_NE(cache.FindFresh(Key(1), crypto::CredentialKind::kSession, kRevalidate - 1), nullptr);
  EXPECT_EQ(cache.FindFresh(Key(1), crypto::CredentialKind::kApiToken, 1), nullptr);
  // Stale at the bound: the caller reloads.
  EXPECT_EQ(cache.FindFresh(Key(1), crypto::CredentialKind::kSession, kRevalidate), nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(CredentialCache, StaleEntriesAreDroppedAtTheNextInsert) {
  CredentialCache cache(10, kRevalidate);
  ASSERT_TRUE(cache.Insert(Session(1, 0), 0, 0));
  ASSERT_TRUE(cache.Insert(Session(2, 2 * kRevalidate), 0, 2 * kRevalidate));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.FindFresh(Key(2), crypto::CredentialKind::kSession, 2 * kRevalidate), nullptr);
}

TEST(CredentialCache, StaysWithinItsBound) {
  CredentialCache cache(3, kMillisPerHour);
  for (uint8_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(cache.Insert(Session(i, i), 0, i));
    EXPECT_LE(cache.size(), 3u);
  }
  // The newest entry is always kept.
  EXPECT_NE(cache.FindFresh(Key(9), crypto::CredentialKind::kSession, 10), nullptr);
}

TEST(CredentialCache, ForgetDropsAtOnceAndRefusesLoadsThatOverlappedIt) {
  CredentialCache cache(10, kRevalidate);
  ASSERT_TRUE(cache.Insert(Session(1, 0), 0, 0));
  uint64_t epoch = 0;
  EXPECT_EQ(cache.FindFresh(Key(2), crypto::CredentialKind::kSession, 0, &epoch), nullptr);
  cache.Forget(Hex(Key(1)));
  EXPECT_EQ(cache.FindFresh(Key(1), crypto::CredentialKind::kSession, 0), nullptr);
  // Key(2) was read before the Forget: it may predate a revocation, so it is not cached.
  EXPECT_FALSE(cache.Insert(Session(2, 0), epoch, 0));
  EXPECT_EQ(cache.size(), 0u);
  cache.FindFresh(Key(2), crypto::CredentialKind::kSession, 0, &epoch);
  EXPECT_TRUE(cache.Insert(Session(2, 0), epoch, 0));
  cache.ForgetAll();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(CredentialCache, ForgetByAnOlderPeppersHashReachesTheEntry) {
  CredentialCache cache(10, kRevalidate);
  const std::string old_hash = Hex(Key(200));
  ASSERT_TRUE(cache.Insert(Session(1, 0), 0, 0, old_hash));
  cache.Forget(old_hash);
  EXPECT_EQ(cache.FindFresh(Key(1), crypto::CredentialKind::kSession, 0), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace cl::domain
