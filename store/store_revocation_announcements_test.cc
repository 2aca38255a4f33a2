// PostgreSQL only: the database announces every ended credential on "chainloop_revocations"
// from inside the ending transaction (migration 0008's triggers), whichever store operation or
// operator SQL ended it; a rolled-back end is never announced. Another instance is played by a
// raw libpq connection that LISTENs.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/postgres/postgres_notifier.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

// A LISTENing connection of "another instance".
class Listener {
 public:
  explicit Listener(const std::string& url) : conn_(PQconnectdb(url.c_str())) {}
  ~Listener() { PQfinish(conn_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  bool Listen() {
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    PGresult* r = PQexec(conn_, (std::string("LISTEN ") + kRevocationChannel).c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
  }

  // Every payload received on the revocation channel within `wait`.
  std::vector<std::string> Drain(std::chrono::milliseconds wait = std::chrono::milliseconds(300)) {
    std::vector<std::string> out;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      PQconsumeInput(conn_);
      while (PGnotify* n = PQnotifies(conn_)) {
        if (std::string(n->relname) == kRevocationChannel) out.emplace_back(n->extra);
        PQfreemem(n);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      pollfd fd{PQsocket(conn_), POLLIN, 0};
      (void)::poll(&fd, 1, static_cast<int>(left.count()));
    }
  }

 private:
  PGconn* conn_;
};

class PostgresRevocationAnnouncementTest : public StoreTest<PostgresBackend> {
 protected:
  void SetUp() override {
    StoreTest<PostgresBackend>::SetUp();
    if (IsSkipped()) return;
    Migrated();
    listener_ = std::make_unique<Listener>(url_);
    ASSERT_TRUE(listener_->Listen());
    owner_ = NewUser("owner@example.com");
    org_ = NewOrg("acme", owner_);
  }

  ApiToken NewToken(const std::string& name) {
    ApiToken t = Token(org_, name, now_);
    auto st = db_->CreateApiToken(t, Event(org_, "api_token.created"));
    EXPECT_TRUE(st) << st.error().ToString();
    return t;
  }

  // Runs `sql` on a connection of its own, as an operator or another instance would.
  void Exec(const std::string& sql) { ASSERT_TRUE(ExecBehindTheStore(url_, sql)); }

  std::unique_ptr<Listener> listener_;
  User owner_;
  std::string org_;
};

using Payloads = std::vector<std::string>;

TEST_F(PostgresRevocationAnnouncementTest, RevokingAnApiTokenAnnouncesItsHashOnce) {
  ApiToken t = NewToken("ci");
  EXPECT_EQ(listener_->Drain(std::chrono::milliseconds(100)), Payloads{});  // creation: nothing
  ASSERT_TRUE(db_->RevokeApiToken(org_, t.id, now_, RevocationReason::kManual, "owner",
                                  Event(org_, "api_token.revoked")));
  EXPECT_EQ(listener_->Drain(), Payloads{t.token_hash});
  // Revoking it again changes nothing and announces nothing.
  (void)db_->RevokeApiToken(org_, t.id, now_ + 1, RevocationReason::kManual, "owner",
                            Event(org_, "api_token.revoked"));
  EXPECT_EQ(listener_->Drain(std::chrono::milliseconds(100)), Payloads{});
}

TEST_F(PostgresRevocationAnnouncementTest, RotationAnnouncesTheOldTokenOnceEachTime) {
  // Grace 0: the rotating UPDATE revokes the old token: announced once.
  ApiToken a = NewToken("ci");
  ApiToken b = Token(org_, "ci", now_ + 1);
  ASSERT_TRUE(db_->RotateApiToken(a.id, b, b.created_at, Event(org_, "api_token.rotated")));
  EXPECT_EQ(listener_->Drain(), Payloads{a.token_hash});
  // With a grace period: announced when the deadline is set (caches re-read it), then again when
  // the rotation job revokes it; the replacement never.
  ApiToken c = Token(org_, "ci", now_ + 2);
  ASSERT_TRUE(db_->RotateApiToken(b.id, c, now_ + 1000, Event(org_, "api_token.rotated")));
  EXPECT_EQ(listener_->Drain(), Payloads{b.token_hash});
  auto revoked = db_->RevokeRotatedApiTokens(
      now_ + 1000, [&](const RevokedToken&) { return Event(org_, "api_token.revoked"); });
  ASSERT_TRUE(revoked) << revoked.error().ToString();
  ASSERT_EQ(revoked->size(), 1u);
  EXPECT_EQ(listener_->Drain(), Payloads{b.token_hash});
  // A rolled-back rotation (the old token was already rotated) announces nothing.
  ApiToken d = Token(org_, "ci", now_ + 3);
  EXPECT_FALSE(db_->RotateApiToken(b.id, d, now_ + 3, Event(org_, "api_token.rotated")));
  EXPECT_EQ(listener_->Drain(std::chrono::milliseconds(100)), Payloads{});
}

TEST_F(PostgresRevocationAnnouncementTest, LoggingOutAnnouncesTheSession) {
  Session s{Id(), owner_.id, Hash(), now_, now_ + kMillisPerDay, std::nullopt};
  ASSERT_TRUE(db_->CreateSession(s));
  ASSERT_TRUE(db_->RevokeSession(s.id, now_));
  EXPECT_EQ(listener_->Drain(), Payloads{s.token_hash});
}

TEST_F(PostgresRevocationAnnouncementTest, DeletingATrustPolicyAnnouncesEveryTokenItEnds) {
  TrustPolicyRecord p = Policy(org_, "gitlab-main", "https://gitlab.com", now_);
  ASSERT_TRUE(db_->CreateTrustPolicy(p, Event(org_, "trust_policy.created")));
  FederatedToken a = FedToken(org_, p.id, now_);
  FederatedToken b = FedToken(org_, p.id, now_);
  ASSERT_TRUE(db_->CreateFederatedToken(a, Event(org_, "federation.exchanged")));
  ASSERT_TRUE(db_->CreateFederatedToken(b, Event(org_, "federation.exchanged")));
  ASSERT_TRUE(db_->DeleteTrustPolicy(org_, p.id, Event(org_, "trust_policy.deleted")));
  const Payloads got = listener_->Drain();
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            (std::set<std::string>{a.token_hash, b.token_hash}));
  EXPECT_EQ(got.size(), 2u);
}

TEST_F(PostgresRevocationAnnouncementTest, TheInactivitySweepAnnouncesWhatItRevokes) {
  ASSERT_TRUE(db_->SetApiTokenMaxDaysInactive(org_, 1, Event(org_, "x")));
  ApiToken idle = NewToken("idle");
  // Idle too, but expired before the sweep: not revoked, so not announced.
  ApiToken expired = Token(org_, "expired", now_);
  expired.expires_at = now_ + kMillisPerDay;
  ASSERT_TRUE(db_->CreateApiToken(expired, Event(org_, "api_token.created")));
  const UnixMillis later = now_ + 2 * kMillisPerDay;
  auto swept = db_->RevokeInactiveApiTokens(
      later, [&](const RevokedToken& r) { return SweepEvent(r, later); });
  ASSERT_TRUE(swept) << swept.error().ToString();
  ASSERT_EQ(swept->revoked.size(), 1u);
  EXPECT_EQ(listener_->Drain(), Payloads{idle.token_hash});
}

// An operator's SQL is announced like the store's own; a rolled-back revocation never is, and
// a committed one is announced only at the commit.
TEST_F(PostgresRevocationAnnouncementTest, AnnouncedAtCommitOnlyWhateverEndsTheCredential) {
  ApiToken kept = NewToken("kept");
  ApiToken ended = NewToken("ended");
  Exec("BEGIN; UPDATE api_tokens SET revoked_at = 1 WHERE id = '" + kept.id + "'; ROLLBACK;");
  EXPECT_EQ(listener_->Drain(std::chrono::milliseconds(200)), Payloads{});

  PGconn* tx = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(tx), CONNECTION_OK);
  PQclear(PQexec(tx, "BEGIN"));
  PQclear(
      PQexec(tx, ("UPDATE api_tokens SET revoked_at = 1 WHERE id = '" + ended.id + "'").c_str()));
  EXPECT_EQ(listener_->Drain(std::chrono::milliseconds(200)), Payloads{});  // not yet committed
  PQclear(PQexec(tx, "COMMIT"));
  PQfinish(tx);
  EXPECT_EQ(listener_->Drain(), Payloads{ended.token_hash});
}

TEST_F(PostgresRevocationAnnouncementTest, DeletingALiveCredentialAnnouncesItButNotADeadOne) {
  ApiToken live = NewToken("live");
  ApiToken dead = NewToken("dead");
  ASSERT_TRUE(db_->RevokeApiToken(org_, dead.id, now_, RevocationReason::kManual, "owner",
                                  Event(org_, "api_token.revoked")));
  EXPECT_EQ(listener_->Drain(), Payloads{dead.token_hash});
  Exec("DELETE FROM api_tokens WHERE org_id = '" + org_ + "'");
  EXPECT_EQ(listener_->Drain(), Payloads{live.token_hash});

  Session s{Id(), owner_.id, Hash(), now_, now_ + kMillisPerDay, std::nullopt};
  ASSERT_TRUE(db_->CreateSession(s));
  Exec("DELETE FROM sessions WHERE id = '" + s.id + "'");
  EXPECT_EQ(listener_->Drain(), Payloads{s.token_hash});
}

// Moving a credential to the newest pepper rewrites its hash: not a revocation.
TEST_F(PostgresRevocationAnnouncementTest, RehashingIsNotARevocation) {
  ApiToken t = NewToken("ci");
  Exec("UPDATE api_tokens SET token_hash = '" + Hash() + "' WHERE id = '" + t.id + "'");
  EXPECT_EQ(listener_->Drain(std::chrono::milliseconds(200)), Payloads{});
}

}  // namespace
}  // namespace cl::store::testing
