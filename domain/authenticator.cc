#include "domain/authenticator.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "crypto/credential.h"

namespace cl::domain {
namespace {

const char* KindName(crypto::CredentialKind kind) {
  switch (kind) {
    case crypto::CredentialKind::kSession:
      return "session";
    case crypto::CredentialKind::kApiToken:
      return "api_token";
    case crypto::CredentialKind::kFederated:
      return "federated_token";
    default:
      return "credential";
  }
}

// What the cache keeps of a stored API token: not its hash and pepper id (the cache key is the
// hash), nor its permissions (interned separately).
CachedApiToken ToCached(const store::ApiToken& token, CredentialCache& cache) {
  CachedApiToken t;
  t.id = CompactText(token.id);
  t.scope = cache.Scope(token.org_id, token.project_id);
  t.name = CompactText(token.name);
  t.expires_at = token.expires_at;
  t.revoked_at = token.revoked_at;
  t.set_revocation_reason(token.revocation_reason);
  t.rotation_deadline = token.rotation_deadline;
  t.last_activity = token.last_used_at.value_or(token.created_at);
  return t;
}

// Whether `row` says about its token what the cached `e` says, for authentication: identity,
// name, scope, permissions, expiry, revocation and rotation (not the last activity).
bool SameAuthentication(const CachedCredential& e, const store::ApiToken& row) {
  const CachedApiToken& t = e.token();
  if (t.revoked_at.get() != row.revoked_at || t.revocation_reason() != row.revocation_reason ||
      t.expires_at.get() != row.expires_at || t.rotation_deadline.get() != row.rotation_deadline ||
      t.scope->org_id != row.org_id || t.scope->project_id != row.project_id ||
      t.id.str() != row.id || t.name.str() != row.name ||
      e.permissions.size() != row.permissions.size()) {
    return false;
  }
  return std::equal(row.permissions.begin(), row.permissions.end(), e.permissions.begin());
}

}  // namespace

Authenticator::Authenticator(Stores stores, const crypto::CredentialHasher& hasher,
                             const Clock& clock, UsageRecorder* usage, size_t max_cache_entries,
                             UnixMillis revalidate_after)
    : users_(stores.users),
      sessions_(stores.sessions),
      tokens_(stores.tokens),
      federation_(stores.federation),
      peppers_(stores.peppers),
      hasher_(hasher),
      clock_(clock),
      usage_(usage),
      cache_(max_cache_entries, revalidate_after) {}

void Authenticator::Forget(const std::string& token_hash) { cache_.Forget(token_hash); }

void Authenticator::ForgetAll() { cache_.ForgetAll(); }

void Authenticator::NotifyRevoked(const std::string& token_hash) { Forget(token_hash); }

Result<Principal> Authenticator::Authenticate(std::string_view authorization,
                                              RequestOrigin origin) {
  CL_ASSIGN_OR_RETURN(PresentedCredential credential, ExtractCredential(authorization));
  if (!AuthenticatesRequests(credential.kind)) {
    return Fail(Error::Unauthenticated("this kind of token cannot authenticate requests",
                                       Reason::kInvalidToken));
  }
  UnixMillis now = clock_.Now();
  CL_ASSIGN_OR_RETURN(auto entry, Lookup(credential.token, hasher_.Digest(credential.token),
                                         credential.kind, now, origin));
  return CountSuccess(FromEntry(*entry, now, origin));
}

std::optional<Result<Principal>> Authenticator::AuthenticateCached(std::string_view authorization,
                                                                   RequestOrigin origin) {
  auto credential = ExtractCredential(authorization);
  if (!credential) return Result<Principal>(Fail(credential.error()));
  // Other kinds: let the full path give the precise answer.
  if (!AuthenticatesRequests(credential->kind)) return std::nullopt;
  if (cache_trusted_ && !cache_trusted_()) return std::nullopt;
  UnixMillis now = clock_.Now();
  auto entry = cache_.FindFresh(hasher_.Digest(credential->token), credential->kind, now);
  if (!entry) return std::nullopt;
  MyCounters().cache_hits.fetch_add(1, std::memory_order_relaxed);
  auto principal = FromEntry(*entry, now, origin);
  CountSuccess(principal);
  return principal;
}

size_t Authenticator::CachedEntries() { return cache_.size(); }

const Result<Principal>& Authenticator::CountSuccess(const Result<Principal>& r) {
  if (r) {
    MyCounters().successes[static_cast<size_t>(r->kind)].fetch_add(1, std::memory_order_relaxed);
  }
  return r;
}

Authenticator::Counters& Authenticator::MyCounters() {
  static std::atomic<size_t> next_shard{0};
  thread_local const size_t shard =
      next_shard.fetch_add(1, std::memory_order_relaxed) % kCounterShards;
  return counters_[shard];
}

Authenticator::Stats Authenticator::GetStats() const {
  Stats s;
  for (const Counters& c : counters_) {
    for (size_t i = 0; i < kPrincipalKindCount; ++i) {
      s.successes[i] += c.successes[i].load(std::memory_order_relaxed);
    }
    s.cache_hits += c.cache_hits.load(std::memory_order_relaxed);
    s.cache_misses += c.cache_misses.load(std::memory_order_relaxed);
    s.cache_refreshes += c.cache_refreshes.load(std::memory_order_relaxed);
  }
  return s;
}

Result<Principal> Authenticator::FromEntry(const CachedCredential& e, UnixMillis now,
                                           RequestOrigin origin) {
  switch (e.kind) {
    case crypto::CredentialKind::kSession:
      return FromSession(e, now);
    case crypto::CredentialKind::kApiToken:
      return FromApiToken(e, now, origin);
    case crypto::CredentialKind::kFederated:
      return FromFederated(e, now);
    default:
      return Fail(Error::Unauthenticated("this kind of token cannot authenticate requests",
                                         Reason::kInvalidToken));
  }
}

Result<RefPtr<const CachedCredential>> Authenticator::Lookup(std::string_view token,
                                                             const crypto::Digest256& key,
                                                             crypto::CredentialKind kind,
                                                             UnixMillis now, RequestOrigin origin) {
  uint64_t epoch = 0;
  auto fresh = cache_.FindFresh(key, kind, now, &epoch);
  if (fresh && (!cache_trusted_ || cache_trusted_())) {
    MyCounters().cache_hits.fetch_add(1, std::memory_order_relaxed);
    return fresh;
  }
  MyCounters().cache_misses.fetch_add(1, std::memory_order_relaxed);
  // The database stores the hex form.
  const std::string hash =
      crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  auto entry = MakeRef<CachedCredential>();
  entry->key = key;
  entry->kind = kind;
  entry->fetched_at = now;
  StoredHash stored;
  CL_ASSIGN_OR_RETURN(bool found, Load(*entry, hash, stored));
  if (after_load_for_testing_) after_load_for_testing_();
  // Older peppers only after a miss under the newest: a credential issued or used since the
  // rotation costs one query, as before.
  std::string old_hash;
  for (size_t i = 1; !found && i < hasher_.pepper_count(); ++i) {
    old_hash = hasher_.HashWith(i, token);
    CL_ASSIGN_OR_RETURN(found, Load(*entry, old_hash, stored));
  }
  if (!found) {
    switch (kind) {
      case crypto::CredentialKind::kFederated:
        return Fail(Error::Unauthenticated("unknown federated token", Reason::kInvalidToken));
      case crypto::CredentialKind::kSession:
        return Fail(Error::Unauthenticated("unknown session token", Reason::kInvalidToken));
      default:
        return Fail(Error::Unauthenticated("unknown API token", Reason::kInvalidToken));
    }
  }
  // A refused credential (revoked, logged out, expired) is answered from the database each
  // time and never cached: clients cycling through dead credentials cannot fill the cache
  // (the failed-authentication throttle bounds how often they can ask).
  if (!FromEntry(*entry, now, origin)) {
    return RefPtr<const CachedCredential>(std::move(entry));
  }
  if (kind == crypto::CredentialKind::kApiToken && usage_ &&
      now - entry->token().last_activity >= kPromptUseAfter) {
    CL_ASSIGN_OR_RETURN(bool settled, RecordPromptUse(*entry, now, origin));
    // Refused (revoked meanwhile), or not settled (answered, not cached: the next request
    // tries again).
    if (!settled || !FromEntry(*entry, now, origin)) {
      return RefPtr<const CachedCredential>(std::move(entry));
    }
  }
  // Federated tokens live minutes: they are not moved, only found under any pepper.
  if (kind != crypto::CredentialKind::kFederated) MoveToCurrentPepper(*entry, hash, stored);
  // Not cached when a credential was forgotten (revoked, logged out) while this one was read:
  // what was read may predate that revocation, so it answers this request, which overlapped it,
  // and the next request reads again.
  cache_.Insert(entry, epoch, now, old_hash);
  return RefPtr<const CachedCredential>(std::move(entry));
}

Result<bool> Authenticator::Load(CachedCredential& e, const std::string& hash, StoredHash& stored) {
  if (e.kind == crypto::CredentialKind::kFederated) {
    auto fed = federation_.GetFederatedTokenByHash(hash);
    if (!fed) {
      if (fed.error().IsNotFound()) return false;
      return Fail(fed.error());
    }
    e.permissions = PermissionList::Intern(fed->permissions);
    fed->permissions = {};
    e.record = std::make_unique<store::FederatedToken>(std::move(*fed));
  } else if (e.kind == crypto::CredentialKind::kSession) {
    auto session = sessions_.GetSessionByHash(hash);
    if (!session) {
      if (session.error().IsNotFound()) return false;
      return Fail(session.error());
    }
    auto user = users_.GetUser(session->user_id);
    if (!user) {
      if (user.error().IsNotFound()) {
        return Fail(
            Error::Unauthenticated("the session's user no longer exists", Reason::kInvalidToken));
      }
      return Fail(user.error());
    }
    // The cache key is the hash: the hex copy is not kept.
    stored.token_hash = std::move(session->token_hash);
    stored.pepper_id = std::move(session->pepper_id);
    session->token_hash.clear();
    session->pepper_id.clear();
    e.record = std::make_unique<CachedSession>(
        CachedSession{std::move(*session), user->email, user->name});
  } else {
    auto token = tokens_.GetApiTokenByHash(hash);
    if (!token) {
      if (token.error().IsNotFound()) return false;
      return Fail(token.error());
    }
    e.permissions = PermissionList::Intern(token->permissions);
    stored.token_hash = std::move(token->token_hash);
    stored.pepper_id = std::move(token->pepper_id);
    e.record = ToCached(*token, cache_);
  }
  return true;
}

Result<size_t> Authenticator::RefreshCachedApiTokens() {
  if (usage_ == nullptr) return size_t{0};  // without reported uses, nothing is known in use
  const UnixMillis now = clock_.Now();
  uint64_t epoch = 0;
  // Entries read before a Forget during this pass are not inserted (Insert checks the epoch
  // taken here, before any read): they age out and are reloaded, as without a refresh.
  const auto due =
      cache_.DueForRefresh(now, now - cache_.revalidate_after(), kMaxRefreshPerPass, &epoch);
  size_t refreshed = 0;
  for (size_t start = 0; start < due.size(); start += store::ApiTokenStore::kMaxHashesPerRead) {
    const size_t end = std::min(due.size(), start + store::ApiTokenStore::kMaxHashesPerRead);
    std::vector<std::string> hashes;
    std::unordered_map<std::string, const CachedCredential*> by_hash;
    for (size_t i = start; i < end; ++i) {
      const crypto::Digest256& key = due[i]->key;
      std::string hash = crypto::HexEncode(
          std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
      by_hash.emplace(hash, due[i].get());
      hashes.push_back(std::move(hash));
    }
    const UnixMillis read_at = clock_.Now();
    CL_ASSIGN_OR_RETURN(std::vector<store::ApiToken> rows, tokens_.GetApiTokensByHashes(hashes));
    if (after_load_for_testing_) after_load_for_testing_();
    for (store::ApiToken& row : rows) {
      auto it = by_hash.find(row.token_hash);
      if (it == by_hash.end() || row.pepper_id != hasher_.current_pepper_id()) continue;
      const CachedCredential& old = *it->second;
      // The common case: nothing authentication reads has changed. The entry is marked as read
      // now, in place (its last activity may be older than the row's: only a reload, not a
      // cached answer, looks at it).
      if (SameAuthentication(old, row) &&
          read_at - row.last_used_at.value_or(row.created_at) < kPromptUseAfter) {
        if (!cache_.Renew(old, epoch, read_at)) return refreshed;  // forgotten since
        ++refreshed;
        MyCounters().cache_refreshes.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto entry = MakeRef<CachedCredential>();
      entry->key = old.key;
      entry->kind = crypto::CredentialKind::kApiToken;
      entry->fetched_at = read_at;
      entry->permissions = PermissionList::Intern(row.permissions);
      entry->record = ToCached(row, cache_);
      CachedApiToken& t = entry->token();
      // Refused now, or due a prompt use (a write): left to the request path.
      const bool live = !t.revoked_at &&
                        !(t.rotation_deadline && read_at >= *t.rotation_deadline) &&
                        !(t.expires_at && read_at >= *t.expires_at);
      if (!live || read_at - t.last_activity >= kPromptUseAfter) continue;
      entry->last_usage_report.store(old.last_usage_report.load(std::memory_order_relaxed),
                                     std::memory_order_relaxed);
      if (!cache_.Insert(std::move(entry), epoch, read_at)) return refreshed;  // forgotten since
      ++refreshed;
      MyCounters().cache_refreshes.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return refreshed;
}

Result<bool> Authenticator::RecordPromptUse(CachedCredential& e, UnixMillis now,
                                            RequestOrigin origin) {
  CachedApiToken& t = e.token();
  // The write orders this use against a sweep's revocation: the sweep's UPDATE either commits
  // first (then the read below sees it) or finds the token active again. Reading by id after
  // the write, not by hash: another instance may have re-hashed the row meanwhile.
  const std::string id = t.id.str();
  Status written = tokens_.RecordApiTokenUsage(
      {{id, now, std::string(origin.address), ClipUserAgent(origin.user_agent)}});
  if (!written) {
    Log(LogLevel::kWarn, "could not record an API token's first use after a long idle period",
        {{"id", id}, {"error", written.error().message()}});
    return false;
  }
  auto fresh = tokens_.GetApiToken(t.scope->org_id, id);
  if (!fresh) {
    if (fresh.error().IsNotFound()) {
      return Fail(Error::Unauthenticated("unknown API token", Reason::kInvalidToken));
    }
    Log(LogLevel::kWarn, "could not re-read an API token after recording its use",
        {{"id", id}, {"error", fresh.error().message()}});
    return false;
  }
  t.last_activity = now;
  if (fresh->revoked_at) {
    t.revoked_at = fresh->revoked_at;
    t.set_revocation_reason(fresh->revocation_reason);
  }
  t.rotation_deadline = fresh->rotation_deadline;
  return true;
}

void Authenticator::MoveToCurrentPepper(CachedCredential& e, const std::string& hash,
                                        StoredHash& stored) {
  const std::string& current = hasher_.current_pepper_id();
  const bool session = e.kind == crypto::CredentialKind::kSession;
  std::string& stored_hash = stored.token_hash;
  std::string& stored_pepper = stored.pepper_id;
  if (stored_hash == hash && stored_pepper == current) return;  // the common case
  // Revoked and expired credentials are refused anyway: not worth a write. Once the old pepper
  // is removed they are simply unknown.
  UnixMillis now = e.fetched_at.load(std::memory_order_relaxed);
  bool usable =
      session ? !e.session().session.revoked_at && now < e.session().session.expires_at
              : !e.token().revoked_at && (!e.token().expires_at || now < *e.token().expires_at);
  if (!usable) return;
  const std::string id = session ? e.session().session.id : e.token().id.str();
  auto moved = session ? peppers_.RehashSession(id, stored_hash, hash, current)
                       : peppers_.RehashApiToken(id, stored_hash, hash, current);
  if (!moved) {
    Log(LogLevel::kWarn, "could not re-hash a credential under the current pepper",
        {{"kind", KindName(e.kind)}, {"id", id}, {"error", moved.error().message()}});
    return;
  }
  if (*moved) {
    Log(LogLevel::kInfo, "credential re-hashed under the current pepper",
        {{"kind", KindName(e.kind)},
         {"id", id},
         {"from_pepper", stored_pepper.empty() ? "unknown" : stored_pepper},
         {"to_pepper", current}});
  }
  // Moved by this call or, concurrently, by another instance: either way the row now holds the
  // hash under the newest pepper.
  stored_hash = hash;
  stored_pepper = current;
}

Result<Principal> Authenticator::FromSession(const CachedCredential& e, UnixMillis now) {
  const store::Session& s = e.session().session;
  if (s.revoked_at) {
    return Fail(Error::Unauthenticated("this session was ended by logout; log in again",
                                       Reason::kSessionRevoked));
  }
  if (now >= s.expires_at) {
    return Fail(
        Error::Unauthenticated("this session has expired; log in again", Reason::kSessionExpired));
  }
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.id = s.user_id;
  p.display_name = e.session().email;
  p.user_name = e.session().user_name;
  p.session_id = s.id;
  p.session_expires_at = s.expires_at;
  return p;
}

Result<Principal> Authenticator::FromFederated(const CachedCredential& e, UnixMillis now) {
  const store::FederatedToken& t = e.federated();
  if (t.revoked_at) {
    return Fail(Error::Unauthenticated(
        "this federated token was revoked: the trust policy that admitted the CI job was deleted",
        Reason::kTokenRevoked));
  }
  if (now >= t.expires_at) {
    return Fail(Error::Unauthenticated(
        "this federated token has expired; exchange a new CI ID token", Reason::kTokenExpired));
  }
  Principal p;
  p.kind = Principal::Kind::kFederated;
  p.id = t.policy_id;
  p.display_name = t.display_name;
  p.claims_json = t.claims;
  p.org_id = t.org_id;
  p.project_id = t.project_id;
  p.permissions = e.permissions;
  p.token_expires_at = t.expires_at;
  return p;
}

Result<Principal> Authenticator::FromApiToken(const CachedCredential& e, UnixMillis now,
                                              RequestOrigin origin) {
  const CachedApiToken& t = e.token();
  // The rotation deadline is checked like a revocation: refused from that instant on, on every
  // instance and from the cache, whether or not the rotation job has recorded it yet.
  const bool rotated_out = t.rotation_deadline && now >= *t.rotation_deadline;
  if (t.revoked_at || rotated_out) {
    const char* why = "this API token was revoked";
    if (rotated_out || t.revocation_reason() == store::RevocationReason::kRotated) {
      why = "this API token was replaced by a rotation and its grace period has ended";
    } else if (t.revocation_reason() == store::RevocationReason::kInactive) {
      why = "this API token was revoked automatically after a period of inactivity";
    }
    return Fail(Error::Unauthenticated(why, Reason::kTokenRevoked));
  }
  if (t.expires_at && now >= *t.expires_at) {
    return Fail(Error::Unauthenticated("this API token has expired", Reason::kTokenExpired));
  }
  if (usage_) {
    UnixMillis last = e.last_usage_report.load(std::memory_order_relaxed);
    if (now - last >= kMillisPerSecond &&
        e.last_usage_report.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      usage_->Touch(t.id.str(), now, origin);
    }
  }
  Principal p;
  p.kind = Principal::Kind::kApiToken;
  p.id = t.id.str();
  p.display_name = t.name.str();
  p.org_id = t.scope->org_id;
  p.project_id = t.scope->project_id;
  p.permissions = e.permissions;
  p.token_expires_at = t.expires_at.value_or(0);
  return p;
}

}  // namespace cl::domain
