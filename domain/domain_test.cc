// Domain rules against a real (SQLite, temp file) store, a fake clock and a fake IdP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "common/json.h"
#include "crypto/credential.h"
#include "crypto/hash.h"
#include "crypto/jose_testing.h"
#include "domain/api_tokens.h"
#include "domain/attestations.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/federation.h"
#include "domain/idp_testing.h"
#include "domain/login.h"
#include "domain/names.h"
#include "domain/organizations.h"
#include "domain/token_inactivity.h"
#include "domain/usage_recorder.h"
#include "jobs/token_revoker.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

std::string Verifier() { return std::string(43, 'v'); }

class DomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cl-domain-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = store::OpenDatabase("sqlite:" + (dir_ / "db.sqlite").string());
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    authn_ = std::make_unique<Authenticator>(
        Authenticator::Stores{
            .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
        hasher_, clock_, &usage_);
    authz_ = std::make_unique<Authorizer>(*db_, *db_);
    login_ = std::make_unique<LoginService>(
        LoginService::Stores{
            .users = *db_, .invitations = *db_, .sessions = *db_, .login_state = *db_},
        idp_, hasher_, *authn_, clock_, random_, LoginConfig{});
    orgs_ = std::make_unique<OrganizationService>(
        OrganizationService::Stores{
            .orgs = *db_, .projects = *db_, .invitations = *db_, .audit = *db_},
        *authz_, clock_, random_);
    atts_ = std::make_unique<AttestationService>(
        AttestationService::Stores{.workflows = *db_, .projects = *db_}, *authz_, *orgs_, clock_,
        random_);
    tokens_ =
        std::make_unique<ApiTokenService>(ApiTokenService::Stores{.tokens = *db_, .projects = *db_},
                                          *authz_, *orgs_, *authn_, hasher_, clock_, random_);
  }
  void TearDown() override {
    tokens_.reset();
    atts_.reset();
    orgs_.reset();
    login_.reset();
    authn_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs the whole browser flow for `identity` and returns the session token.
  std::string LoginAs(const std::string& sub, const std::string& email, bool verified = true) {
    clock_.Advance(kMillisPerSecond);  // distinct timestamps keep "newest first" unambiguous
    idp_.next = VerifiedIdentity{"https://idp.test", sub, email, verified, sub};
    std::string challenge = crypto::PkceS256Challenge(Verifier());
    auto url =
        login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "cli-state", challenge, "S256");
    EXPECT_TRUE(url) << url.error().ToString();
    auto redirect = login_->CompleteCallback("idp-code", idp_.last_state);
    EXPECT_TRUE(redirect) << redirect.error().ToString();
    std::string code = CodeFrom(*redirect);
    auto session = login_->ExchangeCode(code, Verifier());
    EXPECT_TRUE(session) << session.error().ToString();
    return session ? session->token : "";
  }

  static std::string CodeFrom(const std::string& redirect) {
    auto start = redirect.find("code=") + 5;
    return redirect.substr(start, redirect.find('&', start) - start);
  }

  Principal Auth(const std::string& token) {
    auto p = authn_->Authenticate("Bearer " + token);
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? *p : Principal{};
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  crypto::CredentialHasher hasher_{"test-pepper-test-pepper-test-pepper"};
  FakeIdp idp_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<LoginService> login_;
  std::unique_ptr<OrganizationService> orgs_;
  std::unique_ptr<AttestationService> atts_;
  std::unique_ptr<ApiTokenService> tokens_;
  UsageRecorder usage_;
};

TEST(Names, Dns1123Labels) {
  EXPECT_TRUE(ValidateDnsLabel("my-org-1", "name"));
  for (const char* bad : {"", "-a", "a-", "UPPER", "a_b", "a.b", "ä"}) {
    EXPECT_FALSE(ValidateDnsLabel(bad, "name")) << bad;
  }
  EXPECT_TRUE(ValidateDnsLabel(std::string(63, 'a'), "name"));
  EXPECT_FALSE(ValidateDnsLabel(std::string(64, 'a'), "name"));
  EXPECT_EQ(*NormalizeEmail("Bob@Example.COM"), "bob@example.com");
  EXPECT_FALSE(NormalizeEmail("bob"));
  EXPECT_FALSE(NormalizeEmail("a@b@c"));
}

TEST(Authorization, RoleTable) {
  EXPECT_TRUE(OrgRolePermissions("owner").count(perm::kInvitationCreate));
  EXPECT_TRUE(OrgRolePermissions("admin").count(perm::kOrganizationUpdate));
  EXPECT_FALSE(OrgRolePermissions("member").count(perm::kWorkflowRunCreate));
  EXPECT_TRUE(OrgRolePermissions("member").count(perm::kProjectCreate));
  EXPECT_FALSE(OrgRolePermissions("viewer").count(perm::kProjectCreate));
  EXPECT_TRUE(OrgRolePermissions("viewer").count(perm::kWorkflowRunRead));
  EXPECT_TRUE(ProjectRolePermissions("admin").count(perm::kWorkflowRunCreate));
  EXPECT_FALSE(ProjectRolePermissions("viewer").count(perm::kWorkflowRunCreate));
  EXPECT_TRUE(OrgRolePermissions("nobody").empty());
}

TEST(PermissionList, InternSharesIdenticalListsAndCopiesArePointers) {
  std::vector<std::string> v = {"workflow:read", "workflow_run:create"};
  PermissionList a = PermissionList::Intern(v);
  PermissionList b = PermissionList::Intern(v);
  EXPECT_EQ(a.begin(), b.begin());  // one copy of the strings for both
  PermissionList c = PermissionList::Intern({"workflow:read"});
  EXPECT_NE(a.begin(), c.begin());
  PermissionList copy = a;
  EXPECT_EQ(copy.begin(), a.begin());
  EXPECT_EQ(a.size(), 2u);
  EXPECT_TRUE(a.Contains("workflow_run:create"));
  EXPECT_FALSE(a.Contains("workflow_run"));
  EXPECT_FALSE(c.Contains("workflow_run:create"));
  PermissionList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Contains(""));
  EXPECT_EQ(empty.begin(), empty.end());
  // Lists no one holds any more are not kept alive by the intern table.
  const std::string* first = nullptr;
  {
    PermissionList once = PermissionList::Intern({"audit:read", "x:y"});
    first = once.begin();
    EXPECT_EQ(PermissionList::Intern({"audit:read", "x:y"}).begin(), first);
  }
  PermissionList again = PermissionList::Intern({"audit:read", "x:y"});
  EXPECT_TRUE(again.Contains("x:y"));
}

TEST_F(DomainTest, CredentialCacheKeepsOnlyRecentLiveCredentials) {
  std::string alice = LoginAs("alice", "alice@example.com");
  Auth(alice);
  EXPECT_EQ(authn_->CachedEntries(), 1u);
  // Older than the revalidation bound (1 s here): reloaded on next use anyway, so dropped when
  // the next credential is cached.
  clock_.Advance(2000);
  std::string bob = LoginAs("bob", "bob@example.com");
  Auth(bob);
  EXPECT_EQ(authn_->CachedEntries(), 1u);
  Auth(alice);
  EXPECT_EQ(authn_->CachedEntries(), 2u);

  // Refused credentials are answered from the database and never cached.
  clock_.Advance(25 * kMillisPerHour);
  for (int i = 0; i < 3; ++i) {
    auto expired = authn_->Authenticate("Bearer " + alice);
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().reason(), "session_expired");
  }
  EXPECT_LE(authn_->CachedEntries(), 2u);
  std::string carol = LoginAs("carol", "carol@example.com");
  Auth(carol);
  EXPECT_EQ(authn_->CachedEntries(), 1u);  // only carol: the others were stale or refused
}

TEST_F(DomainTest, CredentialCacheStaysWithinItsBoundAndForgets) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 6; ++i) {
    std::string sub = "u" + std::to_string(i);
    tokens.push_back(LoginAs(sub, sub + "@example.com"));
  }
  // Nothing goes stale within the hour: only the bound limits the cache.
  Authenticator small(
      Authenticator::Stores{
          .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
      hasher_, clock_, nullptr, /*max_cache_entries=*/3,
      /*revalidate_after=*/kMillisPerHour);
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto p = small.Authenticate("Bearer " + tokens[i]);
      ASSERT_TRUE(p) << p.error().ToString();
      EXPECT_EQ(p->display_name, "u" + std::to_string(i) + "@example.com");
      EXPECT_LE(small.CachedEntries(), 3u);
    }
  }
  EXPECT_EQ(small.CachedEntries(), 3u);
  // A cached credential is served from the cache alone; Forget (by its stored hex hash) drops it.
  const std::string& last = tokens.back();
  ASSERT_TRUE(small.AuthenticateCached("Bearer " + last).has_value());
  small.Forget(hasher_.Hash(last));
  EXPECT_EQ(small.CachedEntries(), 2u);
  EXPECT_FALSE(small.AuthenticateCached("Bearer " + last).has_value());
  small.Forget("not-a-hash");  // ignored
  EXPECT_EQ(small.CachedEntries(), 2u);
  small.ForgetAll();
  EXPECT_EQ(small.CachedEntries(), 0u);
  EXPECT_TRUE(small.Authenticate("Bearer " + last));
}

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

TEST_F(DomainTest, UnknownAndMistypedTokensHaveDistinctReasons) {
  std::string token = LoginAs("alice", "alice@example.com");
  std::string mistyped = token;
  mistyped[10] = mistyped[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(authn_->Authenticate("Bearer " + mistyped).error().reason(), "malformed_token");
  std::string other = crypto::GenerateCredential(crypto::CredentialKind::kSession, random_);
  EXPECT_EQ(authn_->Authenticate("Bearer " + other).error().reason(), "invalid_token");
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
  auto session = login_->PollDevice(start->device_handle);
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_TRUE(authn_->Authenticate("Bearer " + session->token));
  // The handle is spent.
  EXPECT_FALSE(login_->PollDevice(start->device_handle));
}

TEST_F(DomainTest, InvitationAcceptedAtNextLoginOnlyForVerifiedEmail) {
  Principal owner = Auth(LoginAs("owner", "owner@example.com"));
  ASSERT_TRUE(orgs_->Create(owner, "acme"));
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "Bob@Example.com", "viewer"));
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "eve@example.com", "admin"));

  Principal eve = Auth(LoginAs("eve", "eve@example.com", /*verified=*/false));
  EXPECT_TRUE(orgs_->Describe(eve, "acme").error().IsNotFound());

  Principal bob = Auth(LoginAs("bob", "bob@example.com"));
  auto d = orgs_->Describe(bob, "acme");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->role, "viewer");
  auto members = orgs_->ListMembers(owner, "acme");
  ASSERT_TRUE(members);
  EXPECT_EQ(members->size(), 2u);
  // A viewer cannot create projects or invite.
  EXPECT_TRUE(orgs_->CreateProject(bob, "acme", "p").error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->Invite(bob, "acme", "x@example.com", "viewer").error().IsPermissionDenied());
  // Audit trail has the creation, both invitations and the acceptance.
  auto events = orgs_->ListAuditEvents(owner, "acme", 10);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 4u);
  EXPECT_EQ(events->front().action, "invitation.accepted");
}

TEST_F(DomainTest, OrganizationNamesAreUniqueAndValidated) {
  Principal a = Auth(LoginAs("a", "a@example.com"));
  ASSERT_TRUE(orgs_->Create(a, "acme"));
  EXPECT_TRUE(orgs_->Create(a, "acme").error().IsAlreadyExists());
  EXPECT_TRUE(orgs_->Create(a, "Not_Valid").error().IsInvalidArgument());
  auto mine = orgs_->ListMine(a);
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ(mine->at(0).role, "owner");
}

TEST_F(DomainTest, MembersActOnlyInTheirProjects) {
  Principal owner = Auth(LoginAs("owner", "owner@example.com"));
  ASSERT_TRUE(orgs_->Create(owner, "acme"));
  ASSERT_TRUE(orgs_->CreateProject(owner, "acme", "backend"));
  ASSERT_TRUE(orgs_->Invite(owner, "acme", "m@example.com", "member"));
  Principal m = Auth(LoginAs("m", "m@example.com"));
  EXPECT_TRUE(atts_->Init(m, "acme", "build", "backend").error().IsPermissionDenied());
  ASSERT_TRUE(orgs_->CreateProject(m, "acme", "frontend"));  // becomes its project admin
  EXPECT_TRUE(atts_->Init(m, "acme", "build", "frontend"));
  EXPECT_TRUE(atts_->ListRuns(m, "acme", std::nullopt, 10));
}

TEST_F(DomainTest, AttestationRecordsWhoAttested) {
  Principal owner = Auth(LoginAs("owner", "owner@example.com"));
  ASSERT_TRUE(orgs_->Create(owner, "acme"));
  ASSERT_TRUE(orgs_->CreateProject(owner, "acme", "backend"));
  auto run = atts_->Init(owner, "acme", "build", "backend");
  ASSERT_TRUE(run) << run.error().ToString();
  auto statement = ParseJson(R"({"_type":"https://in-toto.io/Statement/v1",
      "subject":[{"name":"app","digest":{"sha256":"abcdef0123"}}],
      "predicateType":"https://slsa.dev/provenance/v1","predicate":{}})");
  ASSERT_TRUE(statement);
  auto pushed = atts_->Push(owner, "acme", run->id, *statement);
  ASSERT_TRUE(pushed) << pushed.error().ToString();
  EXPECT_EQ(pushed->state, "succeeded");
  EXPECT_EQ(pushed->actor_kind, "user");
  EXPECT_EQ(pushed->actor_name, "owner@example.com");
  EXPECT_EQ(pushed->statement_digest.rfind("sha256:", 0), 0u);
  EXPECT_TRUE(atts_->Push(owner, "acme", run->id, *statement).error().code() ==
              Error::Code::kFailedPrecondition);
  auto runs = atts_->ListRuns(owner, "acme", std::string("backend"), 10);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->at(0).workflow_name, "build");
}

boost::json::value Statement() {
  return *ParseJson(R"({"_type":"https://in-toto.io/Statement/v1",
      "subject":[{"name":"app","digest":{"sha256":"abcdef0123"}}],
      "predicateType":"https://slsa.dev/provenance/v1","predicate":{}})");
}

class ApiTokenTest : public DomainTest {
 protected:
  void SetUp() override {
    DomainTest::SetUp();
    owner_ = Auth(LoginAs("owner", "owner@example.com"));
    ASSERT_TRUE(orgs_->Create(owner_, "acme"));
    ASSERT_TRUE(orgs_->CreateProject(owner_, "acme", "backend"));
    ASSERT_TRUE(orgs_->CreateProject(owner_, "acme", "frontend"));
  }
  CreatedApiToken MustCreate(const Principal& p, CreateApiTokenRequest req) {
    auto t = tokens_->Create(p, "acme", req);
    EXPECT_TRUE(t) << t.error().ToString();
    return t ? *t : CreatedApiToken{};
  }
  // The inactivity sweep as another instance runs it: the store call alone, which sees only
  // usage already written, not what this instance's UsageRecorder holds.
  std::vector<store::RevokedToken> OtherInstanceSweep() {
    const UnixMillis now = clock_.Now();
    auto sweep = db_->RevokeInactiveApiTokens(now, [&](const store::RevokedToken& t) {
      return jobs::InactivityRevocationEvent(t, now, random_);
    });
    EXPECT_TRUE(sweep) << sweep.error().ToString();
    return sweep ? sweep->revoked : std::vector<store::RevokedToken>{};
  }
  Principal owner_;
};

TEST_F(ApiTokenTest, OrgTokenAttestsAndIsRecordedAsTheActor) {
  auto created = MustCreate(owner_, {.name = "ci"});
  EXPECT_EQ(created.token.rfind("clapi_", 0), 0u);
  EXPECT_EQ(created.record.permissions.size(), DefaultApiTokenPermissions().size());
  Principal t = Auth(created.token);
  EXPECT_EQ(t.kind, Principal::Kind::kApiToken);
  EXPECT_EQ(t.display_name, "ci");
  auto run = atts_->Init(t, "acme", "build", "backend");
  ASSERT_TRUE(run) << run.error().ToString();
  auto pushed = atts_->Push(t, "acme", run->id, Statement());
  ASSERT_TRUE(pushed) << pushed.error().ToString();
  EXPECT_EQ(pushed->actor_kind, "api_token");
  EXPECT_EQ(pushed->actor_id, created.record.id);
  EXPECT_EQ(pushed->actor_name, "ci");
  // Stored only as a hash.
  auto stored = db_->GetApiToken(created.record.org_id, created.record.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->token_hash, hasher_.Hash(created.token));
}

TEST_F(ApiTokenTest, ProjectTokenStaysInItsProject) {
  auto created = MustCreate(owner_, {.name = "ci", .project = "backend"});
  Principal t = Auth(created.token);
  EXPECT_TRUE(atts_->Init(t, "acme", "build", "backend"));
  EXPECT_TRUE(atts_->Init(t, "acme", "build", "frontend").error().IsPermissionDenied());
  EXPECT_TRUE(atts_->ListRuns(t, "acme", std::string("frontend"), 10).error().IsPermissionDenied());
  auto runs = atts_->ListRuns(t, "acme", std::nullopt, 10);
  ASSERT_TRUE(runs);
  auto projects = orgs_->ListProjects(t, "acme");
  ASSERT_TRUE(projects) << projects.error().ToString();
  ASSERT_EQ(projects->size(), 1u);
  EXPECT_EQ(projects->at(0).name, "backend");
}

TEST_F(ApiTokenTest, PeopleOnlyOperationsAreRefusedToTokens) {
  Principal t = Auth(MustCreate(owner_, {.name = "ci"}).token);
  EXPECT_FALSE(orgs_->Create(t, "other"));
  EXPECT_FALSE(orgs_->Invite(t, "acme", "x@example.com", "viewer"));
  EXPECT_FALSE(orgs_->SetApiTokenMaxDaysInactive(t, "acme", 30));
  EXPECT_FALSE(orgs_->ListAuditEvents(t, "acme", 10));
  EXPECT_FALSE(orgs_->ListMembers(t, "acme"));
  // Other organizations are invisible.
  Principal other = Auth(LoginAs("other", "other@example.com"));
  ASSERT_TRUE(orgs_->Create(other, "globex"));
  EXPECT_TRUE(atts_->ListRuns(t, "globex", std::nullopt, 10).error().IsNotFound());
}

// Descriptions are printed on the owner's terminal: a project token holder must not be able to
// plant terminal escapes there.
TEST_F(ApiTokenTest, DescriptionsMustBePrintable) {
  for (const std::string bad :
       {"\x1b]52;c;aGk=\x07", "x\x1b[2J", "a\nb", "\xc2\x9b", "\xff", "rtl \xe2\x80\xae"}) {
    auto r = tokens_->Create(owner_, "acme", {.name = "esc", .description = bad});
    ASSERT_FALSE(r) << ::testing::PrintToString(bad);
    EXPECT_EQ(r.error().reason(), "invalid_argument");
  }
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "fine", .description = "déploiement 🚀"}));
}

TEST_F(ApiTokenTest, PermissionsAreExplicitGrantableAndNeverExceedTheCreator) {
  // Not grantable to tokens at all.
  auto r = tokens_->Create(
      owner_, "acme", {.name = "x", .permissions = std::vector<std::string>{"invitation:create"}});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsInvalidArgument());
  EXPECT_FALSE(tokens_->Create(owner_, "acme",
                               {.name = "x", .permissions = std::vector<std::string>{"bogus"}}));
  EXPECT_FALSE(
      tokens_->Create(owner_, "acme", {.name = "x", .permissions = std::vector<std::string>{}}));
  // A read-only token cannot attest.
  Principal ro =
      Auth(MustCreate(owner_,
                      {.name = "ro", .permissions = std::vector<std::string>{"workflow_run:read"}})
               .token);
  EXPECT_TRUE(atts_->Init(ro, "acme", "build", "backend").error().IsPermissionDenied());
  EXPECT_TRUE(atts_->ListRuns(ro, "acme", std::nullopt, 10));

  // An org token with api_token:create mints only project tokens within its own permissions.
  Principal minter = Auth(
      MustCreate(owner_,
                 {.name = "minter",
                  .permissions = std::vector<std::string>{"api_token:create", "workflow_run:read"}})
          .token);
  EXPECT_TRUE(tokens_->Create(minter, "acme", {.name = "child"}).error().IsPermissionDenied());
  EXPECT_TRUE(tokens_->Create(minter, "acme", {.name = "child", .project = "backend"})
                  .error()
                  .IsPermissionDenied());  // default set exceeds the minter
  EXPECT_TRUE(tokens_->Create(minter, "acme",
                              {.name = "child",
                               .project = "backend",
                               .permissions = std::vector<std::string>{"workflow_run:read"}}));
}

TEST_F(ApiTokenTest, WhoMayCreateTokens) {
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "v@example.com", "viewer"));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "m@example.com", "member"));
  Principal viewer = Auth(LoginAs("v", "v@example.com"));
  Principal member = Auth(LoginAs("m", "m@example.com"));
  EXPECT_TRUE(tokens_->Create(viewer, "acme", {.name = "x"}).error().IsPermissionDenied());
  EXPECT_TRUE(tokens_->Create(member, "acme", {.name = "x"}).error().IsPermissionDenied());
  EXPECT_TRUE(tokens_->Create(member, "acme", {.name = "x", .project = "backend"})
                  .error()
                  .IsPermissionDenied());
  ASSERT_TRUE(orgs_->CreateProject(member, "acme", "mine"));
  auto mine = tokens_->Create(member, "acme", {.name = "x", .project = "mine"});
  ASSERT_TRUE(mine) << mine.error().ToString();
  // The project admin revokes its project's tokens, not others'.
  auto org_token = MustCreate(owner_, {.name = "org"});
  EXPECT_TRUE(tokens_->Revoke(member, "acme", org_token.record.id).error().IsPermissionDenied());
  EXPECT_TRUE(tokens_->Revoke(member, "acme", mine->record.id));
}

TEST_F(ApiTokenTest, ExpiryAndRevocationHaveDistinctErrors) {
  auto created = MustCreate(owner_, {.name = "short", .expires_in_seconds = 3600});
  std::string bearer = "Bearer " + created.token;
  EXPECT_TRUE(authn_->Authenticate(bearer));
  clock_.Advance(3600 * kMillisPerSecond);
  EXPECT_EQ(authn_->Authenticate(bearer).error().reason(), "token_expired");

  auto other = MustCreate(owner_, {.name = "other"});
  std::string ob = "Bearer " + other.token;
  EXPECT_TRUE(authn_->Authenticate(ob));  // now cached
  auto revoked = tokens_->Revoke(owner_, "acme", other.record.id);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->revocation_reason, "manual");
  EXPECT_EQ(authn_->Authenticate(ob).error().reason(), "token_revoked");  // at once
  EXPECT_EQ(tokens_->Revoke(owner_, "acme", other.record.id).error().code(),
            Error::Code::kFailedPrecondition);
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "x", .expires_in_seconds = 0})
                  .error()
                  .IsInvalidArgument());
}

TEST_F(ApiTokenTest, CachedOnlyAuthenticationNeverGuesses) {
  auto created = MustCreate(owner_, {.name = "ci"});
  std::string bearer = "Bearer " + created.token;
  EXPECT_FALSE(authn_->AuthenticateCached(bearer));  // miss: the database must decide
  ASSERT_TRUE(authn_->Authenticate(bearer));
  auto hit = authn_->AuthenticateCached(bearer);
  ASSERT_TRUE(hit);
  ASSERT_TRUE(*hit);
  EXPECT_EQ((*hit)->id, created.record.id);
  // Malformed credentials are refused without any lookup.
  auto bad = authn_->AuthenticateCached("Bearer clapi_nope");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->error().reason(), "malformed_token");
  // Stale entries go back to the database (the 1 s re-validation bound).
  clock_.Advance(1000);
  EXPECT_FALSE(authn_->AuthenticateCached(bearer));
  // Revocation drops the entry at once.
  ASSERT_TRUE(authn_->Authenticate(bearer));
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", created.record.id));
  EXPECT_FALSE(authn_->AuthenticateCached(bearer));
  EXPECT_EQ(authn_->Authenticate(bearer).error().reason(), "token_revoked");
}

TEST_F(ApiTokenTest, ATokenCanRevokeItself) {
  auto created = MustCreate(
      owner_, {.name = "self", .permissions = std::vector<std::string>{"workflow_run:read"}});
  Principal t = Auth(created.token);
  ASSERT_TRUE(tokens_->Revoke(t, "acme", created.record.id));
  EXPECT_EQ(authn_->Authenticate("Bearer " + created.token).error().reason(), "token_revoked");
}

TEST_F(ApiTokenTest, NamesAreLabelsUniqueAmongActiveTokensPerScope) {
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "Bad_Name"}).error().IsInvalidArgument());
  auto first = MustCreate(owner_, {.name = "ci"});
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "ci"}).error().IsAlreadyExists());
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "ci", .project = "backend"}));
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", first.record.id));
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "ci"}));
  auto active = tokens_->List(owner_, "acme", "active", std::nullopt, "");
  ASSERT_TRUE(active);
  EXPECT_EQ(active->size(), 2u);
  auto revoked = tokens_->List(owner_, "acme", "revoked", std::nullopt, "");
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->size(), 1u);
  auto global = tokens_->List(owner_, "acme", "all", std::nullopt, "global");
  ASSERT_TRUE(global);
  EXPECT_EQ(global->size(), 2u);
  EXPECT_FALSE(tokens_->List(owner_, "acme", "bogus", std::nullopt, ""));
}

TEST_F(ApiTokenTest, LastUseIsCoalescedAndWrittenByTheFlusher) {
  auto created = MustCreate(owner_, {.name = "ci"});
  jobs::UsageFlusher flusher(usage_, *db_, 60'000);
  std::string bearer = "Bearer " + created.token;
  UnixMillis first_use = clock_.Now();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(authn_->Authenticate(bearer));
  EXPECT_EQ(usage_.PendingCount(), 1u);
  // Not written on the request path.
  EXPECT_FALSE(db_->GetApiToken(created.record.org_id, created.record.id)->last_used_at);
  ASSERT_TRUE(flusher.FlushNow());
  EXPECT_EQ(*db_->GetApiToken(created.record.org_id, created.record.id)->last_used_at, first_use);
  // Within the minute: nothing new queued.
  clock_.Advance(30 * kMillisPerSecond);
  ASSERT_TRUE(authn_->Authenticate(bearer));
  EXPECT_EQ(usage_.PendingCount(), 0u);
  clock_.Advance(31 * kMillisPerSecond);
  ASSERT_TRUE(authn_->Authenticate(bearer));
  EXPECT_EQ(usage_.PendingCount(), 1u);
  flusher.Stop();  // final flush on shutdown
  EXPECT_EQ(*db_->GetApiToken(created.record.org_id, created.record.id)->last_used_at,
            clock_.Now());
}

// The race a revocation can lose against a concurrent cache miss: the miss reads the row while
// it is still active, the revocation commits and forgets the (not yet cached) credential, then
// the miss caches what it read. Placed deterministically with the after-load hook.
TEST_F(ApiTokenTest, RevocationDuringACacheMissIsNotUndoneByCaching) {
  auto created = MustCreate(owner_, {.name = "raced"});
  bool revoked = false;
  authn_->SetAfterLoadHookForTesting([&] {
    if (revoked) return;
    revoked = true;  // first: Revoke's own reads go through other paths, but be safe
    auto r = tokens_->Revoke(owner_, "acme", created.record.id);
    EXPECT_TRUE(r) << r.error().ToString();
  });
  // The request that overlapped the revocation may be answered either way...
  (void)authn_->Authenticate("Bearer " + created.token);
  authn_->SetAfterLoadHookForTesting(nullptr);
  ASSERT_TRUE(revoked);
  // ...but every request after it is refused, from the cache and from the full path.
  EXPECT_FALSE(authn_->AuthenticateCached("Bearer " + created.token).has_value());
  auto again = authn_->Authenticate("Bearer " + created.token);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().reason(), "token_revoked");
  EXPECT_EQ(authn_->CachedEntries(), 1u);  // only the owner's session
}

// Readers on three threads, time moving past the revalidation bound (reloads and prunes) and
// revocations, all at once; CI also runs this under TSan. A token is never accepted once its
// revocation has returned, and nothing else is refused.
TEST_F(ApiTokenTest, CacheUnderConcurrentReadsReloadsAndRevocations) {
  constexpr int kTokens = 16;
  std::vector<CreatedApiToken> created;
  for (int i = 0; i < kTokens; ++i) {
    created.push_back(MustCreate(owner_, {.name = "c" + std::to_string(i)}));
  }
  std::array<std::atomic<bool>, kTokens> revoked{};  // set once Revoke has returned
  std::atomic<bool> stop{false};
  std::atomic<int> accepted_after_revocation{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> served{0};
  auto reader = [&](unsigned seed) {
    std::mt19937 rng(seed);
    while (!stop.load()) {
      const int i = static_cast<int>(rng() % kTokens);
      const bool was_revoked = revoked[i].load();
      const std::string header = "Bearer " + created[i].token;
      auto cached = authn_->AuthenticateCached(header);
      Result<Principal> p = cached ? *cached : authn_->Authenticate(header);
      if (p) {
        ++served;
        if (was_revoked) ++accepted_after_revocation;
        if (p->display_name != created[i].record.name) ++unexpected;
      } else if (p.error().reason() != "token_revoked") {
        ++unexpected;
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 3; ++t) threads.emplace_back(reader, 100 + t);
  threads.emplace_back([&] {
    while (!stop.load()) {
      clock_.Advance(700);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (int i = 0; i < kTokens; i += 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto r = tokens_->Revoke(owner_, "acme", created[i].record.id);
    EXPECT_TRUE(r) << r.error().ToString();
    revoked[i] = true;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted_after_revocation.load(), 0);
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(served.load(), 0);
  for (int i = 0; i < kTokens; ++i) {
    auto p = authn_->Authenticate("Bearer " + created[i].token);
    EXPECT_EQ(static_cast<bool>(p), i % 2 == 1) << "token " << i;
  }
}

TEST_F(ApiTokenTest, AuditEventsForCreateAndRevoke) {
  clock_.Advance(1000);
  auto created = MustCreate(owner_, {.name = "ci"});
  clock_.Advance(1000);
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", created.record.id));
  auto events = orgs_->ListAuditEvents(owner_, "acme", 2);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->at(0).action, "api_token.revoked");
  EXPECT_EQ(events->at(1).action, "api_token.created");
  EXPECT_EQ(events->at(0).actor_name, "owner@example.com");
}

TEST_F(ApiTokenTest, OnlyOwnersAndAdminsChangeTheAutoRevokeSetting) {
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "a@example.com", "admin"));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "m@example.com", "member"));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "v@example.com", "viewer"));
  Principal admin = Auth(LoginAs("a", "a@example.com"));
  Principal member = Auth(LoginAs("m", "m@example.com"));
  Principal viewer = Auth(LoginAs("v", "v@example.com"));
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(member, "acme", 30).error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(viewer, "acme", 30).error().IsPermissionDenied());
  clock_.Advance(kMillisPerSecond);  // the change is then the newest audit event
  auto set = orgs_->SetApiTokenMaxDaysInactive(admin, "acme", 30);
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_EQ(set->api_token_max_days_inactive, 30);
  // A refused change leaves the setting as it was, and each change is audited.
  auto org = orgs_->Describe(owner_, "acme");
  ASSERT_TRUE(org);
  EXPECT_EQ(org->org.api_token_max_days_inactive, 30);
  auto events = orgs_->ListAuditEvents(owner_, "acme", 1);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->at(0).action, "organization.updated");
  EXPECT_NE(events->at(0).message.find("30 days"), std::string::npos);
}

TEST_F(ApiTokenTest, AutoRevokeThresholdSettingAndDate) {
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 366).error().IsInvalidArgument());
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", -1).error().IsInvalidArgument());
  auto org = orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 90);
  ASSERT_TRUE(org);
  EXPECT_EQ(org->api_token_max_days_inactive, 90);
  auto created = MustCreate(owner_, {.name = "ci"});
  EXPECT_EQ(AutoRevokeAt(created.record, org->api_token_max_days_inactive),
            created.record.created_at + 90 * kMillisPerDay);
  org = orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 0);
  ASSERT_TRUE(org);
  EXPECT_FALSE(org->api_token_max_days_inactive);
  EXPECT_FALSE(AutoRevokeAt(created.record, org->api_token_max_days_inactive));
}

// ---- keyless CI (FederationService) against a fake gitlab.com served from memory.

constexpr char kGitLab[] = "https://gitlab.com";
constexpr char kAudience[] = "https://cp.example.com";

const crypto::TestSigningKey& GitLabKey() {
  static const auto* key =
      new crypto::TestSigningKey(crypto::TestSigningKey::GenerateEcP256("gl-1"));
  return *key;
}

class FederationTest : public ApiTokenTest {
 protected:
  void SetUp() override {
    ApiTokenTest::SetUp();
    oidc::CiVerifierOptions options;
    options.allowed_issuers = {kGitLab};
    options.fetch.fetch = [this](const HttpClientRequest& req) -> Result<HttpClientResponse> {
      ++fetches_;
      if (req.url == std::string(kGitLab) + "/.well-known/openid-configuration") {
        boost::json::object doc{{"issuer", kGitLab},
                                {"authorization_endpoint", "https://gitlab.com/oauth/authorize"},
                                {"token_endpoint", "https://gitlab.com/oauth/token"},
                                {"jwks_uri", "https://gitlab.com/oauth/discovery/keys"},
                                {"response_types_supported", boost::json::array{"code"}}};
        return HttpClientResponse{200, SerializeJson(doc), {}};
      }
      if (req.url == "https://gitlab.com/oauth/discovery/keys") {
        if (on_keys_fetch_) {
          auto hook = std::move(on_keys_fetch_);
          on_keys_fetch_ = nullptr;
          hook();
        }
        return HttpClientResponse{200, crypto::JwksJson({&GitLabKey()}), {}};
      }
      return HttpClientResponse{404, "not found", {}};
    };
    verifier_ = std::make_unique<oidc::CiTokenVerifier>(options, clock_);
    FederationConfig config;
    config.default_audience = kAudience;
    // Wired like the server: the service tells the authenticator which tokens a policy
    // deletion ended.
    fed_ = std::make_unique<FederationService>(
        FederationService::Stores{
            .federation = *db_, .orgs = *db_, .projects = *db_, .audit = *db_},
        *authz_, *orgs_, *verifier_, hasher_, clock_, random_, config, authn_.get());
  }
  void TearDown() override {
    fed_.reset();
    verifier_.reset();
    ApiTokenTest::TearDown();
  }

  // GitLab-shaped claims (docs.gitlab.com, "ID token authentication").
  boost::json::object Claims(const std::string& project_path = "acme/backend",
                             int64_t lifetime_s = 3600) {
    int64_t now = clock_.Now() / kMillisPerSecond;
    return boost::json::object{
        {"iss", kGitLab},
        {"aud", kAudience},
        {"sub", "project_path:" + project_path + ":ref_type:branch:ref:main"},
        {"jti", "jti-" + std::to_string(++jti_)},
        {"iat", now},
        {"nbf", now},
        {"exp", now + lifetime_s},
        {"namespace_id", "72"},
        {"namespace_path", project_path.substr(0, project_path.find('/'))},
        {"project_id", "4711"},
        {"project_path", project_path},
        {"user_login", "alice"},
        {"pipeline_id", "1001"},
        {"pipeline_source", "push"},
        {"job_id", "2002"},
        {"ref", "main"},
        {"ref_type", "branch"},
        {"ref_protected", "true"},
        {"ci_config_ref_uri", "gitlab.com/" + project_path + "//.gitlab-ci.yml@refs/heads/main"},
    };
  }
  std::string Mint(const boost::json::object& claims) { return GitLabKey().Sign({}, claims); }

  Result<store::TrustPolicyRecord> CreatePolicy(const Principal& p, CreateTrustPolicyRequest req) {
    return fed_->CreatePolicy(p, "acme", req);
  }
  CreateTrustPolicyRequest BackendPolicy() {
    CreateTrustPolicyRequest req;
    req.name = "gitlab-backend";
    req.issuer = kGitLab;
    req.bound_claims = {{"namespace_path", "acme"}, {"ref", "main"}};
    req.project = "backend";
    return req;
  }

  std::unique_ptr<oidc::CiTokenVerifier> verifier_;
  std::unique_ptr<FederationService> fed_;
  int jti_ = 0;
  int fetches_ = 0;
  // Run once, when the verifier next fetches the issuer's keys: that happens after an exchange
  // has read the organization's policies, so a deletion placed there overlaps the exchange.
  std::function<void()> on_keys_fetch_;
};

TEST_F(FederationTest, PolicyCreationRules) {
  // Defaults: audience = external URL, provider inferred, the attestation permission set.
  auto policy = CreatePolicy(owner_, BackendPolicy());
  ASSERT_TRUE(policy) << policy.error().ToString();
  EXPECT_EQ(policy->audience, kAudience);
  EXPECT_EQ(policy->provider, "gitlab");
  EXPECT_EQ(policy->project_name, "backend");
  std::vector<std::string> dflt = DefaultApiTokenPermissions();
  std::sort(dflt.begin(), dflt.end());
  EXPECT_EQ(policy->permissions, dflt);
  // Same name again.
  EXPECT_TRUE(CreatePolicy(owner_, BackendPolicy()).error().IsAlreadyExists());

  // A policy must bind an identifying claim (ref alone trusts every project on gitlab.com).
  auto no_id = BackendPolicy();
  no_id.name = "any-main";
  no_id.bound_claims = {{"ref", "main"}};
  auto r = CreatePolicy(owner_, no_id);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Error::Code::kInvalidArgument);
  no_id.bound_claims = {{"project_path", "*"}};
  EXPECT_FALSE(CreatePolicy(owner_, no_id));

  // Issuers outside the instance allow-list are refused.
  auto untrusted = BackendPolicy();
  untrusted.name = "self-managed";
  untrusted.issuer = "https://gitlab.example.org";
  r = CreatePolicy(owner_, untrusted);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "untrusted_issuer");

  // Permissions must be token-grantable; people-only ones are refused.
  auto people_only = BackendPolicy();
  people_only.name = "too-much";
  people_only.permissions = std::vector<std::string>{"member:read"};
  EXPECT_FALSE(CreatePolicy(owner_, people_only));
  people_only.permissions = std::vector<std::string>{"trust_policy:manage"};
  EXPECT_FALSE(CreatePolicy(owner_, people_only));

  // People only, owners/admins only.
  auto token = MustCreate(owner_, {.name = "ci"});
  auto other = BackendPolicy();
  other.name = "by-token";
  EXPECT_TRUE(CreatePolicy(Auth(token.token), other).error().IsPermissionDenied());
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "member@example.com", "member"));
  Principal member = Auth(LoginAs("member", "member@example.com"));
  EXPECT_TRUE(CreatePolicy(member, other).error().IsPermissionDenied());

  // Listing and deletion, audited.
  auto list = fed_->ListPolicies(owner_, "acme");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(
      fed_->DeletePolicy(Auth(token.token), "acme", policy->id).error().IsPermissionDenied());
  EXPECT_TRUE(fed_->DeletePolicy(owner_, "acme", policy->id));
  EXPECT_TRUE(fed_->DeletePolicy(owner_, "acme", policy->id).error().IsNotFound());
  auto events = orgs_->ListAuditEvents(owner_, "acme", 20);
  ASSERT_TRUE(events);
  std::set<std::string> actions;
  for (const auto& e : *events) actions.insert(e.action);
  EXPECT_TRUE(actions.count("trust_policy.created"));
  EXPECT_TRUE(actions.count("trust_policy.deleted"));
}

TEST_F(FederationTest, ExchangedTokenAttestsInThePolicysProjectOnly) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  auto exchanged = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(exchanged) << exchanged.error().ToString();
  EXPECT_EQ(exchanged->token.rfind("clfed_", 0), 0u);
  EXPECT_EQ(exchanged->expires_in_seconds, 15 * 60);
  // Stored hashed only.
  auto stored = db_->GetFederatedTokenByHash(hasher_.Hash(exchanged->token));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->subject, "project_path:acme/backend:ref_type:branch:ref:main");

  Principal ci = Auth(exchanged->token);
  EXPECT_EQ(ci.kind, Principal::Kind::kFederated);
  EXPECT_EQ(ci.display_name, "gitlab: acme/backend@main");
  auto run = atts_->Init(ci, "acme", "build", "backend");
  ASSERT_TRUE(run) << run.error().ToString();
  auto pushed = atts_->Push(ci, "acme", run->id, Statement());
  ASSERT_TRUE(pushed) << pushed.error().ToString();
  EXPECT_EQ(pushed->actor_kind, "federated");
  EXPECT_EQ(pushed->actor_name, "gitlab: acme/backend@main");
  EXPECT_TRUE(atts_->Init(ci, "acme", "build", "frontend").error().IsPermissionDenied());
  // People-only operations stay closed.
  EXPECT_FALSE(orgs_->ListMembers(ci, "acme"));
  // Cached answers agree; the token expires after 15 minutes.
  auto cached = authn_->AuthenticateCached("Bearer " + exchanged->token);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(*cached);
  clock_.Advance(15 * kMillisPerMinute);
  auto expired = authn_->Authenticate("Bearer " + exchanged->token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().reason(), "token_expired");

  auto events = orgs_->ListAuditEvents(owner_, "acme", 20);
  ASSERT_TRUE(events);
  bool audited = false;
  for (const auto& e : *events) {
    if (e.action == "federation.token_exchanged") {
      audited = true;
      EXPECT_EQ(e.actor_kind, "federated");
      EXPECT_NE(e.message.find("project_path:acme/backend"), std::string::npos);
      EXPECT_EQ(e.message.find("eyJ"), std::string::npos);
    }
  }
  EXPECT_TRUE(audited);
}

// The exchanged token ends exactly when the CI token stops being accepted (exp + the 60 s
// leeway), the same instant at which the attestation endpoints stop accepting it directly.
TEST_F(FederationTest, ExchangedTokenNeverOutlivesTheCiTokensAcceptance) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  auto exchanged = fed_->Exchange("acme", Mint(Claims("acme/backend", 300)));
  ASSERT_TRUE(exchanged) << exchanged.error().ToString();
  EXPECT_EQ(exchanged->expires_in_seconds, 360);
  EXPECT_EQ(exchanged->record.expires_at, clock_.Now() + 360 * kMillisPerSecond);
  clock_.Advance(360 * kMillisPerSecond);
  EXPECT_EQ(authn_->Authenticate("Bearer " + exchanged->token).error().reason(), "token_expired");
}

// One leeway for every use of a raw CI token: 30 s after exp both the exchange and a direct
// attestation init accept it; 61 s after, both refuse it as expired.
TEST_F(FederationTest, ExchangeAndDirectUseApplyTheSameLeeway) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  for (int64_t after_exp : {30, 59, 61, 90}) {
    const UnixMillis start = clock_.Now();
    std::string for_exchange = Mint(Claims("acme/backend", 60));
    std::string for_init = Mint(Claims("acme/backend", 60));
    clock_.Set(start + (60 + after_exp) * kMillisPerSecond);
    auto exchanged = fed_->Exchange("acme", for_exchange);
    auto direct = fed_->AuthenticateCiToken("acme", for_init, "init");
    EXPECT_EQ(static_cast<bool>(exchanged), static_cast<bool>(direct)) << after_exp;
    if (after_exp <= 60) {
      ASSERT_TRUE(exchanged) << after_exp << ": " << exchanged.error().ToString();
      EXPECT_EQ(exchanged->record.expires_at, start + 120 * kMillisPerSecond);
    } else {
      EXPECT_EQ(exchanged.error().reason(), "token_expired") << after_exp;
      EXPECT_EQ(direct.error().reason(), "token_expired") << after_exp;
    }
    clock_.Advance(kMillisPerMinute);
  }
}

TEST_F(FederationTest, ReplayedCiTokenIsRefused) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  std::string token = Mint(Claims());
  ASSERT_TRUE(fed_->Exchange("acme", token));
  auto again = fed_->Exchange("acme", token);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().IsUnauthenticated());
  EXPECT_EQ(again.error().reason(), "replayed_token");
  EXPECT_EQ(again.error().message().find(token), std::string::npos);
}

// Instances purge used jtis by their own clocks. One whose clock runs 30 minutes ahead must
// not purge a jti that an instance with the right clock, still within the verifier's leeway,
// would accept again.
TEST_F(FederationTest, ReplayIsRefusedAfterAnInstanceWithAFastClockPurged) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  const UnixMillis start = clock_.Now();
  std::string token = Mint(Claims("acme/backend", 600));
  ASSERT_TRUE(fed_->Exchange("acme", token));
  const UnixMillis exp = start + 600 * kMillisPerSecond;

  // The fast instance's exchange purges what it thinks expired.
  clock_.Set(exp + 30 * kMillisPerMinute);
  auto fast = fed_->Exchange("acme", Mint(Claims("acme/backend", 600)));
  ASSERT_TRUE(fast) << fast.error().ToString();

  // The instance with the right clock, 30 s after the token's exp (within the 60 s leeway).
  clock_.Set(exp + 30 * kMillisPerSecond);
  auto again = fed_->Exchange("acme", token);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().reason(), "replayed_token");
  // And past the leeway the token is refused for its age, whatever the jti table holds.
  clock_.Set(exp + 61 * kMillisPerSecond);
  auto late = fed_->Exchange("acme", token);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().reason(), "token_expired");
}

TEST_F(FederationTest, NoMatchingPolicyIsOneAnswerWithoutTheToken) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  // A fork under another namespace must not match the namespace "acme".
  std::string token = Mint(Claims("mallory/backend"));
  auto r = fed_->Exchange("acme", token);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsPermissionDenied());
  EXPECT_EQ(r.error().reason(), "no_matching_trust_policy");
  EXPECT_EQ(r.error().message().find(token), std::string::npos);
  // Every "no policy applies" gets these very words: an unknown organization, one without a
  // policy for the issuer, an audience no policy names (no existence or configuration oracle).
  auto unknown = fed_->Exchange("nope", Mint(Claims()));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().reason(), "no_matching_trust_policy");
  EXPECT_EQ(unknown.error().message(), r.error().message());
  ASSERT_TRUE(orgs_->Create(owner_, "bare"));
  auto bare = fed_->Exchange("bare", Mint(Claims()));
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().reason(), "no_matching_trust_policy");
  EXPECT_EQ(bare.error().message(), r.error().message());
  auto claims = Claims();
  claims["aud"] = "https://elsewhere.example.com";
  auto aud = fed_->Exchange("acme", Mint(claims));
  ASSERT_FALSE(aud);
  EXPECT_EQ(aud.error().reason(), "no_matching_trust_policy");
  EXPECT_EQ(aud.error().message(), r.error().message());
  // Expiry keeps its own code.
  claims = Claims("acme/backend", 60);
  std::string short_lived = Mint(claims);
  clock_.Advance(5 * kMillisPerMinute);
  EXPECT_EQ(fed_->Exchange("acme", short_lived).error().reason(), "token_expired");
}

TEST_F(FederationTest, RawCiTokenOnAttestationIsRecordedAsFederated) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  std::string token = Mint(Claims());
  EXPECT_TRUE(LooksLikeJwt(token));
  EXPECT_FALSE(LooksLikeJwt("clapi_abc"));
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOi.x"));
  auto init_p = fed_->AuthenticateCiToken("acme", token, "init");
  ASSERT_TRUE(init_p) << init_p.error().ToString();
  EXPECT_EQ(init_p->kind, Principal::Kind::kFederated);
  EXPECT_EQ(init_p->id, "https://gitlab.com|project_path:acme/backend:ref_type:branch:ref:main");
  auto run = atts_->Init(*init_p, "acme", "build", "backend");
  ASSERT_TRUE(run) << run.error().ToString();
  EXPECT_EQ(run->actor_kind, "federated");
  // The same token pushes once; a second init or push, or an exchange, is a replay.
  auto push_p = fed_->AuthenticateCiToken("acme", token, "push");
  ASSERT_TRUE(push_p) << push_p.error().ToString();
  auto pushed = atts_->Push(*push_p, "acme", run->id, Statement());
  ASSERT_TRUE(pushed) << pushed.error().ToString();
  EXPECT_EQ(pushed->actor_kind, "federated");
  EXPECT_EQ(pushed->actor_id, init_p->id);
  EXPECT_EQ(pushed->actor_name, "gitlab: acme/backend@main");
  EXPECT_EQ(fed_->AuthenticateCiToken("acme", token, "init").error().reason(), "replayed_token");
  EXPECT_EQ(fed_->AuthenticateCiToken("acme", token, "push").error().reason(), "replayed_token");
  EXPECT_EQ(fed_->Exchange("acme", token).error().reason(), "replayed_token");
  // Scope of the policy: another project is refused.
  auto other = fed_->AuthenticateCiToken("acme", Mint(Claims()), "init");
  ASSERT_TRUE(other);
  EXPECT_TRUE(atts_->Init(*other, "acme", "build", "frontend").error().IsPermissionDenied());
}

TEST(InTotoStatement, Validation) {
  struct Case {
    const char* json;
    bool ok;
  } cases[] = {
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"x"})",
       true},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"})", false},
      {R"({"_type":"https://in-toto.io/Statement/v1","predicateType":"x"})", false},
      {R"({"_type":"other","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"x"})", false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{}}],"predicateType":"x"})",
       false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"XYZ"}}],"predicateType":"x"})",
       false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}]})",
       false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"x","predicate":[]})",
       false},
      {R"([1,2])", false},
  };
  for (const auto& c : cases) {
    auto v = ParseJson(c.json);
    ASSERT_TRUE(v);
    auto st = ValidateInTotoStatement(*v);
    EXPECT_EQ(static_cast<bool>(st), c.ok) << c.json;
    if (!st) {
      EXPECT_EQ(st.error().reason(), "invalid_statement");
    }
  }
}

// ---- revocations that overlap a request: no security decision outlives the revocation.

// Uses FederationTest's on_keys_fetch_ hook to place a policy deletion inside an exchange.
class FederationRevocationTest : public FederationTest {
 protected:
  bool Exchanged() {
    auto events = orgs_->ListAuditEvents(owner_, "acme", 100);
    EXPECT_TRUE(events);
    if (!events) return false;
    return std::any_of(events->begin(), events->end(), [](const store::AuditEvent& e) {
      return e.action == "federation.token_exchanged";
    });
  }
};

TEST_F(FederationRevocationTest, DeletingAPolicyEndsItsExchangedTokensAtOnce) {
  auto policy = CreatePolicy(owner_, BackendPolicy());
  ASSERT_TRUE(policy) << policy.error().ToString();
  auto used = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(used) << used.error().ToString();
  auto unused = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(unused) << unused.error().ToString();
  // `used` authenticates, and is cached, before the deletion; `unused` never did.
  EXPECT_EQ(Auth(used->token).kind, Principal::Kind::kFederated);
  auto cached = authn_->AuthenticateCached("Bearer " + used->token);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(*cached);

  ASSERT_TRUE(fed_->DeletePolicy(owner_, "acme", policy->id));
  // The clock has not moved: the cached entry is still within the revalidation bound, so only
  // the deletion's NotifyRevoked can have dropped it.
  EXPECT_FALSE(authn_->AuthenticateCached("Bearer " + used->token).has_value());
  for (const std::string& token : {used->token, unused->token}) {
    auto r = authn_->Authenticate("Bearer " + token);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().IsUnauthenticated());
    // Valid until the deletion ended it: revoked, like any other ended credential.
    EXPECT_EQ(r.error().reason(), "token_revoked");
    auto row = db_->GetFederatedTokenByHash(hasher_.Hash(token));
    ASSERT_TRUE(row) << row.error().ToString();
    EXPECT_TRUE(row->revoked_at);
  }
  // Never cached, however often it is presented.
  EXPECT_FALSE(authn_->AuthenticateCached("Bearer " + used->token).has_value());
}

TEST_F(FederationRevocationTest, ExchangeOverlappingThePolicysDeletionIssuesNothing) {
  auto policy = CreatePolicy(owner_, BackendPolicy());
  ASSERT_TRUE(policy) << policy.error().ToString();
  bool deleted = false;
  on_keys_fetch_ = [&] {
    auto st = fed_->DeletePolicy(owner_, "acme", policy->id);
    EXPECT_TRUE(st) << st.error().ToString();
    deleted = static_cast<bool>(st);
  };
  auto exchanged = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(deleted);  // the exchange had read the policy list before this deletion
  ASSERT_FALSE(exchanged);
  // The answer of an exchange that matches no policy.
  EXPECT_TRUE(exchanged.error().IsPermissionDenied());
  EXPECT_EQ(exchanged.error().reason(), "no_matching_trust_policy");
  auto after = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().reason(), exchanged.error().reason());
  EXPECT_FALSE(Exchanged());
}

// A CI job whose trust policy lets it create API tokens, in a request whose authentication
// overlapped the policy's deletion: the request gets in, but creates nothing.
TEST_F(FederationRevocationTest, PolicyDeletedDuringAuthenticationCannotCreateATokenInThatRequest) {
  CreateTrustPolicyRequest req = BackendPolicy();
  req.permissions = std::vector<std::string>{"api_token:create", "workflow_run:read"};
  auto policy = CreatePolicy(owner_, req);
  ASSERT_TRUE(policy) << policy.error().ToString();
  const CreateApiTokenRequest child{.name = "child",
                                    .project = "backend",
                                    .permissions = std::vector<std::string>{"workflow_run:read"}};

  // While the policy exists, the job can.
  auto first = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(first) << first.error().ToString();
  auto made = tokens_->Create(Auth(first->token), "acme", child);
  ASSERT_TRUE(made) << made.error().ToString();
  EXPECT_EQ(made->record.created_by_kind, "federated");
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", made->record.id));

  auto second = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(second) << second.error().ToString();
  bool deleted = false;
  authn_->SetAfterLoadHookForTesting([&] {
    if (deleted) return;
    deleted = true;
    auto st = fed_->DeletePolicy(owner_, "acme", policy->id);
    EXPECT_TRUE(st) << st.error().ToString();
  });
  auto p = authn_->Authenticate("Bearer " + second->token);
  authn_->SetAfterLoadHookForTesting(nullptr);
  ASSERT_TRUE(deleted);
  ASSERT_TRUE(p) << p.error().ToString();
  ASSERT_EQ(p->kind, Principal::Kind::kFederated);
  auto late = tokens_->Create(*p, "acme", child);
  ASSERT_FALSE(late);
  EXPECT_TRUE(late.error().IsUnauthenticated());
  EXPECT_EQ(late.error().reason(), "token_revoked");
  auto active = tokens_->List(owner_, "acme", "active", std::nullopt, "");
  ASSERT_TRUE(active) << active.error().ToString();
  EXPECT_TRUE(active->empty());
}

// The first use of a token after a long idle period is written before the request proceeds,
// so a sweep on another instance right after it keeps the token. Recent tokens keep the
// coalesced, asynchronous write.
TEST_F(ApiTokenTest, FirstUseAfterALongIdlePeriodIsWrittenBeforeTheRequestProceeds) {
  ASSERT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 1));
  auto busy = MustCreate(owner_, {.name = "busy"});
  auto nightly = MustCreate(owner_, {.name = "nightly"});
  auto stored_use = [&](const CreatedApiToken& t) {
    auto got = db_->GetApiToken(t.record.org_id, t.record.id);
    EXPECT_TRUE(got) << got.error().ToString();
    return got ? got->last_used_at : std::nullopt;
  };

  clock_.Advance(kMillisPerHour);
  EXPECT_EQ(Auth(busy.token).kind, Principal::Kind::kApiToken);
  EXPECT_EQ(stored_use(busy), std::nullopt);  // queued in the recorder only
  EXPECT_EQ(usage_.PendingCount(), 1u);

  clock_.Advance(kMillisPerDay);
  EXPECT_EQ(Auth(nightly.token).kind, Principal::Kind::kApiToken);
  EXPECT_EQ(stored_use(nightly), clock_.Now());
  auto revoked = OtherInstanceSweep();
  // `busy` was used on this instance a day ago, but that use was never flushed.
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].id, busy.record.id);
  auto again = authn_->Authenticate("Bearer " + nightly.token);
  EXPECT_TRUE(again) << again.error().ToString();
}

// The other order: another instance's sweep commits between this instance's read of an idle
// token and the write of its use. The request is refused, as if the sweep had come first.
TEST_F(ApiTokenTest, SweepOverlappingTheFirstUseAfterALongIdlePeriodRefusesIt) {
  ASSERT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 1));
  auto nightly = MustCreate(owner_, {.name = "nightly"});
  clock_.Advance(kMillisPerDay + kMillisPerHour);
  size_t swept = 0;
  bool ran = false;
  authn_->SetAfterLoadHookForTesting([&] {
    if (ran) return;
    ran = true;
    swept = OtherInstanceSweep().size();
  });
  auto p = authn_->Authenticate("Bearer " + nightly.token);
  authn_->SetAfterLoadHookForTesting(nullptr);
  ASSERT_EQ(swept, 1u);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().reason(), "token_revoked");
  EXPECT_NE(p.error().message().find("inactivity"), std::string::npos) << p.error().message();
  // Not cached as usable either.
  EXPECT_FALSE(authn_->Authenticate("Bearer " + nightly.token));
}

TEST_F(ApiTokenTest, TokenRevokedDuringItsAuthenticationCannotCreateATokenInThatRequest) {
  auto minter = MustCreate(
      owner_, {.name = "minter",
               .permissions = std::vector<std::string>{"api_token:create", "workflow_run:read"}});
  bool revoked = false;
  authn_->SetAfterLoadHookForTesting([&] {
    if (revoked) return;
    revoked = true;
    auto r = tokens_->Revoke(owner_, "acme", minter.record.id);
    EXPECT_TRUE(r) << r.error().ToString();
  });
  // Read before the revocation committed: this request is let in...
  auto p = authn_->Authenticate("Bearer " + minter.token);
  authn_->SetAfterLoadHookForTesting(nullptr);
  ASSERT_TRUE(revoked);
  ASSERT_TRUE(p) << p.error().ToString();
  ASSERT_EQ(p->kind, Principal::Kind::kApiToken);
  // ...but what it does is checked against the token's row when it writes.
  auto child = tokens_->Create(*p, "acme",
                               {.name = "child",
                                .project = "backend",
                                .permissions = std::vector<std::string>{"workflow_run:read"}});
  ASSERT_FALSE(child);
  EXPECT_TRUE(child.error().IsUnauthenticated());
  EXPECT_EQ(child.error().reason(), "token_revoked");
  auto all = tokens_->List(owner_, "acme", "all", std::nullopt, "");
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, "minter");
  auto events = orgs_->ListAuditEvents(owner_, "acme", 100);
  ASSERT_TRUE(events);
  EXPECT_EQ(
      std::count_if(events->begin(), events->end(),
                    [](const store::AuditEvent& e) { return e.action == "api_token.created"; }),
      1);
}

TEST_F(ApiTokenTest, TokenCreatedByAUsableTokenRecordsItsCreator) {
  auto minter = MustCreate(
      owner_, {.name = "minter",
               .permissions = std::vector<std::string>{"api_token:create", "workflow_run:read"}});
  Principal p = Auth(minter.token);
  auto child = tokens_->Create(p, "acme",
                               {.name = "child",
                                .project = "backend",
                                .permissions = std::vector<std::string>{"workflow_run:read"}});
  ASSERT_TRUE(child) << child.error().ToString();
  EXPECT_EQ(child->record.created_by_kind, "api_token");
  EXPECT_EQ(child->record.created_by_id, minter.record.id);
}

// A short-lived or exchanged credential cannot mint a token that outlives it.
TEST_F(ApiTokenTest, ATokenNeverOutlivesTheTokenThatCreatedIt) {
  auto minter = MustCreate(
      owner_, {.name = "minter",
               .expires_in_seconds = 60,
               .permissions = std::vector<std::string>{"api_token:create", "workflow_run:read"}});
  ASSERT_TRUE(minter.record.expires_at);
  Principal p = Auth(minter.token);
  std::string forever_token;
  // Creates a child of the minter asking for `seconds` (none: never expires); its expiry.
  auto child_expiry = [&](const std::string& name, std::optional<int64_t> seconds) {
    auto made = tokens_->Create(p, "acme",
                                {.name = name,
                                 .expires_in_seconds = seconds,
                                 .project = "backend",
                                 .permissions = std::vector<std::string>{"workflow_run:read"}});
    EXPECT_TRUE(made) << made.error().ToString();
    if (made && !seconds) forever_token = made->token;
    return made ? made->record.expires_at : std::nullopt;
  };
  EXPECT_EQ(child_expiry("forever", std::nullopt), minter.record.expires_at);
  EXPECT_EQ(child_expiry("longer", 3600), minter.record.expires_at);
  EXPECT_EQ(child_expiry("shorter", 30), clock_.Now() + 30 * kMillisPerSecond);
  // After the minter's expiry its children are expired too.
  clock_.Advance(61 * kMillisPerSecond);
  ASSERT_FALSE(forever_token.empty());
  auto late = authn_->Authenticate("Bearer " + forever_token);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().reason(), "token_expired");
  // A person's session mints tokens without that cap.
  auto by_owner = MustCreate(owner_, {.name = "by-owner"});
  EXPECT_FALSE(by_owner.record.expires_at);
}

TEST_F(FederationTest, ATokenCreatedByACiJobExpiresWithItsExchangedToken) {
  CreateTrustPolicyRequest req = BackendPolicy();
  req.permissions = std::vector<std::string>{"api_token:create", "workflow_run:read"};
  ASSERT_TRUE(CreatePolicy(owner_, req));
  auto exchanged = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(exchanged) << exchanged.error().ToString();
  auto made = tokens_->Create(Auth(exchanged->token), "acme",
                              {.name = "child",
                               .project = "backend",
                               .permissions = std::vector<std::string>{"workflow_run:read"}});
  ASSERT_TRUE(made) << made.error().ToString();
  ASSERT_TRUE(made->record.expires_at);
  EXPECT_EQ(*made->record.expires_at, exchanged->record.expires_at);
}

// An exchanged ID token is spent: it cannot then push an attestation directly, and one that
// pushed directly cannot be exchanged.
TEST_F(FederationTest, AnExchangedIdTokenCannotPushDirectly) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  auto run = atts_->Init(owner_, "acme", "build", "backend");
  ASSERT_TRUE(run) << run.error().ToString();
  std::string token = Mint(Claims());
  ASSERT_TRUE(fed_->Exchange("acme", token));
  auto push = fed_->AuthenticateCiToken("acme", token, "push");
  ASSERT_FALSE(push);
  EXPECT_EQ(push.error().reason(), "replayed_token");

  std::string other = Mint(Claims());
  ASSERT_TRUE(fed_->AuthenticateCiToken("acme", other, "push"));
  auto exchange = fed_->Exchange("acme", other);
  ASSERT_FALSE(exchange);
  EXPECT_EQ(exchange.error().reason(), "replayed_token");
}

// Only the identity that started a run pushes it; workflow_run:create in the project is not
// enough.
TEST_F(FederationTest, OnlyTheIdentityThatStartedARunPushesIt) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  auto by_owner = atts_->Init(owner_, "acme", "build", "backend");
  ASSERT_TRUE(by_owner) << by_owner.error().ToString();
  // An API token and a CI job of the same project, both holding workflow_run:create.
  Principal token = Auth(MustCreate(owner_, {.name = "ci"}).token);
  auto ci = fed_->AuthenticateCiToken("acme", Mint(Claims()), "push");
  ASSERT_TRUE(ci) << ci.error().ToString();
  for (const Principal* other : {&token, &*ci}) {
    auto pushed = atts_->Push(*other, "acme", by_owner->id, Statement());
    ASSERT_FALSE(pushed);
    EXPECT_TRUE(pushed.error().IsPermissionDenied());
    EXPECT_EQ(pushed.error().reason(), "not_run_initiator");
  }
  // Another member of the organization with rights on the project.
  auto run_by_token = atts_->Init(token, "acme", "build", "backend");
  ASSERT_TRUE(run_by_token) << run_by_token.error().ToString();
  EXPECT_EQ(atts_->Push(owner_, "acme", run_by_token->id, Statement()).error().reason(),
            "not_run_initiator");
  // The run stays open for its initiator.
  auto mine = atts_->Push(owner_, "acme", by_owner->id, Statement());
  ASSERT_TRUE(mine) << mine.error().ToString();
  EXPECT_EQ(mine->actor_id, owner_.id);
  // A CI job with a fresh ID token for each step (GitHub Actions) is the same identity.
  auto init_p = fed_->AuthenticateCiToken("acme", Mint(Claims()), "init");
  ASSERT_TRUE(init_p) << init_p.error().ToString();
  auto ci_run = atts_->Init(*init_p, "acme", "build", "backend");
  ASSERT_TRUE(ci_run) << ci_run.error().ToString();
  auto push_p = fed_->AuthenticateCiToken("acme", Mint(Claims()), "push");
  ASSERT_TRUE(push_p) << push_p.error().ToString();
  EXPECT_TRUE(atts_->Push(*push_p, "acme", ci_run->id, Statement()));
  // A job of another repository matching the same policy (namespace acme) is not.
  auto elsewhere = atts_->Init(*init_p, "acme", "build", "backend");
  ASSERT_TRUE(elsewhere) << elsewhere.error().ToString();
  auto other_job = fed_->AuthenticateCiToken("acme", Mint(Claims("acme/other")), "push");
  ASSERT_TRUE(other_job) << other_job.error().ToString();
  EXPECT_EQ(atts_->Push(*other_job, "acme", elsewhere->id, Statement()).error().reason(),
            "not_run_initiator");
}

}  // namespace
}  // namespace cl::domain
