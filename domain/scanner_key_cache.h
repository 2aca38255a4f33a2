// ScannerKeyCache: the public keys a secret scanner signs its reports with, from a key list it
// publishes (GitHub's shape: {"public_keys":[{"key_identifier","key":"-----BEGIN PUBLIC
// KEY-----...","is_current"}]}), fetched on first use, refetched when it is older than
// `max_age` (a withdrawn key stops verifying within that bound) and when a report names a key
// identifier the list lacks (key rotation).
//
// Anyone can send a report naming a made-up identifier, so such refetches happen at most once
// per `cooldown` (counted from the previous one), a failed fetch is retried only after
// `cold_retry` (no list held) or `cooldown` (a list held, kept meanwhile), fetches are single
// flight, and at most `max_waiting` callers wait for one at once: the others are answered at
// once (Unavailable). Like oidc::JwksCache, but for PEM keys named by an identifier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/call_gate.h"
#include "common/clock.h"
#include "common/result.h"
#include "crypto/ecdsa.h"

namespace cl::domain {

// A parsed key list: identifier -> key. Keys that are not P-256 PEM keys are skipped.
using ScannerKeys =
    std::map<std::string, std::shared_ptr<const crypto::EcdsaP256PublicKey>, std::less<>>;

// Parses GitHub's key list shape. InvalidArgument when it is not that shape, holds more than
// kMaxScannerKeys entries, or no usable key.
inline constexpr size_t kMaxScannerKeys = 100;
inline constexpr size_t kMaxScannerKeyIdBytes = 256;
Result<ScannerKeys> ParseScannerKeyList(std::string_view json);

class ScannerKeyCache {
 public:
  // Returns the key list document (the body of a 200 answer) or an error.
  using FetchTextFn = std::function<Result<std::string>()>;

  struct Options {
    UnixMillis cooldown = 60 * kMillisPerSecond;
    UnixMillis cold_retry = 5 * kMillisPerSecond;
    UnixMillis max_age = kMillisPerHour;
    int max_waiting = 2;  // callers fetching or waiting for a fetch at once
  };

  // REQUIRES: `clock` outlives the cache.
  ScannerKeyCache(FetchTextFn fetch, const Clock& clock, Options options);
  ScannerKeyCache(const ScannerKeyCache&) = delete;
  ScannerKeyCache& operator=(const ScannerKeyCache&) = delete;

  // The key named `key_id`. Errors: Unauthenticated "bad_signature" when the list (after
  // the refetch the rules above allow) has no such key; Unavailable "unavailable" when
  // no list could be fetched, or too many callers wait for a fetch. Thread-safe.
  Result<std::shared_ptr<const crypto::EcdsaP256PublicKey>> Find(std::string_view key_id);

  // Fetch attempts so far (tests and metrics).
  int64_t fetches() const;

 private:
  Result<std::shared_ptr<const crypto::EcdsaP256PublicKey>> FindSlow(std::string_view key_id,
                                                                     uint64_t seen_generation);
  // REQUIRES: fetch_mu_ held.
  void FetchLocked(UnixMillis now);

  const FetchTextFn fetch_;
  const Clock& clock_;
  const Options options_;
  CallGate waiting_gate_;

  std::mutex fetch_mu_;                  // one fetch at a time
  bool attempted_ = false;               // GUARDED_BY(fetch_mu_)
  UnixMillis last_attempt_ = 0;          // GUARDED_BY(fetch_mu_)
  bool unknown_refetched_ = false;       // GUARDED_BY(fetch_mu_)
  UnixMillis last_unknown_refetch_ = 0;  // GUARDED_BY(fetch_mu_)

  mutable std::mutex mu_;
  std::shared_ptr<const ScannerKeys> keys_;  // GUARDED_BY(mu_)
  UnixMillis fetched_at_ = 0;                // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                  // GUARDED_BY(mu_); completed fetch attempts
  int64_t fetches_ = 0;                      // GUARDED_BY(mu_)
};

}  // namespace cl::domain
