// Tests of the revocation notifiers: the in-process one, and the PostgreSQL one against the
// server named by CL_TEST_POSTGRES_URL (skipped without it; see scripts/with-postgres.sh).
#include "store/notifications.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"

namespace cl::store {
namespace {

using std::chrono::milliseconds;

std::string HashHex() {
  SystemRandom rnd;
  std::vector<uint8_t> b(32);
  rnd.Fill(b.data(), b.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t x : b) {
    out.push_back(kHex[x >> 4]);
    out.push_back(kHex[x & 15]);
  }
  return out;
}

// Collects what a notifier delivers; waits for a given hash or gap.
class Inbox {
 public:
  RevocationNotifier::RevocationCallback Callback() {
    return [this](const std::string& h) {
      std::lock_guard lock(mu_);
      hashes_.push_back(h);
      cv_.notify_all();
    };
  }
  RevocationNotifier::GapCallback GapCallback() {
    return [this] {
      std::lock_guard lock(mu_);
      ++gaps_;
      cv_.notify_all();
    };
  }
  bool WaitFor(const std::string& hash, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::find(hashes_.begin(), hashes_.end(), hash) != hashes_.end();
    });
  }
  bool WaitForGap(milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return gaps_ > 0; });
  }
  std::vector<std::string> Hashes() {
    std::lock_guard lock(mu_);
    return hashes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> hashes_;  // GUARDED_BY(mu_)
  int gaps_ = 0;                     // GUARDED_BY(mu_)
};

TEST(InProcessNotifierTest, PublishCallsEverySubscriberBeforeReturning) {
  auto n = NewInProcessRevocationNotifier();
  std::vector<std::string> a, b;
  n->Subscribe([&](const std::string& h) { a.push_back(h); });
  n->Subscribe([&](const std::string& h) { b.push_back(h); });
  const std::string h = HashHex();
  ASSERT_TRUE(n->PublishRevocation(h));
  EXPECT_EQ(a, std::vector<std::string>{h});
  EXPECT_EQ(b, std::vector<std::string>{h});

  EXPECT_TRUE(n->PublishRevocation("not-a-hash").error().IsInvalidArgument());
  EXPECT_TRUE(n->PublishRevocation(std::string(64, 'A')).error().IsInvalidArgument());
  EXPECT_EQ(a.size(), 1u);

  n->Stop();
  n->Stop();
  EXPECT_TRUE(n->PublishRevocation(HashHex()));
  EXPECT_EQ(a.size(), 1u);
}

TEST(OpenRevocationNotifierTest, PicksImplementationByScheme) {
  auto sqlite = OpenRevocationNotifier("sqlite:/nonexistent/dir/db.sqlite");
  ASSERT_TRUE(sqlite) << sqlite.error().ToString();
  bool called = false;
  (*sqlite)->Subscribe([&](const std::string&) { called = true; });
  ASSERT_TRUE((*sqlite)->PublishRevocation(HashHex()));
  EXPECT_TRUE(called);

  auto bad = OpenRevocationNotifier("mysql://root:hunter2@db/x");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().IsInvalidArgument());
  EXPECT_EQ(bad.error().message().find("hunter2"), std::string::npos);

  auto down = OpenRevocationNotifier("postgresql://u:s3cretpw@127.0.0.1:1/db?connect_timeout=2");
  ASSERT_FALSE(down);
  EXPECT_TRUE(down.error().IsUnavailable()) << down.error().ToString();
  EXPECT_EQ(down.error().message().find("s3cretpw"), std::string::npos);
}

class PostgresNotifierTest : public ::testing::Test {
 protected:
  // Each test gets its own database: NOTIFY is per database, so tests running in parallel
  // (ctest -j) never see each other's notifications or kill each other's listeners.
  void SetUp() override {
    const char* url = std::getenv("CL_TEST_POSTGRES_URL");
    if (url == nullptr || *url == '\0') GTEST_SKIP() << "CL_TEST_POSTGRES_URL not set";
    server_ = url;
    std::random_device rd;
    db_ = "n_" + std::to_string(rd()) + std::to_string(rd());
    ASSERT_TRUE(Admin("CREATE DATABASE " + db_));
    const size_t scheme_end = server_.find("://") + 3;
    const size_t path = server_.find('/', scheme_end);
    const size_t query = server_.find('?', scheme_end);
    const std::string rest = query == std::string::npos ? "" : server_.substr(query);
    url_ = server_.substr(0, std::min(path, query)) + "/" + db_ + rest;
  }

  void TearDown() override {
    if (!db_.empty()) Admin("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }

  bool Admin(const std::string& sql) {
    PGconn* c = PQconnectdb(server_.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok) ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
      PQclear(r);
    }
    PQfinish(c);
    return ok;
  }

  std::unique_ptr<RevocationNotifier> Open(const NotifierOptions& options = {}) {
    auto n = OpenRevocationNotifier(
        url_ + (url_.find('?') == std::string::npos ? "?" : "&") + "pool_size=2", options);
    EXPECT_TRUE(n) << n.error().ToString();
    return n ? std::move(*n) : nullptr;
  }

  // Terminates the listener backends (the sessions that ran LISTEN); returns how many.
  int KillListeners() {
    PGconn* admin = PQconnectdb(url_.c_str());
    EXPECT_EQ(PQstatus(admin), CONNECTION_OK);
    PGresult* r =
        PQexec(admin,
               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
               "WHERE application_name = 'chainloop-revocations' AND query LIKE 'LISTEN %' "
               "AND datname = current_database()");
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(admin);
    const int n = PQntuples(r);
    PQclear(r);
    PQfinish(admin);
    return n;
  }

  // The URL of database `name` on the test server.
  std::string UrlOf(const std::string& name) const {
    return url_.substr(0, url_.find(db_)) + name + url_.substr(url_.find(db_) + db_.size());
  }

  std::string server_;  // the PostgreSQL server (CL_TEST_POSTGRES_URL)
  std::string db_;      // this test's database
  std::string url_;     // URL of this test's database
};

TEST_F(PostgresNotifierTest, PublishOnOneInstanceReachesAnotherWithinOneSecond) {
  // Declared first so it outlives the notifiers: their listener threads call into it.
  Inbox inbox_a, inbox_b;
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  a->Subscribe(inbox_a.Callback());
  b->Subscribe(inbox_b.Callback());

  const std::string h = HashHex();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->PublishRevocation(h));
  EXPECT_TRUE(inbox_b.WaitFor(h, milliseconds(1000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  // The publisher's own subscribers hear it too (the 1 s bound above is the requirement; these
  // waits only need to be finite on a loaded test machine).
  EXPECT_TRUE(inbox_a.WaitFor(h, milliseconds(5000)));

  // Several in a row arrive, in order.
  std::vector<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back(HashHex());
    ASSERT_TRUE(b->PublishRevocation(sent.back()));
  }
  ASSERT_TRUE(inbox_a.WaitFor(sent.back(), milliseconds(5000)));
  const auto got = inbox_a.Hashes();
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(got.begin() + 1, got.end()), sent);
}

TEST_F(PostgresNotifierTest, MalformedPayloadsAreRefusedAndNotDelivered) {
  // Declared first so it outlives the notifiers: their listener threads call into it.
  Inbox inbox;
  auto a = Open();
  ASSERT_TRUE(a);
  a->Subscribe(inbox.Callback());
  EXPECT_TRUE(a->PublishRevocation("x").error().IsInvalidArgument());
  // A foreign NOTIFY with junk on the channel is ignored; a valid one after it is delivered.
  PGconn* raw = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(raw), CONNECTION_OK);
  PQclear(PQexec(raw, "NOTIFY chainloop_revocations, 'junk'"));
  PQfinish(raw);
  const std::string h = HashHex();
  ASSERT_TRUE(a->PublishRevocation(h));
  ASSERT_TRUE(inbox.WaitFor(h, milliseconds(5000)));
  EXPECT_EQ(inbox.Hashes(), std::vector<std::string>{h});
}

TEST_F(PostgresNotifierTest, ListenerReconnectsAndReportsTheGap) {
  // Declared first so it outlives the notifiers: their listener threads call into it.
  Inbox inbox;
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  b->Subscribe(inbox.Callback());
  b->SubscribeGaps(inbox.GapCallback());
  // The listener's session shows its LISTEN once it has run it; under load that can lag.
  int killed = 0;
  for (int i = 0; i < 50 && killed == 0; ++i) {
    killed = KillListeners();
    if (killed == 0) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(killed, 1);
  ASSERT_TRUE(inbox.WaitForGap(milliseconds(10000)));
  const std::string h = HashHex();
  ASSERT_TRUE(a->PublishRevocation(h));
  EXPECT_TRUE(inbox.WaitFor(h, milliseconds(1000)));
}

TEST_F(PostgresNotifierTest, ListenerIsBackWellWithinASecondOfTheDatabase) {
  // A revocation announced between the database coming back and the listener reconnecting is
  // lost (the gap callback re-validates afterwards), so that window must stay well under the
  // promised second however long the database was away.
  Inbox inbox;
  auto b = Open();
  ASSERT_TRUE(b);
  b->Subscribe(inbox.Callback());
  b->SubscribeGaps(inbox.GapCallback());
  // The listener's sessions on this database, seen (or terminated) from the server's own
  // database, which keeps accepting connections while this one refuses them.
  auto listeners = [&](bool terminate) {
    PGconn* admin = PQconnectdb(server_.c_str());
    EXPECT_EQ(PQstatus(admin), CONNECTION_OK);
    const std::string sql = std::string("SELECT ") +
                            (terminate ? "pg_terminate_backend(pid)" : "pid") +
                            " FROM pg_stat_activity WHERE application_name = "
                            "'chainloop-revocations' AND query LIKE 'LISTEN %' AND datname = '" +
                            db_ + "'";
    PGresult* r = PQexec(admin, sql.c_str());
    const int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : 0;
    PQclear(r);
    PQfinish(admin);
    return n;
  };
  // Under load the listener's LISTEN can show up after Subscribe returns: wait for it before
  // closing the database, or the listener would never get in at all.
  for (int i = 0; i < 100 && listeners(false) == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(listeners(false), 1) << "the listener never showed its LISTEN";
  ASSERT_TRUE(Admin("ALTER DATABASE " + db_ + " ALLOW_CONNECTIONS false"));
  // What matters is that the listener is gone (it cannot come back while the database refuses
  // connections), not what the terminating query's row count said.
  listeners(true);
  for (int i = 0; i < 50 && listeners(false) > 0; ++i) {
    listeners(true);
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_EQ(listeners(false), 0);
  // Long enough for an uncapped or 5 s-capped backoff to sleep past the database's return.
  std::this_thread::sleep_for(milliseconds(4000));
  EXPECT_FALSE(inbox.WaitForGap(milliseconds(0)));
  ASSERT_TRUE(Admin("ALTER DATABASE " + db_ + " ALLOW_CONNECTIONS true"));
  const auto back = std::chrono::steady_clock::now();
  ASSERT_TRUE(inbox.WaitForGap(milliseconds(10000)));
  EXPECT_LT(std::chrono::steady_clock::now() - back, milliseconds(1000));
}

TEST_F(PostgresNotifierTest, StopEndsDeliveryAndPublisherSurvivesDroppedConnection) {
  // Declared first so it outlives the notifiers: their listener threads call into it.
  Inbox inbox;
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  b->Subscribe(inbox.Callback());
  b->Stop();
  const auto stopped_at = std::chrono::steady_clock::now();
  b->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, milliseconds(100));

  // Drop the notifiers' sessions, the publisher's included: the next publish reconnects.
  PGconn* admin = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
  PQclear(PQexec(admin,
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE application_name = 'chainloop-revocations'"));
  PQfinish(admin);
  const std::string h = HashHex();
  auto st = a->PublishRevocation(h);
  EXPECT_TRUE(st) << st.error().ToString();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(inbox.Hashes().empty());
}

TEST_F(PostgresNotifierTest, HearsItsOwnHeartbeatOnceSubscribed) {
  Inbox inbox;
  auto a = Open();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->Hearing());  // nothing heard before the listener runs
  a->SubscribeGaps(inbox.GapCallback());
  a->Subscribe(inbox.Callback());
  EXPECT_TRUE(a->Hearing());
  EXPECT_TRUE(inbox.WaitForGap(milliseconds(0)));  // the first hearing drops what was cached
  const ListenerHealth h = a->Health();
  EXPECT_TRUE(h.connected);
  EXPECT_TRUE(h.hearing);
  EXPECT_FALSE(h.through_pooler);
  EXPECT_GE(h.heartbeat_lag_ms, 0);
  EXPECT_EQ(h.problem, "");
  // It keeps hearing: heartbeats go on.
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_TRUE(a->Hearing());
  a->Stop();
  EXPECT_FALSE(a->Hearing());
}

// A listener that cannot hear the database's notifications (here: it LISTENs in another
// database, as a transaction pooler would leave it) is deaf from the start and says why.
TEST_F(PostgresNotifierTest, ListenerThatNeverHearsIsDeafAndSaysWhy) {
  const std::string other = db_ + "_other";
  ASSERT_TRUE(Admin("CREATE DATABASE " + other));
  {
    Inbox inbox;
    NotifierOptions options;
    options.listen_url = UrlOf(other);
    auto a = Open(options);
    ASSERT_TRUE(a);
    const auto start = std::chrono::steady_clock::now();
    a->Subscribe(inbox.Callback());
    // Subscribe waited (bounded) for a heartbeat that never came.
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1000));
    EXPECT_FALSE(a->Hearing());
    const ListenerHealth h = a->Health();
    EXPECT_TRUE(h.connected);
    EXPECT_FALSE(h.hearing);
    EXPECT_EQ(h.heartbeat_lag_ms, -1);
    EXPECT_NE(h.problem.find("never heard its own heartbeat"), std::string::npos) << h.problem;
    // Revocations in the real database never reach it either.
    const std::string hash = HashHex();
    ASSERT_TRUE(a->PublishRevocation(hash));
    EXPECT_FALSE(inbox.WaitFor(hash, milliseconds(300)));
  }
  Admin("DROP DATABASE IF EXISTS " + other + " WITH (FORCE)");
}

// Losing the listener's connection makes the instance deaf at once; hearing again runs the gap
// callbacks before Hearing() is true, within a second.
TEST_F(PostgresNotifierTest, DeafAsSoonAsTheListenerIsLostAndBackWithAGap) {
  std::mutex mu;
  std::vector<bool> hearing_during_gap;
  auto a = Open();
  ASSERT_TRUE(a);
  RevocationNotifier* raw = a.get();
  a->SubscribeGaps([&] {
    std::lock_guard lock(mu);
    hearing_during_gap.push_back(raw->Hearing());
  });
  Inbox inbox;
  a->Subscribe(inbox.Callback());
  ASSERT_TRUE(a->Hearing());
  int killed = 0;
  for (int i = 0; i < 50 && killed == 0; ++i) {
    killed = KillListeners();
    if (killed == 0) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(killed, 1);
  const auto killed_at = std::chrono::steady_clock::now();
  bool went_deaf = false;
  while (std::chrono::steady_clock::now() - killed_at < milliseconds(2000) && !went_deaf) {
    went_deaf = !a->Hearing();
    if (!went_deaf) std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(went_deaf);
  // Within the promised second of losing it, the instance either was deaf or hears again.
  while (std::chrono::steady_clock::now() - killed_at < milliseconds(5000) && !a->Hearing()) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(a->Hearing());
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, milliseconds(1000));
  a->Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(hearing_during_gap.size(), 2u);  // the first hearing, then after the loss
  EXPECT_FALSE(hearing_during_gap[0]);
  EXPECT_FALSE(hearing_during_gap[1]);
}

// A ban announced on one instance reaches every instance (itself included) within a second; a
// publisher never blocks, and a foreign oversized payload is not delivered.
TEST_F(PostgresNotifierTest, BansReachEveryInstance) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> got_a, got_b;
  auto collect = [&](std::vector<std::string>& into) {
    return [&](const std::string& key) {
      std::lock_guard lock(mu);
      into.push_back(key);
      cv.notify_all();
    };
  };
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  a->SubscribeBans(collect(got_a));
  b->SubscribeBans(collect(got_b));
  Inbox unused;
  a->Subscribe(unused.Callback());
  b->Subscribe(unused.Callback());
  PGconn* raw = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(raw), CONNECTION_OK);
  PQclear(PQexec(raw, ("NOTIFY chainloop_bans, 'a:" + std::string(200, '1') + "'").c_str()));
  PQfinish(raw);
  const auto start = std::chrono::steady_clock::now();
  a->PublishBan("a:203.0.113.7");
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(50));  // queued, not sent
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, milliseconds(5000), [&] { return !got_b.empty(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_EQ(got_b, std::vector<std::string>{"a:203.0.113.7"});
  ASSERT_TRUE(cv.wait_for(lock, milliseconds(5000), [&] { return !got_a.empty(); }));
  EXPECT_EQ(got_a, std::vector<std::string>{"a:203.0.113.7"});
  lock.unlock();
  EXPECT_EQ(a->Health().bans_dropped, 0u);
  a->Stop();
  b->Stop();
}

}  // namespace
}  // namespace cl::store
