// CredentialCache: freshness, bound, pruning and revocation of cached credentials.
#include "domain/credential_cache.h"

#include <mutex>
#include <utility>

namespace cl::domain {

std::shared_ptr<const CachedCredential> CredentialCache::FindFresh(const crypto::Digest256& key,
                                                                   crypto::CredentialKind kind,
                                                                   UnixMillis now,
                                                                   uint64_t* epoch) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (epoch != nullptr) *epoch = forget_epoch_;
  auto* found = cache_.Find(key);
  if (found == nullptr || (*found)->kind != kind ||
      now - (*found)->fetched_at >= revalidate_after_) {
    return nullptr;
  }
  return *found;
}

bool CredentialCache::Insert(std::shared_ptr<const CachedCredential> entry, uint64_t epoch,
                             UnixMillis now, const std::string& old_hash) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (forget_epoch_ != epoch) {
    // A credential was forgotten (revoked, logged out) while this one was read: what was read
    // may predate that revocation, so it answers the request that read it, which overlapped
    // it, but is not cached. The next request reads again.
    return false;
  }
  auto stale = [&](const CachedCredential& e) { return now - e.fetched_at >= revalidate_after_; };
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

std::vector<std::shared_ptr<const CachedCredential>> CredentialCache::DueForRefresh(
    UnixMillis now, UnixMillis used_since, size_t max, uint64_t* epoch) const {
  std::vector<std::shared_ptr<const CachedCredential>> due;
  std::shared_lock<std::shared_mutex> lock(mu_);
  *epoch = forget_epoch_;
  cache_.ForEach([&](const std::shared_ptr<const CachedCredential>& e) {
    if (due.size() >= max || e->kind != crypto::CredentialKind::kApiToken) return;
    const UnixMillis age = now - e->fetched_at;
    if (age < revalidate_after_ / 2 || age >= revalidate_after_) return;
    if (e->last_usage_report.load(std::memory_order_relaxed) < used_since) return;
    due.push_back(e);
  });
  return due;
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

size_t CredentialCache::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return cache_.size();
}

}  // namespace cl::domain
