// CredentialCache on its own: freshness, kind, the bound, and Forget against loads in flight;
// and the packed fields of a cached entry (CompactText, OptionalMillis, CachedApiToken), which
// must give back exactly what they were given.
#include "domain/credential_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

RefPtr<CachedCredential> Session(uint8_t seed, UnixMillis fetched_at) {
  auto e = MakeRef<CachedCredential>();
  e->key = Key(seed);
  e->kind = crypto::CredentialKind::kSession;
  e->record = std::make_unique<CachedSession>();
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

TEST(CompactText, GivesBackExactlyTheTextItWasMadeFrom) {
  const std::vector<std::string> texts = {
      "",
      "a",
      "bench-1",
      "sixteen-chars-ok",                      // the longest inline text
      "seventeen-chars-x",                     // the shortest on the heap
      "3f0c6a52-9d7e-4b1a-8c2d-5e6f7a8b9c0d",  // a canonical UUID: 16 bytes
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      "3F0C6A52-9D7E-4B1A-8C2D-5E6F7A8B9C0D",  // upper case: not canonical, kept as text
      "3f0c6a52-9d7e-4b1a-8c2d-5e6f7a8b9c0dx",
      "3f0c6a529d7e4b1a8c2d5e6f7a8b9c0d",
      std::string("nul\0inside", 10),
      std::string(300, 'n'),
  };
  for (const std::string& text : texts) {
    CompactText t(text);
    EXPECT_EQ(t.str(), text);
    EXPECT_EQ(t.size(), text.size());
    EXPECT_EQ(t.empty(), text.empty());
    CompactText copy(t);
    EXPECT_EQ(copy.str(), text);
    CompactText moved(std::move(copy));
    EXPECT_EQ(moved.str(), text);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    CompactText assigned("something else that lives on the heap");
    assigned = moved;
    EXPECT_EQ(assigned.str(), text);
    EXPECT_EQ(moved.str(), text);
    assigned = CompactText("x");
    EXPECT_EQ(assigned.str(), "x");
  }
  EXPECT_EQ(sizeof(CompactText), 17u);
}

TEST(OptionalMillis, PacksAnOptionalInstant) {
  OptionalMillis none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none.get(), std::nullopt);
  EXPECT_EQ(none.value_or(7), 7);
  for (UnixMillis v : {UnixMillis{0}, UnixMillis{-1}, UnixMillis{1'700'000'000'000}}) {
    OptionalMillis some = std::optional<UnixMillis>(v);
    EXPECT_TRUE(some);
    EXPECT_EQ(*some, v);
    EXPECT_EQ(some.get(), std::optional<UnixMillis>(v));
    EXPECT_EQ(some.value_or(7), v);
  }
  EXPECT_EQ(sizeof(OptionalMillis), 8u);
}

TEST(CachedApiToken, RevocationReasonRoundTrips) {
  CachedApiToken t;
  EXPECT_EQ(t.revocation_reason(), std::nullopt);
  for (auto r : {store::RevocationReason::kManual, store::RevocationReason::kInactive,
                 store::RevocationReason::kLeaked, store::RevocationReason::kRotated}) {
    t.set_revocation_reason(r);
    EXPECT_EQ(t.revocation_reason(), std::optional<store::RevocationReason>(r));
  }
  t.set_revocation_reason(std::nullopt);
  EXPECT_EQ(t.revocation_reason(), std::nullopt);
}

TEST(CredentialCache, ScopesAreSharedAndDroppedWhenUnused) {
  CredentialCache cache(10, kRevalidate);
  const std::string org = "3f0c6a52-9d7e-4b1a-8c2d-5e6f7a8b9c0d";
  const std::optional<std::string> project = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
  auto a = cache.Scope(org, std::nullopt);
  auto b = cache.Scope(org, std::nullopt);
  auto c = cache.Scope(org, project);
  auto d = cache.Scope(org, std::string(""));  // present but empty is not absent
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_NE(a.get(), d.get());
  EXPECT_EQ(a->org_id, org);
  EXPECT_EQ(a->project_id, std::nullopt);
  EXPECT_EQ(c->org_id, org);
  EXPECT_EQ(c->project_id, project);
  EXPECT_EQ(d->project_id, std::optional<std::string>(""));
  EXPECT_EQ(cache.ScopeCount(), 3u);
  // Scopes no one holds go once the table has grown enough to be swept; held ones stay.
  for (int i = 0; i < 200; ++i) cache.Scope("org-" + std::to_string(i), std::nullopt);
  EXPECT_LT(cache.ScopeCount(), 100u);
  EXPECT_EQ(cache.Scope(org, project).get(), c.get());
  EXPECT_EQ(cache.Scope(org, std::nullopt).get(), a.get());
}

// The memory budget of a cached API token (the benchmark's bytes_per_token, <= 250 bytes with
// the table's slots): the entry is one heap block of at most 160 bytes.
TEST(CachedCredential, AnApiTokenEntryIsOneSmallBlock) {
  EXPECT_LE(sizeof(CachedApiToken), 80u);
  EXPECT_LE(sizeof(CachedCredential), 160u);
}

}  // namespace
}  // namespace cl::domain
