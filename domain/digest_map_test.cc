// Tests for DigestMap: lookups, replacement, deletion inside and across clusters (including ones
// that wrap around the end of the table), EraseIf, TrimTo, and a randomized comparison with
// std::map under heavy collisions; and for RefPtr, its shared handle: every value is destroyed
// exactly once, when its last handle (in the map or outside) goes.
#include "domain/digest_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace cl::domain {
namespace {

// Values alive now: counts constructions and destructions.
int live_items = 0;

struct Item : RefCounted {
  Item(const crypto::Digest256& k, int v) : key(k), value(v) { ++live_items; }
  ~Item() { --live_items; }
  Item(const Item&) = delete;
  Item& operator=(const Item&) = delete;
  crypto::Digest256 key;
  int value = 0;
};

// A key whose first 8 bytes (the slot tag) are `tag` and whose last byte is `id`: keys with equal
// tags collide on every slot and differ only in the full-key comparison.
crypto::Digest256 Key(uint64_t tag, uint8_t id = 0) {
  crypto::Digest256 k{};
  std::memcpy(k.data(), &tag, sizeof(tag));
  k[31] = id;
  return k;
}

RefPtr<const Item> Make(const crypto::Digest256& key, int value) {
  return MakeRef<const Item>(key, value);
}

int ValueOf(const DigestMap<Item>& m, const crypto::Digest256& key) {
  const Item* v = m.Find(key);
  return v ? v->value : -1;
}

TEST(RefPtrTest, TheLastHandleDestroysTheValueOnce) {
  ASSERT_EQ(live_items, 0);
  {
    RefPtr<Item> a = MakeRef<Item>(Key(1), 1);
    EXPECT_EQ(live_items, 1);
    RefPtr<const Item> b = a;  // shares, as const
    RefPtr<const Item> c(std::move(b));
    EXPECT_EQ(b, nullptr);  // NOLINT(bugprone-use-after-move): moved-from is null
    EXPECT_EQ(c.get(), a.get());
    a.reset();
    EXPECT_EQ(live_items, 1);       // c still holds it
    RefPtr<const Item> d(c.get());  // a handle from the raw pointer shares the same count
    c = nullptr;
    EXPECT_EQ(live_items, 1);
    EXPECT_EQ(d->value, 1);
    d = MakeRef<const Item>(Key(2), 2);  // assignment drops the old value
    EXPECT_EQ(live_items, 1);
    EXPECT_EQ(d->value, 2);
  }
  EXPECT_EQ(live_items, 0);
}

TEST(DigestMapTest, ValuesLiveWhileTheMapOrAHandleHoldsThem) {
  ASSERT_EQ(live_items, 0);
  {
    DigestMap<Item> m;
    m.Insert(Make(Key(1), 1));
    RefPtr<const Item> held(m.Find(Key(1)));  // what a lookup hands out
    m.Insert(Make(Key(1), 2));                // replaced in the map, still held here
    EXPECT_EQ(live_items, 2);
    EXPECT_EQ(held->value, 1);
    held.reset();
    EXPECT_EQ(live_items, 1);
    for (int i = 0; i < 100; ++i) m.Insert(Make(Key(1000 + i), i));  // grows several times
    EXPECT_EQ(live_items, 101);
    held = RefPtr<const Item>(m.Find(Key(1050)));
    m.Clear();
    EXPECT_EQ(live_items, 1);
    EXPECT_EQ(held->value, 50);
  }
  EXPECT_EQ(live_items, 0);
}

TEST(DigestMapTest, InsertFindReplaceErase) {
  DigestMap<Item> m;
  EXPECT_EQ(m.Find(Key(1)), nullptr);
  EXPECT_FALSE(m.Erase(Key(1)));
  m.Insert(Make(Key(1), 10));
  m.Insert(Make(Key(2), 20));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(ValueOf(m, Key(1)), 10);
  EXPECT_EQ(ValueOf(m, Key(2)), 20);
  m.Insert(Make(Key(1), 11));  // replaces
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(ValueOf(m, Key(1)), 11);
  EXPECT_TRUE(m.Erase(Key(1)));
  EXPECT_FALSE(m.Erase(Key(1)));
  EXPECT_EQ(ValueOf(m, Key(1)), -1);
  EXPECT_EQ(ValueOf(m, Key(2)), 20);
  m.Clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.Find(Key(2)), nullptr);
}

TEST(DigestMapTest, EqualTagsAreTellApartByTheFullKey) {
  DigestMap<Item> m;
  for (uint8_t id = 0; id < 6; ++id) m.Insert(Make(Key(7, id), id));
  EXPECT_EQ(m.size(), 6u);
  EXPECT_TRUE(m.Erase(Key(7, 2)));  // from the middle of the cluster
  for (uint8_t id = 0; id < 6; ++id) EXPECT_EQ(ValueOf(m, Key(7, id)), id == 2 ? -1 : id);
}

TEST(DigestMapTest, ClusterWrappingAroundTheEndStaysReachableAfterDeletes) {
  DigestMap<Item> m;
  // 16 slots until the 13th insert; tag 15 is the last slot, so a cluster of 6 wraps to 0..4,
  // mixed with entries whose home is slot 0 and 1.
  for (uint8_t id = 0; id < 6; ++id) m.Insert(Make(Key(15, id), id));
  m.Insert(Make(Key(16, 0), 100));  // home slot 0
  m.Insert(Make(Key(17, 0), 101));  // home slot 1
  ASSERT_EQ(m.size(), 8u);
  EXPECT_TRUE(m.Erase(Key(15, 0)));  // the cluster's head, at the last slot
  EXPECT_TRUE(m.Erase(Key(15, 3)));
  for (uint8_t id : {1, 2, 4, 5}) EXPECT_EQ(ValueOf(m, Key(15, id)), id);
  EXPECT_EQ(ValueOf(m, Key(16, 0)), 100);
  EXPECT_EQ(ValueOf(m, Key(17, 0)), 101);
  // EraseIf over the wrapping cluster removes exactly what the predicate picks.
  m.EraseIf([](const Item& it) { return it.value % 2 == 1; });  // 1, 5, 101
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(ValueOf(m, Key(15, 2)), 2);
  EXPECT_EQ(ValueOf(m, Key(15, 4)), 4);
  EXPECT_EQ(ValueOf(m, Key(16, 0)), 100);
  EXPECT_EQ(ValueOf(m, Key(15, 1)), -1);
  EXPECT_EQ(ValueOf(m, Key(17, 0)), -1);
}

TEST(DigestMapTest, TrimToKeepsAtMostNAndTheRestReachable) {
  DigestMap<Item> m;
  for (int i = 0; i < 1000; ++i) m.Insert(Make(Key(i * 0x9E3779B97F4A7C15ull), i));
  m.TrimTo(300);
  EXPECT_EQ(m.size(), 300u);
  int found = 0;
  for (int i = 0; i < 1000; ++i) {
    int v = ValueOf(m, Key(i * 0x9E3779B97F4A7C15ull));
    if (v >= 0) {
      EXPECT_EQ(v, i);
      ++found;
    }
  }
  EXPECT_EQ(found, 300);
  m.TrimTo(0);
  EXPECT_TRUE(m.empty());
}

// Random inserts, replacements, erases, EraseIf and TrimTo on keys with only 64 distinct tags
// (long clusters, many wrap-arounds), checked against std::map after every step.
TEST(DigestMapTest, MatchesStdMapUnderHeavyCollisions) {
  std::mt19937_64 rng(1234);
  DigestMap<Item> m;
  std::map<crypto::Digest256, int> model;
  auto random_key = [&] { return Key(rng() % 64, static_cast<uint8_t>(rng() % 40)); };
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(rng() % 100);
    if (op < 55) {
      auto k = random_key();
      int v = static_cast<int>(rng() % 1000);
      m.Insert(Make(k, v));
      model[k] = v;
    } else if (op < 95) {
      auto k = random_key();
      EXPECT_EQ(m.Erase(k), model.erase(k) == 1);
    } else if (op < 99) {
      int mod = static_cast<int>(rng() % 5) + 2;
      m.EraseIf([mod](const Item& it) { return it.value % mod == 0; });
      std::erase_if(model, [mod](const auto& kv) { return kv.second % mod == 0; });
    } else {
      size_t n = model.size() / 2;
      m.TrimTo(n);
      // TrimTo picks arbitrary victims: follow what the map kept.
      std::erase_if(model, [&](const auto& kv) { return m.Find(kv.first) == nullptr; });
      ASSERT_EQ(model.size(), n);
    }
    ASSERT_EQ(m.size(), model.size()) << "step " << step;
    if (step % 97 == 0) {
      for (const auto& [k, v] : model) ASSERT_EQ(ValueOf(m, k), v) << "step " << step;
      for (int probe = 0; probe < 50; ++probe) {
        auto k = random_key();
        ASSERT_EQ(m.Find(k) != nullptr, model.count(k) == 1);
      }
    }
    // Nothing leaks and nothing is freed early: the map holds exactly its values.
    ASSERT_EQ(live_items, static_cast<int>(model.size())) << "step " << step;
  }
}

}  // namespace
}  // namespace cl::domain
