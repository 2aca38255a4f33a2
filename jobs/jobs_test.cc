// Tests of the background jobs on a real SQLite file with a fake clock: the token revoker's
// sweep (flush first, per-organization report, publish, metrics) and its scheduler.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "common/random.h"
#include "domain/usage_recorder.h"
#include "http/metrics.h"
#include "jobs/token_revoker.h"
#include "jobs/usage_flusher.h"
#include "store/store.h"

namespace cl::jobs {
namespace {

using std::chrono::milliseconds;

constexpr UnixMillis kStart = 1'700'000'000'000;

std::string HexHash(Random& random) {
  uint8_t b[32];
  random.Fill(b, sizeof b);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t x : b) {
    out.push_back(kHex[x >> 4]);
    out.push_back(kHex[x & 15]);
  }
  return out;
}

// An ApiTokenStore whose usage writes always fail (the database is "down" for the flusher).
class FailingUsageStore final : public store::ApiTokenStore {
 public:
  Status CreateApiToken(const store::ApiToken&, const store::AuditEvent&) override {
    return Fail(Error::Unavailable("down"));
  }
  Result<store::ApiToken> GetApiTokenByHash(const std::string&) override {
    return Fail(Error::Unavailable("down"));
  }
  Result<std::vector<store::ApiToken>> GetApiTokensByHashes(
      const std::vector<std::string>&) override {
    return Fail(Error::Unavailable("down"));
  }
  Result<store::ApiToken> GetApiToken(const std::string&, const std::string&) override {
    return Fail(Error::Unavailable("down"));
  }
  Result<std::vector<store::ApiToken>> ListApiTokens(const store::ApiTokenFilter&) override {
    return Fail(Error::Unavailable("down"));
  }
  Result<store::Page<store::ApiToken, store::TimeKey>> ListApiTokens(
      const store::ApiTokenFilter&, const store::PageRequest<store::TimeKey>&) override {
    return Fail(Error::Unavailable("down"));
  }
  Status RevokeApiToken(const std::string&, const std::string&, UnixMillis, store::RevocationReason,
                        const std::string&, const store::AuditEvent&) override {
    return Fail(Error::Unavailable("down"));
  }
  Status RecordApiTokenUsage(const std::vector<store::ApiTokenUse>&) override {
    return Fail(Error::Unavailable("database is down"));
  }
  Status RotateApiToken(const std::string&, const store::ApiToken&, UnixMillis,
                        const store::AuditEvent&) override {
    return Fail(Error::Unavailable("down"));
  }
};

class TokenRevokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("cl-jobs-test-" + HexHash(random_).substr(16));
    auto db = store::OpenDatabase("sqlite:" + (dir_ / "cl.db").string());
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    store::User u;
    u.id = NewUuid(random_);
    u.issuer = "https://idp.example";
    u.subject = "owner";
    u.email = "owner@example.com";
    u.created_at = u.updated_at = kStart;
    ASSERT_TRUE(db_->UpsertUser(u));
    owner_id_ = u.id;
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  store::AuditEvent Event(const std::string& org_id, const std::string& action) {
    store::AuditEvent e;
    e.id = NewUuid(random_);
    e.org_id = org_id;
    e.actor_kind = "user";
    e.actor_id = owner_id_;
    e.actor_name = "owner@example.com";
    e.action = action;
    e.message = action;
    e.created_at = kStart;
    return e;
  }

  std::string NewOrg(const std::string& name, std::optional<int> days) {
    store::Organization o{NewUuid(random_), name, kStart, std::nullopt};
    store::Membership m;
    m.org_id = o.id;
    m.user_id = owner_id_;
    m.role = store::OrgRole::kOwner;
    m.created_at = kStart;
    EXPECT_TRUE(db_->CreateOrganization(o, m, Event(o.id, "organization.created")));
    if (days) {
      EXPECT_TRUE(db_->SetApiTokenMaxDaysInactive(o.id, days, Event(o.id, "org.updated")));
    }
    return o.id;
  }

  store::ApiToken NewToken(const std::string& org_id, const std::string& name, UnixMillis at) {
    store::ApiToken t;
    t.id = NewUuid(random_);
    t.org_id = org_id;
    t.name = name;
    t.token_hash = HexHash(random_);
    t.permissions = {"workflow_run:create"};
    t.created_by_kind = "user";
    t.created_by_id = owner_id_;
    t.created_by_name = "owner@example.com";
    t.created_at = at;
    auto st = db_->CreateApiToken(t, Event(org_id, "api_token.created"));
    EXPECT_TRUE(st) << st.error().ToString();
    return t;
  }

  bool Revoked(const store::ApiToken& t) {
    auto got = db_->GetApiToken(t.org_id, t.id);
    EXPECT_TRUE(got) << got.error().ToString();
    return got && got->revoked_at.has_value();
  }

  SystemRandom random_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
  std::string owner_id_;
  FakeClock clock_{kStart};
  domain::UsageRecorder recorder_;
  http::Metrics metrics_;
  std::vector<std::string> published_;
  TokenRevoker::PublishRevocation publish_ = [this](const std::string& h) {
    published_.push_back(h);
  };
};

TEST_F(TokenRevokerTest, SweepRevokesInactiveTokensButNotOnesUsedSinceTheLastFlush) {
  const std::string acme = NewOrg("acme", 30);
  const std::string beta = NewOrg("beta", 7);
  const std::string off = NewOrg("off", std::nullopt);
  store::ApiToken busy = NewToken(acme, "busy", kStart);
  store::ApiToken idle = NewToken(acme, "idle", kStart);
  store::ApiToken idle_beta = NewToken(beta, "idle", kStart);
  store::ApiToken fresh_beta = NewToken(beta, "fresh", kStart + 39 * kMillisPerDay);
  store::ApiToken untouched = NewToken(off, "old", kStart);

  clock_.Set(kStart + 40 * kMillisPerDay);
  // Used seconds ago: the use is still only in the recorder's queue, not in the database.
  recorder_.Touch(busy.id, clock_.Now() - 10'000);
  UsageFlusher flusher(recorder_, *db_, /*interval_ms=*/60'000);  // never started
  ASSERT_EQ(recorder_.PendingCount(), 1u);

  TokenRevoker revoker(*db_, clock_, random_, &flusher, publish_, &metrics_);
  auto report = revoker.RunOnce();
  ASSERT_TRUE(report) << report.error().ToString();

  EXPECT_FALSE(Revoked(busy));
  EXPECT_TRUE(Revoked(idle));
  EXPECT_TRUE(Revoked(idle_beta));
  EXPECT_FALSE(Revoked(fresh_beta));
  EXPECT_FALSE(Revoked(untouched));
  EXPECT_EQ(recorder_.PendingCount(), 0u);
  EXPECT_EQ(db_->GetApiToken(acme, busy.id)->last_used_at, clock_.Now() - 10'000);

  EXPECT_FALSE(report->skipped_locked);
  EXPECT_EQ(report->started_at, clock_.Now());
  EXPECT_EQ(report->revoked_total, 2);
  EXPECT_EQ(report->revoked_per_org, (std::map<std::string, int64_t>{{"acme", 1}, {"beta", 1}}));
  EXPECT_GE(report->duration_seconds, 0.0);
  EXPECT_EQ(std::set<std::string>(published_.begin(), published_.end()),
            (std::set<std::string>{idle.token_hash, idle_beta.token_hash}));

  // The audit trail names the system and the threshold.
  int system_events = 0;
  auto events = db_->ListAuditEvents(acme, 100);
  ASSERT_TRUE(events) << events.error().ToString();
  for (const auto& e : *events) {
    if (e.actor_kind != "system") continue;
    ++system_events;
    EXPECT_EQ(e.target_id, idle.id);
    EXPECT_EQ(e.message, "system has revoked the API token idle after 30 days of inactivity");
  }
  EXPECT_EQ(system_events, 1);

  const std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("chainloop_token_revoker_sweeps_total{result=\"ok\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("chainloop_token_revoker_revoked_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("chainloop_token_revoker_last_sweep_timestamp_seconds " +
                      std::to_string((kStart + 40 * kMillisPerDay) / 1000) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("chainloop_token_revoker_last_sweep_duration_seconds "), std::string::npos);

  // Nothing is left for a second sweep; the counters move on.
  auto again = revoker.RunOnce();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->revoked_total, 0);
  EXPECT_TRUE(again->revoked_per_org.empty());
  const std::string after = metrics_.RenderPrometheus();
  EXPECT_NE(after.find("chainloop_token_revoker_sweeps_total{result=\"ok\"} 2\n"),
            std::string::npos);
  // Every completed sweep is one observation of the duration histogram.
  EXPECT_NE(after.find("chainloop_token_revoker_sweep_duration_seconds_count 2\n"),
            std::string::npos)
      << after;
}

// The control for the test above: without the flush, the same token would have been revoked.
TEST_F(TokenRevokerTest, WithoutAFlusherPendingUsageIsNotSeen) {
  const std::string acme = NewOrg("acme", 30);
  store::ApiToken busy = NewToken(acme, "busy", kStart);
  clock_.Set(kStart + 40 * kMillisPerDay);
  recorder_.Touch(busy.id, clock_.Now() - 10'000);
  TokenRevoker revoker(*db_, clock_, random_, /*flusher=*/nullptr, publish_, nullptr);
  auto report = revoker.RunOnce();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(Revoked(busy));
  EXPECT_EQ(published_, std::vector<std::string>{busy.token_hash});
}

TEST_F(TokenRevokerTest, FailedFlushRevokesNothing) {
  const std::string acme = NewOrg("acme", 30);
  store::ApiToken idle = NewToken(acme, "idle", kStart);
  clock_.Set(kStart + 40 * kMillisPerDay);
  recorder_.Touch(idle.id, clock_.Now());
  FailingUsageStore down;
  UsageFlusher flusher(recorder_, down, 60'000);
  TokenRevoker revoker(*db_, clock_, random_, &flusher, publish_, &metrics_);
  auto report = revoker.RunOnce();
  ASSERT_FALSE(report);
  EXPECT_TRUE(report.error().IsUnavailable()) << report.error().ToString();
  EXPECT_FALSE(Revoked(idle));
  EXPECT_TRUE(published_.empty());
  EXPECT_EQ(recorder_.PendingCount(), 1u);  // kept for the next flush
  EXPECT_NE(metrics_.RenderPrometheus().find(
                "chainloop_token_revoker_sweeps_total{result=\"error\"} 1\n"),
            std::string::npos);
}

TEST_F(TokenRevokerTest, InactivityEventNamesTheSystemAndTheThreshold) {
  store::RevokedToken t{"tok-id", "org-id", "acme", "ci", std::string(64, 'a'), 90};
  store::AuditEvent e = InactivityRevocationEvent(t, 1234, random_);
  EXPECT_TRUE(IsUuid(e.id));
  EXPECT_EQ(e.org_id, "org-id");
  EXPECT_EQ(e.actor_kind, "system");
  EXPECT_EQ(e.actor_name, "system");
  EXPECT_EQ(e.action, "api_token.revoked");
  EXPECT_EQ(e.target_kind, "api_token");
  EXPECT_EQ(e.target_id, "tok-id");
  EXPECT_EQ(e.message, "system has revoked the API token ci after 90 days of inactivity");
  EXPECT_EQ(e.message.find(t.token_hash), std::string::npos);
  EXPECT_EQ(e.created_at, 1234);
}

// Polls `pred` for up to `timeout`.
template <typename Pred>
bool Eventually(Pred pred, milliseconds timeout = milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

TEST_F(TokenRevokerTest, SchedulerSweepsEveryIntervalAndStopsPromptly) {
  const std::string acme = NewOrg("acme", 1);
  TokenRevoker revoker(*db_, clock_, random_, nullptr, nullptr, &metrics_);
  revoker.Start(milliseconds(50), milliseconds(0));
  ASSERT_TRUE(Eventually([&] { return revoker.BackgroundSweeps() >= 1; }));
  // A token that turns inactive between sweeps is revoked by a later sweep.
  store::ApiToken idle = NewToken(acme, "idle", kStart);
  clock_.Set(kStart + 2 * kMillisPerDay);
  EXPECT_TRUE(Eventually([&] {
    auto t = db_->GetApiToken(acme, idle.id);
    return t && t->revoked_at.has_value();
  }));
  ASSERT_TRUE(Eventually([&] { return revoker.BackgroundSweeps() >= 3; }));

  const auto before = std::chrono::steady_clock::now();
  revoker.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(500));
  const int64_t sweeps = revoker.BackgroundSweeps();
  std::this_thread::sleep_for(milliseconds(120));
  EXPECT_EQ(revoker.BackgroundSweeps(), sweeps);  // no sweep after Stop
  revoker.Stop();                                 // idempotent
}

TEST_F(TokenRevokerTest, StopDuringTheInitialDelayReturnsAtOnceWithoutSweeping) {
  TokenRevoker revoker(*db_, clock_, random_, nullptr, nullptr, nullptr);
  revoker.Start(std::chrono::hours(1), std::chrono::hours(1));
  std::this_thread::sleep_for(milliseconds(20));
  const auto before = std::chrono::steady_clock::now();
  revoker.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(500));
  // The delay was drawn from [0, 1h]: a sweep within the first 20 ms is possible but unlikely.
  EXPECT_LE(revoker.BackgroundSweeps(), 1);
}

TEST_F(TokenRevokerTest, LongIntervalStillStopsPromptlyAfterTheFirstSweep) {
  TokenRevoker revoker(*db_, clock_, random_, nullptr, nullptr, nullptr);
  revoker.Start(std::chrono::hours(1), milliseconds(0));
  ASSERT_TRUE(Eventually([&] { return revoker.BackgroundSweeps() == 1; }));
  const auto before = std::chrono::steady_clock::now();
  revoker.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(500));
  EXPECT_EQ(revoker.BackgroundSweeps(), 1);
}

}  // namespace
}  // namespace cl::jobs
