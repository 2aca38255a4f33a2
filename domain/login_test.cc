// LoginService: browser and device flows, one-time codes, logout, invitations accepted at login.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

TEST_F(DomainTest, BrowserLoginIssuesA24HourSession) {
  std::string token = LoginAs("alice", "alice@example.com");
  ASSERT_EQ(token.rfind("clses_", 0), 0u);
  Principal p = Auth(token);
  EXPECT_EQ(p.display_name, "alice@example.com");
  EXPECT_EQ(p.session_expires_at, clock_.Now() + 24 * kMillisPerHour);

  clock_.Advance(24 * kMillisPerHour - 1);
  EXPECT_TRUE(authn_->Authenticate("Bearer " + token));
  clock_.Advance(1);
  auto expired = authn_->Authenticate("Bearer " + token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().reason(), "session_expired");
}

TEST_F(DomainTest, SessionTokenIsStoredOnlyHashed) {
  std::string token = LoginAs("alice", "alice@example.com");
  auto s = db_->GetSessionByHash(hasher_.Hash(token));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->token_hash.find(token), std::string::npos);
  EXPECT_EQ(s->token_hash.size(), 64u);
}

TEST_F(DomainTest, LogoutRevokesAtOnce) {
  std::string token = LoginAs("alice", "alice@example.com");
  Principal p = Auth(token);
  ASSERT_TRUE(login_->Logout(p, "Bearer " + token));
  auto after = authn_->Authenticate("Bearer " + token);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().reason(), "session_revoked");
}

TEST_F(DomainTest, LoginCodeIsSingleUseBoundToChallengeAndShortLived) {
  std::string challenge = crypto::PkceS256Challenge(Verifier());
  ASSERT_TRUE(login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "s", challenge, "S256"));
  auto redirect = login_->CompleteCallback("idp-code", idp_.last_state);
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->rfind("http://127.0.0.1:5555/callback?code=clcode_", 0), 0u);
  std::string code = CodeFrom(*redirect);
  // Wrong verifier consumes the code.
  auto wrong = login_->ExchangeCode(code, std::string(43, 'w'));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().reason(), "invalid_grant");
  EXPECT_FALSE(login_->ExchangeCode(code, Verifier()));

  // A fresh code expires after 60 s.
  ASSERT_TRUE(login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "s", challenge, "S256"));
  redirect = login_->CompleteCallback("idp-code", idp_.last_state);
  ASSERT_TRUE(redirect);
  clock_.Advance(61 * kMillisPerSecond);
  EXPECT_FALSE(login_->ExchangeCode(CodeFrom(*redirect), Verifier()));
}

TEST_F(DomainTest, CallbackStateIsSingleUse) {
  std::string challenge = crypto::PkceS256Challenge(Verifier());
  ASSERT_TRUE(login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "s", challenge, "S256"));
  std::string state = idp_.last_state;
  ASSERT_TRUE(login_->CompleteCallback("idp-code", state));
  auto replay = login_->CompleteCallback("idp-code", state);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().reason(), "invalid_state");
  EXPECT_EQ(login_->CompleteCallback("idp-code", "forged").error().reason(), "invalid_state");
}

// The person cancels at the IdP: the callback's `error` ends the pending login (it can no longer
// complete) and sends the browser back to the CLI with a known OAuth code and the CLI's own
// state, never the IdP's free text.
TEST_F(DomainTest, ErrorCallbackEndsThePendingLoginAndRedirectsToTheClient) {
  std::string challenge = crypto::PkceS256Challenge(Verifier());
  const std::pair<std::string, std::string> cases[] = {
      {"access_denied", "access_denied"},
      {"login_required", "login_required"},
      {"consent_required", "consent_required"},
      {"temporarily_unavailable", "temporarily_unavailable"},
      {"something_else", "server_error"},
      {"access_denied&code=clcode_x", "server_error"},
      {"<script>", "server_error"},
      {"", "server_error"},
  };
  for (const auto& [error, passed_on] : cases) {
    SCOPED_TRACE(error);
    ASSERT_TRUE(login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "cli-state-1",
                                          challenge, "S256"));
    std::string state = idp_.last_state;
    auto redirect = login_->AbortCallback(error, state);
    ASSERT_TRUE(redirect) << redirect.error().ToString();
    EXPECT_EQ(*redirect,
              "http://127.0.0.1:5555/callback?error=" + passed_on + "&state=cli-state-1");
    // The login request is gone: neither a code nor another error can use the state again.
    auto later = login_->CompleteCallback("idp-code", state);
    ASSERT_FALSE(later);
    EXPECT_EQ(later.error().reason(), "invalid_state");
    auto again = login_->AbortCallback("access_denied", state);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().reason(), "invalid_state");
  }
  // A state that names no pending login (forged, missing, expired) redirects nowhere.
  for (const char* state : {"forged", ""}) {
    auto r = login_->AbortCallback("access_denied", state);
    ASSERT_FALSE(r) << state;
    EXPECT_TRUE(r.error().IsInvalidArgument());
  }
  ASSERT_TRUE(login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "s", challenge, "S256"));
  std::string expired = idp_.last_state;
  clock_.Advance(11 * kMillisPerMinute);
  auto r = login_->AbortCallback("access_denied", expired);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "invalid_state");
}

TEST_F(DomainTest, LoginRejectsNonLoopbackRedirectsAndPlainPkce) {
  std::string challenge = crypto::PkceS256Challenge(Verifier());
  for (const char* uri : {"https://evil.test/callback", "http://127.0.0.1.evil.test:1/callback",
                          "http://localhost:1/callback", "http://127.0.0.1:99999/callback",
                          "http://127.0.0.1:80/callback#frag"}) {
    EXPECT_FALSE(login_->StartBrowserLogin(uri, "s", challenge, "S256")) << uri;
  }
  EXPECT_FALSE(login_->StartBrowserLogin("http://127.0.0.1:1/callback", "s", challenge, "plain"));
  EXPECT_TRUE(login_->StartBrowserLogin("http://[::1]:1/callback", "s", challenge, "S256"));
}

TEST_F(DomainTest, IdpDownIsUnavailable) {
  idp_.down = true;
  auto r = login_->StartBrowserLogin("http://127.0.0.1:1/callback", "s",
                                     crypto::PkceS256Challenge(Verifier()), "S256");
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsUnavailable());
}

TEST_F(DomainTest, DeviceFlowPendingThenApproved) {
  auto start = login_->StartDevice();
  ASSERT_TRUE(start);
  EXPECT_EQ(start->device_handle.find("upstream"), std::string::npos);
  EXPECT_EQ(login_->PollDevice(start->device_handle).error().reason(), "authorization_pending");
  idp_.device_state = DevicePollOutcome::State::kApproved;
  clock_.Advance(start->interval * kMillisPerSecond);
  auto session = login_->PollDevice(start->device_handle);
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_TRUE(authn_->Authenticate("Bearer " + session->token));
  // The handle is spent.
  EXPECT_FALSE(login_->PollDevice(start->device_handle));
}

// RFC 8628 section 3.5: a poll sooner than the interval gets slow_down without reaching the IdP,
// and the interval grows by 5 s for that poll and every later one.
TEST_F(DomainTest, DevicePollFasterThanTheIntervalGetsSlowDown) {
  auto start = login_->StartDevice();
  ASSERT_TRUE(start);
  ASSERT_EQ(start->interval, 5);
  const std::string& handle = start->device_handle;
  EXPECT_EQ(login_->PollDevice(handle).error().reason(), "authorization_pending");
  EXPECT_EQ(idp_.device_polls, 1);

  clock_.Advance(5 * kMillisPerSecond - 1);
  auto early = login_->PollDevice(handle);
  EXPECT_EQ(early.error().reason(), "slow_down");
  EXPECT_THAT(early.error().message(), ::testing::HasSubstr("10 seconds"));
  EXPECT_EQ(idp_.device_polls, 1);  // answered without the IdP

  // The interval is now 10 s: 5 s after the early poll is still too soon, and grows it again.
  clock_.Advance(5 * kMillisPerSecond);
  EXPECT_EQ(login_->PollDevice(handle).error().reason(), "slow_down");
  clock_.Advance(15 * kMillisPerSecond - 1);
  EXPECT_EQ(login_->PollDevice(handle).error().reason(), "slow_down");
  // A client that keeps the grown interval (20 s now) is served again.
  clock_.Advance(20 * kMillisPerSecond);
  EXPECT_EQ(login_->PollDevice(handle).error().reason(), "authorization_pending");
  EXPECT_EQ(idp_.device_polls, 2);
  clock_.Advance(20 * kMillisPerSecond);
  idp_.device_state = DevicePollOutcome::State::kApproved;
  EXPECT_TRUE(login_->PollDevice(handle));
}

TEST_F(DomainTest, DevicePollsAtTheIntervalNeverSlowDownAndDeviceLoginsArePacedApart) {
  auto a = login_->StartDevice();
  auto b = login_->StartDevice();
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(login_->PollDevice(a->device_handle).error().reason(), "authorization_pending");
    // Another device login polled in between does not count against the first.
    EXPECT_EQ(login_->PollDevice(b->device_handle).error().reason(), "authorization_pending");
    clock_.Advance(5 * kMillisPerSecond);
  }
  // The IdP's own slow_down grows the interval too.
  idp_.device_state = DevicePollOutcome::State::kSlowDown;
  EXPECT_EQ(login_->PollDevice(a->device_handle).error().reason(), "slow_down");
  idp_.device_state = DevicePollOutcome::State::kPending;
  clock_.Advance(5 * kMillisPerSecond);
  EXPECT_EQ(login_->PollDevice(a->device_handle).error().reason(), "slow_down");
  EXPECT_EQ(login_->PollDevice(b->device_handle).error().reason(), "authorization_pending");
}

TEST_F(DomainTest, InvitationAcceptedAtNextLoginOnlyForVerifiedEmail) {
  Principal owner = Auth(LoginAs("owner", "owner@example.com"));
  ASSERT_TRUE(orgs_->Create(owner, "acme"));
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "Bob@Example.com", store::OrgRole::kViewer));
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "eve@example.com", store::OrgRole::kAdmin));

  Principal eve = Auth(LoginAs("eve", "eve@example.com", /*verified=*/false));
  EXPECT_TRUE(orgs_->Describe(eve, "acme").error().IsNotFound());

  Principal bob = Auth(LoginAs("bob", "bob@example.com"));
  auto d = orgs_->Describe(bob, "acme");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->role, store::OrgRole::kViewer);
  auto members = Items(orgs_->ListMembers(owner, "acme", {}));
  ASSERT_TRUE(members);
  EXPECT_EQ(members->size(), 2u);
  // A viewer cannot create projects or invite.
  EXPECT_TRUE(orgs_->CreateProject(bob, "acme", "p").error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->Invite(bob, "acme", "x@example.com", store::OrgRole::kViewer)
                  .error()
                  .IsPermissionDenied());
  // Audit trail has the creation, both invitations and the acceptance.
  auto events = Items(orgs_->ListAuditEvents(owner, "acme", {}, {.limit = 10}));
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 4u);
  EXPECT_EQ(events->front().action, "invitation.accepted");
}

}  // namespace
}  // namespace cl::domain
