// DigestMap: a hash table from 32-byte digests to shared, immutable values, laid out for the
// authentication hot path; and RefPtr, the one-word shared handle it stores.
//
// std::unordered_map costs three dependent memory misses per lookup once the table outgrows the
// CPU caches (bucket, the node before, the node), before the value is even read. Here the slots
// are one flat array of {first 8 bytes of the key, value pointer}: a lookup reads one slot
// (linear probing keeps collisions in the same cache line or the next) and then the value, whose
// full key confirms the match. With 100,000 cached tokens that is two misses instead of four.
//
// Memory: a slot is 16 bytes and the table is between 3/8 and 3/4 full, so 21 to 43 bytes per
// value. Values carry their own reference count (RefCounted): a std::shared_ptr would make each
// slot 24 bytes and add a 16-byte control block to every value.
//
// Keys must be uniformly distributed and not chosen by clients (HMACs under a secret pepper):
// their first bytes are used as the hash without mixing. T must derive from RefCounted and have
// a public member `crypto::Digest256 key` equal to the key it is stored under. Deletion shifts
// later entries of a cluster back (no tombstones), so lookups never slow down with churn. Not
// thread-safe: callers lock (the CredentialCache's shared_mutex). Copies are deleted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "crypto/hash.h"

namespace cl::domain {

// Base of a value shared through RefPtr: the count of handles lives in the value. Copying a value
// does not copy its count.
class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) {}
  RefCounted& operator=(const RefCounted&) { return *this; }

  // Handles held now. Exact only while no other thread can copy a handle to this value (e.g.
  // under the lock of the one table that hands it out).
  uint32_t use_count() const { return refs_.load(std::memory_order_acquire); }

 protected:
  ~RefCounted() = default;  // deleted through RefPtr<T>, as the T it was made as

 private:
  template <typename T>
  friend class RefPtr;
  mutable std::atomic<uint32_t> refs_{0};
};

// A shared handle to a T derived from RefCounted (like std::shared_ptr, one pointer wide): the
// value is deleted with its last handle. Handles to one value may be copied and dropped from
// any thread; a handle itself is not thread-safe. REQUIRES: the value was made by MakeRef (or
// `new T`) and is only ever held by RefPtrs to its own type T (or const T).
template <typename T>
class RefPtr {
 public:
  RefPtr() = default;
  RefPtr(std::nullptr_t) {}  // NOLINT: implicit, like a pointer's
  // Shares `p` (a new value, or one other handles hold).
  explicit RefPtr(T* p) : p_(p) { Acquire(); }
  RefPtr(const RefPtr& o) : p_(o.p_) { Acquire(); }
  RefPtr(RefPtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  RefPtr(const RefPtr<U>& o) : p_(o.p_) {  // NOLINT: implicit, like shared_ptr<const T>'s
    Acquire();
  }
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  RefPtr(RefPtr<U>&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}  // NOLINT: implicit
  RefPtr& operator=(RefPtr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~RefPtr() { reset(); }

  void reset() {
    if (p_ != nullptr && p_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete p_;
    p_ = nullptr;
  }
  T* get() const { return p_; }
  T& operator*() const { return *p_; }
  T* operator->() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  friend bool operator==(const RefPtr& a, std::nullptr_t) { return a.p_ == nullptr; }

 private:
  template <typename U>
  friend class RefPtr;
  void Acquire() {
    if (p_ != nullptr) p_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  T* p_ = nullptr;
};

// A new T(args...) behind its first handle.
template <typename T, typename... Args>
RefPtr<T> MakeRef(Args&&... args) {
  return RefPtr<T>(new T(std::forward<Args>(args)...));
}

template <typename T>
class DigestMap {
 public:
  DigestMap() = default;
  DigestMap(const DigestMap&) = delete;
  DigestMap& operator=(const DigestMap&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The value stored under `key`, or null. The pointer is valid until the map is next changed;
  // copy it into a RefPtr to keep the value longer.
  const T* Find(const crypto::Digest256& key) const {
    if (slots_.empty()) return nullptr;
    const uint64_t tag = Tag(key);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.value) return nullptr;
      if (s.tag == tag && s.value->key == key) return s.value.get();
    }
  }

  // Stores `value` under value->key, replacing what was there. REQUIRES: value != nullptr.
  void Insert(RefPtr<const T> value) {
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
    RefPtr<const T> value;  // null: empty slot
  };
  static_assert(sizeof(Slot) == 16, "a slot is a tag and one pointer");

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
