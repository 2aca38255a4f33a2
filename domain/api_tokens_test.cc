// ApiTokenService: who may create and revoke which tokens, their scopes, names, expiry, usage and
// audit.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

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
  EXPECT_TRUE(Items(atts_->ListRuns(t, "acme", std::string("frontend"), {.limit = 10}))
                  .error()
                  .IsPermissionDenied());
  auto runs = Items(atts_->ListRuns(t, "acme", std::nullopt, {.limit = 10}));
  ASSERT_TRUE(runs);
  auto projects = Items(orgs_->ListProjects(t, "acme", {}));
  ASSERT_TRUE(projects) << projects.error().ToString();
  ASSERT_EQ(projects->size(), 1u);
  EXPECT_EQ(projects->at(0).name, "backend");
}

TEST_F(ApiTokenTest, PeopleOnlyOperationsAreRefusedToTokens) {
  Principal t = Auth(MustCreate(owner_, {.name = "ci"}).token);
  EXPECT_FALSE(orgs_->Create(t, "other"));
  EXPECT_FALSE(orgs_->Invite(t, "acme", "x@example.com", store::OrgRole::kViewer));
  EXPECT_FALSE(orgs_->SetApiTokenMaxDaysInactive(t, "acme", 30));
  EXPECT_FALSE(Items(orgs_->ListAuditEvents(t, "acme", {}, {.limit = 10})));
  EXPECT_FALSE(Items(orgs_->ListMembers(t, "acme", {})));
  // Other organizations are invisible.
  Principal other = Auth(LoginAs("other", "other@example.com"));
  ASSERT_TRUE(orgs_->Create(other, "globex"));
  EXPECT_TRUE(
      Items(atts_->ListRuns(t, "globex", std::nullopt, {.limit = 10})).error().IsNotFound());
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
  EXPECT_TRUE(Items(atts_->ListRuns(ro, "acme", std::nullopt, {.limit = 10})));

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
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "v@example.com", store::OrgRole::kViewer));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "m@example.com", store::OrgRole::kMember));
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
  EXPECT_EQ(revoked->revocation_reason, store::RevocationReason::kManual);
  EXPECT_EQ(authn_->Authenticate(ob).error().reason(), "token_revoked");  // at once
  EXPECT_EQ(tokens_->Revoke(owner_, "acme", other.record.id).error().code(),
            Error::Code::kFailedPrecondition);
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "x", .expires_in_seconds = 0})
                  .error()
                  .IsInvalidArgument());
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
  auto active = tokens_->List(owner_, "acme", "active", std::nullopt, "", {});
  ASSERT_TRUE(active);
  EXPECT_EQ(active->tokens.size(), 2u);
  auto revoked = tokens_->List(owner_, "acme", "revoked", std::nullopt, "", {});
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->tokens.size(), 1u);
  auto global = tokens_->List(owner_, "acme", "all", std::nullopt, "global", {});
  ASSERT_TRUE(global);
  EXPECT_EQ(global->tokens.size(), 2u);
  EXPECT_FALSE(tokens_->List(owner_, "acme", "bogus", std::nullopt, "", {}));
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

TEST_F(ApiTokenTest, AuditEventsForCreateAndRevoke) {
  clock_.Advance(1000);
  auto created = MustCreate(owner_, {.name = "ci"});
  clock_.Advance(1000);
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", created.record.id));
  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 2}));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->at(0).action, "api_token.revoked");
  EXPECT_EQ(events->at(1).action, "api_token.created");
  EXPECT_EQ(events->at(0).actor_name, "owner@example.com");
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
  auto all = tokens_->List(owner_, "acme", "all", std::nullopt, "", {});
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->tokens.size(), 1u);
  EXPECT_EQ(all->tokens[0].name, "minter");
  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 100}));
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

}  // namespace
}  // namespace cl::domain
