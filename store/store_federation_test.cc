// StoreTest (SQLite and PostgreSQL): keyless CI federation: trust policies, CI token ids,
// federated tokens, and the exchange that writes the last two in one transaction.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, TrustPoliciesRoundTripAreUniquePerOrgAndDeletable) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  const std::string proj = this->NewProject(org, "web");
  TrustPolicyRecord a = Policy(org, "gitlab-main", "https://gitlab.com", this->now_);
  a.project_id = proj;
  a.max_token_age_seconds = 3 * 3600;
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  TrustPolicyRecord b = Policy(org, "another", "https://gitlab.example.org", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(b, this->Event(org, "trust_policy.created")));
  // Same name in another organization is fine, in the same one is not.
  ASSERT_TRUE(
      this->db_->CreateTrustPolicy(Policy(other, "gitlab-main", "https://gitlab.com", this->now_),
                                   this->Event(other, "trust_policy.created")));
  auto dup =
      this->db_->CreateTrustPolicy(Policy(org, "gitlab-main", "https://gitlab.com", this->now_),
                                   this->Event(org, "trust_policy.created"));
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().IsAlreadyExists());
  // A project of another organization is refused by the composite key.
  TrustPolicyRecord cross = Policy(other, "cross", "https://gitlab.com", this->now_);
  cross.project_id = proj;
  EXPECT_FALSE(this->db_->CreateTrustPolicy(cross, this->Event(other, "trust_policy.created")));

  auto list = this->db_->ListTrustPolicies(org);
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "another");
  const TrustPolicyRecord& got = (*list)[1];
  EXPECT_EQ(got.id, a.id);
  EXPECT_EQ(got.issuer, "https://gitlab.com");
  EXPECT_EQ(got.provider, "gitlab");
  EXPECT_EQ(got.audience, "https://cp.example.com");
  EXPECT_EQ(got.bound_claims, a.bound_claims);  // order kept
  ASSERT_TRUE(got.project_id.has_value());
  EXPECT_EQ(*got.project_id, proj);
  EXPECT_EQ(got.project_name, "web");
  EXPECT_EQ(got.permissions, a.permissions);
  EXPECT_EQ(got.created_by_name, "owner@example.com");
  EXPECT_EQ(got.max_token_age_seconds, 3 * 3600);
  EXPECT_EQ((*list)[0].max_token_age_seconds, 3600);
  EXPECT_FALSE((*list)[0].project_id.has_value());

  auto by_issuer = this->db_->ListTrustPoliciesByIssuer("https://gitlab.com");
  ASSERT_TRUE(by_issuer);
  EXPECT_EQ(by_issuer->size(), 2u);  // both organizations

  auto missing = this->db_->DeleteTrustPolicy(other, a.id, this->Event(other, "x"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());
  ASSERT_TRUE(this->db_->DeleteTrustPolicy(
      org, a.id, this->Event(org, "trust_policy.deleted", this->now_ + 1000)));
  EXPECT_EQ(this->db_->ListTrustPolicies(org)->size(), 1u);
  auto events = this->db_->ListAuditEvents(org, 10);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[0].action, "trust_policy.deleted");
}

TYPED_TEST(StoreTest, CiTokenJtiIsSingleUseAndExpiredOnesArePurged) {
  this->Migrated();
  const UnixMillis now = this->now_;
  ASSERT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j1"}, now + 1000, now));
  auto again = this->db_->RecordCiTokenJti("https://gitlab.com", {"j1"}, now + 1000, now);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().IsAlreadyExists());
  EXPECT_EQ(again.error().reason(), "replayed_token");
  // The same jti from another issuer is another token.
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.example.org", {"j1"}, now + 1000, now));
  // Once past its expiry the row is purged by the next call.
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j2"}, now + 5000, now + 2000));
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j1"}, now + 9000, now + 2000));
  // Several uses at once are all or nothing: one already recorded records none of them.
  auto some = this->db_->RecordCiTokenJti("https://gitlab.com", {"k1", "j2"}, now + 9000, now);
  ASSERT_FALSE(some);
  EXPECT_TRUE(some.error().IsAlreadyExists());
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"k1", "k2"}, now + 9000, now));
}

TYPED_TEST(StoreTest, FederatedTokensAreFoundByHash) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");
  TrustPolicyRecord policy = Policy(org, "gitlab-main", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(policy, this->Event(org, "trust_policy.created")));
  FederatedToken t;
  t.id = Id();
  t.org_id = org;
  t.project_id = proj;
  t.policy_id = policy.id;
  t.token_hash = Hash();
  t.permissions = {"workflow_run:create"};
  t.issuer = "https://gitlab.com";
  t.subject = "project_path:acme/web:ref_type:branch:ref:main";
  t.display_name = "gitlab: acme/web@main";
  t.created_at = this->now_;
  t.expires_at = this->now_ + 900'000;
  ASSERT_TRUE(this->db_->CreateFederatedToken(t, this->Event(org, "federation.exchanged")));
  auto dup = this->db_->CreateFederatedToken(t, this->Event(org, "federation.exchanged"));
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().IsAlreadyExists());
  auto got = this->db_->GetFederatedTokenByHash(t.token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->org_id, org);
  EXPECT_EQ(got->project_id, t.project_id);
  EXPECT_EQ(got->policy_id, t.policy_id);
  EXPECT_EQ(got->permissions, t.permissions);
  EXPECT_EQ(got->issuer, t.issuer);
  EXPECT_EQ(got->subject, t.subject);
  EXPECT_EQ(got->display_name, t.display_name);
  EXPECT_EQ(got->expires_at, t.expires_at);
  auto missing = this->db_->GetFederatedTokenByHash(Hash());
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().IsNotFound());
}

TYPED_TEST(StoreTest, RevokingOneFederatedTokenEndsOnlyItOnceWithItsEvent) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord p = Policy(org, "p", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(p, this->Event(org, "trust_policy.created")));
  FederatedToken a = FedToken(org, p.id, this->now_);
  FederatedToken b = FedToken(org, p.id, this->now_);
  for (const auto* t : {&a, &b}) {
    ASSERT_TRUE(this->db_->CreateFederatedToken(*t, this->Event(org, "federation.exchanged")));
  }
  auto st = this->db_->RevokeFederatedToken(org, a.id, this->now_ + 7,
                                            this->Event(org, "credential.leaked"));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(this->db_->GetFederatedTokenByHash(a.token_hash)->revoked_at,
            std::optional<UnixMillis>(this->now_ + 7));
  EXPECT_FALSE(this->db_->GetFederatedTokenByHash(b.token_hash)->revoked_at);
  auto again = this->db_->RevokeFederatedToken(org, a.id, this->now_ + 9,
                                               this->Event(org, "credential.leaked"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_EQ(this->db_->GetFederatedTokenByHash(a.token_hash)->revoked_at,
            std::optional<UnixMillis>(this->now_ + 7));
  auto other_org = this->db_->RevokeFederatedToken(Id(), b.id, this->now_,
                                                   this->Event(org, "credential.leaked"));
  ASSERT_FALSE(other_org);
  EXPECT_TRUE(other_org.error().IsNotFound());
  auto events = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(events);
  int leaked = 0;
  for (const auto& e : *events) leaked += e.action == "credential.leaked";
  EXPECT_EQ(leaked, 1);  // the refused revocations wrote nothing
}

TYPED_TEST(StoreTest, DeletingATrustPolicyRevokesItsFederatedTokensAndReturnsTheirHashes) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  TrustPolicyRecord b = Policy(org, "b", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  ASSERT_TRUE(this->db_->CreateTrustPolicy(b, this->Event(org, "trust_policy.created")));
  FederatedToken a1 = FedToken(org, a.id, this->now_);
  FederatedToken a2 = FedToken(org, a.id, this->now_ - kMillisPerHour);  // expired: still ended
  FederatedToken b1 = FedToken(org, b.id, this->now_);
  for (const auto* t : {&a1, &a2, &b1}) {
    ASSERT_TRUE(this->db_->CreateFederatedToken(*t, this->Event(org, "federation.exchanged")));
  }

  auto ended = this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "trust_policy.deleted"));
  ASSERT_TRUE(ended) << ended.error().ToString();
  std::vector<std::string> want = {a1.token_hash, a2.token_hash};
  std::sort(want.begin(), want.end());
  std::sort(ended->begin(), ended->end());
  EXPECT_EQ(*ended, want);
  // Kept, marked revoked at the deletion's time, so they answer "revoked", not "unknown".
  const UnixMillis deleted_at = this->Event(org, "x").created_at;
  for (const auto* t : {&a1, &a2}) {
    auto row = this->db_->GetFederatedTokenByHash(t->token_hash);
    ASSERT_TRUE(row) << row.error().ToString();
    EXPECT_EQ(row->revoked_at, std::optional<UnixMillis>(deleted_at));
  }
  auto kept = this->db_->GetFederatedTokenByHash(b1.token_hash);  // another policy's: untouched
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->revoked_at);

  // A policy without tokens: nothing to end. An unknown one: NotFound, as before.
  TrustPolicyRecord c = Policy(org, "c", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(c, this->Event(org, "trust_policy.created")));
  auto none = this->db_->DeleteTrustPolicy(org, c.id, this->Event(org, "trust_policy.deleted"));
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "x")).error().IsNotFound());
}

TYPED_TEST(StoreTest, FederatedTokenForADeletedOrForeignPolicyIsRefusedAndWritesNothing) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(a, this->Event(org, "trust_policy.created")));
  ASSERT_TRUE(this->db_->DeleteTrustPolicy(org, a.id, this->Event(org, "trust_policy.deleted")));
  const size_t events_before = this->db_->ListAuditEvents(org, 100)->size();

  // The exchange read the policy before the delete committed: its insert must not land.
  FederatedToken late = FedToken(org, a.id, this->now_);
  auto st = this->db_->CreateFederatedToken(late, this->Event(org, "federation.exchanged"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_EQ(st.error().reason(), "trust_policy_deleted");
  EXPECT_EQ(st.error().message().find(late.token_hash), std::string::npos);
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(late.token_hash).error().IsNotFound());
  EXPECT_EQ(this->db_->ListAuditEvents(org, 100)->size(), events_before);

  // A live policy of another organization does not count either.
  TrustPolicyRecord theirs = Policy(other, "theirs", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(theirs, this->Event(other, "trust_policy.created")));
  FederatedToken cross = FedToken(org, theirs.id, this->now_);
  st = this->db_->CreateFederatedToken(cross, this->Event(org, "federation.exchanged"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "trust_policy_deleted");
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(cross.token_hash).error().IsNotFound());
}

// A CI job's federated principal (id: its trust policy) may create API tokens only while the
// policy, and so the federated token, exists.
TYPED_TEST(StoreTest, ApiTokenCreatedByAFederatedPrincipalNeedsItsTrustPolicy) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("other", u);
  TrustPolicyRecord policy = Policy(org, "ci", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(policy, this->Event(org, "trust_policy.created")));
  auto by_ci = [&](const std::string& policy_id, const std::string& name) {
    ApiToken t = Token(org, name, this->now_ + 1);
    t.created_by_kind = "federated";
    t.created_by_id = policy_id;
    t.created_by_name = "https://gitlab.com: project_path:acme/app";
    return t;
  };

  ApiToken child = by_ci(policy.id, "child");
  auto st = this->db_->CreateApiToken(child, this->Event(org, "api_token.created"));
  ASSERT_TRUE(st) << st.error().ToString();

  // A policy of another organization does not count.
  TrustPolicyRecord foreign = Policy(other, "ci", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(foreign, this->Event(other, "trust_policy.created")));
  const size_t events_before = this->db_->ListAuditEvents(org, 1000)->size();
  ApiToken cross = by_ci(foreign.id, "cross");
  st = this->db_->CreateApiToken(cross, this->Event(org, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "token_revoked");

  ASSERT_TRUE(
      this->db_->DeleteTrustPolicy(org, policy.id, this->Event(org, "trust_policy.deleted")));
  ApiToken late = by_ci(policy.id, "late");
  st = this->db_->CreateApiToken(late, this->Event(org, "api_token.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsUnauthenticated()) << st.error().ToString();
  EXPECT_EQ(st.error().reason(), "token_revoked");
  for (const ApiToken* t : {&cross, &late}) {
    EXPECT_TRUE(this->db_->GetApiTokenByHash(t->token_hash).error().IsNotFound()) << t->name;
  }
  // Only the deletion's event was added.
  EXPECT_EQ(this->db_->ListAuditEvents(org, 1000)->size(), events_before + 1);
  // What was created before stays: it is an API token of its own.
  EXPECT_TRUE(this->db_->GetApiTokenByHash(child.token_hash));
}

TYPED_TEST(StoreTest, TrustPoliciesOfAnOrganizationAreReadByItsName) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string empty = this->NewOrg("empty", u);
  const std::string proj = this->NewProject(org, "web");
  TrustPolicyRecord b = Policy(org, "b", "https://gitlab.com", this->now_);
  b.project_id = proj;
  TrustPolicyRecord a = Policy(org, "a", "https://gitlab.com", this->now_);
  for (const auto* p : {&b, &a}) {
    ASSERT_TRUE(this->db_->CreateTrustPolicy(*p, this->Event(org, "trust_policy.created")));
  }
  auto got = this->db_->GetTrustPoliciesOfOrg("acme");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->org_id, org);
  ASSERT_EQ(got->policies.size(), 2u);  // by name, as ListTrustPolicies
  EXPECT_EQ(got->policies[0].id, a.id);
  EXPECT_EQ(got->policies[1].id, b.id);
  EXPECT_EQ(got->policies[1].project_name, "web");
  EXPECT_EQ(got->policies[1].bound_claims, b.bound_claims);
  auto none = this->db_->GetTrustPoliciesOfOrg("empty");
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_EQ(none->org_id, empty);
  EXPECT_TRUE(none->policies.empty());
  EXPECT_TRUE(this->db_->GetTrustPoliciesOfOrg("nobody").error().IsNotFound());
}

// The audit events of `action` in `org`.
int CountEvents(Database& db, const std::string& org, const std::string& action) {
  auto events = db.ListAuditEvents(org, 1000);
  EXPECT_TRUE(events);
  int n = 0;
  for (const auto& e : *events) n += e.action == action;
  return n;
}

TYPED_TEST(StoreTest, ExchangeRecordsTheJtisTheTokenAndItsEventOrNothing) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord p = Policy(org, "p", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(p, this->Event(org, "trust_policy.created")));
  const UnixMillis now = this->now_;
  const UnixMillis until = now + kMillisPerHour;
  auto exchange = [&](const std::vector<std::string>& jtis, const FederatedToken& t) {
    return this->db_->ExchangeCiToken("https://gitlab.com", jtis, until, now, t,
                                      this->Event(org, "federation.exchanged"));
  };

  FederatedToken first = FedToken(org, p.id, now);
  ASSERT_TRUE(exchange({"j1", "push:j1"}, first));
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(first.token_hash));
  EXPECT_EQ(CountEvents(*this->db_, org, "federation.exchanged"), 1);
  // Both keys were recorded.
  for (const char* key : {"j1", "push:j1"}) {
    auto again = this->db_->RecordCiTokenJti("https://gitlab.com", {key}, until, now);
    ASSERT_FALSE(again) << key;
    EXPECT_EQ(again.error().reason(), "replayed_token");
  }

  // A replay: refused, and neither its token, nor its event, nor its other (new) key lands.
  FederatedToken replay = FedToken(org, p.id, now);
  auto st = exchange({"fresh", "j1"}, replay);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists());
  EXPECT_EQ(st.error().reason(), "replayed_token");
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(replay.token_hash).error().IsNotFound());
  EXPECT_EQ(CountEvents(*this->db_, org, "federation.exchanged"), 1);
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"fresh"}, until, now));

  // The policy deleted meanwhile: refused as CreateFederatedToken refuses it, nothing written,
  // so the jti stays unspent.
  ASSERT_TRUE(this->db_->DeleteTrustPolicy(org, p.id, this->Event(org, "trust_policy.deleted")));
  FederatedToken late = FedToken(org, p.id, now);
  st = exchange({"j2", "push:j2"}, late);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kFailedPrecondition);
  EXPECT_EQ(st.error().reason(), "trust_policy_deleted");
  EXPECT_TRUE(this->db_->GetFederatedTokenByHash(late.token_hash).error().IsNotFound());
  EXPECT_EQ(CountEvents(*this->db_, org, "federation.exchanged"), 1);
  EXPECT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"j2", "push:j2"}, until, now));
}

TYPED_TEST(StoreTest, ConcurrentExchangesOfOneJtiLetExactlyOneThrough) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord p = Policy(org, "p", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(p, this->Event(org, "trust_policy.created")));
  constexpr int kThreads = 6;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    const std::string jti = "jti-" + std::to_string(round);
    std::vector<FederatedToken> tokens;
    for (int i = 0; i < kThreads; ++i) tokens.push_back(FedToken(org, p.id, this->now_));
    std::atomic<int> ready{0};
    std::atomic<int> won{0};
    std::atomic<int> replayed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        auto st = this->db_->ExchangeCiToken("https://gitlab.com", {jti, "push:" + jti},
                                             this->now_ + kMillisPerHour, this->now_, tokens[i],
                                             this->Event(org, "federation.exchanged"));
        if (st) {
          won.fetch_add(1);
        } else if (st.error().reason() == "replayed_token") {
          replayed.fetch_add(1);
        } else {
          ADD_FAILURE() << st.error().ToString();
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(replayed.load(), kThreads - 1) << "round " << round;
    int rows = 0;
    for (const auto& t : tokens)
      rows += static_cast<bool>(this->db_->GetFederatedTokenByHash(t.token_hash));
    EXPECT_EQ(rows, 1) << "round " << round;
    EXPECT_EQ(CountEvents(*this->db_, org, "federation.exchanged"), round + 1);
  }
}

TYPED_TEST(StoreTest, ExchangePurgesExpiredJtisAtMostOncePerInterval) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  TrustPolicyRecord p = Policy(org, "p", "https://gitlab.com", this->now_);
  ASSERT_TRUE(this->db_->CreateTrustPolicy(p, this->Event(org, "trust_policy.created")));
  auto exchange = [&](const std::string& jti, UnixMillis at) {
    return this->db_->ExchangeCiToken("https://gitlab.com", {jti}, at + kMillisPerHour, at,
                                      FedToken(org, p.id, at),
                                      this->Event(org, "federation.exchanged"));
  };
  const UnixMillis t0 = this->now_;
  ASSERT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"old"}, t0 + 1000, t0));
  // The store's first exchange purges: "old" expired before it, so it may be used again (only
  // the verifier refuses an expired CI token; the store just forgets its id).
  ASSERT_TRUE(exchange("a", t0 + 2000));
  ASSERT_TRUE(exchange("old", t0 + 2001)) << "the expired jti was not purged";

  // Expired right after that purge, and within the interval: still remembered (amortised).
  ASSERT_TRUE(this->db_->RecordCiTokenJti("https://gitlab.com", {"mid"}, t0 + 2003, t0 + 2002));
  auto st = exchange("mid", t0 + 2000 + kCiTokenJtiPurgeIntervalMillis - 1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().reason(), "replayed_token");
  // The next interval's first exchange purges again.
  ASSERT_TRUE(exchange("b", t0 + 2000 + kCiTokenJtiPurgeIntervalMillis));
  EXPECT_TRUE(exchange("mid", t0 + 2001 + kCiTokenJtiPurgeIntervalMillis));
}

}  // namespace
}  // namespace cl::store::testing
