// AuthFailureThrottle: bans on repeated failed authentication, per client address and per
// presented credential.
//
// In memory, bounded in size (the least recently touched key is evicted when
// full), sharded so concurrent requests rarely share a mutex, and reads time only from the
// injected Clock. It never sees a request: callers pass the client address and the presented
// credential, and decide how to answer (api/ answers 429 with Retry-After). Addresses are
// parsed by common/address.h (ClientAddressKey, Cidr), never here. Each instance counts its own
// failures; a ban decided by one is announced to the others (SetBanListener / ApplyBan), so it
// applies on every instance.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.h"
#include "common/clock.h"
#include "common/random.h"

namespace cl::domain {

struct AuthThrottleConfig {
  int failure_limit = 30;  // failures within `window` that ban a key; 0 disables the throttle
  UnixMillis window = 3 * kMillisPerMinute;
  UnixMillis ban_duration = 15 * kMillisPerMinute;
  size_t max_keys = 100'000;  // tracked addresses + credentials, all shards together
  std::vector<Cidr> exempt;   // addresses never counted nor banned (credentials still are)
  // Key of the credential hashes. Instances that share bans must share it (the server derives
  // it from the pepper); empty: random per process.
  std::string credential_hash_key;
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

  // Shared bans. `listener` is called (outside any lock, on the failing request's thread: it
  // must not block) with the ban key of each ban this instance decides: "a:<address or IPv6
  // /64>" or "c:<32 hex chars of the credential's keyed hash>", never the credential. Set
  // before use.
  using BanListener = std::function<void(const std::string& ban_key)>;
  void SetBanListener(BanListener listener) { ban_listener_ = std::move(listener); }
  // Applies a ban decided by another instance, for this instance's ban_duration from now.
  // Returns false, changing nothing, for a malformed key, an already banned key or a disabled
  // throttle.
  bool ApplyBan(std::string_view ban_key);

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
  std::string hash_key_;  // keys credential hashes (config, or random per process)
  std::unique_ptr<Shard[]> shards_;
  BanListener ban_listener_;
};

}  // namespace cl::domain
