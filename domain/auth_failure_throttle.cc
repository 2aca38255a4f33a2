// AuthFailureThrottle: a sharded, bounded in-memory map of failure counts with LRU eviction.
#include "domain/auth_failure_throttle.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>

#include "common/address.h"
#include "common/log.h"
#include "crypto/hash.h"

namespace cl::domain {
namespace {

constexpr size_t kShards = 16;
// Entries looked at for staleness at the cold end of a shard on each insert.
constexpr int kPruneBatch = 4;

}  // namespace

struct AuthFailureThrottle::Shard {
  struct Entry {
    UnixMillis window_start = 0;
    UnixMillis banned_until = 0;
    uint32_t failures = 0;  // within the window starting at window_start
    std::list<const std::string*>::iterator lru;
  };
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;  // GUARDED_BY(mu)
  std::list<const std::string*> lru;  // keys, least recently touched first; GUARDED_BY(mu)
  size_t capacity = 1;

  void Touch(Entry& e) { lru.splice(lru.end(), lru, e.lru); }
  void Erase(std::unordered_map<std::string, Entry>::iterator it) {
    lru.erase(it->second.lru);
    entries.erase(it);
  }
  // The entry of `key`, touched, or a new one. Making room: stale entries (no ban, `window`
  // over) at the cold end go first; then, if still full, the least recently touched entry,
  // whatever its state. REQUIRES: mu held.
  Entry& FindOrInsert(const std::string& key, UnixMillis now, UnixMillis window) {
    auto it = entries.find(key);
    if (it != entries.end()) {
      Touch(it->second);
      return it->second;
    }
    for (int i = 0; i < kPruneBatch && !lru.empty(); ++i) {
      auto cold = entries.find(*lru.front());
      const Entry& e = cold->second;
      if (e.banned_until > now || now - e.window_start < window) break;
      Erase(cold);
    }
    if (entries.size() >= capacity) Erase(entries.find(*lru.front()));
    it = entries.emplace(key, Entry{}).first;
    it->second.lru = lru.insert(lru.end(), &it->first);
    return it->second;
  }
};

AuthFailureThrottle::AuthFailureThrottle(AuthThrottleConfig config, const Clock& clock,
                                         Random& random)
    : config_(std::move(config)), clock_(clock), shards_(new Shard[kShards]) {
  if (!config_.credential_hash_key.empty()) {
    hash_key_ = config_.credential_hash_key;
  } else {
    hash_key_.resize(32);
    random.Fill(reinterpret_cast<uint8_t*>(hash_key_.data()), hash_key_.size());
  }
  const size_t per_shard = std::max<size_t>(1, config_.max_keys / kShards);
  for (size_t i = 0; i < kShards; ++i) shards_[i].capacity = per_shard;
}

AuthFailureThrottle::~AuthFailureThrottle() = default;

std::string AuthFailureThrottle::AddressKey(std::string_view address) {
  return "a:" + ClientAddressKey(address);
}

std::string AuthFailureThrottle::CredentialKey(std::string_view credential) const {
  return "c:" + crypto::HexEncode(crypto::HmacSha256(hash_key_, credential).substr(0, 16));
}

AuthFailureThrottle::Shard& AuthFailureThrottle::ShardFor(const std::string& key) const {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

bool AuthFailureThrottle::Exempt(std::string_view address) const {
  return std::any_of(config_.exempt.begin(), config_.exempt.end(),
                     [&](const Cidr& c) { return c.Contains(address); });
}

UnixMillis AuthFailureThrottle::BanRemaining(const std::string& key, UnixMillis now) {
  Shard& s = ShardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end() || it->second.banned_until <= now) return 0;
  s.Touch(it->second);  // keeps a key under attack from being evicted
  return it->second.banned_until - now;
}

UnixMillis AuthFailureThrottle::Count(const std::string& key, KeyKind kind, UnixMillis now) {
  Shard& s = ShardFor(key);
  bool banned_now = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    Shard::Entry& e = s.FindOrInsert(key, now, config_.window);
    if (e.banned_until > now) return e.banned_until - now;  // banned by a concurrent failure
    if (e.failures == 0 || now - e.window_start >= config_.window) {
      e.window_start = now;
      e.failures = 0;
    }
    if (++e.failures >= static_cast<uint32_t>(config_.failure_limit)) {
      e.banned_until = now + config_.ban_duration;
      e.failures = 0;
      banned_now = true;
    }
  }
  if (banned_now) {
    if (ban_listener_) ban_listener_(key);
    const int64_t ban_seconds = config_.ban_duration / kMillisPerSecond;
    if (kind == KeyKind::kAddress) {
      Log(LogLevel::kWarn, "client address banned after repeated failed authentication",
          {{"address", key.substr(2)},
           {"failures", config_.failure_limit},
           {"window_seconds", config_.window / kMillisPerSecond},
           {"ban_seconds", ban_seconds}});
    } else {
      // A prefix of the keyed hash: enough to correlate log lines, useless to anyone else.
      Log(LogLevel::kWarn, "credential banned after repeated failed authentication",
          {{"credential_hash_prefix", key.substr(2, 8)},
           {"failures", config_.failure_limit},
           {"window_seconds", config_.window / kMillisPerSecond},
           {"ban_seconds", ban_seconds}});
    }
  }
  return 0;
}

std::optional<AuthFailureThrottle::Refusal> AuthFailureThrottle::OnFailure(
    std::string_view address, std::string_view credential) {
  if (!enabled()) return std::nullopt;
  const UnixMillis now = clock_.Now();
  std::string address_key;
  if (!address.empty() && !Exempt(address)) address_key = AddressKey(address);
  std::string credential_key;
  if (!credential.empty()) credential_key = CredentialKey(credential);

  auto refusal = [](UnixMillis address_ban, UnixMillis credential_ban) -> std::optional<Refusal> {
    if (address_ban <= 0 && credential_ban <= 0) return std::nullopt;
    Refusal r;
    r.retry_after = std::max(address_ban, credential_ban);
    r.address = address_ban > 0;
    r.credential = credential_ban > 0;
    return r;
  };
  // A banned key refuses without counting the other one either.
  UnixMillis address_ban = address_key.empty() ? 0 : BanRemaining(address_key, now);
  UnixMillis credential_ban = credential_key.empty() ? 0 : BanRemaining(credential_key, now);
  if (auto r = refusal(address_ban, credential_ban)) return r;
  // Count returns the ban when a concurrent failure banned the key between the two steps, so
  // every failure is either counted or refused.
  if (!address_key.empty()) address_ban = Count(address_key, KeyKind::kAddress, now);
  if (!credential_key.empty()) credential_ban = Count(credential_key, KeyKind::kCredential, now);
  return refusal(address_ban, credential_ban);
}

size_t AuthFailureThrottle::TrackedKeys() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    n += shards_[i].entries.size();
  }
  return n;
}

namespace {

// "a:" + an address key as ClientAddressKey writes it (IPv4, or an IPv6 /64 prefix), or "c:" +
// 32 lower-case hex characters.
bool WellFormedBanKey(std::string_view key) {
  if (key.size() < 3 || key.size() > 2 + 64 || key[1] != ':') return false;
  const std::string_view body = key.substr(2);
  if (key[0] == 'c') {
    return body.size() == 32 && std::all_of(body.begin(), body.end(), [](char c) {
             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
  }
  if (key[0] != 'a') return false;
  return std::all_of(body.begin(), body.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
           c == ':' || c == '/';
  });
}

}  // namespace

bool AuthFailureThrottle::ApplyBan(std::string_view ban_key) {
  if (!enabled() || !WellFormedBanKey(ban_key)) return false;
  const std::string key(ban_key);
  const UnixMillis now = clock_.Now();
  Shard& s = ShardFor(key);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    Shard::Entry& e = s.FindOrInsert(key, now, config_.window);
    if (e.banned_until > now) return false;
    e.banned_until = now + config_.ban_duration;
    e.failures = 0;
  }
  if (key[0] == 'a') {
    Log(LogLevel::kInfo, "client address banned by another instance",
        {{"address", key.substr(2)}, {"ban_seconds", config_.ban_duration / kMillisPerSecond}});
  } else {
    Log(LogLevel::kInfo, "credential banned by another instance",
        {{"credential_hash_prefix", key.substr(2, 8)},
         {"ban_seconds", config_.ban_duration / kMillisPerSecond}});
  }
  return true;
}

}  // namespace cl::domain
