// StoreTest (SQLite and PostgreSQL): event webhooks: the webhooks themselves, the outbox
// written with audit events, claiming deliveries with a lease, recording attempts, pruning.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

Webhook Hook(const std::string& org_id, const std::string& url, std::vector<std::string> events,
             UnixMillis at) {
  Webhook w;
  w.id = Id();
  w.org_id = org_id;
  w.url = url;
  w.description = "to " + url;
  w.events = std::move(events);
  w.sealed_secret = "v1.abcd1234." + RandomHex(8);
  w.created_by_kind = "user";
  w.created_by_id = "creator-id";
  w.created_by_name = "creator@example.com";
  w.created_at = at;
  return w;
}

std::vector<WebhookDelivery> Deliveries(Database& db, const std::string& org_id,
                                        const std::string& webhook_id) {
  auto page = db.ListWebhookDeliveries(org_id, webhook_id, PageRequest<TimeKey>{.limit = 1000});
  EXPECT_TRUE(page) << page.error().ToString();
  return page ? page->items : std::vector<WebhookDelivery>{};
}

// Every delivery due at `at`, claimed (with a lease long enough not to come back in a test).
std::vector<ClaimedDelivery> ClaimAll(Database& db, UnixMillis at) {
  auto claimed = db.ClaimWebhookDeliveries(at, 1000, kMillisPerDay);
  EXPECT_TRUE(claimed) << claimed.error().ToString();
  return claimed ? *claimed : std::vector<ClaimedDelivery>{};
}

WebhookEvent Outbox(const std::string& org_id, const std::string& event, UnixMillis at) {
  return WebhookEvent{Id(), org_id, event, R"({"message":"hello"})", at};
}

TYPED_TEST(StoreTest, WebhookCreateGetListAndDelete) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("globex", u);

  std::vector<Webhook> hooks;
  for (int i = 0; i < 5; ++i) {
    hooks.push_back(Hook(org, "https://hooks.example/" + std::to_string(i),
                         {"token.revoked", "member.removed", "token.created"}, this->now_ + i));
    auto st = this->db_->CreateWebhook(hooks.back(), this->Event(org, "webhook.created"));
    ASSERT_TRUE(st) << st.error().ToString();
  }
  auto got = this->db_->GetWebhook(org, hooks[2].id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->url, "https://hooks.example/2");
  EXPECT_EQ(got->org_id, org);
  EXPECT_EQ(got->description, "to https://hooks.example/2");
  EXPECT_EQ(got->sealed_secret, hooks[2].sealed_secret);
  EXPECT_EQ(got->events,
            (std::vector<std::string>{"member.removed", "token.created", "token.revoked"}));
  EXPECT_EQ(got->created_by_kind, "user");
  EXPECT_EQ(got->created_by_id, "creator-id");
  EXPECT_EQ(got->created_by_name, "creator@example.com");
  EXPECT_EQ(got->created_at, this->now_ + 2);
  EXPECT_TRUE(this->db_->GetWebhook(other, hooks[2].id).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetWebhook(org, Id()).error().IsNotFound());

  // Newest first, in pages that neither repeat nor skip, each with its events.
  std::vector<std::string> seen;
  PageRequest<TimeKey> page{.limit = 2};
  for (int pages = 0; pages < 10; ++pages) {
    auto p = this->db_->ListWebhooks(org, page);
    ASSERT_TRUE(p) << p.error().ToString();
    for (const Webhook& w : p->items) {
      seen.push_back(w.id);
      EXPECT_EQ(w.events.size(), 3u);
    }
    if (!p->next) break;
    page.after = p->next;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{hooks[4].id, hooks[3].id, hooks[2].id, hooks[1].id,
                                            hooks[0].id}));
  EXPECT_TRUE(this->db_->ListWebhooks(other, {})->items.empty());

  // Same URL twice in one organization: refused, nothing written; in another: fine.
  Webhook dup = Hook(org, "https://hooks.example/1", {"token.revoked"}, this->now_);
  auto st = this->db_->CreateWebhook(dup, this->Event(org, "webhook.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists()) << st.error().ToString();
  EXPECT_TRUE(this->db_->GetWebhook(org, dup.id).error().IsNotFound());
  dup.org_id = other;
  EXPECT_TRUE(this->db_->CreateWebhook(dup, this->Event(other, "webhook.created")));
  Webhook orphan = Hook(Id(), "https://hooks.example/x", {"token.revoked"}, this->now_);
  st = this->db_->CreateWebhook(orphan, this->Event(orphan.org_id, "webhook.created"));
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsNotFound()) << st.error().ToString();

  // Deleting takes its deliveries with it, in its organization only, and is audited.
  ASSERT_EQ(*this->db_->EnqueueWebhookEvent(Outbox(org, "ping", this->now_), hooks[1].id), 1);
  EXPECT_EQ(Deliveries(*this->db_, org, hooks[1].id).size(), 1u);
  EXPECT_TRUE(this->db_->DeleteWebhook(other, hooks[1].id, this->Event(other, "webhook.deleted"))
                  .error()
                  .IsNotFound());
  st = this->db_->DeleteWebhook(org, hooks[1].id, this->Event(org, "webhook.deleted"));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_TRUE(this->db_->GetWebhook(org, hooks[1].id).error().IsNotFound());
  EXPECT_TRUE(this->db_->ListWebhookDeliveries(org, hooks[1].id, {}).error().IsNotFound());
  EXPECT_TRUE(ClaimAll(*this->db_, this->now_ + 10).empty());
  EXPECT_TRUE(this->db_->DeleteWebhook(org, hooks[1].id, this->Event(org, "webhook.deleted"))
                  .error()
                  .IsNotFound());
  auto audit = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(audit);
  EXPECT_EQ(std::count_if(audit->begin(), audit->end(),
                          [](const AuditEvent& e) { return e.action == "webhook.created"; }),
            5);
  EXPECT_EQ(std::count_if(audit->begin(), audit->end(),
                          [](const AuditEvent& e) { return e.action == "webhook.deleted"; }),
            1);
}

TYPED_TEST(StoreTest, WebhookSecretsResealAndCountByPepper) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  Webhook a = Hook(org, "https://a.example/", {"token.revoked"}, this->now_);
  a.sealed_secret = "v1.11111111.AAAA";
  Webhook b = Hook(org, "https://b.example/", {"token.revoked"}, this->now_);
  b.sealed_secret = "v1.22222222.BBBB";
  ASSERT_TRUE(this->db_->CreateWebhook(a, this->Event(org, "webhook.created")));
  ASSERT_TRUE(this->db_->CreateWebhook(b, this->Event(org, "webhook.created")));
  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(*this->db_->CountWebhookSecretsByPepper(), (Counts{{"11111111", 1}, {"22222222", 1}}));

  // Only while it is still the old text: a second re-seal (another instance) changes nothing.
  EXPECT_TRUE(*this->db_->ResealWebhookSecret(a.id, "v1.11111111.AAAA", "v1.22222222.CCCC"));
  EXPECT_FALSE(*this->db_->ResealWebhookSecret(a.id, "v1.11111111.AAAA", "v1.22222222.DDDD"));
  EXPECT_EQ(this->db_->GetWebhook(org, a.id)->sealed_secret, "v1.22222222.CCCC");
  EXPECT_EQ(*this->db_->CountWebhookSecretsByPepper(), (Counts{{"22222222", 2}}));
}

TYPED_TEST(StoreTest, AuditWritesEnqueueOneDeliveryPerSubscribedWebhook) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("globex", u);
  const std::string proj = this->NewProject(org, "web");
  Webhook both = Hook(org, "https://both.example/", {"token.created", "token.revoked"}, 1);
  Webhook revoked = Hook(org, "https://revoked.example/", {"token.revoked"}, 2);
  Webhook members = Hook(org, "https://members.example/", {"member.removed"}, 3);
  Webhook elsewhere = Hook(other, "https://both.example/", {"token.created", "token.revoked"}, 4);
  for (const Webhook& w : {both, revoked, members, elsewhere}) {
    ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(w.org_id, "webhook.created")));
  }

  ApiToken t = Token(org, "ci", this->now_, proj);
  t.expires_at = this->now_ + 30 * kMillisPerDay;
  AuditEvent created = this->Event(org, "api_token.created");
  created.target_kind = "api_token";
  created.target_id = t.id;
  ASSERT_TRUE(this->db_->CreateApiToken(t, created));
  AuditEvent revoke = this->Event(org, "api_token.revoked", this->now_ + 5);
  revoke.target_kind = "api_token";
  revoke.target_id = t.id;
  revoke.message = "owner revoked ci";
  ASSERT_TRUE(this->db_->RevokeApiToken(org, t.id, this->now_ + 5, RevocationReason::kManual,
                                        "owner", revoke));
  // Not mapped to any webhook event: nothing.
  ASSERT_TRUE(this->db_->AppendAuditEvent(this->Event(org, "project.created")));

  auto both_log = Deliveries(*this->db_, org, both.id);
  ASSERT_EQ(both_log.size(), 2u);
  EXPECT_EQ(both_log[0].event, "token.revoked");  // newest first
  EXPECT_EQ(both_log[0].event_id, revoke.id);
  EXPECT_EQ(both_log[0].status, "pending");
  EXPECT_EQ(both_log[0].attempts, 0);
  EXPECT_EQ(both_log[0].created_at, this->now_ + 5);
  EXPECT_EQ(both_log[0].next_attempt_at, this->now_ + 5);
  EXPECT_FALSE(both_log[0].last_attempt_at.has_value());
  EXPECT_EQ(both_log[1].event, "token.created");
  EXPECT_EQ(both_log[1].event_id, created.id);
  auto revoked_log = Deliveries(*this->db_, org, revoked.id);
  ASSERT_EQ(revoked_log.size(), 1u);
  EXPECT_EQ(revoked_log[0].event_id, revoke.id);
  EXPECT_NE(revoked_log[0].id, both_log[0].id);
  EXPECT_TRUE(Deliveries(*this->db_, org, members.id).empty());
  EXPECT_TRUE(Deliveries(*this->db_, other, elsewhere.id).empty());

  // The payload: the audit event's facts and the token as the revocation left it.
  auto claimed = ClaimAll(*this->db_, this->now_ + 5);
  ASSERT_EQ(claimed.size(), 3u);
  const ClaimedDelivery* revoked_claim = nullptr;
  for (const ClaimedDelivery& c : claimed) {
    if (c.delivery.id == revoked_log[0].id) revoked_claim = &c;
  }
  ASSERT_NE(revoked_claim, nullptr);
  EXPECT_EQ(revoked_claim->url, "https://revoked.example/");
  EXPECT_EQ(revoked_claim->org_name, "acme");
  EXPECT_EQ(revoked_claim->event_created_at, this->now_ + 5);
  auto payload = ParseJson(revoked_claim->payload);
  ASSERT_TRUE(payload) << revoked_claim->payload;
  const auto& data = payload->as_object();
  EXPECT_EQ(data.at("action").as_string(), "api_token.revoked");
  EXPECT_EQ(data.at("message").as_string(), "owner revoked ci");
  EXPECT_EQ(data.at("actor").at("kind").as_string(), "user");
  EXPECT_EQ(data.at("actor").at("name").as_string(), "actor@example.com");
  EXPECT_EQ(data.at("target").at("kind").as_string(), "api_token");
  EXPECT_EQ(data.at("target").at("id").as_string(), t.id);
  const auto& token = data.at("api_token").as_object();
  EXPECT_EQ(token.at("id").as_string(), t.id);
  EXPECT_EQ(token.at("name").as_string(), "ci");
  EXPECT_EQ(token.at("project_id").as_string(), proj);
  EXPECT_EQ(token.at("revocation_reason").as_string(), "manual");
  EXPECT_EQ(token.at("expires_at").as_string(), FormatRfc3339(*t.expires_at));
  EXPECT_EQ(revoked_claim->payload.find(t.token_hash), std::string::npos);
  for (const ClaimedDelivery& c : claimed) {
    if (c.delivery.event != "token.created") continue;
    auto created_payload = ParseJson(c.payload);
    ASSERT_TRUE(created_payload);
    EXPECT_TRUE(created_payload->at("api_token").at("revocation_reason").is_null());
  }
}

TYPED_TEST(StoreTest, SweepRevocationsEnqueueToo) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string quiet = this->NewOrg("quiet", u);
  for (const std::string& o : {org, quiet}) {
    ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(o, 30, this->Event(o, "x")));
  }
  Webhook w = Hook(org, "https://hooks.example/", {"token.revoked"}, this->now_);
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  std::set<std::string> stale;
  for (int i = 0; i < 10; ++i) {
    ApiToken t = Token(i % 2 == 0 ? org : quiet, "t" + std::to_string(i), this->now_);
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(t.org_id, "api_token.created")));
    if (t.org_id == org) stale.insert(t.id);
  }
  const UnixMillis later = this->now_ + 31 * kMillisPerDay;
  auto sweep = this->db_->RevokeInactiveApiTokens(
      later, [&](const RevokedToken& t) { return SweepEvent(t, later); });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  ASSERT_EQ(sweep->revoked.size(), 10u);

  auto log = Deliveries(*this->db_, org, w.id);
  ASSERT_EQ(log.size(), stale.size());
  std::set<std::string> targets;
  for (const ClaimedDelivery& c : ClaimAll(*this->db_, later)) {
    EXPECT_EQ(c.delivery.event, "token.revoked");
    auto payload = ParseJson(c.payload);
    ASSERT_TRUE(payload) << c.payload;
    EXPECT_EQ(payload->at("api_token").at("revocation_reason").as_string(), "inactive");
    EXPECT_EQ(payload->at("actor").at("kind").as_string(), "system");
    targets.insert(std::string(payload->at("target").at("id").as_string()));
  }
  EXPECT_EQ(targets, stale);
}

TYPED_TEST(StoreTest, EnqueueGoesToSubscribersOrToTheOneWebhookAsked) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const std::string other = this->NewOrg("globex", u);
  Webhook a = Hook(org, "https://a.example/", {"token.expiring_soon"}, this->now_);
  Webhook b = Hook(org, "https://b.example/", {"token.revoked"}, this->now_);
  Webhook c = Hook(other, "https://c.example/", {"token.expiring_soon"}, this->now_);
  for (const Webhook& w : {a, b, c}) {
    ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(w.org_id, "webhook.created")));
  }
  EXPECT_EQ(*this->db_->EnqueueWebhookEvent(Outbox(org, "token.expiring_soon", this->now_), {}), 1);
  EXPECT_EQ(Deliveries(*this->db_, org, a.id).size(), 1u);
  // No subscriber: nothing written, so the same event id can still be enqueued later.
  WebhookEvent nobody = Outbox(org, "member.removed", this->now_);
  EXPECT_EQ(*this->db_->EnqueueWebhookEvent(nobody, {}), 0);
  // "ping" to one webhook, whatever it subscribes to; never to another organization's.
  EXPECT_EQ(*this->db_->EnqueueWebhookEvent(nobody, b.id), 1);
  auto log = Deliveries(*this->db_, org, b.id);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].event_id, nobody.id);
  EXPECT_EQ(*this->db_->EnqueueWebhookEvent(Outbox(org, "ping", this->now_), c.id), 0);
  EXPECT_TRUE(Deliveries(*this->db_, other, c.id).empty());
  EXPECT_EQ(Deliveries(*this->db_, org, a.id).size(), 1u);
}

TYPED_TEST(StoreTest, ClaimsLeaseDeliveriesOldestFirst) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  Webhook w = Hook(org, "https://hooks.example/", {"token.revoked"}, this->now_);
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  const UnixMillis t0 = this->now_;
  std::vector<WebhookEvent> events;
  for (int i = 0; i < 3; ++i) {
    events.push_back(Outbox(org, "token.revoked", t0 + i));
    ASSERT_EQ(*this->db_->EnqueueWebhookEvent(events.back(), {}), 1);
  }
  // Not due yet.
  EXPECT_TRUE(ClaimAll(*this->db_, t0 - 1).empty());

  const int64_t lease = 60'000;
  auto first = this->db_->ClaimWebhookDeliveries(t0 + 10, 2, lease);
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].delivery.event_id, events[0].id);
  EXPECT_EQ((*first)[1].delivery.event_id, events[1].id);
  EXPECT_EQ((*first)[0].delivery.next_attempt_at, t0 + 10 + lease);
  EXPECT_EQ((*first)[0].url, "https://hooks.example/");
  EXPECT_EQ((*first)[0].sealed_secret, w.sealed_secret);
  EXPECT_EQ((*first)[0].org_name, "acme");
  EXPECT_EQ((*first)[0].payload, R"({"message":"hello"})");
  EXPECT_EQ((*first)[0].event_created_at, t0);
  // While leased they are nobody else's: the next claim gets only the third.
  auto second = ClaimAll(*this->db_, t0 + 11);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].delivery.event_id, events[2].id);
  EXPECT_TRUE(ClaimAll(*this->db_, t0 + 10 + lease - 1).empty());
  // A lease that ran out (the sender died): claimed again.
  auto again = this->db_->ClaimWebhookDeliveries(t0 + 10 + lease, 10, lease);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[0].delivery.id, (*first)[0].delivery.id);
  EXPECT_TRUE(this->db_->ClaimWebhookDeliveries(t0 + 10 + lease, 0, lease)->empty());
}

TYPED_TEST(StoreTest, ConcurrentClaimsNeverShareADelivery) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  Webhook w = Hook(org, "https://hooks.example/", {"token.revoked"}, this->now_);
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  constexpr int kDeliveries = 120;
  for (int i = 0; i < kDeliveries; ++i) {
    ASSERT_EQ(*this->db_->EnqueueWebhookEvent(Outbox(org, "token.revoked", this->now_ + i), {}), 1);
  }
  // Two instances (two handles, each with its own connections) claiming in small batches.
  constexpr int kInstances = 2;
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kInstances; ++i) {
    auto db = OpenDatabase(this->url_);
    ASSERT_TRUE(db) << db.error().ToString();
    dbs.push_back(std::move(*db));
  }
  std::vector<std::vector<std::string>> got(kInstances);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const UnixMillis at = this->now_ + kDeliveries;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 200; ++round) {
        auto claimed = dbs[i]->ClaimWebhookDeliveries(at, 3, kMillisPerDay);
        if (!claimed) {
          ++failures;
          return;
        }
        if (claimed->empty()) return;
        for (const ClaimedDelivery& c : *claimed) got[i].push_back(c.delivery.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::multiset<std::string> all;
  for (const auto& ids : got) all.insert(ids.begin(), ids.end());
  std::set<std::string> unique(all.begin(), all.end());
  EXPECT_EQ(all.size(), unique.size()) << "a delivery was claimed twice";
  EXPECT_EQ(unique.size(), static_cast<size_t>(kDeliveries));
}

TYPED_TEST(StoreTest, AttemptsAreRecorded) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  Webhook w = Hook(org, "https://hooks.example/", {"token.revoked"}, this->now_);
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(*this->db_->EnqueueWebhookEvent(Outbox(org, "token.revoked", this->now_ + i), {}), 1);
  }
  auto claimed = ClaimAll(*this->db_, this->now_ + 10);
  ASSERT_EQ(claimed.size(), 3u);
  const std::string delivered = claimed[0].delivery.id;
  const std::string retried = claimed[1].delivery.id;
  const std::string failed = claimed[2].delivery.id;
  const UnixMillis at = this->now_ + 20;
  auto record = [&](WebhookAttempt a) {
    auto st = this->db_->RecordWebhookAttempt(a);
    EXPECT_TRUE(st) << st.error().ToString();
  };
  record({retried, at, "pending", 503, "HTTP 503", at + 30'000});
  record({retried, at + 30'000, "pending", std::nullopt, "timed out", at + 90'000});
  record({delivered, at, "delivered", 204, "", 0});
  record({failed, at, "failed", std::nullopt, "address not allowed: 10.0.0.5", 0});

  std::map<std::string, WebhookDelivery> by_id;
  for (const WebhookDelivery& d : Deliveries(*this->db_, org, w.id)) by_id[d.id] = d;
  const WebhookDelivery& d = by_id.at(delivered);
  EXPECT_EQ(d.status, "delivered");
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_attempt_at, at);
  EXPECT_EQ(d.last_response_status, 204);
  EXPECT_EQ(d.last_error, "");
  EXPECT_EQ(d.delivered_at, at);
  const WebhookDelivery& r = by_id.at(retried);
  EXPECT_EQ(r.status, "pending");
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.last_attempt_at, at + 30'000);
  EXPECT_FALSE(r.last_response_status.has_value());
  EXPECT_EQ(r.last_error, "timed out");
  EXPECT_EQ(r.next_attempt_at, at + 90'000);
  EXPECT_FALSE(r.delivered_at.has_value());
  const WebhookDelivery& f = by_id.at(failed);
  EXPECT_EQ(f.status, "failed");
  EXPECT_EQ(f.attempts, 1);
  EXPECT_EQ(f.last_error, "address not allowed: 10.0.0.5");
  EXPECT_FALSE(f.delivered_at.has_value());

  // Only the retried one comes back, and only when due.
  EXPECT_TRUE(ClaimAll(*this->db_, at + 90'000 - 1).empty());
  auto due = ClaimAll(*this->db_, at + 90'000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].delivery.id, retried);
  EXPECT_EQ(due[0].delivery.attempts, 2);

  EXPECT_TRUE(this->db_->RecordWebhookAttempt({delivered, at, "sent", 200, "", 0})
                  .error()
                  .IsInvalidArgument());
  ASSERT_TRUE(this->db_->DeleteWebhook(org, w.id, this->Event(org, "webhook.deleted")));
  EXPECT_TRUE(
      this->db_->RecordWebhookAttempt({retried, at, "delivered", 200, "", 0}).error().IsNotFound());
}

TYPED_TEST(StoreTest, PruneDropsFinishedHistoryAndOrphanEvents) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  Webhook w = Hook(org, "https://hooks.example/", {"token.revoked"}, this->now_);
  Webhook gone = Hook(org, "https://gone.example/", {"token.revoked"}, this->now_);
  ASSERT_TRUE(this->db_->CreateWebhook(w, this->Event(org, "webhook.created")));
  ASSERT_TRUE(this->db_->CreateWebhook(gone, this->Event(org, "webhook.created")));
  const UnixMillis old = this->now_;
  const UnixMillis recent = this->now_ + 40 * kMillisPerDay;
  const UnixMillis cutoff = this->now_ + 30 * kMillisPerDay;
  // Old: one delivered, one failed, one still pending; recent: one delivered.
  std::vector<WebhookEvent> events;
  for (UnixMillis at : {old, old + 1, old + 2, recent}) {
    events.push_back(Outbox(org, "ping", at));
    ASSERT_EQ(*this->db_->EnqueueWebhookEvent(events.back(), w.id), 1);
  }
  auto claimed = ClaimAll(*this->db_, recent);
  ASSERT_EQ(claimed.size(), 4u);
  ASSERT_TRUE(
      this->db_->RecordWebhookAttempt({claimed[0].delivery.id, old, "delivered", 200, "", 0}));
  ASSERT_TRUE(
      this->db_->RecordWebhookAttempt({claimed[1].delivery.id, old, "failed", 500, "x", 0}));
  ASSERT_TRUE(
      this->db_->RecordWebhookAttempt({claimed[3].delivery.id, recent, "delivered", 200, "", 0}));
  // An event whose only webhook was deleted.
  WebhookEvent orphan = Outbox(org, "ping", old);
  ASSERT_EQ(*this->db_->EnqueueWebhookEvent(orphan, gone.id), 1);
  ASSERT_TRUE(this->db_->DeleteWebhook(org, gone.id, this->Event(org, "webhook.deleted")));

  auto pruned = this->db_->PruneWebhookHistory(cutoff);
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  EXPECT_EQ(*pruned, 2);
  std::set<std::string> left;
  for (const WebhookDelivery& d : Deliveries(*this->db_, org, w.id)) left.insert(d.id);
  EXPECT_EQ(left, (std::set<std::string>{claimed[2].delivery.id, claimed[3].delivery.id}));
  // The events of pruned deliveries are gone (their ids can be enqueued again); the others stay.
  EXPECT_EQ(*this->db_->EnqueueWebhookEvent(events[0], w.id), 1);
  EXPECT_EQ(*this->db_->EnqueueWebhookEvent(orphan, w.id), 1);
  EXPECT_FALSE(this->db_->EnqueueWebhookEvent(events[2], w.id));
  EXPECT_EQ(*this->db_->PruneWebhookHistory(cutoff), 0);
}

}  // namespace
}  // namespace cl::store::testing
