// RateLimiter: sharded, bounded in-memory token buckets with LRU eviction.
#include "domain/rate_limiter.h"

#include <algorithm>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cl::domain {
namespace {

constexpr size_t kShards = 16;
// Entries looked at for staleness at the cold end of a shard on each insert.
constexpr int kPruneBatch = 4;

}  // namespace

struct RateLimiter::Bucket {
  int64_t units = 0;  // scaled (one unit = kMillisPerMinute), as of `at`; negative: debt
  UnixMillis at = 0;
  std::list<const std::string*>::iterator lru;
};

struct RateLimiter::Shard {
  std::mutex mu;
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };
  std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets;  // GUARDED_BY(mu)
  std::list<const std::string*> lru;  // least recently charged first; GUARDED_BY(mu)
};

RateLimiter::RateLimiter(int64_t per_minute, const Clock& clock, size_t max_keys)
    : RateLimiter(per_minute, per_minute, clock, max_keys) {}

RateLimiter::RateLimiter(int64_t per_minute, int64_t burst, const Clock& clock, size_t max_keys)
    : per_minute_(std::max<int64_t>(0, per_minute)),
      burst_(std::max<int64_t>(1, burst)),
      clock_(clock),
      max_keys_per_shard_(std::max<size_t>(1, max_keys / kShards)),
      shards_(new Shard[kShards]) {}

RateLimiter::~RateLimiter() = default;

RateLimiter::Shard& RateLimiter::ShardFor(std::string_view key) const {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

int64_t RateLimiter::Refilled(int64_t units, UnixMillis at, UnixMillis now) const {
  // Scaled units: one unit is kMillisPerMinute, so a millisecond refills `per_minute_` exactly.
  const int64_t capacity = burst_ * kMillisPerMinute;
  const UnixMillis elapsed = std::clamp<UnixMillis>(now - at, 0, kMillisPerDay);
  return std::min(capacity, units + elapsed * per_minute_);
}

UnixMillis RateLimiter::WaitFor(int64_t units) const {
  const int64_t missing = kMillisPerMinute - units;
  if (missing <= 0) return 0;
  return (missing + per_minute_ - 1) / per_minute_;
}

RateLimiter::Bucket& RateLimiter::BucketLocked(Shard& s, std::string_view key, UnixMillis now) {
  auto it = s.buckets.find(key);
  if (it != s.buckets.end()) {
    s.lru.splice(s.lru.end(), s.lru, it->second.lru);
    return it->second;
  }
  const int64_t capacity = burst_ * kMillisPerMinute;
  // Buckets that refilled completely are the same as absent ones: drop them first.
  for (int i = 0; i < kPruneBatch && !s.lru.empty(); ++i) {
    auto cold = s.buckets.find(*s.lru.front());
    if (Refilled(cold->second.units, cold->second.at, now) < capacity) break;
    s.lru.pop_front();
    s.buckets.erase(cold);
  }
  if (s.buckets.size() >= max_keys_per_shard_) {
    s.buckets.erase(s.buckets.find(*s.lru.front()));
    s.lru.pop_front();
  }
  it = s.buckets.emplace(std::string(key), Bucket{}).first;
  it->second.units = capacity;
  it->second.at = now;
  it->second.lru = s.lru.insert(s.lru.end(), &it->first);
  return it->second;
}

std::optional<UnixMillis> RateLimiter::Check(std::string_view key) {
  if (!enabled()) return std::nullopt;
  const UnixMillis now = clock_.Now();
  Shard& s = ShardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.buckets.find(key);
  if (it == s.buckets.end()) return std::nullopt;
  const UnixMillis wait = WaitFor(Refilled(it->second.units, it->second.at, now));
  if (wait <= 0) return std::nullopt;
  return wait;
}

void RateLimiter::Charge(std::string_view key) {
  if (!enabled()) return;
  const UnixMillis now = clock_.Now();
  Shard& s = ShardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  Bucket& b = BucketLocked(s, key, now);
  b.units = Refilled(b.units, b.at, now) - kMillisPerMinute;
  b.at = now;
}

std::optional<UnixMillis> RateLimiter::TryTake(std::string_view key) {
  if (!enabled()) return std::nullopt;
  const UnixMillis now = clock_.Now();
  Shard& s = ShardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  Bucket& b = BucketLocked(s, key, now);
  const int64_t units = Refilled(b.units, b.at, now);
  if (const UnixMillis wait = WaitFor(units); wait > 0) return wait;
  b.units = units - kMillisPerMinute;
  b.at = now;
  return std::nullopt;
}

size_t RateLimiter::TrackedKeys() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    n += shards_[i].buckets.size();
  }
  return n;
}

}  // namespace cl::domain
