// RateLimiter: token buckets per key (an organization, a client address) for per-organization
// and per-address rate limits.
//
// In memory, per instance, bounded in size (the least recently charged key is evicted when
// full), sharded so concurrent requests rarely share a mutex, and reads time only from the
// injected Clock. Callers decide how to answer a refusal (api/ answers 429 with Retry-After).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "common/clock.h"

namespace cl::domain {

// Token buckets per key (an organization, a client address): `per_minute` units, refilled
// continuously, holding at most `burst` units (one minute's worth unless given). Thread-safe,
// sharded, bounded (least recently used evicted: an evicted key starts again with a full bucket).
class RateLimiter {
 public:
  // `per_minute` 0 disables the limiter (everything is allowed).
  RateLimiter(int64_t per_minute, const Clock& clock, size_t max_keys = 10'000);
  // `burst` (>= 1; smaller values count as 1) is how many units a full bucket holds.
  RateLimiter(int64_t per_minute, int64_t burst, const Clock& clock, size_t max_keys = 10'000);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;
  ~RateLimiter();

  bool enabled() const { return per_minute_ > 0; }

  // nullopt when `key` has a unit available now (nothing is taken); else how long until it
  // has (>= 1 ms). Unknown keys have a full bucket and are not added.
  std::optional<UnixMillis> Check(std::string_view key);
  // Takes one unit after the operation succeeded. The bucket may go into debt (concurrent
  // operations that all passed Check), which later Checks then wait out.
  void Charge(std::string_view key);
  // Check and Charge at once, for operations that cost before they can succeed or fail: takes
  // one unit and returns nullopt when `key` has one now; else takes nothing and returns how
  // long until it has (>= 1 ms). Concurrent callers never push the bucket into debt.
  std::optional<UnixMillis> TryTake(std::string_view key);

  size_t TrackedKeys() const;

 private:
  struct Shard;
  Shard& ShardFor(std::string_view key) const;
  // Scaled units in a bucket that held `units` at `at`, as of `now` (capped at the burst).
  int64_t Refilled(int64_t units, UnixMillis at, UnixMillis now) const;
  // How long until a bucket holding `units` (scaled) has one unit; 0 when it has.
  UnixMillis WaitFor(int64_t units) const;
  struct Bucket;
  // The bucket of `key`, created full when absent (evicting as needed). REQUIRES: s.mu held.
  Bucket& BucketLocked(Shard& s, std::string_view key, UnixMillis now);

  const int64_t per_minute_;
  const int64_t burst_;
  const Clock& clock_;
  const size_t max_keys_per_shard_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace cl::domain
