// LoginService: interactive login of people (browser flow and device flow) and their sessions.
//
// Browser flow (RFC 8252 + RFC 7636 on both legs):
//   CLI --(redirect_uri, state, S256 challenge)--> StartBrowserLogin --> IdP authorize URL
//   IdP --(code, state)--> CompleteCallback --> CLI loopback ?code=<one-time code>&state
//   CLI --(code, verifier)--> ExchangeCode --> session token (never in a URL)
// Device flow (RFC 8628): StartDevice relays to the IdP; the CLI polls PollDevice with an
// opaque handle; the upstream device_code never leaves the server.
#pragma once

#include <atomic>
#include <limits>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "crypto/hash.h"
#include "domain/authenticator.h"
#include "domain/device_poll_pacer.h"
#include "domain/identity_provider.h"
#include "domain/principal.h"
#include "store/store.h"

namespace cl::domain {

struct LoginConfig {
  UnixMillis session_lifetime = 24 * kMillisPerHour;
  UnixMillis login_request_ttl = 10 * kMillisPerMinute;
  UnixMillis auth_code_ttl = 60 * kMillisPerSecond;
  // Extra redirect URIs accepted besides loopback ones (e.g. the web UI's own callback).
  std::vector<std::string> allowed_redirect_prefixes;
  // Pending logins (login requests + device requests, see CountPendingLogins) allowed at once;
  // 0: no cap. A start beyond it is refused, never an in-flight login evicted.
  int64_t max_pending_logins = 10'000;
};

struct IssuedSession {
  std::string token;  // shown once, to the client that logged in
  UnixMillis expires_at = 0;
  store::User user;
};

struct DeviceLoginStart {
  std::string device_handle;
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;
  int expires_in = 0;
  int interval = 5;
};

// Expired login state (login requests, one-time codes, device requests) is deleted by the
// LoginService itself, at most this often per process, when a login writes new state.
constexpr UnixMillis kLoginStatePurgeInterval = kMillisPerMinute;
// While the pending logins are at the cap, expired ones are purged at most this often (a
// refused start must stay cheap).
constexpr UnixMillis kLoginStateFullPurgeInterval = kMillisPerSecond;
// A start that counted fewer than (cap - this) pending logins skips the re-count after writing
// its row: only that many starts running at once, on all instances, could push it over.
constexpr int64_t kPendingLoginRecheckMargin = 256;

class LoginService {
 public:
  // The stores it reads and writes. REQUIRES: each outlives the service.
  struct Stores {
    store::UserStore& users;
    store::InvitationStore& invitations;  // accepted at login
    store::SessionStore& sessions;
    store::LoginStateStore& login_state;
  };

  LoginService(Stores stores, IdentityProvider& idp, const crypto::CredentialHasher& hasher,
               Authenticator& authenticator, const Clock& clock, Random& random,
               LoginConfig config);

  // Validates the client's parameters and returns the IdP authorization URL to redirect to.
  Result<std::string> StartBrowserLogin(const std::string& redirect_uri,
                                        const std::string& client_state,
                                        const std::string& code_challenge,
                                        const std::string& code_challenge_method);

  // Handles the IdP's redirect; returns the client's redirect URL carrying the one-time code.
  // `client_address` (the redirected browser's) goes into the audit events of the login.
  Result<std::string> CompleteCallback(const std::string& code, const std::string& state,
                                       const std::string& client_address = "");

  // Handles the IdP's error redirect (`error` instead of `code`, e.g. the person pressed Cancel):
  // ends the pending login named by `state` (its row is deleted, so it can no longer complete)
  // and returns the client's redirect URL carrying `error=<code>&state=<client state>`, so the
  // waiting CLI stops at once. `error` is passed on only when it is a known OAuth code, else
  // as "server_error": never free text. Errors: InvalidArgument("invalid_state") when no pending
  // login has that state.
  Result<std::string> AbortCallback(const std::string& error, const std::string& state);

  // Exchanges the one-time code (single use, 60 s, bound to the PKCE challenge).
  Result<IssuedSession> ExchangeCode(const std::string& code, const std::string& code_verifier);

  // Starts a device login at the IdP. Like StartBrowserLogin, refused with
  // Unavailable("login_capacity_exhausted") while config.max_pending_logins are pending, before
  // anything is asked of the IdP.
  Result<DeviceLoginStart> StartDevice();
  // Errors with reason authorization_pending / slow_down / expired_token / access_denied.
  // `client_address` (the polling client's) goes into the audit events of the login.
  // slow_down (RFC 8628 section 3.5) when this instance saw the previous poll of the handle less
  // than its interval ago (the IdP is not asked then), or when the IdP says so; either way the
  // handle's interval grows by 5 s (DevicePollPacer).
  Result<IssuedSession> PollDevice(const std::string& device_handle,
                                   const std::string& client_address = "");

  // Revokes the session behind `authorization` (the raw header) for `p`.
  Status Logout(const Principal& p, std::string_view authorization);

  // Counts since start, for /metrics. A flow is started when its start returned a URL or a
  // device code; completed when it issued a session; failed when a leg ended it otherwise
  // (refused callback, cancelled or denied at the IdP, bad or expired code, expired device
  // login). A device poll that is told to wait (authorization_pending, slow_down) is neither.
  struct FlowCounts {
    uint64_t started = 0, completed = 0, failed = 0;
  };
  struct Stats {
    FlowCounts browser, device;
    uint64_t sessions_created = 0, sessions_revoked = 0;
  };
  Stats GetStats() const;

  // Creates or updates the user and accepts pending invitations for a verified email; the
  // acceptances are audited with `client_address`.
  Result<store::User> OnIdentityVerified(const VerifiedIdentity& id,
                                         const std::string& client_address = "");

 private:
  Result<IssuedSession> IssueSession(const store::User& user);
  bool RedirectUriAllowed(const std::string& uri) const;
  // Removes and returns the pending browser login that `state` names (under any pepper);
  // InvalidArgument("invalid_state") when none does or it has expired. Single use.
  Result<store::LoginRequest> TakePendingLogin(const std::string& state);
  // Deletes expired login state unless this process did so less than
  // kLoginStatePurgeInterval ago. Best effort: a failure is logged, never returned, so that
  // unauthenticated login starts cannot grow the database without bound yet never fail on it.
  void MaybePurgeExpiredLoginState(UnixMillis min_interval = kLoginStatePurgeInterval);
  // Ok when a new pending login fits under config_.max_pending_logins, purging expired ones
  // first when at the cap; else Unavailable("login_capacity_exhausted"). Ok(true) when the
  // count was within kPendingLoginRecheckMargin of the cap: concurrent starts may all see room,
  // so the start must call RetractIfOverCap after writing its row.
  Result<bool> CheckPendingLoginCapacity();
  // After a start wrote its row: when the pending logins are now over the cap (concurrent
  // starts that all passed the check), runs `undo` (removes the row) and refuses the start.
  template <typename Undo>
  Status RetractIfOverCap(Undo&& undo);

  store::UserStore& users_;
  store::InvitationStore& invitations_;
  store::SessionStore& sessions_;
  store::LoginStateStore& login_state_;
  IdentityProvider& idp_;
  const crypto::CredentialHasher& hasher_;
  Authenticator& authenticator_;
  const Clock& clock_;
  Random& random_;
  LoginConfig config_;
  // Clock time of the last purge started by this process; kNeverPurged before the first.
  static constexpr UnixMillis kNeverPurged = std::numeric_limits<UnixMillis>::min();
  std::atomic<UnixMillis> last_purge_{kNeverPurged};
  // Clock time of the last "pending logins at the cap" warning (one per purge interval).
  std::atomic<UnixMillis> last_full_warning_{kNeverPurged};
  DevicePollPacer device_pacer_;
  struct FlowCounters {
    std::atomic<uint64_t> started{0}, completed{0}, failed{0};
  };
  FlowCounters browser_counts_, device_counts_;
  std::atomic<uint64_t> sessions_created_{0}, sessions_revoked_{0};
};

// Longest loopback redirect URI accepted ("http://[::1]:65535/callback" is 27 characters).
constexpr size_t kMaxLoopbackRedirectUriLength = 64;

// True for http://127.0.0.1:<port>/callback and http://[::1]:<port>/callback (RFC 8252
// section 7.3), the URI the CLI listens on. No other path, no query or fragment, only printable
// ASCII without spaces, at most kMaxLoopbackRedirectUriLength characters: the URI is stored
// with each login request.
bool IsLoopbackRedirectUri(std::string_view uri);

}  // namespace cl::domain
