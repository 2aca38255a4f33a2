// CredentialCache: freshness, bound, pruning and revocation of cached credentials.
#include "domain/credential_cache.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "common/random.h"

namespace cl::domain {
namespace {

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

// The two lower-case hex digits of each byte value.
struct HexPairs {
  char digits[256][2];
  constexpr HexPairs() : digits{} {
    constexpr char kDigits[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      digits[i][0] = kDigits[i >> 4];
      digits[i][1] = kDigits[i & 0xf];
    }
  }
};
constexpr HexPairs kHexPairs;

}  // namespace

CompactText::CompactText(std::string_view text) {
  if (IsUuid(text)) {
    mode_ = kUuid;
    size_t j = 0;
    for (size_t i = 0; i < text.size(); i += 2) {
      if (text[i] == '-') ++i;
      bytes_[j++] = static_cast<unsigned char>(HexValue(text[i]) << 4 | HexValue(text[i + 1]));
    }
  } else if (text.size() <= sizeof(bytes_)) {
    mode_ = static_cast<uint8_t>(text.size());
    std::memcpy(bytes_, text.data(), text.size());
  } else {
    mode_ = kHeap;
    char* data = new char[text.size()];
    std::memcpy(data, text.data(), text.size());
    const size_t size = text.size();
    std::memcpy(bytes_, &data, sizeof(data));
    std::memcpy(bytes_ + sizeof(data), &size, sizeof(size));
  }
}

CompactText::CompactText(const CompactText& o) : mode_(o.mode_) {
  if (o.mode_ == kHeap) {
    const size_t size = o.heap_size();
    char* data = new char[size];
    std::memcpy(data, o.heap_data(), size);
    std::memcpy(bytes_, &data, sizeof(data));
    std::memcpy(bytes_ + sizeof(data), &size, sizeof(size));
  } else {
    std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
  }
}

CompactText::CompactText(CompactText&& o) noexcept : mode_(o.mode_) {
  std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
  o.mode_ = 0;  // the heap block, if any, is now this one's
}

CompactText& CompactText::operator=(CompactText o) noexcept {
  std::swap(mode_, o.mode_);
  unsigned char tmp[sizeof(bytes_)];
  std::memcpy(tmp, bytes_, sizeof(bytes_));
  std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
  std::memcpy(o.bytes_, tmp, sizeof(bytes_));
  return *this;
}

CompactText::~CompactText() {
  if (mode_ == kHeap) delete[] heap_data();
}

const char* CompactText::heap_data() const {
  const char* data;
  std::memcpy(&data, bytes_, sizeof(data));
  return data;
}

size_t CompactText::heap_size() const {
  size_t size;
  std::memcpy(&size, bytes_ + sizeof(const char*), sizeof(size));
  return size;
}

size_t CompactText::size() const {
  if (mode_ == kUuid) return 36;
  if (mode_ == kHeap) return heap_size();
  return mode_;
}

std::string CompactText::str() const {
  if (mode_ == kHeap) return std::string(heap_data(), heap_size());
  if (mode_ < sizeof(bytes_)) {
    // A fixed-size copy, then the length: a copy of the variable length compiles to `rep movs`,
    // whose start-up cost was most of this function's time on the request path.
    std::string out(sizeof(bytes_) - 1, '\0');  // the string's inline buffer: no allocation
    std::memcpy(out.data(), bytes_, sizeof(bytes_) - 1);
    out.resize(mode_);
    return out;
  }
  if (mode_ != kUuid) return std::string(reinterpret_cast<const char*>(bytes_), mode_);
  // This runs for every request answered from the cache (Principal::id): two digits per byte
  // from a table, written straight into the string, cost about what copying the text would.
  std::string out(36, '-');
  static constexpr uint8_t kAt[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  for (size_t j = 0; j < 16; ++j) std::memcpy(out.data() + kAt[j], kHexPairs.digits[bytes_[j]], 2);
  return out;
}

RefPtr<const CachedCredential> CredentialCache::FindFresh(const crypto::Digest256& key,
                                                          crypto::CredentialKind kind,
                                                          UnixMillis now, uint64_t* epoch) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (epoch != nullptr) *epoch = forget_epoch_;
  const CachedCredential* found = cache_.Find(key);
  if (found == nullptr || found->kind != kind ||
      now - found->fetched_at.load(std::memory_order_relaxed) >= revalidate_after_) {
    return nullptr;
  }
  return RefPtr<const CachedCredential>(found);
}

bool CredentialCache::Insert(RefPtr<const CachedCredential> entry, uint64_t epoch, UnixMillis now,
                             const std::string& old_hash) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (forget_epoch_ != epoch) {
    // A credential was forgotten (revoked, logged out) while this one was read: what was read
    // may predate that revocation, so it answers the request that read it, which overlapped
    // it, but is not cached. The next request reads again.
    return false;
  }
  auto stale = [&](const CachedCredential& e) {
    return now - e.fetched_at.load(std::memory_order_relaxed) >= revalidate_after_;
  };
  if (now - last_prune_ >= revalidate_after_) {
    // Entries older than revalidate_after_ are reloaded on their next use anyway.
    cache_.EraseIf(stale);
    last_prune_ = now;
  }
  if (cache_.size() >= max_entries_) {
    // Bounded: drop stale entries; if none are stale, drop arbitrary ones to make room.
    cache_.EraseIf(stale);
    if (cache_.size() >= max_entries_) cache_.TrimTo(max_entries_ > 0 ? max_entries_ - 1 : 0);
  }
  const crypto::Digest256 key = entry->key;
  cache_.Insert(std::move(entry));
  if (!old_hash.empty()) {
    // Only credentials found under an older pepper land here: few, and only during a rotation.
    if (old_hashes_.size() >= max_entries_) old_hashes_.clear();
    old_hashes_[old_hash] = key;
  }
  return true;
}

std::vector<RefPtr<const CachedCredential>> CredentialCache::DueForRefresh(UnixMillis now,
                                                                           UnixMillis used_since,
                                                                           size_t max,
                                                                           uint64_t* epoch) const {
  std::vector<RefPtr<const CachedCredential>> due;
  std::shared_lock<std::shared_mutex> lock(mu_);
  *epoch = forget_epoch_;
  cache_.ForEach([&](const RefPtr<const CachedCredential>& e) {
    if (due.size() >= max || e->kind != crypto::CredentialKind::kApiToken) return;
    const UnixMillis age = now - e->fetched_at.load(std::memory_order_relaxed);
    if (age < revalidate_after_ / 2 || age >= revalidate_after_) return;
    if (e->last_usage_report.load(std::memory_order_relaxed) < used_since) return;
    due.push_back(e);
  });
  return due;
}

bool CredentialCache::Renew(const CachedCredential& entry, uint64_t epoch, UnixMillis read_at) {
  // Forget takes the lock exclusively: while it is shared, no revocation is in progress, and an
  // unchanged epoch means none happened since the read began.
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (forget_epoch_ != epoch) return false;
  auto* found = cache_.Find(entry.key);
  if (found != &entry) return false;
  UnixMillis seen = entry.fetched_at.load(std::memory_order_relaxed);
  while (seen < read_at &&
         !entry.fetched_at.compare_exchange_weak(seen, read_at, std::memory_order_relaxed)) {
  }
  return true;
}

void CredentialCache::Forget(const std::string& token_hash) {
  auto key = crypto::DigestFromHex(token_hash);
  std::unique_lock<std::shared_mutex> lock(mu_);
  ++forget_epoch_;
  if (key) cache_.Erase(*key);
  if (auto it = old_hashes_.find(token_hash); it != old_hashes_.end()) {
    cache_.Erase(it->second);
    old_hashes_.erase(it);
  }
}

void CredentialCache::ForgetAll() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  ++forget_epoch_;
  cache_.Clear();
  old_hashes_.clear();
}

RefPtr<const TokenScope> CredentialCache::Scope(std::string_view org_id,
                                                const std::optional<std::string>& project_id) {
  std::string key;
  key.reserve(org_id.size() + 1 + (project_id ? project_id->size() : 1));
  key.append(org_id).append(" ").append(project_id ? *project_id : "-");
  std::lock_guard<std::mutex> lock(scopes_mu_);
  auto& slot = scopes_[key];
  if (!slot) {
    auto scope = MakeRef<TokenScope>();
    scope->org_id = std::string(org_id);
    scope->project_id = project_id;
    slot = std::move(scope);
  }
  RefPtr<const TokenScope> out = slot;
  if (scopes_.size() >= sweep_scopes_at_) {
    // Held by the table alone: no cached token uses it, and none can take it but through here.
    std::erase_if(scopes_, [](const auto& kv) { return kv.second->use_count() == 1; });
    sweep_scopes_at_ = std::max<size_t>(64, scopes_.size() * 2);
  }
  return out;
}

size_t CredentialCache::ScopeCount() const {
  std::lock_guard<std::mutex> lock(scopes_mu_);
  return scopes_.size();
}

size_t CredentialCache::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return cache_.size();
}

}  // namespace cl::domain
