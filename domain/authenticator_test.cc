// Authenticator against a real store: the credential cache in use, precise refusals, revocations
// overlapping a load, and the prompt write of a first use after a long idle period.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

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

TEST_F(DomainTest, UnknownAndMistypedTokensHaveDistinctReasons) {
  std::string token = LoginAs("alice", "alice@example.com");
  std::string mistyped = token;
  mistyped[10] = mistyped[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(authn_->Authenticate("Bearer " + mistyped).error().reason(), "malformed_token");
  std::string other = crypto::GenerateCredential(crypto::CredentialKind::kSession, random_);
  EXPECT_EQ(authn_->Authenticate("Bearer " + other).error().reason(), "invalid_token");
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

// Another instance's revocation that this one did not hear of: while the notifier says it
// hears, the cached answer stands (until re-validation); while it is deaf, every request goes to
// the database and is refused at once.
TEST_F(ApiTokenTest, FailsClosedWhileDeafToOtherInstances) {
  auto created = MustCreate(owner_, {.name = "ci"});
  const std::string bearer = "Bearer " + created.token;
  std::atomic<bool> hearing{true};
  authn_->SetCacheTrust([&] { return hearing.load(); });
  ASSERT_TRUE(authn_->Authenticate(bearer));
  // Revoked behind this instance's back (no Forget here): another instance did it.
  auto revoked = RevokeOnAnotherInstance(created.record);
  ASSERT_TRUE(revoked) << revoked.error().ToString();
  auto cached = authn_->AuthenticateCached(bearer);
  ASSERT_TRUE(cached.has_value());  // still cached: the announcement would have dropped it
  EXPECT_TRUE(*cached);
  hearing = false;
  EXPECT_FALSE(authn_->AuthenticateCached(bearer).has_value());
  auto full = authn_->Authenticate(bearer);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().reason(), "token_revoked");
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

// The bulk refresh keeps entries of tokens in use fresh past the revalidation bound without a
// request reading the database; tokens not in use age out as before.
TEST_F(ApiTokenTest, RefreshKeepsTokensInUseCachedAndLetsTheRestAgeOut) {
  auto busy = MustCreate(owner_, {.name = "busy"});
  auto idle = MustCreate(owner_, {.name = "idle"});
  const std::string busy_bearer = "Bearer " + busy.token;
  const std::string idle_bearer = "Bearer " + idle.token;
  ASSERT_TRUE(authn_->Authenticate(busy_bearer));
  ASSERT_TRUE(authn_->Authenticate(idle_bearer));
  clock_.Advance(1100);  // both stale; only the busy one is used again
  ASSERT_TRUE(authn_->Authenticate(busy_bearer));
  // Not due yet: read less than half the bound ago.
  auto early = authn_->RefreshCachedApiTokens();
  ASSERT_TRUE(early) << early.error().ToString();
  EXPECT_EQ(*early, 0u);
  clock_.Advance(600);
  auto refreshed = authn_->RefreshCachedApiTokens();
  ASSERT_TRUE(refreshed) << refreshed.error().ToString();
  EXPECT_EQ(*refreshed, 1u);
  EXPECT_EQ(authn_->GetStats().cache_refreshes, 1u);
  clock_.Advance(600);  // 1200 ms after the busy token's last read by a request
  const uint64_t misses = authn_->GetStats().cache_misses;
  auto hit = authn_->AuthenticateCached(busy_bearer);
  ASSERT_TRUE(hit.has_value());
  ASSERT_TRUE(*hit);
  EXPECT_EQ((*hit)->id, busy.record.id);
  EXPECT_FALSE(authn_->AuthenticateCached(idle_bearer).has_value());
  EXPECT_EQ(authn_->GetStats().cache_misses, misses);
}

// A revocation this instance did not hear of (another instance, no announcement) is not hidden
// by the refresh: the entry is not renewed, ages out, and the next request is refused.
TEST_F(ApiTokenTest, RefreshDoesNotRenewATokenRevokedBehindItsBack) {
  auto created = MustCreate(owner_, {.name = "ci"});
  const std::string bearer = "Bearer " + created.token;
  ASSERT_TRUE(authn_->Authenticate(bearer));
  auto revoked = RevokeOnAnotherInstance(created.record);
  ASSERT_TRUE(revoked) << revoked.error().ToString();
  clock_.Advance(600);
  auto refreshed = authn_->RefreshCachedApiTokens();
  ASSERT_TRUE(refreshed) << refreshed.error().ToString();
  EXPECT_EQ(*refreshed, 0u);
  clock_.Advance(500);
  EXPECT_FALSE(authn_->AuthenticateCached(bearer).has_value());
  auto full = authn_->Authenticate(bearer);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().reason(), "token_revoked");
}

// A revocation on this instance while the refresh reads: what the refresh read may predate it,
// so nothing read in that pass is cached, and the token is refused at once.
TEST_F(ApiTokenTest, RevocationDuringARefreshIsNotUndoneByIt) {
  auto created = MustCreate(owner_, {.name = "raced"});
  auto other = MustCreate(owner_, {.name = "other"});
  const std::string bearer = "Bearer " + created.token;
  ASSERT_TRUE(authn_->Authenticate(bearer));
  ASSERT_TRUE(authn_->Authenticate("Bearer " + other.token));
  clock_.Advance(600);
  bool revoked = false;
  authn_->SetAfterLoadHookForTesting([&] {
    if (revoked) return;
    revoked = true;
    auto r = tokens_->Revoke(owner_, "acme", created.record.id);
    EXPECT_TRUE(r) << r.error().ToString();
  });
  auto refreshed = authn_->RefreshCachedApiTokens();
  authn_->SetAfterLoadHookForTesting(nullptr);
  ASSERT_TRUE(revoked);
  ASSERT_TRUE(refreshed) << refreshed.error().ToString();
  EXPECT_EQ(*refreshed, 0u);
  EXPECT_FALSE(authn_->AuthenticateCached(bearer).has_value());
  auto again = authn_->Authenticate(bearer);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().reason(), "token_revoked");
}

// A row that changed behind the cache's back (here: rotated by another instance, with a
// deadline) is not renewed in place: the refresh caches what the row says now, so the token is
// refused from the cache at its deadline.
TEST_F(ApiTokenTest, RefreshReplacesAnEntryWhoseRowChanged) {
  auto created = MustCreate(owner_, {.name = "rotated-elsewhere"});
  const std::string bearer = "Bearer " + created.token;
  ASSERT_TRUE(authn_->Authenticate(bearer));
  store::ApiToken replacement;
  replacement.id = "7d1f5c1e-0b6e-4f43-9a55-3c2b1d0e9f8a";
  replacement.org_id = created.record.org_id;
  replacement.name = "rotated-elsewhere";
  replacement.token_hash = std::string(64, 'a');
  replacement.permissions = created.record.permissions;
  replacement.created_by_kind = "user";
  replacement.created_by_id = owner_.id;
  replacement.created_by_name = "owner@example.com";
  replacement.created_at = clock_.Now();
  auto rotated = db_->RotateApiToken(created.record.id, replacement, clock_.Now() + 700,
                                     store::AuditEvent{.id = "ev-rotated",
                                                       .org_id = created.record.org_id,
                                                       .actor_kind = "user",
                                                       .actor_id = owner_.id,
                                                       .actor_name = "x",
                                                       .action = "api_token.rotated",
                                                       .target_kind = "api_token",
                                                       .target_id = created.record.id,
                                                       .message = "rotated elsewhere",
                                                       .created_at = clock_.Now()});
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  clock_.Advance(600);
  auto refreshed = authn_->RefreshCachedApiTokens();
  ASSERT_TRUE(refreshed) << refreshed.error().ToString();
  EXPECT_EQ(*refreshed, 1u);
  clock_.Advance(200);  // past the deadline; the refreshed entry is fresh
  auto cached = authn_->AuthenticateCached(bearer);
  ASSERT_TRUE(cached.has_value());
  ASSERT_FALSE(*cached);
  EXPECT_EQ(cached->error().reason(), "token_revoked");
}

}  // namespace
}  // namespace cl::domain
