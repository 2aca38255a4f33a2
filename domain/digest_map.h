// DigestMap: a hash table from 32-byte digests to shared, immutable values, laid out for the
// authentication hot path.
//
// std::unordered_map costs three dependent memory misses per lookup once the table outgrows the
// CPU caches (bucket, the node before, the node), before the value is even read. Here the slots
// are one flat array of {first 8 bytes of the key, value pointer}: a lookup reads one slot
// (linear probing keeps collisions in the same cache line or the next) and then the value, whose
// full key confirms the match. With 100,000 cached tokens that is two misses instead of four.
//
// Keys must be uniformly distributed and not chosen by clients (HMACs under a secret pepper):
// their first bytes are used as the hash without mixing. T must have a public member
// `crypto::Digest256 key` equal to the key it is stored under. Deletion shifts later entries of a
// cluster back (no tombstones), so lookups never slow down with churn. Not thread-safe: callers
// lock (the Authenticator's shared_mutex). Copies are deleted.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "crypto/hash.h"

namespace cl::domain {

template <typename T>
class DigestMap {
 public:
  DigestMap() = default;
  DigestMap(const DigestMap&) = delete;
  DigestMap& operator=(const DigestMap&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The value stored under `key`, or null.
  const std::shared_ptr<const T>* Find(const crypto::Digest256& key) const {
    if (slots_.empty()) return nullptr;
    const uint64_t tag = Tag(key);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.value) return nullptr;
      if (s.tag == tag && s.value->key == key) return &s.value;
    }
  }

  // Stores `value` under value->key, replacing what was there. REQUIRES: value != nullptr.
  void Insert(std::shared_ptr<const T> value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    const uint64_t tag = Tag(value->key);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.value) {
        s.tag = tag;
        s.value = std::move(value);
        ++size_;
        return;
      }
      if (s.tag == tag && s.value->key == value->key) {
        s.value = std::move(value);
        return;
      }
    }
  }

  // Removes `key`; false when it was not there.
  bool Erase(const crypto::Digest256& key) {
    if (slots_.empty()) return false;
    const uint64_t tag = Tag(key);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.value) return false;
      if (s.tag == tag && s.value->key == key) {
        EraseAt(i);
        return true;
      }
    }
  }

  // Removes every value for which pred(const T&) is true.
  template <typename Pred>
  void EraseIf(Pred pred) {
    // Backward shifting may move an entry from after the wrap-around point to before it, where
    // a forward scan has already been; starting the scan just after an empty slot avoids that:
    // no cluster crosses the scan's start, so every shift stays behind the cursor's cluster.
    if (size_ == 0) return;
    size_t start = 0;
    while (slots_[start].value) ++start;  // exists: the table is never full
    size_t i = (start + 1) & mask_;
    for (size_t visited = 0; visited < slots_.size();) {
      Slot& s = slots_[i];
      if (s.value && pred(*s.value)) {
        EraseAt(i);  // a later entry of the cluster may now sit at i: look at i again
        continue;
      }
      i = (i + 1) & mask_;
      ++visited;
    }
  }

  // Calls fn(const std::shared_ptr<const T>&) for every value, in no particular order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Slot& s : slots_) {
      if (s.value) fn(s.value);
    }
  }

  // Removes arbitrary entries until size() <= n.
  void TrimTo(size_t n) {
    for (size_t i = 0; i < slots_.size() && size_ > n; ++i) {
      while (slots_[i].value && size_ > n) EraseAt(i);
    }
  }

  void Clear() {
    std::vector<Slot>().swap(slots_);
    mask_ = 0;
    size_ = 0;
  }

 private:
  struct Slot {
    uint64_t tag = 0;
    std::shared_ptr<const T> value;  // null: empty slot
  };

  static uint64_t Tag(const crypto::Digest256& key) {
    uint64_t t;
    std::memcpy(&t, key.data(), sizeof(t));
    return t;
  }

  // Empties slot i, then moves back each later entry of the cluster that may live at or before
  // the hole, so every entry stays reachable from its home slot without tombstones.
  void EraseAt(size_t i) {
    slots_[i].value.reset();
    --size_;
    for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      Slot& s = slots_[j];
      if (!s.value) return;
      const size_t home = s.tag & mask_;
      // s may move to the hole i when its home is not in the cyclic range (i, j].
      const bool home_in_range = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (home_in_range) continue;
      slots_[i] = std::move(s);
      s.value.reset();  // NOLINT(bugprone-use-after-move): the moved-from slot becomes the hole
      i = j;
    }
  }

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.empty() ? 16 : old.size() * 2);
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (Slot& s : old) {
      if (s.value) Insert(std::move(s.value));
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace cl::domain
