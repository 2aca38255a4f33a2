// StoreTest (SQLite and PostgreSQL): API tokens: creation, lookup, listing, revocation, usage.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

// The bulk read behind the credential refresh: any number of hashes up to the bound, in one
// query; unknown hashes and repeats change nothing; more than the bound is refused.
TYPED_TEST(StoreTest, ApiTokensByHashesReadsManyInOneCall) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");
  std::vector<ApiToken> made;
  for (int i = 0; i < 5; ++i) {
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_ + i,
                       i % 2 ? std::optional<std::string>(proj) : std::nullopt);
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    made.push_back(t);
  }
  auto none = this->db_->GetApiTokensByHashes({});
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->empty());

  std::vector<std::string> hashes = {made[0].token_hash, Hash(), made[3].token_hash,
                                     made[3].token_hash, made[4].token_hash};
  auto got = this->db_->GetApiTokensByHashes(hashes);
  ASSERT_TRUE(got) << got.error().ToString();
  std::vector<std::string> ids;
  for (const auto& t : *got) {
    ids.push_back(t.id);
    auto byhash = this->db_->GetApiTokenByHash(t.token_hash);
    ASSERT_TRUE(byhash);
    EXPECT_EQ(t.name, byhash->name);  // the same columns as the single read
    EXPECT_EQ(t.project_name, byhash->project_name);
    EXPECT_EQ(t.permissions, byhash->permissions);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want = {made[0].id, made[3].id, made[4].id};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);

  std::vector<std::string> full(ApiTokenStore::kMaxHashesPerRead, Hash());
  full.back() = made[1].token_hash;
  auto at_bound = this->db_->GetApiTokensByHashes(full);
  ASSERT_TRUE(at_bound) << at_bound.error().ToString();
  ASSERT_EQ(at_bound->size(), 1u);
  EXPECT_EQ(at_bound->front().id, made[1].id);
  full.push_back(made[2].token_hash);
  EXPECT_FALSE(this->db_->GetApiTokensByHashes(full));
}

TYPED_TEST(StoreTest, ApiTokenCreateAndGet) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");

  ApiToken t = Token(org, "ci", this->now_);
  t.expires_at = this->now_ + kMillisPerDay;
  auto st = this->db_->CreateApiToken(t, this->Event(org, "api_token.created"));
  ASSERT_TRUE(st) << st.error().ToString();

  auto got = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->org_id, org);
  EXPECT_FALSE(got->project_id.has_value());
  EXPECT_EQ(got->name, "ci");
  EXPECT_EQ(got->description, "for ci");
  EXPECT_EQ(got->token_hash, t.token_hash);
  EXPECT_EQ(got->permissions, t.permissions);
  EXPECT_EQ(got->created_by_kind, "user");
  EXPECT_EQ(got->created_by_id, "creator-id");
  EXPECT_EQ(got->created_by_name, "creator@example.com");
  EXPECT_EQ(got->created_at, this->now_);
  EXPECT_EQ(got->expires_at, this->now_ + kMillisPerDay);
  EXPECT_FALSE(got->last_used_at.has_value());
  EXPECT_FALSE(got->revoked_at.has_value());
  EXPECT_FALSE(got->revocation_reason.has_value());
  EXPECT_EQ(got->revoked_by_name, "");
  EXPECT_EQ(got->project_name, "");

  ApiToken pt = Token(org, "deploy", this->now_ + 1, proj);
  pt.permissions = {};
  ASSERT_TRUE(this->db_->CreateApiToken(pt, this->Event(org, "api_token.created")));
  auto byid = this->db_->GetApiToken(org, pt.id);
  ASSERT_TRUE(byid) << byid.error().ToString();
  EXPECT_EQ(byid->project_id, proj);
  EXPECT_EQ(byid->project_name, "web");
  EXPECT_TRUE(byid->permissions.empty());
  EXPECT_FALSE(byid->expires_at.has_value());

  // Another organization cannot read it by id; unknown hash and id are NotFound.
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);
  EXPECT_TRUE(this->db_->GetApiToken(org2, pt.id).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetApiToken(org, Id()).error().IsNotFound());
  auto missing = this->db_->GetApiTokenByHash(Hash());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());

  // Token and audit event were written together.
  auto events = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(events);
  int created = 0;
  for (const auto& e : *events) created += e.action == "api_token.created";
  EXPECT_EQ(created, 2);
}

TYPED_TEST(StoreTest, ApiTokenPermissionsRoundTripInGivenOrder) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "perms", this->now_);
  // Stored exactly as given: sorting is the caller's job.
  t.permissions = {"z:last", "a:first", "api_token:revoke", "m:middle"};
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  auto got = this->db_->GetApiToken(org, t.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->permissions, t.permissions);

  ApiToken bad = Token(org, "bad", this->now_);
  bad.permissions = {"a:b c:d"};
  auto st = this->db_->CreateApiToken(bad, this->Event(org, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsInvalidArgument());
  bad.permissions = {""};
  EXPECT_TRUE(this->db_->CreateApiToken(bad, this->Event(org, "x")).error().IsInvalidArgument());
  EXPECT_TRUE(this->db_->GetApiToken(org, bad.id).error().IsNotFound());
}

TYPED_TEST(StoreTest, ApiTokenNamesUniqueAmongActiveTokensPerScope) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string web = this->NewProject(org, "web");
  const std::string api = this->NewProject(org, "api");
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);

  ASSERT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_), this->Event(org, "x")));
  auto before = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(before);

  // Same name, same scope: AlreadyExists, and neither the token nor its event is written.
  ApiToken dup = Token(org, "ci", this->now_);
  AuditEvent dup_event = this->Event(org, "api_token.created");
  auto st = this->db_->CreateApiToken(dup, dup_event);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists()) << st.error().ToString();
  EXPECT_NE(st.error().message().find("ci"), std::string::npos);
  EXPECT_EQ(st.error().message().find(dup.token_hash), std::string::npos);
  EXPECT_TRUE(this->db_->GetApiToken(org, dup.id).error().IsNotFound());
  auto after = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), before->size());
  for (const auto& e : *after) EXPECT_NE(e.id, dup_event.id);

  // The same name is fine at project level, in each project, and in another organization.
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_, web), this->Event(org, "x")));
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_, api), this->Event(org, "x")));
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org2, "ci", this->now_), this->Event(org2, "x")));
  // ...but not twice in one project.
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_, web), this->Event(org, "x"))
                  .error()
                  .IsAlreadyExists());

  // A hash collision is AlreadyExists too, without the hash in the message.
  ApiToken same_hash = Token(org, "other-name", this->now_);
  same_hash.token_hash = dup.token_hash;
  ASSERT_TRUE(this->db_->CreateApiToken(same_hash, this->Event(org, "x")));
  ApiToken clash = Token(org, "third-name", this->now_);
  clash.token_hash = dup.token_hash;
  auto hc = this->db_->CreateApiToken(clash, this->Event(org, "x"));
  ASSERT_FALSE(hc);
  EXPECT_TRUE(hc.error().IsAlreadyExists());
  EXPECT_EQ(hc.error().message().find(dup.token_hash), std::string::npos);

  // A project of another organization, or an unknown organization, is refused.
  const std::string proj2 = this->NewProject(org2, "web");
  auto cross =
      this->db_->CreateApiToken(Token(org, "cross", this->now_, proj2), this->Event(org, "x"));
  ASSERT_FALSE(cross);
  EXPECT_TRUE(cross.error().IsNotFound()) << cross.error().ToString();
  EXPECT_FALSE(this->db_->CreateApiToken(Token(Id(), "orphan", this->now_), this->Event(org, "x")));
}

TYPED_TEST(StoreTest, ApiTokenRevokeThenReuseName) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));

  AuditEvent ev = this->Event(org, "api_token.revoked", this->now_ + 5);
  auto st = this->db_->RevokeApiToken(org, t.id, this->now_ + 5, RevocationReason::kManual,
                                      "owner@example.com", ev);
  ASSERT_TRUE(st) << st.error().ToString();
  auto got = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->revoked_at, this->now_ + 5);
  EXPECT_EQ(got->revocation_reason, RevocationReason::kManual);
  EXPECT_EQ(got->revoked_by_name, "owner@example.com");
  auto events = this->db_->ListAuditEvents(org, 1);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().id, ev.id);

  // Twice: FailedPrecondition and nothing written.
  AuditEvent ev2 = this->Event(org, "api_token.revoked", this->now_ + 9);
  auto again = this->db_->RevokeApiToken(org, t.id, this->now_ + 9, RevocationReason::kInactive,
                                         "system", ev2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Error::Code::kFailedPrecondition);
  got = this->db_->GetApiToken(org, t.id);
  EXPECT_EQ(got->revoked_at, this->now_ + 5);
  EXPECT_EQ(got->revocation_reason, RevocationReason::kManual);
  EXPECT_EQ(this->db_->ListAuditEvents(org, 1)->front().id, ev.id);

  // Unknown id, or another organization's token: NotFound.
  EXPECT_TRUE(this->db_
                  ->RevokeApiToken(org, Id(), this->now_, RevocationReason::kManual, "x",
                                   this->Event(org, "y"))
                  .error()
                  .IsNotFound());
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);
  ApiToken t2 = Token(org2, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t2, this->Event(org2, "x")));
  EXPECT_TRUE(this->db_
                  ->RevokeApiToken(org, t2.id, this->now_, RevocationReason::kManual, "x",
                                   this->Event(org, "y"))
                  .error()
                  .IsNotFound());
  EXPECT_FALSE(this->db_->GetApiToken(org2, t2.id)->revoked_at.has_value());

  // The revoked token's name is free again.
  ApiToken reuse = Token(org, "ci", this->now_ + 10);
  auto created = this->db_->CreateApiToken(reuse, this->Event(org, "api_token.created"));
  EXPECT_TRUE(created) << created.error().ToString();
  // And can be revoked and reused once more (several revoked tokens share a name).
  ASSERT_TRUE(this->db_->RevokeApiToken(org, reuse.id, this->now_ + 11, RevocationReason::kManual,
                                        "x", this->Event(org, "api_token.revoked")));
  EXPECT_TRUE(this->db_->CreateApiToken(Token(org, "ci", this->now_ + 12), this->Event(org, "x")));
}

TYPED_TEST(StoreTest, ApiTokenListFiltersAndOrder) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string web = this->NewProject(org, "web");
  const std::string api = this->NewProject(org, "api");
  User other = this->NewUser("other@example.com");
  const std::string org2 = this->NewOrg("globex", other);
  const UnixMillis t0 = this->now_;

  // g1 and g2 share created_at: the id breaks the tie (descending, like created_at).
  ApiToken g1 = Token(org, "g1", t0 + 10);
  ApiToken g2 = Token(org, "g2", t0 + 10);
  if (g1.id < g2.id) std::swap(g1.id, g2.id);
  ApiToken g3 = Token(org, "g3", t0 + 30);
  ApiToken w1 = Token(org, "w1", t0 + 20, web);
  ApiToken w2 = Token(org, "w2", t0 + 40, web);
  ApiToken a1 = Token(org, "a1", t0 + 5, api);
  for (const ApiToken* t : {&g1, &g2, &g3, &w1, &w2, &a1}) {
    ASSERT_TRUE(this->db_->CreateApiToken(*t, this->Event(org, "x")));
  }
  ASSERT_TRUE(this->db_->CreateApiToken(Token(org2, "foreign", t0), this->Event(org2, "x")));
  ASSERT_TRUE(this->db_->RevokeApiToken(org, g3.id, t0 + 50, RevocationReason::kManual, "x",
                                        this->Event(org, "y")));
  ASSERT_TRUE(this->db_->RevokeApiToken(org, w1.id, t0 + 50, RevocationReason::kInactive, "system",
                                        this->Event(org, "y")));

  auto list = [&](ApiTokenFilter::Status status, ApiTokenFilter::Scope scope,
                  std::optional<std::string> project) {
    ApiTokenFilter f;
    f.org_id = org;
    f.status = status;
    f.scope = scope;
    f.project_id = std::move(project);
    auto r = this->db_->ListApiTokens(f);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? Names(*r) : std::vector<std::string>{};
  };
  using S = ApiTokenFilter::Status;
  using Sc = ApiTokenFilter::Scope;
  using V = std::vector<std::string>;
  EXPECT_EQ(list(S::kActive, Sc::kAny, std::nullopt), (V{"w2", g1.name, g2.name, "a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kAny, std::nullopt), (V{"w2", "g3", "w1", "g1", "g2", "a1"}));
  EXPECT_EQ(list(S::kRevoked, Sc::kAny, std::nullopt), (V{"g3", "w1"}));
  EXPECT_EQ(list(S::kActive, Sc::kGlobal, std::nullopt), (V{"g1", "g2"}));
  EXPECT_EQ(list(S::kAll, Sc::kGlobal, std::nullopt), (V{"g3", "g1", "g2"}));
  EXPECT_EQ(list(S::kActive, Sc::kProject, std::nullopt), (V{"w2", "a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kProject, std::nullopt), (V{"w2", "w1", "a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kAny, web), (V{"w2", "w1"}));
  EXPECT_EQ(list(S::kRevoked, Sc::kAny, web), (V{"w1"}));
  EXPECT_EQ(list(S::kActive, Sc::kProject, api), (V{"a1"}));
  EXPECT_EQ(list(S::kAll, Sc::kGlobal, web), (V{}));
  EXPECT_EQ(list(S::kAll, Sc::kAny, Id()), (V{}));

  // Reads fill project_name and keep the revocation fields.
  ApiTokenFilter f;
  f.org_id = org;
  f.status = S::kRevoked;
  auto revoked = this->db_->ListApiTokens(f);
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->size(), 2u);
  EXPECT_EQ((*revoked)[0].project_name, "");
  EXPECT_EQ((*revoked)[0].revocation_reason, RevocationReason::kManual);
  EXPECT_EQ((*revoked)[1].project_name, "web");
  EXPECT_EQ((*revoked)[1].revocation_reason, RevocationReason::kInactive);
  EXPECT_EQ((*revoked)[1].revoked_by_name, "system");
  EXPECT_EQ((*revoked)[1].revoked_at, t0 + 50);

  ApiTokenFilter none;
  none.org_id = Id();
  none.status = S::kAll;
  EXPECT_TRUE(this->db_->ListApiTokens(none)->empty());
}

// Expiry is decided at the caller's clock reading: a token whose expires_at is at or before
// filter.now is "expired", not "active"; a revoked token is "revoked" whatever its expiry.
TYPED_TEST(StoreTest, ApiTokenListingSeparatesExpiredFromActiveAtTheCallersTime) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const UnixMillis now = this->now_ + kMillisPerDay;
  auto add = [&](const std::string& name, UnixMillis created, std::optional<UnixMillis> expires) {
    ApiToken t = Token(org, name, created);
    t.expires_at = expires;
    EXPECT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "x")));
    return t;
  };
  add("forever", this->now_ + 1, std::nullopt);
  add("later", this->now_ + 2, now + 1);
  add("exactly-now", this->now_ + 3, now);
  add("long-ago", this->now_ + 4, this->now_ + 10);
  ApiToken dead = add("revoked-expired", this->now_ + 5, this->now_ + 10);
  ASSERT_TRUE(this->db_->RevokeApiToken(org, dead.id, this->now_ + 5, RevocationReason::kManual,
                                        "x", this->Event(org, "y")));

  auto list = [&](ApiTokenFilter::Status status, UnixMillis at) {
    ApiTokenFilter f;
    f.org_id = org;
    f.status = status;
    f.now = at;
    auto r = this->db_->ListApiTokens(f);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? Names(*r) : std::vector<std::string>{};
  };
  using S = ApiTokenFilter::Status;
  using V = std::vector<std::string>;
  EXPECT_EQ(list(S::kActive, now), (V{"later", "forever"}));
  EXPECT_EQ(list(S::kExpired, now), (V{"long-ago", "exactly-now"}));
  EXPECT_EQ(list(S::kRevoked, now), (V{"revoked-expired"}));
  EXPECT_EQ(list(S::kAll, now),
            (V{"revoked-expired", "long-ago", "exactly-now", "later", "forever"}));
  // One millisecond earlier, "exactly-now" was still active.
  EXPECT_EQ(list(S::kActive, now - 1), (V{"exactly-now", "later", "forever"}));
  EXPECT_EQ(list(S::kExpired, now - 1), (V{"long-ago"}));
}

TYPED_TEST(StoreTest, ApiTokenUsageKeepsTheLatestTime) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken a = Token(org, "a", this->now_);
  ApiToken b = Token(org, "b", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(a, this->Event(org, "x")));
  ASSERT_TRUE(this->db_->CreateApiToken(b, this->Event(org, "x")));
  const UnixMillis t = this->now_ + kMillisPerHour;

  EXPECT_TRUE(this->db_->RecordApiTokenUsage({}));
  // Unknown ids are ignored; duplicates within a batch keep the latest time.
  auto st = this->db_->RecordApiTokenUsage({{a.id, t}, {Id(), t}, {b.id, t + 5}, {b.id, t + 1}});
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t);
  EXPECT_EQ(this->db_->GetApiToken(org, b.id)->last_used_at, t + 5);

  // An older time never moves last_used_at back; a newer one moves it forward.
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t - 1000}, {b.id, t + 10}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t);
  EXPECT_EQ(this->db_->GetApiToken(org, b.id)->last_used_at, t + 10);

  // A use before the revocation, flushed after it, is kept; a time after the revocation (a
  // request that overlapped it) is not a use.
  ASSERT_TRUE(this->db_->RevokeApiToken(org, a.id, t + 20, RevocationReason::kManual, "x",
                                        this->Event(org, "y")));
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 15}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t + 15);
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 20}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t + 20);
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 21}, {b.id, t + 21}}));
  EXPECT_EQ(this->db_->GetApiToken(org, a.id)->last_used_at, t + 20);
  EXPECT_EQ(this->db_->GetApiToken(org, b.id)->last_used_at, t + 21);
}

TYPED_TEST(StoreTest, ApiTokenUsageBatchOfThousandInOneCall) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  constexpr int kTokens = 50;
  std::vector<ApiToken> tokens;
  for (int i = 0; i < kTokens; ++i) {
    tokens.push_back(Token(org, "t" + std::to_string(i), this->now_));
    ASSERT_TRUE(this->db_->CreateApiToken(tokens.back(), this->Event(org, "x")));
  }
  // 1000 entries: 20 per token at increasing times, plus unknown ids mixed in.
  std::vector<ApiTokenUse> usage;
  for (int round = 0; round < 19; ++round) {
    for (int i = 0; i < kTokens; ++i)
      usage.push_back({.id = tokens[i].id, .at = this->now_ + round * 100 + i});
  }
  for (int i = 0; i < kTokens; ++i) usage.push_back({.id = Id(), .at = this->now_ + 99'999});
  ASSERT_EQ(usage.size(), 1000u);
  const auto start = std::chrono::steady_clock::now();
  auto st = this->db_->RecordApiTokenUsage(usage);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_LT(took, std::chrono::seconds(5));
  for (int i = 0; i < kTokens; ++i) {
    EXPECT_EQ(this->db_->GetApiToken(org, tokens[i].id)->last_used_at, this->now_ + 1800 + i);
  }

  // 1000 distinct known tokens in one call.
  std::vector<ApiTokenUse> distinct;
  std::vector<ApiToken> many;
  for (int i = 0; i < 1000; ++i) {
    ApiToken t = Token(org, "m" + std::to_string(i), this->now_);
    many.push_back(t);
  }
  for (const auto& t : many) {
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "x")));
    distinct.push_back({.id = t.id, .at = this->now_ + 7});
  }
  ASSERT_TRUE(this->db_->RecordApiTokenUsage(distinct));
  ApiTokenFilter f;
  f.org_id = org;
  auto all = this->db_->ListApiTokens(f);
  ASSERT_TRUE(all);
  int updated = 0;
  for (const auto& t : *all) updated += t.last_used_at == this->now_ + 7;
  EXPECT_EQ(updated, 1000);
}

TYPED_TEST(StoreTest, ApiTokenCreatedByAnUnusableTokenWritesNothing) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  ApiToken creator = Token(org, "creator", this->now_);
  creator.expires_at = this->now_ + kMillisPerDay;
  ASSERT_TRUE(this->db_->CreateApiToken(creator, this->Event(org, "api_token.created")));
  auto by = [&](const ApiToken& c, const std::string& name, UnixMillis at) {
    ApiToken t = Token(org, name, at);
    t.created_by_kind = "api_token";
    t.created_by_id = c.id;
    t.created_by_name = c.name;
    return t;
  };
  auto refused = [&](const ApiToken& t, const std::string& reason) {
    const size_t events_before = this->db_->ListAuditEvents(org, 1000)->size();
    auto st = this->db_->CreateApiToken(t, this->Event(org, "api_token.created"));
    ASSERT_FALSE(st) << t.name;
    EXPECT_TRUE(st.error().IsUnauthenticated()) << st.error().ToString();
    EXPECT_EQ(st.error().reason(), reason);
    EXPECT_TRUE(this->db_->GetApiTokenByHash(t.token_hash).error().IsNotFound());
    EXPECT_EQ(this->db_->ListAuditEvents(org, 1000)->size(), events_before);
  };

  // While the creator is usable its children are created.
  ApiToken child = by(creator, "child", this->now_ + 1);
  auto st = this->db_->CreateApiToken(child, this->Event(org, "api_token.created"));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(this->db_->GetApiTokenByHash(child.token_hash)->created_by_id, creator.id);

  // At its expiry (the child's created_at is the request's "now"), and after its revocation.
  refused(by(creator, "at-expiry", *creator.expires_at), "token_expired");
  ASSERT_TRUE(this->db_->RevokeApiToken(org, creator.id, this->now_ + 2, RevocationReason::kManual,
                                        "owner", this->Event(org, "api_token.revoked")));
  refused(by(creator, "after-revocation", this->now_ + 3), "token_revoked");

  // A creator that does not exist, or exists in another organization.
  ApiToken ghost = Token(org, "ghost", this->now_);
  refused(by(ghost, "by-ghost", this->now_ + 3), "invalid_token");
  ApiToken foreign = Token(other, "foreign", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(foreign, this->Event(other, "api_token.created")));
  refused(by(foreign, "by-foreign", this->now_ + 3), "invalid_token");
}

// A revocation reason this build does not know (written by hand, or by a newer build) is
// reported as an internal error on every read path, never turned into some default.
TYPED_TEST(StoreTest, UnknownRevocationReasonInTheDatabaseIsAnError) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  ASSERT_TRUE(ExecBehindTheStore(this->url_,
                                 "UPDATE api_tokens SET revoked_at = 1, "
                                 "revocation_reason = 'Manual' WHERE id = '" +
                                     t.id + "'"));

  auto by_hash = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_FALSE(by_hash);
  EXPECT_EQ(by_hash.error().code(), Error::Code::kInternal) << by_hash.error().ToString();
  EXPECT_NE(by_hash.error().message().find("revocation_reason"), std::string::npos);
  auto by_id = this->db_->GetApiToken(org, t.id);
  ASSERT_FALSE(by_id);
  EXPECT_EQ(by_id.error().code(), Error::Code::kInternal);
  ApiTokenFilter all;
  all.org_id = org;
  all.status = ApiTokenFilter::Status::kAll;
  auto listed = this->db_->ListApiTokens(all);
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().code(), Error::Code::kInternal);
}

}  // namespace
}  // namespace cl::store::testing
