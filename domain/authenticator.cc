#include "domain/authenticator.h"

#include <strings.h>

#include "crypto/credential.h"

namespace cl::domain {

Result<std::string_view> ExtractBearer(std::string_view authorization) {
  if (authorization.empty()) {
    return Fail(Error::Unauthenticated("authentication required: send Authorization: Bearer <token>",
                                       "unauthenticated"));
  }
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0) {
    return Fail(Error::Unauthenticated("the Authorization header must use the Bearer scheme",
                                       "malformed_token"));
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

Authenticator::Authenticator(store::Database& db, const crypto::CredentialHasher& hasher,
                             const Clock& clock, size_t max_cache_entries,
                             UnixMillis revalidate_after)
    : db_(db),
      hasher_(hasher),
      clock_(clock),
      max_entries_(max_cache_entries),
      revalidate_after_(revalidate_after) {}

void Authenticator::Forget(const std::string& token_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.erase(token_hash);
}

Result<Principal> Authenticator::Authenticate(std::string_view authorization) {
  CL_ASSIGN_OR_RETURN(std::string_view token, ExtractBearer(authorization));
  CL_ASSIGN_OR_RETURN(crypto::CredentialKind kind, crypto::ParseCredential(token));
  std::string hash = hasher_.Hash(token);
  switch (kind) {
    case crypto::CredentialKind::kSession:
      return AuthenticateSession(hash);
    default:
      return Fail(Error::Unauthenticated("this kind of token cannot authenticate requests",
                                         "invalid_token"));
  }
}

Result<Principal> Authenticator::AuthenticateSession(const std::string& token_hash) {
  UnixMillis now = clock_.Now();
  CacheEntry entry;
  bool hit = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(token_hash);
    if (it != cache_.end() && now - it->second.fetched_at < revalidate_after_) {
      entry = it->second;
      hit = true;
    }
  }
  if (!hit) {
    auto session = db_.GetSessionByHash(token_hash);
    if (!session) {
      if (session.error().IsNotFound()) {
        return Fail(Error::Unauthenticated("unknown session token", "invalid_token"));
      }
      return Fail(session.error());
    }
    auto user = db_.GetUser(session->user_id);
    if (!user) {
      if (user.error().IsNotFound()) {
        return Fail(Error::Unauthenticated("the session's user no longer exists", "invalid_token"));
      }
      return Fail(user.error());
    }
    entry = CacheEntry{*session, user->email, now};
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= max_entries_) {
      // Bounded: drop everything stale first, then anything, to make room.
      for (auto it = cache_.begin(); it != cache_.end() && cache_.size() >= max_entries_;) {
        it = cache_.erase(it);
      }
    }
    cache_[token_hash] = entry;
  }
  if (entry.session.revoked_at) {
    return Fail(Error::Unauthenticated("this session was ended by logout; log in again",
                                       "session_revoked"));
  }
  if (now >= entry.session.expires_at) {
    return Fail(Error::Unauthenticated("this session has expired; log in again",
                                       "session_expired"));
  }
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.id = entry.session.user_id;
  p.display_name = entry.email;
  p.session_id = entry.session.id;
  p.session_expires_at = entry.session.expires_at;
  return p;
}

}  // namespace cl::domain
