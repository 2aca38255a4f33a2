// ApiTokenService::Rotate: the replacement's shape, the grace boundary (from the cache too),
// chained rotations, refusals, permissions, the rotation job, and last-used details.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "domain/testing/service_fixtures.h"
#include "jobs/rotation_finisher.h"
#include "jobs/usage_flusher.h"

// Counts heap allocations made by the thread that sets counting_allocations.
namespace {
thread_local bool counting_allocations = false;
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (counting_allocations) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// Not inlined: GCC would otherwise see free() paired with operator new and warn.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace cl::domain {
namespace {

class ApiTokenRotationTest : public ApiTokenTest {
 protected:
  RotatedApiToken MustRotate(const Principal& p, const std::string& id, int64_t grace) {
    auto r = tokens_->Rotate(p, "acme", id, grace);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : RotatedApiToken{};
  }
  std::string AuthReason(const std::string& token) {
    auto p = authn_->Authenticate("Bearer " + token);
    return p ? "ok" : p.error().reason();
  }
  std::string CachedReason(const std::string& token) {
    auto p = authn_->AuthenticateCached("Bearer " + token);
    if (!p) return "miss";
    return *p ? "ok" : p->error().reason();
  }
};

TEST_F(ApiTokenRotationTest, TheReplacementKeepsNameScopePermissionsAndExpiryLength) {
  auto old = MustCreate(owner_, {.name = "ci",
                                 .description = "release pipeline",
                                 .expires_in_seconds = 3600,
                                 .project = "backend",
                                 .permissions = std::vector<std::string>{"workflow_run:read"}});
  clock_.Advance(600 * kMillisPerSecond);
  auto r = MustRotate(owner_, old.record.id, 0);
  EXPECT_EQ(r.token.rfind("clapi_", 0), 0u);
  EXPECT_NE(r.record.id, old.record.id);
  EXPECT_EQ(r.record.name, "ci");
  EXPECT_EQ(r.record.description, "release pipeline");
  EXPECT_EQ(r.record.project_id, old.record.project_id);
  EXPECT_EQ(r.record.permissions, old.record.permissions);
  EXPECT_EQ(r.record.created_at, clock_.Now());
  ASSERT_TRUE(r.record.expires_at);
  EXPECT_EQ(*r.record.expires_at, clock_.Now() + 3600 * kMillisPerSecond);  // a fresh hour
  // Grace 0: the old token is revoked in the same transaction.
  EXPECT_EQ(r.rotated.rotated_to, r.record.id);
  EXPECT_EQ(r.rotated.revoked_at, clock_.Now());
  EXPECT_EQ(r.rotated.revocation_reason, store::RevocationReason::kRotated);
  EXPECT_EQ(AuthReason(old.token), "token_revoked");
  EXPECT_EQ(AuthReason(r.token), "ok");
  // A token without expiry is replaced by one without expiry.
  auto forever = MustCreate(owner_, {.name = "forever"});
  EXPECT_FALSE(MustRotate(owner_, forever.record.id, 0).record.expires_at);
  // The audit event names both.
  auto events = orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 10});
  ASSERT_TRUE(events);
  bool found = false;
  for (const auto& e : events->items) {
    if (e.action != "api_token.rotated" || e.target_id != old.record.id) continue;
    found = true;
    EXPECT_NE(e.message.find(r.record.id), std::string::npos) << e.message;
  }
  EXPECT_TRUE(found);
}

TEST_F(ApiTokenRotationTest, TheOldTokenWorksUntilTheDeadlineEvenFromTheCache) {
  auto old = MustCreate(owner_, {.name = "ci"});
  ASSERT_EQ(AuthReason(old.token), "ok");  // cached
  auto r = MustRotate(owner_, old.record.id, 60);
  const UnixMillis deadline = clock_.Now() + 60 * kMillisPerSecond;
  EXPECT_EQ(r.rotated.rotation_deadline, deadline);
  EXPECT_FALSE(r.rotated.revoked_at);
  // The name is shared while the old one is in grace.
  EXPECT_EQ(r.record.name, r.rotated.name);
  clock_.Set(deadline - 1);
  EXPECT_EQ(AuthReason(old.token), "ok");
  EXPECT_EQ(CachedReason(old.token), "ok");  // read at deadline - 1 ms: cached with its deadline
  clock_.Set(deadline);
  EXPECT_EQ(CachedReason(old.token), "token_revoked");  // no job has run, no reload
  EXPECT_EQ(AuthReason(old.token), "token_revoked");
  EXPECT_EQ(AuthReason(r.token), "ok");
  // Listed as revoked (reason rotated) from the deadline, before the job records it.
  auto listing = tokens_->List(owner_, "acme", "revoked", std::nullopt, "", {});
  ASSERT_TRUE(listing);
  ASSERT_EQ(listing->tokens.size(), 1u);
  EXPECT_EQ(listing->tokens[0].id, old.record.id);
  // The job records it: revoked_at = the deadline, reason rotated, one audit event, once.
  jobs::RotationFinisher finisher(*db_, clock_, random_, nullptr);
  clock_.Advance(5 * kMillisPerSecond);
  auto ran = finisher.RunOnce();
  ASSERT_TRUE(ran) << ran.error().ToString();
  EXPECT_EQ(*ran, 1);
  EXPECT_EQ(*finisher.RunOnce(), 0);
  auto stored = db_->GetApiToken(old.record.org_id, old.record.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->revoked_at, deadline);
  EXPECT_EQ(stored->revocation_reason, store::RevocationReason::kRotated);
  EXPECT_EQ(stored->revoked_by_name, "system");
}

TEST_F(ApiTokenRotationTest, ChainedRotationsAndRefusals) {
  auto a = MustCreate(owner_, {.name = "ci", .expires_in_seconds = 7200});
  auto b = MustRotate(owner_, a.record.id, 3600);
  // A is in grace: rotating it again is refused (rotate B), and so is a second rotation race.
  auto again = tokens_->Rotate(owner_, "acme", a.record.id, 0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_NE(again.error().message().find(b.record.id), std::string::npos);
  clock_.Advance(10 * kMillisPerSecond);
  auto c = MustRotate(owner_, b.record.id, 0);
  EXPECT_EQ(c.record.name, "ci");
  EXPECT_EQ(*c.record.expires_at - c.record.created_at, 7200 * kMillisPerSecond);
  EXPECT_EQ(AuthReason(a.token), "ok");  // still in its own grace
  EXPECT_EQ(AuthReason(b.token), "token_revoked");
  EXPECT_EQ(AuthReason(c.token), "ok");
  // Revoked, expired, unknown tokens and bad grace periods are refused.
  EXPECT_EQ(tokens_->Rotate(owner_, "acme", b.record.id, 0).error().code(),
            Error::Code::kFailedPrecondition);
  auto dead = MustCreate(owner_, {.name = "dead"});
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", dead.record.id));
  auto revoked = tokens_->Rotate(owner_, "acme", dead.record.id, 0);
  EXPECT_EQ(revoked.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_NE(revoked.error().message().find("revoked"), std::string::npos);
  auto brief = MustCreate(owner_, {.name = "brief", .expires_in_seconds = 1});
  clock_.Advance(kMillisPerSecond);
  auto expired = tokens_->Rotate(owner_, "acme", brief.record.id, 0);
  EXPECT_EQ(expired.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_NE(expired.error().message().find("expired"), std::string::npos);
  EXPECT_TRUE(tokens_->Rotate(owner_, "acme", c.record.id, -1).error().IsInvalidArgument());
  EXPECT_TRUE(tokens_->Rotate(owner_, "acme", c.record.id, 86401).error().IsInvalidArgument());
  EXPECT_TRUE(tokens_->Rotate(owner_, "acme", NewUuid(random_), 0).error().IsNotFound());
  // Only one active token holds the name after all this.
  auto active = tokens_->List(owner_, "acme", "active", std::nullopt, "global", {});
  ASSERT_TRUE(active);
  int named_ci = 0;
  for (const auto& t : active->tokens) named_ci += t.name == "ci" && !t.rotated_to;
  EXPECT_EQ(named_ci, 1);
  // A plain create of the name is still refused while the replacement holds it.
  EXPECT_TRUE(tokens_->Create(owner_, "acme", {.name = "ci"}).error().IsAlreadyExists());
}

TEST_F(ApiTokenRotationTest, PermissionsAndSelfRotation) {
  // Needs api_token:create AND api_token:revoke in the token's scope.
  auto target = MustCreate(owner_, {.name = "target", .project = "backend"});
  auto create_only = MustCreate(
      owner_, {.name = "create-only",
               .permissions = std::vector<std::string>{
                   "api_token:create", "workflow_run:read", "workflow_run:create", "workflow:read",
                   "workflow:create", "project:read", "organization:read"}});
  EXPECT_TRUE(tokens_->Rotate(Auth(create_only.token), "acme", target.record.id, 0)
                  .error()
                  .IsPermissionDenied());
  const std::vector<std::string> admin = {"api_token:create", "api_token:revoke", "api_token:read"};
  auto narrow = MustCreate(owner_, {.name = "narrow", .project = "backend", .permissions = admin});
  // It lacks the target's attestation permissions: it may not obtain its secret.
  EXPECT_TRUE(tokens_->Rotate(Auth(narrow.token), "acme", target.record.id, 0)
                  .error()
                  .IsPermissionDenied());
  // A token rotates itself with its own credential, keeping its organization scope.
  auto ci = MustCreate(owner_, {.name = "self", .expires_in_seconds = 600, .permissions = admin});
  Principal self = Auth(ci.token);
  auto r = tokens_->Rotate(self, "acme", ci.record.id, 30);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->record.project_id);
  // The replacement's expiry is a fresh 600 s, not capped at the rotating token's own expiry.
  EXPECT_EQ(*r->record.expires_at, clock_.Now() + 600 * kMillisPerSecond);
  // But the same token may not rotate another organization-scoped token.
  auto other_org = MustCreate(owner_, {.name = "other", .permissions = admin});
  EXPECT_TRUE(
      tokens_->Rotate(Auth(r->token), "acme", other_org.record.id, 0).error().IsPermissionDenied());
  // A viewer cannot rotate at all.
  Principal viewer = Auth(LoginAs("viewer", "viewer@example.com"));
  EXPECT_FALSE(tokens_->Rotate(viewer, "acme", target.record.id, 0));
}

TEST_F(ApiTokenRotationTest, LastUsedDetailsAreRecordedWithTheCoalescedUse) {
  auto t = MustCreate(owner_, {.name = "ci"});
  jobs::UsageFlusher flusher(usage_, *db_, 60'000);
  std::string bearer = "Bearer " + t.token;
  ASSERT_TRUE(authn_->Authenticate(bearer, {"203.0.113.9", "ci-runner/1.0"}));
  clock_.Advance(2 * kMillisPerSecond);
  // Coalesced: a second use within the window (reloaded, so it reaches the recorder) changes
  // nothing.
  ASSERT_TRUE(authn_->Authenticate(bearer, {"198.51.100.1", "other"}));
  ASSERT_TRUE(flusher.FlushNow());
  auto stored = db_->GetApiToken(t.record.org_id, t.record.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->last_used_address, "203.0.113.9");
  EXPECT_EQ(stored->last_used_user_agent, "ci-runner/1.0");
  // The next window's use brings its own details.
  clock_.Advance(2 * 60 * kMillisPerSecond);
  ASSERT_TRUE(authn_->Authenticate(bearer, {"2001:db8::5", std::string(300, 'u')}));
  ASSERT_TRUE(flusher.FlushNow());
  stored = db_->GetApiToken(t.record.org_id, t.record.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->last_used_address, "2001:db8::5");
  EXPECT_EQ(stored->last_used_user_agent, std::string(kMaxRecordedUserAgentBytes, 'u'));
}

// The cached hot path with the request's origin allocates exactly what it did without one: the
// address and User-Agent are views, copied only when the recorder queues a use (at most once per
// token per window, and only after the once-a-second gate of the cached entry).
TEST_F(ApiTokenRotationTest, TheCachedPathAllocatesNothingMoreForTheOrigin) {
  auto t = MustCreate(owner_, {.name = "ci"});
  const std::string bearer = "Bearer " + t.token;
  const std::string ua(150, 'u');
  ASSERT_TRUE(authn_->Authenticate(bearer, {"203.0.113.9", ua}));  // cached, use queued
  auto count = [&](RequestOrigin origin) {
    allocations = 0;
    counting_allocations = true;
    for (int i = 0; i < 50; ++i) {
      auto p = authn_->AuthenticateCached(bearer, origin);
      if (!p || !*p) ADD_FAILURE() << "not answered from the cache";
    }
    counting_allocations = false;
    return allocations.load();
  };
  const long without = count({});
  const long with = count({"203.0.113.9", ua});
  EXPECT_EQ(with, without);
}

}  // namespace
}  // namespace cl::domain
