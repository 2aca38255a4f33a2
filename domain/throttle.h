// Abuse throttling: bans on repeated failed authentication (AuthFailureThrottle) and token
// buckets for per-organization rate limits (RateLimiter).
//
// Both are in memory, per instance, bounded in size (the least recently touched key is evicted
// when full), sharded so concurrent requests rarely share a mutex, and read time only from the
// injected Clock. They never see a request: callers pass the client address and the presented
// credential, and decide how to answer (api/ answers 429 with Retry-After).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"

namespace cl::domain {

using cl::Cidr;              // common/address.h
using cl::ClientAddressKey;  // common/address.h

struct AuthThrottleConfig {
  int failure_limit = 30;  // failures within `window` that ban a key; 0 disables the throttle
  UnixMillis window = 3 * kMillisPerMinute;
  UnixMillis ban_duration = 15 * kMillisPerMinute;
  size_t max_keys = 100'000;  // tracked addresses + credentials, all shards together
  std::vector<Cidr> exempt;   // addresses never counted nor banned (credentials still are)
};

// Counts failed authentications per client address and per presented credential. A key that
// reaches `failure_limit` failures within `window` (counted from its first failure) is banned
// for `ban_duration`; while banned, further FAILED authentications of that address or
// credential are to be refused with 429. The caller only consults the throttle after a
// failure, so a successful authentication is never slowed or refused, not even from a banned
// address. A banned key's failures neither count nor extend the ban.
//
// Credentials are tracked by a keyed hash (HMAC-SHA256 under a random per-process key, first
// 16 bytes): the credential itself is never stored or logged. IPv6 addresses are tracked per
// /64, since one client usually holds the whole /64.
//
// Thread-safe: keys are spread over shards, each with its own mutex.
class AuthFailureThrottle {
 public:
  // `random` is used once, for the key of the credential hashes.
  AuthFailureThrottle(AuthThrottleConfig config, const Clock& clock, Random& random);
  AuthFailureThrottle(const AuthFailureThrottle&) = delete;
  AuthFailureThrottle& operator=(const AuthFailureThrottle&) = delete;
  ~AuthFailureThrottle();

  bool enabled() const { return config_.failure_limit > 0; }

  struct Refusal {
    UnixMillis retry_after = 0;  // until the longest of the applicable bans ends, >= 1 ms
    bool address = false;        // the client address is banned
    bool credential = false;     // the credential is banned
  };

  // Reports one failed authentication from `address` presenting `credential` (either may be
  // empty: not tracked). Returns a Refusal when either key is banned now (the failure is then
  // not counted); otherwise counts the failure for both keys, banning those that reach the
  // limit (logged once per ban), and returns nullopt: answer the failure as usual.
  std::optional<Refusal> OnFailure(std::string_view address, std::string_view credential);

  // Number of keys currently tracked (for tests and metrics).
  size_t TrackedKeys() const;

 private:
  struct Shard;
  enum class KeyKind { kAddress, kCredential };
  // The tracking key of an address ("a:" + address, "a:" + /64 prefix for IPv6).
  static std::string AddressKey(std::string_view address);
  std::string CredentialKey(std::string_view credential) const;
  Shard& ShardFor(const std::string& key) const;
  // Remaining ban of `key`, or 0.
  UnixMillis BanRemaining(const std::string& key, UnixMillis now);
  // Counts one failure of `key`, banning it at the limit. Returns the remaining ban, without
  // counting, when the key is already banned; else 0.
  UnixMillis Count(const std::string& key, KeyKind kind, UnixMillis now);
  bool Exempt(std::string_view address) const;

  const AuthThrottleConfig config_;
  const Clock& clock_;
  std::string hash_key_;  // random per process; keys credential hashes
  std::unique_ptr<Shard[]> shards_;
};

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
