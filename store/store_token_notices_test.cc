// StoreTest (SQLite and PostgreSQL): the "soon" notices of API tokens (expiry, revocation for
// inactivity): who gets one, once per due instant, and the webhook events they enqueue.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

constexpr int64_t kAhead = 7 * kMillisPerDay;

WebhookEvent NoticeEvent(const TokenNotice& n) {
  return WebhookEvent{Id(), n.org_id, n.event,
                      R"({"api_token":{"id":")" + n.token_id + R"("},"due_at":")" +
                          std::to_string(n.due_at) + R"("})",
                      0};
}

std::set<std::string> Keys(const std::vector<TokenNotice>& notices) {
  std::set<std::string> out;
  for (const TokenNotice& n : notices) out.insert(n.event + " " + n.token_name);
  return out;
}

std::vector<TokenNotice> Notices(Database& db, UnixMillis now) {
  auto r = db.EnqueueTokenNotices(now, kAhead, NoticeEvent);
  EXPECT_TRUE(r) << r.error().ToString();
  return r ? *r : std::vector<TokenNotice>{};
}

TYPED_TEST(StoreTest, ExpiryNoticesGoOutOnceForActiveTokens) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string proj = this->NewProject(org, "web");
  const UnixMillis now = this->now_ + kMillisPerDay;
  auto add = [&](const std::string& name, std::optional<UnixMillis> expires_at,
                 std::optional<std::string> project = std::nullopt) {
    ApiToken t = Token(org, name, this->now_, std::move(project));
    t.expires_at = expires_at;
    EXPECT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    return t;
  };
  ApiToken soon = add("soon", now + 3 * kMillisPerDay, proj);
  add("at-the-edge", now + kAhead);
  add("later", now + kAhead + 1);
  add("never", std::nullopt);
  add("expired", now);
  ApiToken revoked = add("revoked", now + kMillisPerDay);
  ASSERT_TRUE(this->db_->RevokeApiToken(org, revoked.id, now, RevocationReason::kManual, "owner",
                                        this->Event(org, "api_token.revoked")));
  // Rotated with a grace period: its replacement (no expiry) holds the name now.
  ApiToken rotated = add("rotated", now + kMillisPerDay);
  ApiToken replacement = Token(org, "rotated", now);
  ASSERT_TRUE(this->db_->RotateApiToken(rotated.id, replacement, now + kMillisPerDay,
                                        this->Event(org, "api_token.rotated")));

  auto first = Notices(*this->db_, now);
  EXPECT_EQ(Keys(first),
            (std::set<std::string>{"token.expiring_soon soon", "token.expiring_soon at-the-edge"}));
  for (const TokenNotice& n : first) {
    EXPECT_EQ(n.org_id, org);
    if (n.token_name != "soon") continue;
    EXPECT_EQ(n.token_id, soon.id);
    EXPECT_EQ(n.project_id, proj);
    EXPECT_EQ(n.due_at, *soon.expires_at);
  }
  // Once: not again, not even later; "later" enters the window a day on.
  EXPECT_TRUE(Notices(*this->db_, now).empty());
  EXPECT_EQ(Keys(Notices(*this->db_, now + kMillisPerDay)),
            (std::set<std::string>{"token.expiring_soon later"}));
  EXPECT_TRUE(Notices(*this->db_, now + kMillisPerDay).empty());
}

TYPED_TEST(StoreTest, InactivityNoticesFollowTheDueInstant) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string off = this->NewOrg("off", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 30, this->Event(org, "x")));
  const UnixMillis t0 = this->now_;
  const UnixMillis now = t0 + 25 * kMillisPerDay;  // tokens created at t0 are due at t0 + 30 d
  auto add = [&](const std::string& o, const std::string& name, UnixMillis at) {
    ApiToken t = Token(o, name, at);
    EXPECT_TRUE(this->db_->CreateApiToken(t, this->Event(o, "api_token.created")));
    return t;
  };
  ApiToken idle = add(org, "idle", t0);
  add(org, "fresh", now);  // due at now + 30 d: outside the window
  add(off, "no-threshold", t0);
  ApiToken expires_first = Token(org, "expires-first", t0);
  expires_first.expires_at = t0 + 29 * kMillisPerDay;  // will expire, not be revoked
  ASSERT_TRUE(this->db_->CreateApiToken(expires_first, this->Event(org, "api_token.created")));

  auto first = Notices(*this->db_, now);
  // The expiry notice of expires-first goes out; no inactivity notice for it.
  EXPECT_EQ(Keys(first), (std::set<std::string>{"token.auto_revoke_soon idle",
                                                "token.expiring_soon expires-first"}));
  for (const TokenNotice& n : first) {
    if (n.token_name == "idle") {
      EXPECT_EQ(n.due_at, t0 + 30 * kMillisPerDay);
    }
  }
  EXPECT_TRUE(Notices(*this->db_, now + kMillisPerDay).empty());

  // Used again: the instant moves 30 days on, out of the window, and a new notice follows
  // when the new instant comes within it.
  const UnixMillis used = now + kMillisPerDay;
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({ApiTokenUse{idle.id, used}}));
  EXPECT_TRUE(Notices(*this->db_, used).empty());
  auto again = Notices(*this->db_, used + 24 * kMillisPerDay);
  EXPECT_EQ(Keys(again),
            (std::set<std::string>{"token.auto_revoke_soon idle", "token.auto_revoke_soon fresh"}));
  for (const TokenNotice& n : again) {
    if (n.token_name == "idle") {
      EXPECT_EQ(n.due_at, used + 30 * kMillisPerDay);
    }
  }
  EXPECT_TRUE(Notices(*this->db_, used + 25 * kMillisPerDay).empty());
}

TYPED_TEST(StoreTest, NoticesEnqueueForSubscribedWebhooksOnly) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string quiet = this->NewOrg("quiet", u);
  Webhook w;
  w.id = Id();
  w.org_id = org;
  w.url = "https://hooks.example/";
  w.events = {"token.expiring_soon"};
  w.sealed_secret = "v1.abcd1234.AAAA";
  w.created_by_kind = "user";
  w.created_by_id = "u";
  w.created_at = this->now_;
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  for (const std::string& o : {org, quiet}) {
    ApiToken t = Token(o, "soon", this->now_);
    t.expires_at = this->now_ + kMillisPerDay;
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(o, "api_token.created")));
  }
  std::vector<std::string> event_ids;
  auto notices = this->db_->EnqueueTokenNotices(this->now_, kAhead, [&](const TokenNotice& n) {
    WebhookEvent e = NoticeEvent(n);
    e.created_at = this->now_;
    if (n.org_id == org) event_ids.push_back(e.id);
    return e;
  });
  ASSERT_TRUE(notices) << notices.error().ToString();
  EXPECT_EQ(notices->size(), 2u);  // both noticed, whether anyone listens or not
  ASSERT_EQ(event_ids.size(), 1u);
  auto log = this->db_->ListWebhookDeliveries(org, w.id, {});
  ASSERT_TRUE(log);
  ASSERT_EQ(log->items.size(), 1u);
  EXPECT_EQ(log->items[0].event, "token.expiring_soon");
  EXPECT_EQ(log->items[0].event_id, event_ids[0]);
  auto claimed = this->db_->ClaimWebhookDeliveries(this->now_, 10, 1000);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_NE((*claimed)[0].payload.find("due_at"), std::string::npos);
}

TYPED_TEST(StoreTest, ConcurrentNoticeRunsNoticeOnce) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 30, this->Event(org, "x")));
  Webhook w;
  w.id = Id();
  w.org_id = org;
  w.url = "https://hooks.example/";
  w.events = {"token.auto_revoke_soon", "token.expiring_soon"};
  w.sealed_secret = "v1.abcd1234.AAAA";
  w.created_by_kind = "user";
  w.created_by_id = "u";
  w.created_at = this->now_;
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  constexpr int kTokens = 40;
  for (int i = 0; i < kTokens; ++i) {
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_);
    if (i % 2 == 0) t.expires_at = this->now_ + 26 * kMillisPerDay;
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  }
  // Half expire in the window, half will be revoked for inactivity in it.
  const UnixMillis now = this->now_ + 25 * kMillisPerDay;
  constexpr int kInstances = 3;
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kInstances; ++i) {
    auto db = OpenDatabase(this->url_);
    ASSERT_TRUE(db) << db.error().ToString();
    dbs.push_back(std::move(*db));
  }
  std::vector<size_t> counts(kInstances, 0);
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kInstances) std::this_thread::yield();
      auto r = dbs[i]->EnqueueTokenNotices(now, kAhead, NoticeEvent);
      if (!r) {
        ++failures;
        return;
      }
      counts[i] = r->size();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  size_t total = 0;
  for (size_t c : counts) total += c;
  EXPECT_EQ(total, static_cast<size_t>(kTokens));
  auto log = this->db_->ListWebhookDeliveries(org, w.id, PageRequest<TimeKey>{.limit = 1000});
  ASSERT_TRUE(log);
  EXPECT_EQ(log->items.size(), static_cast<size_t>(kTokens));
}

}  // namespace
}  // namespace cl::store::testing
