// Pepper rotation across the domain services (real SQLite store, fake clock and IdP): the same
// database served first with pepper A, then with [B, A] (rotation), then with [B] only, the way
// an operator rotates the pepper by restarting with a new pepper_files list.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "crypto/credential.h"
#include "crypto/hash.h"
#include "domain/api_tokens.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/idp_testing.h"
#include "domain/login.h"
#include "domain/organizations.h"

namespace cl::domain {
namespace {

constexpr char kPepperA[] = "pepper-a-pepper-a-pepper-a-pepper-a";
constexpr char kPepperB[] = "pepper-b-pepper-b-pepper-b-pepper-b";

// The IdP signs everyone in as the owner, in the browser and with the device flow.
class FakeIdp : public testing::FakeIdp {
 public:
  FakeIdp() {
    next = VerifiedIdentity{"https://idp.test", "owner", "owner@example.com", true, "Owner"};
    device_state = DevicePollOutcome::State::kApproved;
  }
};

// What one server process wires for one pepper configuration.
struct Instance {
  Instance(store::Database& db, std::vector<std::string> peppers, const Clock& clock,
           Random& random, FakeIdp& idp)
      : hasher(std::move(peppers)),
        authn(
            Authenticator::Stores{
                .users = db, .sessions = db, .tokens = db, .federation = db, .peppers = db},
            hasher, clock),
        authz(db, db),
        login(
            LoginService::Stores{.users = db, .invitations = db, .sessions = db, .login_state = db},
            idp, hasher, authn, clock, random, LoginConfig{}),
        orgs(
            OrganizationService::Stores{.orgs = db, .projects = db, .invitations = db, .audit = db},
            authz, clock, random),
        tokens(ApiTokenService::Stores{.tokens = db, .projects = db}, authz, orgs, authn, hasher,
               clock, random) {}
  crypto::CredentialHasher hasher;
  Authenticator authn;
  Authorizer authz;
  LoginService login;
  OrganizationService orgs;
  ApiTokenService tokens;
};

std::string Verifier() { return std::string(43, 'v'); }

class PepperRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cl-pepper-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = store::OpenDatabase("sqlite:" + (dir_ / "db.sqlite").string());
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    Serve({kPepperA});
    session_ = LoginWith(*server_);
    owner_ = MustAuth(session_);
    ASSERT_TRUE(server_->orgs.Create(owner_, "acme"));
  }
  void TearDown() override {
    server_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // "Restarts the server" with these peppers (newest first).
  void Serve(std::vector<std::string> peppers) {
    server_.reset();
    server_ = std::make_unique<Instance>(*db_, std::move(peppers), clock_, random_, idp_);
  }

  std::string LoginWith(Instance& in) {
    std::string challenge = crypto::PkceS256Challenge(Verifier());
    auto url =
        in.login.StartBrowserLogin("http://127.0.0.1:5555/callback", "st", challenge, "S256");
    EXPECT_TRUE(url) << url.error().ToString();
    auto redirect = in.login.CompleteCallback("idp-code", idp_.last_state);
    EXPECT_TRUE(redirect) << redirect.error().ToString();
    if (!redirect) return "";
    auto start = redirect->find("code=") + 5;
    auto session = in.login.ExchangeCode(
        redirect->substr(start, redirect->find('&', start) - start), Verifier());
    EXPECT_TRUE(session) << session.error().ToString();
    return session ? session->token : "";
  }

  Principal MustAuth(const std::string& token) {
    auto p = server_->authn.Authenticate("Bearer " + token);
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? *p : Principal{};
  }
  std::string AuthError(const std::string& token) {
    auto p = server_->authn.Authenticate("Bearer " + token);
    return p ? "ok" : p.error().reason();
  }

  CreatedApiToken NewToken(const std::string& name) {
    auto t = server_->tokens.Create(owner_, "acme", {.name = name});
    EXPECT_TRUE(t) << t.error().ToString();
    return t ? *t : CreatedApiToken{};
  }

  static std::string Hmac(const char* pepper, const std::string& token) {
    return crypto::CredentialHasher(pepper).Hash(token);
  }
  static std::string IdOf(const char* pepper) {
    return crypto::CredentialHasher::PepperIdOf(pepper);
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  FakeIdp idp_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Instance> server_;
  std::string session_;
  Principal owner_;
};

TEST_F(PepperRotationTest, NewCredentialsRecordTheCurrentPepper) {
  auto created = NewToken("ci");
  EXPECT_EQ(created.record.pepper_id, IdOf(kPepperA));
  auto row = db_->GetApiTokenByHash(Hmac(kPepperA, created.token));
  ASSERT_TRUE(row) << row.error().ToString();
  EXPECT_EQ(row->pepper_id, IdOf(kPepperA));
  auto session = db_->GetSessionByHash(Hmac(kPepperA, session_));
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_EQ(session->pepper_id, IdOf(kPepperA));
}

TEST_F(PepperRotationTest, UsedTokensMoveToTheNewPepperUnusedOnesAreLostWithTheOldOne) {
  auto used = NewToken("used");
  auto unused = NewToken("unused");
  Serve({kPepperB, kPepperA});
  // Found under the old pepper, then stored under the new one.
  EXPECT_EQ(MustAuth(used.token).id, used.record.id);
  EXPECT_TRUE(db_->GetApiTokenByHash(Hmac(kPepperA, used.token)).error().IsNotFound());
  auto moved = db_->GetApiTokenByHash(Hmac(kPepperB, used.token));
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_EQ(moved->pepper_id, IdOf(kPepperB));
  // The cached path (newest pepper only) now answers without the database.
  auto cached = server_->authn.AuthenticateCached("Bearer " + used.token);
  ASSERT_TRUE(cached);
  ASSERT_TRUE(*cached);
  EXPECT_EQ((*cached)->id, used.record.id);
  // Tokens created now use the new pepper.
  auto fresh = NewToken("fresh");
  EXPECT_EQ(fresh.record.pepper_id, IdOf(kPepperB));
  // The unused token is untouched, still under A.
  EXPECT_EQ(db_->GetApiTokenByHash(Hmac(kPepperA, unused.token))->pepper_id, IdOf(kPepperA));
  auto usage = db_->CountCredentialsByPepper(clock_.Now());
  ASSERT_TRUE(usage);
  std::map<std::string, int64_t> tokens_by_pepper;
  for (const auto& u : *usage) tokens_by_pepper[u.pepper_id] = u.api_tokens;
  EXPECT_EQ(tokens_by_pepper[IdOf(kPepperA)], 1);
  EXPECT_EQ(tokens_by_pepper[IdOf(kPepperB)], 2);

  Serve({kPepperB});
  EXPECT_EQ(MustAuth(used.token).id, used.record.id);
  EXPECT_EQ(MustAuth(fresh.token).id, fresh.record.id);
  EXPECT_EQ(AuthError(unused.token), "invalid_token");
}

TEST_F(PepperRotationTest, SessionsMoveToTheNewPepperAndLogOutAfterwards) {
  Serve({kPepperB, kPepperA});
  Principal p = MustAuth(session_);
  EXPECT_EQ(p.id, owner_.id);
  auto moved = db_->GetSessionByHash(Hmac(kPepperB, session_));
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_EQ(moved->pepper_id, IdOf(kPepperB));
  Serve({kPepperB});
  p = MustAuth(session_);
  ASSERT_TRUE(server_->login.Logout(p, "Bearer " + session_));
  EXPECT_EQ(AuthError(session_), "session_revoked");
}

TEST_F(PepperRotationTest, RevokedAndExpiredCredentialsAreNotMoved) {
  auto revoked = NewToken("revoked");
  ASSERT_TRUE(server_->tokens.Revoke(owner_, "acme", revoked.record.id));
  auto expiring =
      server_->tokens.Create(owner_, "acme", {.name = "short", .expires_in_seconds = 60});
  ASSERT_TRUE(expiring);
  clock_.Advance(61 * kMillisPerSecond);
  Serve({kPepperB, kPepperA});
  EXPECT_EQ(AuthError(revoked.token), "token_revoked");
  EXPECT_EQ(AuthError(expiring->token), "token_expired");
  EXPECT_EQ(db_->GetApiTokenByHash(Hmac(kPepperA, revoked.token))->pepper_id, IdOf(kPepperA));
  EXPECT_EQ(db_->GetApiTokenByHash(Hmac(kPepperA, expiring->token))->pepper_id, IdOf(kPepperA));
}

TEST_F(PepperRotationTest, RevocationAnnouncedWithTheOldHashReachesTheMovedEntry) {
  auto created = NewToken("ci");
  const std::string old_hash = Hmac(kPepperA, created.token);
  Serve({kPepperB, kPepperA});
  MustAuth(created.token);  // moved to B and cached under the B hash
  ASSERT_TRUE(server_->authn.AuthenticateCached("Bearer " + created.token));
  // Another instance read the row before the move and announces the revocation with hash A.
  server_->authn.Forget(old_hash);
  EXPECT_FALSE(server_->authn.AuthenticateCached("Bearer " + created.token));
}

TEST_F(PepperRotationTest, TwoInstancesMovingTheSameTokenAgree) {
  auto created = NewToken("ci");
  Serve({kPepperB, kPepperA});
  Instance other(*db_, {kPepperB, kPepperA}, clock_, random_, idp_);
  // Both miss their caches and find it under A; one moves it, the other finds it moved.
  auto first = server_->authn.Authenticate("Bearer " + created.token);
  auto second = other.authn.Authenticate("Bearer " + created.token);
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(db_->GetApiTokenByHash(Hmac(kPepperB, created.token))->id, created.record.id);
  // A third instance still configured with the old order finds it under B and moves it back:
  // harmless (a rolling restart's window), and it still authenticates everywhere.
  Instance old_order(*db_, {kPepperA, kPepperB}, clock_, random_, idp_);
  ASSERT_TRUE(old_order.authn.Authenticate("Bearer " + created.token));
  clock_.Advance(kMillisPerMinute);  // past every cache's re-validation bound
  ASSERT_TRUE(server_->authn.Authenticate("Bearer " + created.token));
  ASSERT_TRUE(other.authn.Authenticate("Bearer " + created.token));
}

TEST_F(PepperRotationTest, HashesFromBeforePepperIdsAreAttributedOnUse) {
  auto created = NewToken("ci");
  // What a server from before migration 5 left: no pepper id.
  auto cleared = db_->RehashApiToken(created.record.id, Hmac(kPepperA, created.token),
                                     Hmac(kPepperA, created.token), "");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(db_->GetApiTokenByHash(Hmac(kPepperA, created.token))->pepper_id, "");
  MustAuth(created.token);
  EXPECT_EQ(db_->GetApiTokenByHash(Hmac(kPepperA, created.token))->pepper_id, IdOf(kPepperA));
}

TEST_F(PepperRotationTest, LoginsStartedBeforeTheRotationComplete) {
  // Started (state stored under A) before the restart, finished after it.
  std::string challenge = crypto::PkceS256Challenge(Verifier());
  ASSERT_TRUE(
      server_->login.StartBrowserLogin("http://127.0.0.1:5555/callback", "st", challenge, "S256"));
  Serve({kPepperB, kPepperA});
  auto redirect = server_->login.CompleteCallback("idp-code", idp_.last_state);
  ASSERT_TRUE(redirect) << redirect.error().ToString();
  // A one-time code issued under A, exchanged under [B, A].
  Serve({kPepperA});
  ASSERT_TRUE(
      server_->login.StartBrowserLogin("http://127.0.0.1:5555/callback", "st", challenge, "S256"));
  redirect = server_->login.CompleteCallback("idp-code", idp_.last_state);
  ASSERT_TRUE(redirect) << redirect.error().ToString();
  Serve({kPepperB, kPepperA});
  auto start = redirect->find("code=") + 5;
  auto session = server_->login.ExchangeCode(
      redirect->substr(start, redirect->find('&', start) - start), Verifier());
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_EQ(MustAuth(session->token).id, owner_.id);
  // Device flow: the handle was issued under A, polled under [B, A].
  Serve({kPepperA});
  auto device = server_->login.StartDevice();
  ASSERT_TRUE(device) << device.error().ToString();
  Serve({kPepperB, kPepperA});
  auto polled = server_->login.PollDevice(device->device_handle);
  ASSERT_TRUE(polled) << polled.error().ToString();
  EXPECT_EQ(AuthError(polled->token), "ok");
}

TEST_F(PepperRotationTest, FederatedTokensAreFoundUnderAnOlderPepper) {
  auto org = db_->GetOrganizationByName("acme");
  ASSERT_TRUE(org);
  std::string token = crypto::GenerateCredential(crypto::CredentialKind::kFederated, random_);
  // A federated token is only stored under an existing trust policy of its organization.
  store::TrustPolicyRecord policy;
  policy.id = NewUuid(random_);
  policy.org_id = org->id;
  policy.name = "gitlab-web";
  policy.issuer = "https://gitlab.com";
  policy.provider = "gitlab";
  policy.audience = "https://cp.example.com";
  policy.bound_claims = {{"project_path", "acme/web"}};
  policy.permissions = {"workflow_run:create"};
  policy.created_by_kind = "user";
  policy.created_by_id = "owner";
  policy.created_at = clock_.Now();
  store::AuditEvent created{
      NewUuid(random_),       org->id,        "system",  "system", "system",
      "trust_policy.created", "trust_policy", policy.id, "test",   clock_.Now()};
  ASSERT_TRUE(db_->CreateTrustPolicy(policy, created));
  store::FederatedToken t;
  t.id = NewUuid(random_);
  t.org_id = org->id;
  t.policy_id = policy.id;
  t.token_hash = Hmac(kPepperA, token);
  t.permissions = {"workflow_run:create"};
  t.issuer = "https://gitlab.com";
  t.subject = "project_path:acme/web";
  t.display_name = "gitlab: acme/web";
  t.created_at = clock_.Now();
  t.expires_at = clock_.Now() + 10 * kMillisPerMinute;
  store::AuditEvent e{NewUuid(random_),       org->id,           "system", "system", "system",
                      "federation.exchanged", "federated_token", t.id,     "test",   clock_.Now()};
  ASSERT_TRUE(db_->CreateFederatedToken(t, e));
  Serve({kPepperB, kPepperA});
  EXPECT_EQ(AuthError(token), "ok");
  Serve({kPepperB});
  EXPECT_EQ(AuthError(token), "invalid_token");
}

}  // namespace
}  // namespace cl::domain
