// ScannerKeyCache: key list parsing, single-flight fetching, cooldowns, last good list kept.
#include "domain/scanner_key_cache.h"

#include <boost/json.hpp>
#include <utility>

#include "common/json.h"
#include "common/log.h"

namespace cl::domain {
namespace {

Error BadList(std::string message) {
  return Error::InvalidArgument("secret scanning key list: " + std::move(message));
}

Error UnknownKey() {
  return Error::Unauthenticated("the report's signing key is not in the scanner's key list",
                                Reason::kBadSignature);
}

}  // namespace

Result<ScannerKeys> ParseScannerKeyList(std::string_view json) {
  auto doc = ParseJson(json);
  if (!doc || !doc->is_object()) return Fail(BadList("not a JSON object"));
  auto it = doc->get_object().find("public_keys");
  if (it == doc->get_object().end() || !it->value().is_array()) {
    return Fail(BadList("no public_keys array"));
  }
  const auto& list = it->value().get_array();
  if (list.size() > kMaxScannerKeys) return Fail(BadList("too many keys"));
  ScannerKeys keys;
  for (const auto& entry : list) {
    if (!entry.is_object()) continue;
    const auto& o = entry.get_object();
    auto id = o.find("key_identifier");
    auto pem = o.find("key");
    if (id == o.end() || pem == o.end() || !id->value().is_string() || !pem->value().is_string()) {
      continue;
    }
    std::string_view key_id = id->value().get_string();
    if (key_id.empty() || key_id.size() > kMaxScannerKeyIdBytes) continue;
    auto key = crypto::EcdsaP256PublicKey::FromPem(pem->value().get_string());
    if (!key) continue;  // a key we cannot use verifies nothing
    keys.emplace(std::string(key_id), std::move(*key));
  }
  if (keys.empty()) return Fail(BadList("no usable P-256 key"));
  return keys;
}

ScannerKeyCache::ScannerKeyCache(FetchTextFn fetch, const Clock& clock, Options options)
    : fetch_(std::move(fetch)),
      clock_(clock),
      options_(options),
      waiting_gate_(options.max_waiting,
                    Error::Unavailable("the secret scanner's key list is being fetched; retry",
                                       Reason::kUnavailable)) {}

int64_t ScannerKeyCache::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

Result<std::shared_ptr<const crypto::EcdsaP256PublicKey>> ScannerKeyCache::Find(
    std::string_view key_id) {
  uint64_t seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen = generation_;
    if (keys_ && clock_.Now() - fetched_at_ < options_.max_age) {
      auto it = keys_->find(key_id);
      if (it != keys_->end()) return it->second;
    }
  }
  // Stale, cold or an unknown identifier: the paths that may fetch or wait for a fetch are
  // bounded, so a flood of made-up identifiers cannot hold the server's workers.
  return waiting_gate_.Call([&] { return FindSlow(key_id, seen); });
}

Result<std::shared_ptr<const crypto::EcdsaP256PublicKey>> ScannerKeyCache::FindSlow(
    std::string_view key_id, uint64_t seen_generation) {
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  const UnixMillis now = clock_.Now();
  auto held = [&]() -> std::pair<std::shared_ptr<const ScannerKeys>, UnixMillis> {
    std::lock_guard<std::mutex> lock(mu_);
    return {keys_, fetched_at_};
  };
  auto lookup = [&](const std::shared_ptr<const ScannerKeys>& keys)
      -> std::shared_ptr<const crypto::EcdsaP256PublicKey> {
    if (!keys) return nullptr;
    auto it = keys->find(key_id);
    return it == keys->end() ? nullptr : it->second;
  };
  bool fetched_meanwhile;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fetched_meanwhile = generation_ != seen_generation;
  }
  auto [keys, fetched_at] = held();
  const bool stale = !keys || now - fetched_at >= options_.max_age;
  if (stale && !fetched_meanwhile) {
    const UnixMillis retry = keys ? options_.cooldown : options_.cold_retry;
    if (!attempted_ || now - last_attempt_ >= retry) {
      FetchLocked(now);
      fetched_meanwhile = true;
      std::tie(keys, fetched_at) = held();
    }
  }
  if (auto key = lookup(keys)) return key;
  // An identifier the list lacks: the scanner may have rotated its keys. One refetch per
  // cooldown, not counting a fetch this caller (or one it waited for) just made.
  if (keys && !fetched_meanwhile &&
      (!unknown_refetched_ || now - last_unknown_refetch_ >= options_.cooldown)) {
    unknown_refetched_ = true;
    last_unknown_refetch_ = now;
    FetchLocked(now);
    std::tie(keys, fetched_at) = held();
    if (auto key = lookup(keys)) return key;
  }
  if (!keys) {
    return Fail(Error::Unavailable("the secret scanner's key list cannot be fetched",
                                   Reason::kUnavailable));
  }
  return Fail(UnknownKey());
}

void ScannerKeyCache::FetchLocked(UnixMillis now) {
  attempted_ = true;
  last_attempt_ = now;
  Result<ScannerKeys> parsed = [&]() -> Result<ScannerKeys> {
    if (!fetch_) return Fail(Error::Internal("no key list fetcher configured"));
    CL_ASSIGN_OR_RETURN(std::string body, fetch_());
    return ParseScannerKeyList(body);
  }();
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  ++fetches_;
  if (!parsed) {
    Log(LogLevel::kWarn, "secret scanning key list fetch failed",
        {{"error", parsed.error().message()}, {"kept_last_good", keys_ != nullptr}});
    return;
  }
  keys_ = std::make_shared<const ScannerKeys>(std::move(*parsed));
  fetched_at_ = now;
}

}  // namespace cl::domain
