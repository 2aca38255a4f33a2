// StoreTest (SQLite and PostgreSQL): the sweep revoking inactive API tokens.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, SweepBoundariesAreStrict) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string acme = this->NewOrg("acme", u);
  const std::string max = this->NewOrg("max", u);
  const std::string off = this->NewOrg("off", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(acme, 90, this->Event(acme, "x")));
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(max, 365, this->Event(max, "x")));

  const UnixMillis now = this->now_ + 400 * kMillisPerDay;
  const UnixMillis cutoff = now - 90 * kMillisPerDay;
  const UnixMillis year_cutoff = now - 365 * kMillisPerDay;
  std::vector<ApiToken> kept, revoked;
  auto add = [&](ApiToken t, bool expect_revoked) {
    auto st = this->db_->CreateApiToken(t, this->Event(t.org_id, "api_token.created"));
    ASSERT_TRUE(st) << st.error().ToString();
    (expect_revoked ? revoked : kept).push_back(t);
  };
  ApiToken t = Token(acme, "used-at-cutoff", this->now_);
  t.last_used_at = cutoff;
  add(t, false);
  t = Token(acme, "used-1ms-before-cutoff", this->now_);
  t.last_used_at = cutoff - 1;
  add(t, true);
  add(Token(acme, "never-used-created-at-cutoff", cutoff), false);
  add(Token(acme, "never-used-created-1ms-before", cutoff - 1), true);
  t = Token(acme, "old-but-used-yesterday", this->now_);
  t.last_used_at = now - kMillisPerDay;
  add(t, false);
  // Dead already: an expired token is not revoked again for inactivity (no row change, no
  // audit event, no announcement), whether it expired long ago or exactly at the sweep.
  t = Token(acme, "expired-and-inactive", this->now_);
  t.expires_at = this->now_ + kMillisPerDay;
  add(t, false);
  t = Token(acme, "expires-at-the-sweep", this->now_);
  t.expires_at = now;
  add(t, false);
  t = Token(acme, "expires-1ms-after-the-sweep", this->now_);
  t.expires_at = now + 1;
  add(t, true);
  t = Token(acme, "manually-revoked", this->now_);
  t.revoked_at = this->now_ + 5;
  t.revocation_reason = RevocationReason::kManual;
  t.revoked_by_name = "owner@example.com";
  add(t, false);
  // 365 days in milliseconds overflow a 32-bit integer: the cut-off must still be exact.
  add(Token(max, "year-at-cutoff", year_cutoff), false);
  add(Token(max, "year-1ms-before", year_cutoff - 1), true);
  add(Token(off, "ancient-without-threshold", 0), false);

  auto sweep = this->db_->RevokeInactiveApiTokens(
      now, [&](const RevokedToken& r) { return SweepEvent(r, now); });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  EXPECT_FALSE(sweep->skipped_locked);

  std::vector<std::string> want_ids, got_ids;
  for (const ApiToken& r : revoked) want_ids.push_back(r.id);
  for (const RevokedToken& r : sweep->revoked) {
    got_ids.push_back(r.id);
    ApiToken orig = *this->db_->GetApiToken(r.org_id, r.id);
    EXPECT_EQ(r.token_hash, orig.token_hash);
    EXPECT_EQ(r.name, orig.name);
    EXPECT_EQ(r.org_name, r.org_id == acme ? "acme" : "max");
    EXPECT_EQ(r.days, r.org_id == acme ? 90 : 365);
  }
  std::sort(want_ids.begin(), want_ids.end());
  std::sort(got_ids.begin(), got_ids.end());
  EXPECT_EQ(got_ids, want_ids);

  for (const ApiToken& r : revoked) {
    ApiToken got = *this->db_->GetApiToken(r.org_id, r.id);
    EXPECT_EQ(got.revoked_at, now) << r.name;
    EXPECT_EQ(got.revocation_reason, RevocationReason::kInactive) << r.name;
    EXPECT_EQ(got.revoked_by_name, "system") << r.name;
  }
  for (const ApiToken& k : kept) {
    ApiToken got = *this->db_->GetApiToken(k.org_id, k.id);
    EXPECT_EQ(got.revoked_at, k.revoked_at) << k.name;
    EXPECT_EQ(got.revocation_reason, k.revocation_reason) << k.name;
    EXPECT_EQ(got.revoked_by_name, k.revoked_by_name) << k.name;
  }

  // One audit event per revoked token, with the system as actor.
  auto acme_events = SweepEvents(*this->db_, acme);
  ASSERT_EQ(acme_events.size(), 3u);
  for (const AuditEvent& e : acme_events) {
    EXPECT_EQ(e.message.find("expired-and-inactive"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("expires-at-the-sweep"), std::string::npos) << e.message;
  }
  for (const AuditEvent& e : acme_events) {
    EXPECT_EQ(e.actor_name, "system");
    EXPECT_EQ(e.action, "api_token.revoked");
    EXPECT_EQ(e.created_at, now);
    EXPECT_NE(e.message.find("after 90 days of inactivity"), std::string::npos) << e.message;
  }
  auto max_events = SweepEvents(*this->db_, max);
  ASSERT_EQ(max_events.size(), 1u);
  EXPECT_EQ(max_events[0].message,
            "system has revoked the API token year-1ms-before after 365 days of inactivity");
  EXPECT_TRUE(SweepEvents(*this->db_, off).empty());

  // A second sweep at the same time finds nothing left to do.
  auto again = this->db_->RevokeInactiveApiTokens(
      now, [&](const RevokedToken& r) { return SweepEvent(r, now); });
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->revoked.empty());
  EXPECT_EQ(SweepEvents(*this->db_, acme).size(), 3u);
}

TYPED_TEST(StoreTest, SweepWithoutThresholdsOrTokensIsEmpty) {
  this->Migrated();
  auto empty = this->db_->RevokeInactiveApiTokens(
      this->now_, [&](const RevokedToken& r) { return SweepEvent(r, this->now_); });
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->revoked.empty());
  EXPECT_FALSE(empty->skipped_locked);
}

TYPED_TEST(StoreTest, SweepWritesEventsForMoreTokensThanOneInsertBatch) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x")));
  constexpr int kTokens = 603;  // 512 + 64 + 8 + 8 + 8 + 3 x 1 rows
  std::vector<ApiTokenUse> usage;
  for (int i = 0; i < kTokens; ++i) {
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_);
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  }
  const UnixMillis now = this->now_ + kMillisPerDay + 1;
  // Text the bulk paths must carry unchanged (PostgreSQL sends it inside array literals).
  const std::string odd = " \"quoted\", back\\slash {braces} NULL\n\ttab";
  auto sweep = this->db_->RevokeInactiveApiTokens(now, [&](const RevokedToken& r) {
    AuditEvent e = SweepEvent(r, now);
    e.message += odd + r.id;
    return e;
  });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  EXPECT_EQ(sweep->revoked.size(), static_cast<size_t>(kTokens));
  auto events = SweepEvents(*this->db_, org);
  ASSERT_EQ(events.size(), static_cast<size_t>(kTokens));
  std::set<std::string> targets;
  for (const AuditEvent& e : events) {
    targets.insert(e.target_id);
    EXPECT_EQ(e.message, "system has revoked the API token " +
                             this->db_->GetApiToken(org, e.target_id)->name +
                             " after 1 days of inactivity" + odd + e.target_id);
    EXPECT_EQ(e.created_at, now);
    EXPECT_EQ(e.actor_name, "system");
  }
  EXPECT_EQ(targets.size(), static_cast<size_t>(kTokens));
}

TYPED_TEST(StoreTest, SweepFailureRollsBackTheRevocations) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x")));
  ApiToken t = Token(org, "old", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  const UnixMillis now = this->now_ + 2 * kMillisPerDay;
  // A duplicate audit id makes the INSERT fail after the UPDATE: nothing may stay revoked.
  const AuditEvent existing = this->Event(org, "dup");
  ASSERT_TRUE(this->db_->AppendAuditEvent(existing));
  auto sweep = this->db_->RevokeInactiveApiTokens(now, [&](const RevokedToken& r) {
    AuditEvent e = SweepEvent(r, now);
    e.id = existing.id;
    return e;
  });
  ASSERT_FALSE(sweep);
  EXPECT_FALSE(this->db_->GetApiToken(org, t.id)->revoked_at.has_value());
  EXPECT_TRUE(SweepEvents(*this->db_, org).empty());
}

// Two instances (two Database objects on one database) sweeping at the same moment: each token
// is revoked once and gets one audit event, whichever instance did it.
TYPED_TEST(StoreTest, TwoInstancesSweepingTogetherRevokeEachTokenOnce) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  std::vector<std::string> orgs = {this->NewOrg("a", u), this->NewOrg("b", u)};
  constexpr int kPerOrg = 60;
  for (const std::string& org : orgs) {
    ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 30, this->Event(org, "x")));
    for (int i = 0; i < kPerOrg; ++i) {
      ASSERT_TRUE(this->db_->CreateApiToken(Token(org, "t" + std::to_string(i), this->now_),
                                            this->Event(org, "api_token.created")));
    }
  }
  auto second = OpenDatabase(this->url_);
  ASSERT_TRUE(second) << second.error().ToString();
  const UnixMillis now = this->now_ + 31 * kMillisPerDay;
  auto make = [&](const RevokedToken& r) { return SweepEvent(r, now); };
  constexpr int kRounds = 3;  // later rounds find nothing: still one revocation per token
  std::vector<Result<InactiveTokenSweep>> results(2 * kRounds, Fail(Error::Internal("not run")));
  std::thread a([&] {
    for (int i = 0; i < kRounds; ++i) results[i] = this->db_->RevokeInactiveApiTokens(now, make);
  });
  std::thread b([&] {
    for (int i = 0; i < kRounds; ++i) {
      results[kRounds + i] = (*second)->RevokeInactiveApiTokens(now, make);
    }
  });
  a.join();
  b.join();
  std::multiset<std::string> revoked;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().ToString();
    for (const RevokedToken& t : r->revoked) revoked.insert(t.id);
  }
  EXPECT_EQ(revoked.size(), 2u * kPerOrg);
  EXPECT_EQ(std::set<std::string>(revoked.begin(), revoked.end()).size(), 2u * kPerOrg);
  for (const std::string& org : orgs) {
    auto events = SweepEvents(*this->db_, org);
    EXPECT_EQ(events.size(), static_cast<size_t>(kPerOrg));
    std::set<std::string> targets;
    for (const AuditEvent& e : events) targets.insert(e.target_id);
    EXPECT_EQ(targets.size(), static_cast<size_t>(kPerOrg));
  }
}

}  // namespace
}  // namespace cl::store::testing
