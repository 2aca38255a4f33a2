#include "domain/login.h"

#include <charconv>

#include "common/http_client.h"
#include "common/log.h"
#include "common/oauth_errors.h"
#include "crypto/credential.h"
#include "domain/audit_events.h"

namespace cl::domain {
namespace {

std::string RandomUrlSafe(Random& random, size_t bytes) {
  std::string raw(bytes, '\0');
  random.Fill(reinterpret_cast<uint8_t*>(raw.data()), raw.size());
  return crypto::Base64UrlEncode(raw);
}

bool IsBase64UrlChars(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.' || c == '~')) {
      return false;
    }
  }
  return true;
}

// Short-lived login state (state, one-time code, device handle) is stored under the newest
// pepper; during a pepper rotation a login may have started under an older one (on this
// instance before a restart, or on another instance), so a miss tries each older pepper.
// `fetch` maps a hash to the row or NotFound. Sets *matched to the hash that was found.
template <typename T, typename Fetch>
Result<T> FindUnderAnyPepper(const crypto::CredentialHasher& hasher, std::string_view secret,
                             std::string* matched, Fetch&& fetch) {
  Result<T> out = Fail(Error::NotFound("not found"));
  for (size_t i = 0; i < hasher.pepper_count(); ++i) {
    std::string hash = hasher.HashWith(i, secret);
    out = fetch(hash);
    if (out || !out.error().IsNotFound()) {
      *matched = std::move(hash);
      break;
    }
  }
  return out;
}

Error LoginCapacityExhausted() {
  return Error::Unavailable("too many logins are in progress; retry in a minute",
                            Reason::kLoginCapacityExhausted);
}

// Counts a login leg as failed when it returns without having been settled (completed, or
// told to wait).
class FailedUnlessSettled {
 public:
  explicit FailedUnlessSettled(std::atomic<uint64_t>& failed) : failed_(failed) {}
  FailedUnlessSettled(const FailedUnlessSettled&) = delete;
  FailedUnlessSettled& operator=(const FailedUnlessSettled&) = delete;
  ~FailedUnlessSettled() {
    if (!settled_) failed_.fetch_add(1, std::memory_order_relaxed);
  }
  void Settle() { settled_ = true; }

 private:
  std::atomic<uint64_t>& failed_;
  bool settled_ = false;
};

}  // namespace

bool IsLoopbackRedirectUri(std::string_view uri) {
  if (uri.size() > kMaxLoopbackRedirectUriLength) return false;
  for (char c : uri) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f) return false;
  }
  for (std::string_view host :
       {std::string_view("http://127.0.0.1:"), std::string_view("http://[::1]:")}) {
    if (uri.substr(0, host.size()) != host) continue;
    std::string_view rest = uri.substr(host.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash > 5) return false;
    int port = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + slash, port);
    if (ec != std::errc() || p != rest.data() + slash || port <= 0 || port > 65535) return false;
    // The CLI's listener path, exactly: no other path, no query (ours to add), no fragment.
    std::string_view path = rest.substr(slash);
    return path == "/callback";
  }
  return false;
}

LoginService::LoginService(Stores stores, IdentityProvider& idp,
                           const crypto::CredentialHasher& hasher, Authenticator& authenticator,
                           const Clock& clock, Random& random, LoginConfig config)
    : users_(stores.users),
      invitations_(stores.invitations),
      sessions_(stores.sessions),
      login_state_(stores.login_state),
      idp_(idp),
      hasher_(hasher),
      authenticator_(authenticator),
      clock_(clock),
      random_(random),
      config_(std::move(config)) {}

void LoginService::MaybePurgeExpiredLoginState(UnixMillis min_interval) {
  UnixMillis now = clock_.Now();
  UnixMillis last = last_purge_.load();
  // A clock that went back (now < last) purges and restarts the interval from `now`.
  if (last != kNeverPurged && now >= last && now - last < min_interval) return;
  // One caller per interval: a concurrent login that loses the race skips the purge.
  if (!last_purge_.compare_exchange_strong(last, now)) return;
  auto st = login_state_.PurgeExpiredLoginState(now);
  if (!st) {
    Log(LogLevel::kWarn, "purging expired login state failed", {{"error", st.error().ToString()}});
  }
}

Result<bool> LoginService::CheckPendingLoginCapacity() {
  const int64_t cap = config_.max_pending_logins;
  if (cap <= 0) return false;
  // Like the purge, the count is best effort: a database that cannot count fails the start on
  // its own when the row is written, and the cap must not be the only thing that refuses it.
  auto pending = login_state_.CountPendingLogins();
  if (pending && *pending >= cap) {
    // Expired rows count until purged: make room from them before refusing anyone.
    MaybePurgeExpiredLoginState(kLoginStateFullPurgeInterval);
    pending = login_state_.CountPendingLogins();
  }
  if (!pending) {
    Log(LogLevel::kWarn, "counting pending logins failed", {{"error", pending.error().ToString()}});
    return false;
  }
  if (*pending < cap) return *pending >= cap - kPendingLoginRecheckMargin;
  const UnixMillis now = clock_.Now();
  UnixMillis last = last_full_warning_.load();
  if ((last == kNeverPurged || now < last || now - last >= kLoginStatePurgeInterval) &&
      last_full_warning_.compare_exchange_strong(last, now)) {
    Log(LogLevel::kWarn, "pending logins at the cap; refusing new login starts",
        {{"pending", *pending}, {"max_pending_logins", cap}});
  }
  return Fail(LoginCapacityExhausted());
}

template <typename Undo>
Status LoginService::RetractIfOverCap(Undo&& undo) {
  const int64_t cap = config_.max_pending_logins;
  if (cap <= 0) return Ok();
  auto pending = login_state_.CountPendingLogins();
  if (!pending || *pending <= cap) return Ok();  // best effort, like the check before
  // Starts running at once (on this instance or others) all passed the check: the ones that
  // find the table over the cap after writing take their row back, so it never stays over.
  auto undone = undo();
  if (!undone && !undone.error().IsNotFound()) {
    Log(LogLevel::kWarn, "removing a login start over the cap failed",
        {{"error", undone.error().ToString()}});
  }
  return Fail(LoginCapacityExhausted());
}

bool LoginService::RedirectUriAllowed(const std::string& uri) const {
  if (IsLoopbackRedirectUri(uri)) return true;
  for (const auto& prefix : config_.allowed_redirect_prefixes) {
    if (uri == prefix) return true;
  }
  return false;
}

Result<std::string> LoginService::StartBrowserLogin(const std::string& redirect_uri,
                                                    const std::string& client_state,
                                                    const std::string& code_challenge,
                                                    const std::string& method) {
  if (!RedirectUriAllowed(redirect_uri)) {
    return Fail(Error::InvalidArgument(
        "redirect_uri must be a loopback URI such as http://127.0.0.1:PORT/callback",
        Reason::kInvalidRedirectUri));
  }
  if (method != "S256") {
    return Fail(
        Error::InvalidArgument("code_challenge_method must be S256", Reason::kInvalidRequest));
  }
  if (code_challenge.size() != 43 || !IsBase64UrlChars(code_challenge)) {
    return Fail(Error::InvalidArgument("code_challenge must be a base64url SHA-256 (43 chars)",
                                       Reason::kInvalidRequest));
  }
  if (client_state.empty() || client_state.size() > 256 || !IsBase64UrlChars(client_state)) {
    return Fail(Error::InvalidArgument("state must be 1..256 URL-safe characters",
                                       Reason::kInvalidRequest));
  }
  CL_ASSIGN_OR_RETURN(bool near_cap, CheckPendingLoginCapacity());
  std::string state = RandomUrlSafe(random_, 32);
  std::string nonce = RandomUrlSafe(random_, 32);
  std::string verifier = RandomUrlSafe(random_, 32);
  store::LoginRequest req;
  req.state_hash = hasher_.Hash(state);
  req.nonce = nonce;
  req.upstream_code_verifier = verifier;
  req.cli_redirect_uri = redirect_uri;
  req.cli_state = client_state;
  req.cli_code_challenge = code_challenge;
  req.expires_at = clock_.Now() + config_.login_request_ttl;
  CL_ASSIGN_OR_RETURN(std::string url,
                      idp_.AuthorizationUrl(state, nonce, crypto::PkceS256Challenge(verifier)));
  MaybePurgeExpiredLoginState();
  CL_RETURN_IF_ERROR(login_state_.PutLoginRequest(req));
  if (near_cap) {
    CL_RETURN_IF_ERROR(
        RetractIfOverCap([&] { return login_state_.TakeLoginRequest(req.state_hash, 0); }));
  }
  browser_counts_.started.fetch_add(1, std::memory_order_relaxed);
  return url;
}

Result<store::LoginRequest> LoginService::TakePendingLogin(const std::string& state) {
  std::string state_hash;
  auto req = FindUnderAnyPepper<store::LoginRequest>(
      hasher_, state, &state_hash,
      [&](const std::string& h) { return login_state_.TakeLoginRequest(h, clock_.Now()); });
  if (!req) {
    if (req.error().IsNotFound()) {
      return Fail(Error::InvalidArgument(
          "unknown or expired login attempt (state mismatch); start the login again",
          Reason::kInvalidState));
    }
    return Fail(req.error());
  }
  return req;
}

Result<std::string> LoginService::CompleteCallback(const std::string& code,
                                                   const std::string& state,
                                                   const std::string& client_address) {
  FailedUnlessSettled counted(browser_counts_.failed);
  if (state.empty() || code.empty()) {
    return Fail(Error::InvalidArgument("the identity provider's response lacks code or state",
                                       Reason::kInvalidCallback));
  }
  CL_ASSIGN_OR_RETURN(store::LoginRequest pending, TakePendingLogin(state));
  const store::LoginRequest* req = &pending;
  CL_ASSIGN_OR_RETURN(VerifiedIdentity identity,
                      idp_.ExchangeCode(code, req->upstream_code_verifier, req->nonce));
  CL_ASSIGN_OR_RETURN(store::User user, OnIdentityVerified(identity, client_address));

  std::string one_time = crypto::GenerateCredential(crypto::CredentialKind::kLoginCode, random_);
  store::AuthCode ac;
  ac.code_hash = hasher_.Hash(one_time);
  ac.user_id = user.id;
  ac.cli_code_challenge = req->cli_code_challenge;
  ac.expires_at = clock_.Now() + config_.auth_code_ttl;
  MaybePurgeExpiredLoginState();
  CL_RETURN_IF_ERROR(login_state_.PutAuthCode(ac));
  Log(LogLevel::kInfo, "login callback completed", {{"user_id", user.id}});
  counted.Settle();  // completed by ExchangeCode
  return req->cli_redirect_uri + "?code=" + UrlEncode(one_time) +
         "&state=" + UrlEncode(req->cli_state);
}

Result<std::string> LoginService::AbortCallback(const std::string& error,
                                                const std::string& state) {
  browser_counts_.failed.fetch_add(1, std::memory_order_relaxed);  // cancelled or refused
  if (state.empty()) {
    return Fail(Error::InvalidArgument("the identity provider's response lacks state",
                                       Reason::kInvalidCallback));
  }
  CL_ASSIGN_OR_RETURN(store::LoginRequest pending, TakePendingLogin(state));
  const store::LoginRequest* req = &pending;
  // Logged by the caller, with the request id.
  std::string code(KnownOAuthAuthorizationErrorOr(error));
  return req->cli_redirect_uri + "?error=" + UrlEncode(code) +
         "&state=" + UrlEncode(req->cli_state);
}

Result<IssuedSession> LoginService::ExchangeCode(const std::string& code,
                                                 const std::string& code_verifier) {
  FailedUnlessSettled counted(browser_counts_.failed);
  auto kind = crypto::ParseCredential(code);
  if (!kind || *kind != crypto::CredentialKind::kLoginCode) {
    return Fail(Error::InvalidArgument("the login code is malformed", Reason::kInvalidGrant));
  }
  std::string code_hash;
  auto ac = FindUnderAnyPepper<store::AuthCode>(
      hasher_, code, &code_hash,
      [&](const std::string& h) { return login_state_.TakeAuthCode(h, clock_.Now()); });
  if (!ac) {
    if (ac.error().IsNotFound()) {
      return Fail(Error::InvalidArgument("the login code is unknown, expired or already used",
                                         Reason::kInvalidGrant));
    }
    return Fail(ac.error());
  }
  if (code_verifier.size() < 43 || code_verifier.size() > 128 ||
      !crypto::ConstantTimeEquals(crypto::PkceS256Challenge(code_verifier),
                                  ac->cli_code_challenge)) {
    return Fail(Error::InvalidArgument("code_verifier does not match the login's challenge",
                                       Reason::kInvalidGrant));
  }
  CL_ASSIGN_OR_RETURN(store::User user, users_.GetUser(ac->user_id));
  CL_ASSIGN_OR_RETURN(IssuedSession issued, IssueSession(user));
  counted.Settle();
  browser_counts_.completed.fetch_add(1, std::memory_order_relaxed);
  return issued;
}

Result<DeviceLoginStart> LoginService::StartDevice() {
  CL_ASSIGN_OR_RETURN(bool near_cap, CheckPendingLoginCapacity());
  CL_ASSIGN_OR_RETURN(DeviceAuthorizationStart start, idp_.StartDeviceAuthorization());
  std::string handle = crypto::GenerateCredential(crypto::CredentialKind::kDeviceHandle, random_);
  store::DeviceRequest r;
  r.handle_hash = hasher_.Hash(handle);
  r.upstream_device_code = start.device_code;
  r.expires_at = clock_.Now() + static_cast<UnixMillis>(start.expires_in) * kMillisPerSecond;
  r.interval_seconds = start.interval;
  MaybePurgeExpiredLoginState();
  CL_RETURN_IF_ERROR(login_state_.PutDeviceRequest(r));
  if (near_cap) {
    CL_RETURN_IF_ERROR(
        RetractIfOverCap([&] { return login_state_.DeleteDeviceRequest(r.handle_hash); }));
  }
  DeviceLoginStart out;
  out.device_handle = handle;
  out.user_code = start.user_code;
  out.verification_uri = start.verification_uri;
  out.verification_uri_complete = start.verification_uri_complete;
  out.expires_in = start.expires_in;
  out.interval = start.interval;
  device_counts_.started.fetch_add(1, std::memory_order_relaxed);
  return out;
}

Result<IssuedSession> LoginService::PollDevice(const std::string& device_handle,
                                               const std::string& client_address) {
  FailedUnlessSettled counted(device_counts_.failed);
  auto kind = crypto::ParseCredential(device_handle);
  if (!kind || *kind != crypto::CredentialKind::kDeviceHandle) {
    return Fail(Error::InvalidArgument("the device handle is malformed", Reason::kInvalidGrant));
  }
  std::string hash;
  auto req = FindUnderAnyPepper<store::DeviceRequest>(
      hasher_, device_handle, &hash,
      [&](const std::string& h) { return login_state_.GetDeviceRequest(h, clock_.Now()); });
  if (!req) {
    if (req.error().IsNotFound()) {
      return Fail(
          Error::InvalidArgument("the device login expired; start again", Reason::kExpiredToken));
    }
    return Fail(req.error());
  }
  const UnixMillis now = clock_.Now();
  if (device_pacer_.PollIsEarly(hash, now,
                                static_cast<UnixMillis>(req->interval_seconds) * kMillisPerSecond,
                                req->expires_at)) {
    // Answered before asking the IdP: a client polling too fast costs no upstream call.
    counted.Settle();
    return Fail(Error::InvalidArgument(
        "polling faster than the interval; wait " +
            std::to_string(device_pacer_.IntervalFor(hash) / kMillisPerSecond) +
            " seconds between polls",
        Reason::kSlowDown));
  }
  CL_ASSIGN_OR_RETURN(DevicePollOutcome outcome, idp_.PollDevice(req->upstream_device_code));
  switch (outcome.state) {
    case DevicePollOutcome::State::kPending:
      counted.Settle();
      return Fail(Error::InvalidArgument("waiting for the person to approve the login",
                                         Reason::kAuthorizationPending));
    case DevicePollOutcome::State::kSlowDown:
      device_pacer_.SlowDown(hash);
      counted.Settle();
      return Fail(Error::InvalidArgument("polling too fast; slow down", Reason::kSlowDown));
    case DevicePollOutcome::State::kExpired:
      device_pacer_.Forget(hash);
      (void)login_state_.DeleteDeviceRequest(hash);
      return Fail(
          Error::InvalidArgument("the device login expired; start again", Reason::kExpiredToken));
    case DevicePollOutcome::State::kDenied:
      device_pacer_.Forget(hash);
      (void)login_state_.DeleteDeviceRequest(hash);
      return Fail(Error::InvalidArgument("the login was denied", Reason::kAccessDenied));
    case DevicePollOutcome::State::kApproved:
      break;
  }
  device_pacer_.Forget(hash);
  CL_RETURN_IF_ERROR(login_state_.DeleteDeviceRequest(hash));
  CL_ASSIGN_OR_RETURN(store::User user, OnIdentityVerified(outcome.identity, client_address));
  CL_ASSIGN_OR_RETURN(IssuedSession issued, IssueSession(user));
  counted.Settle();
  device_counts_.completed.fetch_add(1, std::memory_order_relaxed);
  return issued;
}

Result<store::User> LoginService::OnIdentityVerified(const VerifiedIdentity& id,
                                                     const std::string& client_address) {
  UnixMillis now = clock_.Now();
  store::User u;
  u.id = NewUuid(random_);
  u.issuer = id.issuer;
  u.subject = id.subject;
  u.email = id.email;
  u.email_verified = id.email_verified;
  u.name = id.name;
  u.created_at = now;
  u.updated_at = now;
  CL_ASSIGN_OR_RETURN(store::User user, users_.UpsertUser(u));
  // An unverified email proves nothing about who reads that mailbox: no invitations for it.
  if (user.email_verified && !user.email.empty()) {
    std::string email = user.email;
    for (auto& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CL_ASSIGN_OR_RETURN(auto invitations, invitations_.ListPendingInvitationsForEmail(email));
    for (const auto& inv : invitations) {
      store::Membership m{inv.org_id, user.id, inv.role, now, "", "", ""};
      store::AuditEvent ev = NewAuditEvent(
          AuditActor::User(user, client_address),
          {inv.org_id, AuditAction::kInvitationAccepted, AuditTarget::kInvitation, inv.id,
           user.email + " joined as " + std::string(store::OrgRoleName(inv.role))},
          now, random_);
      auto st = invitations_.AcceptInvitation(inv.id, m, now, ev);
      if (!st && !st.error().IsNotFound()) return Fail(st.error());
    }
  }
  return user;
}

Result<IssuedSession> LoginService::IssueSession(const store::User& user) {
  UnixMillis now = clock_.Now();
  IssuedSession out;
  out.token = crypto::GenerateCredential(crypto::CredentialKind::kSession, random_);
  out.expires_at = now + config_.session_lifetime;
  out.user = user;
  store::Session s;
  s.id = NewUuid(random_);
  s.user_id = user.id;
  s.token_hash = hasher_.Hash(out.token);
  s.pepper_id = hasher_.current_pepper_id();
  s.created_at = now;
  s.expires_at = out.expires_at;
  CL_RETURN_IF_ERROR(sessions_.CreateSession(s));
  sessions_created_.fetch_add(1, std::memory_order_relaxed);
  Log(LogLevel::kInfo, "session created", {{"user_id", user.id}, {"session_id", s.id}});
  return out;
}

Status LoginService::Logout(const Principal& p, std::string_view authorization) {
  if (p.kind != Principal::Kind::kUser || p.session_id.empty()) {
    return Fail(
        Error::InvalidArgument("only a login session can be logged out", Reason::kInvalidArgument));
  }
  CL_RETURN_IF_ERROR(sessions_.RevokeSession(p.session_id, clock_.Now()));
  sessions_revoked_.fetch_add(1, std::memory_order_relaxed);
  auto token = ExtractBearer(authorization);
  if (token) {
    // Under every pepper: instances mid-rotation may have cached it under another one.
    for (size_t i = 0; i < hasher_.pepper_count(); ++i) {
      authenticator_.NotifyRevoked(hasher_.HashWith(i, *token));
    }
  }
  return Ok();
}

LoginService::Stats LoginService::GetStats() const {
  auto flow = [](const FlowCounters& c) {
    return FlowCounts{c.started.load(std::memory_order_relaxed),
                      c.completed.load(std::memory_order_relaxed),
                      c.failed.load(std::memory_order_relaxed)};
  };
  Stats s;
  s.browser = flow(browser_counts_);
  s.device = flow(device_counts_);
  s.sessions_created = sessions_created_.load(std::memory_order_relaxed);
  s.sessions_revoked = sessions_revoked_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace cl::domain
