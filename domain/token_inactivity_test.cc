// Token inactivity (domain/token_inactivity.h): the rule at its boundaries; the store's SQL sweep
// revokes exactly the tokens the rule calls inactive, on SQLite and PostgreSQL
// (CL_TEST_POSTGRES_URL; skipped without it); and the CLI and the web UI use the same range and
// warning window as the rule.
#include "domain/token_inactivity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/validation.h"
#include "common/random.h"
#include "store/test_backends.h"

#ifndef CL_SOURCE_DIR
#error "CL_SOURCE_DIR must be defined"
#endif

namespace cl::domain {
namespace {

constexpr UnixMillis kNow = 1'800'000'000'000;

store::ApiToken TokenLastActiveAt(UnixMillis at, bool used = true) {
  store::ApiToken t;
  t.created_at = used ? at - kMillisPerDay : at;
  if (used) t.last_used_at = at;
  return t;
}

TEST(TokenInactivityTest, ThresholdRange) {
  for (int64_t off : {int64_t{0}}) EXPECT_EQ(*InactivityThreshold(off), std::nullopt);
  EXPECT_EQ(*InactivityThreshold(std::nullopt), std::nullopt);
  EXPECT_EQ(*InactivityThreshold(1), 1);
  EXPECT_EQ(*InactivityThreshold(365), 365);
  for (int64_t bad : {int64_t{-1}, int64_t{366}, int64_t{1} << 40, int64_t{-365}}) {
    auto r = InactivityThreshold(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().IsInvalidArgument());
    EXPECT_NE(r.error().message().find("from 1 to 365 days"), std::string::npos);
  }
}

TEST(TokenInactivityTest, InactiveStrictlyAfterTheThreshold) {
  for (int days : {1, 90, 365}) {
    const UnixMillis limit = static_cast<UnixMillis>(days) * kMillisPerDay;
    for (bool used : {true, false}) {
      SCOPED_TRACE(std::to_string(days) + " days, " + (used ? "used" : "never used"));
      const store::ApiToken at_limit = TokenLastActiveAt(kNow - limit, used);
      EXPECT_EQ(AutoRevokeAt(at_limit, days, kNow), kNow);
      EXPECT_FALSE(IsInactive(at_limit, days, kNow));  // exactly the threshold: still active
      EXPECT_TRUE(IsInactive(at_limit, days, kNow + 1));
      EXPECT_FALSE(IsInactive(TokenLastActiveAt(kNow - limit + 1, used), days, kNow));
      EXPECT_TRUE(IsInactive(TokenLastActiveAt(kNow - limit - 1, used), days, kNow));
    }
  }
  store::ApiToken revoked = TokenLastActiveAt(0);
  revoked.revoked_at = 1;
  EXPECT_FALSE(AutoRevokeAt(revoked, 1, kNow));
  EXPECT_FALSE(IsInactive(revoked, 1, kNow));
  EXPECT_FALSE(AutoRevokeAt(TokenLastActiveAt(0), std::nullopt, kNow));
  EXPECT_FALSE(IsInactive(TokenLastActiveAt(0), std::nullopt, kNow));
  // The last use counts, not the creation, when there is one.
  store::ApiToken old_but_used = TokenLastActiveAt(kNow - kMillisPerHour);
  old_but_used.created_at = 0;
  EXPECT_EQ(LastActivity(old_but_used), kNow - kMillisPerHour);
  // A prompt use is written well before the shortest threshold could be reached.
  EXPECT_LT(kPromptUseAfter, kMinThresholdDays * kMillisPerDay);
}

TEST(TokenInactivityTest, StatesAtTheExpiryBoundary) {
  store::ApiToken t = TokenLastActiveAt(kNow - kMillisPerDay);
  EXPECT_EQ(StateAt(t, kNow), ApiTokenState::kActive);  // no expiry
  t.expires_at = kNow;
  EXPECT_EQ(StateAt(t, kNow - 1), ApiTokenState::kActive);
  EXPECT_EQ(StateAt(t, kNow), ApiTokenState::kExpired);  // expires_at is the first dead instant
  t.revoked_at = kNow - 1;
  EXPECT_EQ(StateAt(t, kNow), ApiTokenState::kRevoked);  // revoked wins over expired
  EXPECT_EQ(StateAt(t, kNow - 1), ApiTokenState::kRevoked);
  for (auto s : {ApiTokenState::kActive, ApiTokenState::kExpired, ApiTokenState::kRevoked}) {
    EXPECT_EQ(ParseApiTokenState(ApiTokenStateName(s)), s);
  }
  EXPECT_EQ(ApiTokenStateName(ApiTokenState::kExpired), "expired");
  EXPECT_FALSE(ParseApiTokenState("Active"));
  EXPECT_FALSE(ParseApiTokenState(""));
}

TEST(TokenInactivityTest, ExpiredTokensAreNeitherInactiveNorGivenAnAutoRevokeDate) {
  // Idle for 10 days under a 1-day threshold: inactive while it has not expired.
  store::ApiToken t = TokenLastActiveAt(kNow - 10 * kMillisPerDay);
  EXPECT_TRUE(IsInactive(t, 1, kNow));
  t.expires_at = kNow;  // expired exactly now
  EXPECT_FALSE(IsInactive(t, 1, kNow));
  EXPECT_FALSE(AutoRevokeAt(t, 1, kNow));
  EXPECT_TRUE(IsInactive(t, 1, kNow - 1));  // one millisecond earlier it was still alive
  EXPECT_TRUE(AutoRevokeAt(t, 1, kNow - 1));

  // Alive, but expiring before the first sweep that could revoke it: no auto-revoke date.
  store::ApiToken fresh = TokenLastActiveAt(kNow);
  const UnixMillis deadline = kNow + kMillisPerDay;
  fresh.expires_at = deadline + 1;
  EXPECT_FALSE(AutoRevokeAt(fresh, 1, kNow));
  fresh.expires_at = deadline + 2;  // the sweep at deadline + 1 still finds it alive
  EXPECT_EQ(AutoRevokeAt(fresh, 1, kNow), deadline);
  EXPECT_TRUE(IsInactive(fresh, 1, deadline + 1));
}

// The CLI's flag parser accepts exactly the range the rule does; the web UI declares the same
// bounds, message and warning window (web/src/rules.ts).
TEST(TokenInactivityTest, CliAndWebUiAgreeWithTheRule) {
  for (int64_t d = -3; d <= 400; ++d) {
    bool cli_ok = static_cast<bool>(cli::ParseMaxDaysInactive(std::to_string(d)));
    EXPECT_EQ(cli_ok, static_cast<bool>(InactivityThreshold(d))) << d;
  }
  std::ifstream in(std::string(CL_SOURCE_DIR) + "/web/src/rules.ts");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string rules = text.str();
  auto number = [&](const char* name) {
    std::smatch m;
    std::regex re(std::string("export const ") + name + R"( = (\d+);)");
    return std::regex_search(rules, m, re) ? std::stoll(m[1]) : -1;
  };
  EXPECT_EQ(number("AUTO_REVOKE_MIN"), kMinThresholdDays);
  EXPECT_EQ(number("AUTO_REVOKE_MAX"), kMaxThresholdDays);
  EXPECT_NE(rules.find("'" + InactivityThreshold(366).error().message() + "'"), std::string::npos)
      << "AUTO_REVOKE_RANGE_MESSAGE is the server's message";
  std::smatch w;
  ASSERT_TRUE(
      std::regex_search(rules, w, std::regex(R"(const WARNING_MS = (\d+) \* DAY_SECONDS)")));
  EXPECT_EQ(std::stoll(w[1]) * kMillisPerDay, kAutoRevokeWarning);
  EXPECT_EQ(cli::kAutoRevokeWarningMillis, kAutoRevokeWarning);
}

// ---- the store's sweep against the rule, on both databases.

using store::testing::PostgresBackend;
using store::testing::SqliteBackend;

template <typename Backend>
class SweepAgreesWithRuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = backend_.Create(&skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    auto db = store::OpenDatabase(url_);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
  }
  void TearDown() override {
    db_.reset();
    backend_.Destroy();
  }
  std::string Id() { return NewUuid(random_); }
  store::AuditEvent Event(const std::string& org) {
    store::AuditEvent e;
    e.id = Id();
    e.org_id = org;
    e.actor_kind = "system";
    e.actor_id = "system";
    e.actor_name = "system";
    e.action = "test";
    e.target_kind = "organization";
    e.target_id = org;
    e.message = "test";
    e.created_at = kNow;
    return e;
  }
  std::string NewOrg(const std::string& name, std::optional<int> days) {
    store::User u;
    u.id = Id();
    u.issuer = "https://idp.example";
    u.subject = "sub-" + name;
    u.email = name + "@example.com";
    u.created_at = u.updated_at = kNow;
    auto user = db_->UpsertUser(u);
    EXPECT_TRUE(user) << user.error().ToString();
    store::Organization o{Id(), name, kNow, std::nullopt};
    store::Membership m;
    m.org_id = o.id;
    m.user_id = user->id;
    m.role = store::OrgRole::kOwner;
    m.created_at = kNow;
    EXPECT_TRUE(db_->CreateOrganization(o, m, Event(o.id)));
    EXPECT_TRUE(db_->SetApiTokenMaxDaysInactive(o.id, days, Event(o.id)));
    return o.id;
  }
  store::ApiToken NewToken(const std::string& org, const std::string& name, UnixMillis created_at,
                           std::optional<UnixMillis> last_used_at,
                           std::optional<UnixMillis> revoked_at = std::nullopt,
                           std::optional<UnixMillis> expires_at = std::nullopt) {
    store::ApiToken t;
    t.id = Id();
    t.org_id = org;
    t.name = name;
    t.token_hash = store::testing::RandomHex(32);
    t.permissions = {"workflow_run:create"};
    t.created_by_kind = "user";
    t.created_by_id = "creator";
    t.created_by_name = "creator@example.com";
    t.created_at = created_at;
    t.last_used_at = last_used_at;
    t.expires_at = expires_at;
    if (revoked_at) {
      t.revoked_at = revoked_at;
      t.revocation_reason = store::RevocationReason::kManual;
      t.revoked_by_name = "someone";
    }
    auto st = db_->CreateApiToken(t, Event(org));
    EXPECT_TRUE(st) << name << ": " << st.error().ToString();
    return t;
  }

  Backend backend_;
  std::string url_;
  std::unique_ptr<store::Database> db_;
  SystemRandom random_;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(SweepAgreesWithRuleTest, Backends, store::testing::BackendNames);

TYPED_TEST(SweepAgreesWithRuleTest, RevokesExactlyTheTokensTheRuleCallsInactive) {
  struct OrgCase {
    std::string name;
    std::optional<int> days;
  };
  const OrgCase orgs[] = {{"one-day", 1}, {"ninety", 90}, {"max", 365}, {"off", std::nullopt}};
  std::vector<std::pair<store::ApiToken, std::optional<int>>> tokens;
  for (const auto& o : orgs) {
    const std::string org = this->NewOrg(o.name, o.days);
    const UnixMillis limit = static_cast<UnixMillis>(o.days.value_or(30)) * kMillisPerDay;
    int n = 0;
    // Around the boundary, used and never used; plus revoked and brand-new ones.
    for (UnixMillis delta : {UnixMillis{-2} * kMillisPerDay, UnixMillis{-1}, UnixMillis{0},
                             UnixMillis{1}, UnixMillis{2} * kMillisPerDay}) {
      const UnixMillis at = kNow - limit + delta;
      tokens.emplace_back(this->NewToken(org, "u" + std::to_string(++n), at - kMillisPerDay, at),
                          o.days);
      tokens.emplace_back(this->NewToken(org, "c" + std::to_string(++n), at, std::nullopt), o.days);
    }
    tokens.emplace_back(this->NewToken(org, "revoked", 0, std::nullopt, kNow - kMillisPerDay),
                        o.days);
    tokens.emplace_back(this->NewToken(org, "fresh", kNow, kNow), o.days);
    // Long idle, and expired at or before the sweep: left alone; expiring after it: revoked.
    const UnixMillis idle = kNow - limit - 2 * kMillisPerDay;
    tokens.emplace_back(this->NewToken(org, "expired", idle, std::nullopt, std::nullopt, kNow),
                        o.days);
    tokens.emplace_back(this->NewToken(org, "expired-long-ago", idle, idle, std::nullopt, idle + 1),
                        o.days);
    tokens.emplace_back(this->NewToken(org, "expiring", idle, idle, std::nullopt, kNow + 1),
                        o.days);
  }
  std::set<std::string> want;
  for (const auto& [t, days] : tokens) {
    if (IsInactive(t, days, kNow)) want.insert(t.id);
  }
  ASSERT_FALSE(want.empty());
  auto sweep = this->db_->RevokeInactiveApiTokens(kNow, [&](const store::RevokedToken& r) {
    store::AuditEvent e = this->Event(r.org_id);
    e.action = "api_token.revoked";
    e.target_kind = "api_token";
    e.target_id = r.id;
    return e;
  });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  ASSERT_FALSE(sweep->skipped_locked);
  std::set<std::string> got;
  for (const auto& r : sweep->revoked) got.insert(r.id);
  EXPECT_EQ(got, want);
  // The ones left active are exactly the rule's active ones, with the auto-revoke date the rule
  // gives them.
  for (const auto& [t, days] : tokens) {
    auto row = this->db_->GetApiTokenByHash(t.token_hash);
    ASSERT_TRUE(row) << row.error().ToString();
    EXPECT_EQ(row->revoked_at.has_value(), t.revoked_at.has_value() || want.count(t.id) > 0)
        << t.name;
    if (t.expires_at && *t.expires_at <= kNow) {
      EXPECT_FALSE(row->revoked_at) << t.name;
    }
  }
}

}  // namespace
}  // namespace cl::domain
