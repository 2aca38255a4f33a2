// FederationService: trust policies, exchange and direct use of CI ID tokens against a fake
// gitlab.com, replay, and policy deletion overlapping requests.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

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
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "member@example.com", store::OrgRole::kMember));
  Principal member = Auth(LoginAs("member", "member@example.com"));
  EXPECT_TRUE(CreatePolicy(member, other).error().IsPermissionDenied());

  // Listing and deletion, audited.
  auto list = Items(fed_->ListPolicies(owner_, "acme", {}));
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE(
      fed_->DeletePolicy(Auth(token.token), "acme", policy->id).error().IsPermissionDenied());
  EXPECT_TRUE(fed_->DeletePolicy(owner_, "acme", policy->id));
  EXPECT_TRUE(fed_->DeletePolicy(owner_, "acme", policy->id).error().IsNotFound());
  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 20}));
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
  // As long as the ID token itself is accepted: exp (1 h) plus the 60 s leeway.
  EXPECT_EQ(exchanged->expires_in_seconds, 3660);
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
  EXPECT_FALSE(Items(orgs_->ListMembers(ci, "acme", {})));
  // Cached answers agree; the token expires with the ID token's acceptance.
  auto cached = authn_->AuthenticateCached("Bearer " + exchanged->token);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(*cached);
  clock_.Advance(3660 * kMillisPerSecond);
  auto expired = authn_->Authenticate("Bearer " + exchanged->token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().reason(), "token_expired");

  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 20}));
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

// max_token_age is the policy's: a token older than it does not match (jwt_too_old, not
// no_matching_trust_policy, so the CI author knows what to change), and an exchanged token ends
// when the ID token becomes too old for the policy even if its exp is later (long GitLab jobs:
// exp is the job timeout, iat the job's start).
TEST_F(FederationTest, MaxTokenAgeIsThePolicysAndBoundsTheExchangedToken) {
  auto dflt = CreatePolicy(owner_, BackendPolicy());
  ASSERT_TRUE(dflt) << dflt.error().ToString();
  EXPECT_EQ(dflt->max_token_age_seconds, 3600);
  // A 3 h job: its ID token expires at the job timeout.
  std::string job = Mint(Claims("acme/backend", 3 * 3600));
  clock_.Advance(90 * kMillisPerMinute);
  auto refused = fed_->Exchange("acme", job);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().reason(), "jwt_too_old");

  ASSERT_TRUE(fed_->DeletePolicy(owner_, "acme", dflt->id));
  auto longer = BackendPolicy();
  longer.max_token_age_seconds = 2 * 3600;
  auto policy = CreatePolicy(owner_, longer);
  ASSERT_TRUE(policy) << policy.error().ToString();
  EXPECT_EQ(policy->max_token_age_seconds, 2 * 3600);
  EXPECT_EQ((*Items(fed_->ListPolicies(owner_, "acme", {})))[0].max_token_age_seconds, 2 * 3600);
  auto exchanged = fed_->Exchange("acme", job);
  ASSERT_TRUE(exchanged) << exchanged.error().ToString();
  // 2 h + 60 s after iat, not the 3 h exp.
  EXPECT_EQ(exchanged->expires_in_seconds, 30 * 60 + 60);
  clock_.Advance(31 * kMillisPerMinute);
  EXPECT_EQ(authn_->Authenticate("Bearer " + exchanged->token).error().reason(), "token_expired");
  EXPECT_EQ(fed_->Exchange("acme", Mint(Claims())).has_value(), true);

  for (int64_t bad : {int64_t{0}, int64_t{59}, int64_t{24 * 3600 + 1}}) {
    auto out_of_range = BackendPolicy();
    out_of_range.name = "range-" + std::to_string(bad);
    out_of_range.max_token_age_seconds = bad;
    auto r = CreatePolicy(owner_, out_of_range);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().reason(), "invalid_trust_policy") << bad;
  }
  auto day = BackendPolicy();
  day.name = "a-day";
  day.max_token_age_seconds = 24 * 3600;
  EXPECT_TRUE(CreatePolicy(owner_, day));
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
  const std::string token = Mint(Claims());
  auto exchanged = fed_->Exchange("acme", token);
  ASSERT_TRUE(deleted);  // the exchange had read the policy list before this deletion
  ASSERT_FALSE(exchanged);
  // The answer of an exchange that matches no policy.
  EXPECT_TRUE(exchanged.error().IsPermissionDenied());
  EXPECT_EQ(exchanged.error().reason(), "no_matching_trust_policy");
  auto after = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().reason(), exchanged.error().reason());
  EXPECT_FALSE(Exchanged());
  // Nothing at all was written: not even the CI token's jti, which a new policy accepts.
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  auto again = fed_->Exchange("acme", token);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(Exchanged());
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
  auto active = tokens_->List(owner_, "acme", "active", std::nullopt, "", {});
  ASSERT_TRUE(active) << active.error().ToString();
  EXPECT_TRUE(active->tokens.empty());
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
