// Tests of the webhook dispatcher against an in-memory store and a loopback receiver, with a fake
// clock: the signed body and headers, retries with backoff until the window ends, the address
// guard, timeouts and oversized answers, parallel senders, secret re-sealing, token notices,
// pruning, metrics, and logs that never hold the secret or the body.
#include "jobs/webhook_dispatcher.h"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "common/testing/loopback_http_server.h"
#include "crypto/hash.h"
#include "crypto/secret_box.h"
#include "http/metrics.h"
#include "jobs/testing/fake_webhook_store.h"

namespace cl::jobs {
namespace {

using cl::testing::LoopbackHttpServer;
using cl::testing::LoopbackRequest;
using cl::testing::LoopbackResponse;
using std::chrono::milliseconds;

constexpr UnixMillis kStart = 1'700'000'000'000;
constexpr char kSecret[] = "clwhsec_dGhpcyBpcyB0aGUgd2ViaG9vayBzZWNyZXQgb2YgdGVzdHM";
constexpr char kPepper[] = "pepper-newest-0123456789abcdef0123456789abcdef";
constexpr char kOldPepper[] = "pepper-older-0123456789abcdef0123456789abcdef01";
constexpr char kPayload[] =
    R"({"action":"api_token.revoked","message":"ana has revoked the API token ci-marker-7731",)"
    R"("actor":{"kind":"user","id":"u1","name":"ana"},"target":{"kind":"api_token","id":"t1"}})";

// A Random whose bytes are all `byte`: the jitter at its ends.
class ConstantRandom final : public Random {
 public:
  explicit ConstantRandom(uint8_t byte) : byte_(byte) {}
  void Fill(uint8_t* out, size_t n) override { std::fill(out, out + n, byte_); }

 private:
  uint8_t byte_;
};

WebhookDispatcherOptions LoopbackAllowed() {
  WebhookDispatcherOptions o;
  o.address_policy = *AddressPolicy::Parse({"127.0.0.1/32"});
  o.timeout_ms = 5000;
  return o;
}

class WebhookDispatcherTest : public ::testing::Test {
 protected:
  // A webhook of org "acme" at `url`, subscribed to token.revoked and token.expiring_soon.
  void AddWebhook(const std::string& id, const std::string& url, const std::string& sealed = "") {
    store::Webhook w;
    w.id = id;
    w.org_id = "org-1";
    w.url = url;
    w.events = {"token.expiring_soon", "token.revoked"};
    w.sealed_secret = sealed.empty() ? box_.Seal(kSecret, random_) : sealed;
    w.created_at = kStart;
    store_.AddWebhook(std::move(w), "acme");
  }
  // A token.revoked event enqueued at `at`; returns its id.
  std::string Enqueue(const std::string& id, UnixMillis at) {
    store::WebhookEvent e{.id = id,
                          .org_id = "org-1",
                          .event = "token.revoked",
                          .payload = kPayload,
                          .created_at = at};
    auto n = store_.EnqueueWebhookEvent(e, std::nullopt);
    EXPECT_TRUE(n && *n > 0);
    return id;
  }
  std::unique_ptr<WebhookDispatcher> Dispatcher(WebhookDispatcherOptions options) {
    return std::make_unique<WebhookDispatcher>(store_, box_, clock_, random_, &metrics_,
                                               std::move(options));
  }
  store::WebhookDelivery OnlyDelivery() {
    auto all = store_.Deliveries();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? store::WebhookDelivery{} : all.front();
  }

  SystemRandom random_;
  FakeClock clock_{kStart};
  crypto::SecretBox box_{std::vector<std::string>{kPepper}};
  testing::FakeWebhookStore store_;
  http::Metrics metrics_;
};

TEST_F(WebhookDispatcherTest, SendsTheSignedBodyAndHeadersOfTheContract) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{204}; });
  AddWebhook("wh-1", receiver.url() + "/hooks/in?x=1");
  Enqueue("ev-1", kStart);
  clock_.Advance(5'500);  // the attempt is later than the event
  auto report = Dispatcher(LoopbackAllowed())->RunOnce();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->claimed, 1);
  EXPECT_EQ(report->delivered, 1);

  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const LoopbackRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hooks/in?x=1");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("user-agent").rfind("chainloop-controlplane/", 0), 0u);
  EXPECT_EQ(r.Header("x-chainloop-event"), "token.revoked");
  EXPECT_EQ(r.Header("x-chainloop-event-id"), "ev-1");
  const store::WebhookDelivery d = OnlyDelivery();
  EXPECT_EQ(r.Header("x-chainloop-delivery"), d.id);
  const UnixMillis attempt_at = kStart + 5'500;
  EXPECT_EQ(r.Header("x-chainloop-timestamp"), std::to_string(attempt_at / 1000));
  EXPECT_EQ(r.Header("x-chainloop-signature-256"),
            "sha256=" + crypto::HexEncode(crypto::HmacSha256(kSecret, r.body)));

  auto body = ParseJson(r.body);
  ASSERT_TRUE(body && body->is_object()) << r.body;
  const boost::json::object& o = body->as_object();
  EXPECT_EQ(o.size(), 6u) << r.body;
  EXPECT_EQ(o.at("id"), "ev-1");
  EXPECT_EQ(o.at("event"), "token.revoked");
  EXPECT_EQ(o.at("created_at"), boost::json::value(FormatRfc3339(kStart)));
  EXPECT_EQ(o.at("timestamp").as_int64(), attempt_at / 1000);
  EXPECT_EQ(o.at("organization"), (boost::json::object{{"id", "org-1"}, {"name", "acme"}}));
  EXPECT_EQ(o.at("data"), *ParseJson(kPayload));
  // Compact JSON: the exact bytes are what was signed.
  EXPECT_EQ(r.body, SerializeJson(*body));

  EXPECT_EQ(d.status, "delivered");
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_response_status, 204);
  EXPECT_EQ(d.delivered_at, attempt_at);
  EXPECT_EQ(d.last_error, "");
}

TEST_F(WebhookDispatcherTest, AFailedAttemptIsRetriedAtTheBackoffThenDelivered) {
  std::mutex mu;
  std::vector<int> answers = {500, 200};
  LoopbackHttpServer receiver([&](const LoopbackRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    int status = answers.front();
    if (answers.size() > 1) answers.erase(answers.begin());
    return LoopbackResponse{status, "{}"};
  });
  AddWebhook("wh-1", receiver.url() + "/");
  Enqueue("ev-1", kStart);
  auto dispatcher = Dispatcher(LoopbackAllowed());
  auto first = dispatcher->RunOnce();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->retried, 1);
  store::WebhookDelivery d = OnlyDelivery();
  EXPECT_EQ(d.status, "pending");
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_response_status, 500);
  EXPECT_EQ(d.last_error, "the receiver answered HTTP 500");
  EXPECT_GE(d.next_attempt_at, kStart + 27'000);  // 30 s initial delay, +-10%
  EXPECT_LE(d.next_attempt_at, kStart + 33'000);

  const UnixMillis retry_at = d.next_attempt_at;
  // Not due yet: nothing is sent.
  clock_.Set(retry_at - 1);
  auto early = dispatcher->RunOnce();
  ASSERT_TRUE(early);
  EXPECT_EQ(early->claimed, 0);
  EXPECT_EQ(receiver.requests().size(), 1u);

  clock_.Set(retry_at);
  auto second = dispatcher->RunOnce();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->delivered, 1);
  d = OnlyDelivery();
  EXPECT_EQ(d.status, "delivered");
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.last_response_status, 200);
  EXPECT_EQ(d.last_error, "");
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  // Each attempt is signed with its own timestamp.
  EXPECT_EQ(requests[1].Header("x-chainloop-timestamp"), std::to_string(retry_at / 1000));
  EXPECT_EQ(requests[1].Header("x-chainloop-signature-256"),
            "sha256=" + crypto::HexEncode(crypto::HmacSha256(kSecret, requests[1].body)));
}

TEST(WebhookRetryDelayTest, DoublesFromTheInitialDelayUpToAnHourWithTenPercentJitter) {
  WebhookDispatcherOptions o;
  ConstantRandom low(0x00), high(0xff);
  const int64_t expected[] = {30'000,  60'000,    120'000,   240'000,   480'000,
                              960'000, 1'920'000, 3'600'000, 3'600'000, 3'600'000};
  for (int attempts = 1; attempts <= 10; ++attempts) {
    const int64_t base = expected[attempts - 1];
    EXPECT_EQ(WebhookRetryDelay(o, attempts, low), base * 9 / 10) << attempts;
    EXPECT_EQ(WebhookRetryDelay(o, attempts, high), base * 11 / 10) << attempts;
  }
  EXPECT_EQ(WebhookRetryDelay(o, 500, high), 3'960'000);
  o.retry_initial_delay_ms = 1000;
  EXPECT_EQ(WebhookRetryDelay(o, 3, low), 3600);
}

TEST_F(WebhookDispatcherTest, GivesUpWhenTheNextAttemptWouldFallAfterTheWindow) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{503}; });
  AddWebhook("wh-1", receiver.url() + "/");
  Enqueue("ev-1", kStart);
  auto dispatcher = Dispatcher(LoopbackAllowed());
  int attempts = 0;
  store::WebhookDelivery d = OnlyDelivery();
  while (d.status == "pending" && attempts < 100) {
    clock_.Set(d.next_attempt_at);
    ASSERT_TRUE(dispatcher->RunOnce());
    d = OnlyDelivery();
    ++attempts;
    if (d.status == "pending") {
      EXPECT_LE(d.next_attempt_at, kStart + kMillisPerDay);
    }
  }
  EXPECT_EQ(d.status, "failed");
  EXPECT_EQ(d.attempts, attempts);
  EXPECT_EQ(receiver.requests().size(), static_cast<size_t>(attempts));
  // 30 s doubling to the 1 h cap covers the first ~1 h in 8 attempts; then about one an hour.
  EXPECT_GE(attempts, 26);
  EXPECT_LE(attempts, 34);
  // The last attempt was inside the window, and one more would have been after it.
  EXPECT_LE(*d.last_attempt_at, kStart + kMillisPerDay);
  EXPECT_GT(*d.last_attempt_at + 3'960'000, kStart + kMillisPerDay);
  EXPECT_EQ(d.last_response_status, 503);
}

TEST_F(WebhookDispatcherTest, ARefusedAddressIsAFailedAttemptWithItsReason) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  AddWebhook("wh-1", receiver.url() + "/");
  Enqueue("ev-1", kStart);
  WebhookDispatcherOptions options;  // no allowed networks: loopback is refused
  auto report = Dispatcher(options)->RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->retried, 1);
  EXPECT_EQ(receiver.connections(), 0);
  store::WebhookDelivery d = OnlyDelivery();
  EXPECT_EQ(d.status, "pending");
  EXPECT_EQ(d.last_error, "address not allowed: 127.0.0.1");
  EXPECT_FALSE(d.last_response_status);

  // At the end of the window it is failed, with the same reason.
  clock_.Set(kStart + kMillisPerDay - 1000);
  Enqueue("ev-2", clock_.Now());
  ASSERT_TRUE(Dispatcher(options)->RunOnce());
  ASSERT_EQ(store_.Deliveries().size(), 2u);
  for (const auto& delivery : store_.Deliveries()) {
    EXPECT_EQ(delivery.last_error, "address not allowed: 127.0.0.1");
    EXPECT_EQ(delivery.status, delivery.event_id == "ev-1" ? "failed" : "pending");
  }
}

TEST_F(WebhookDispatcherTest, ASlowReceiverIsCutAtTheTimeout) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) {
    return LoopbackResponse{200, "", milliseconds(5000)};
  });
  AddWebhook("wh-1", receiver.url() + "/");
  Enqueue("ev-1", kStart);
  WebhookDispatcherOptions options = LoopbackAllowed();
  options.timeout_ms = 300;
  const auto started = std::chrono::steady_clock::now();
  auto report = Dispatcher(options)->RunOnce();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(report);
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(report->retried, 1);
  store::WebhookDelivery d = OnlyDelivery();
  EXPECT_EQ(d.status, "pending");
  EXPECT_NE(d.last_error.find("Timeout"), std::string::npos) << d.last_error;
  // The URL is not repeated in the stored error.
  EXPECT_EQ(d.last_error.find("127.0.0.1"), std::string::npos) << d.last_error;
}

TEST_F(WebhookDispatcherTest, AHugeAnswerIsCutAtTheCapAndItsStatusCounts) {
  const std::string big(4 << 20, 'x');
  LoopbackHttpServer ok([&](const LoopbackRequest&) { return LoopbackResponse{200, big}; });
  LoopbackHttpServer bad([&](const LoopbackRequest&) { return LoopbackResponse{500, big}; });
  AddWebhook("wh-ok", ok.url() + "/");
  AddWebhook("wh-bad", bad.url() + "/");
  Enqueue("ev-1", kStart);
  auto report = Dispatcher(LoopbackAllowed())->RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->delivered, 1);
  EXPECT_EQ(report->retried, 1);
  for (const auto& d : store_.Deliveries()) {
    EXPECT_EQ(d.last_response_status, d.webhook_id == "wh-ok" ? 200 : 500) << d.webhook_id;
  }
}

TEST_F(WebhookDispatcherTest, OneSlowReceiverDoesNotHoldTheOthers) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  std::mutex mu;
  std::vector<milliseconds> fast_arrivals;
  LoopbackHttpServer slow([](const LoopbackRequest&) {
    return LoopbackResponse{200, "", milliseconds(1500)};
  });
  LoopbackHttpServer fast([&](const LoopbackRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    fast_arrivals.push_back(std::chrono::duration_cast<milliseconds>(Clock::now() - started));
    return LoopbackResponse{200};
  });
  // The slow one's delivery is claimed first (ids order deliveries due at the same instant).
  AddWebhook("a-slow", slow.url() + "/");
  for (const char* id : {"b-fast", "c-fast", "d-fast"}) AddWebhook(id, fast.url() + "/");
  Enqueue("ev-1", kStart);
  auto report = Dispatcher(LoopbackAllowed())->RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->delivered, 4);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(fast_arrivals.size(), 3u);
  for (milliseconds at : fast_arrivals) EXPECT_LT(at, milliseconds(1000));
}

TEST_F(WebhookDispatcherTest, NoAttemptStartsThatCouldOutlastTheLease) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  AddWebhook("wh-1", receiver.url() + "/");
  Enqueue("ev-1", kStart);
  WebhookDispatcherOptions options = LoopbackAllowed();
  options.lease_ms = 1000;
  options.timeout_ms = 2000;
  auto report = Dispatcher(options)->RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->deferred, 1);
  EXPECT_EQ(receiver.connections(), 0);
  store::WebhookDelivery d = OnlyDelivery();
  EXPECT_EQ(d.attempts, 0);
  EXPECT_EQ(d.next_attempt_at, kStart + 1000);  // claimable again when the lease ends
}

TEST_F(WebhookDispatcherTest, ASecretUnderAnOlderPepperIsResealedUnderTheNewest) {
  crypto::SecretBox old_box(std::vector<std::string>{kOldPepper});
  const std::string old_sealed = old_box.Seal(kSecret, random_);
  crypto::SecretBox both(std::vector<std::string>{kPepper, kOldPepper});
  ASSERT_FALSE(both.SealedUnderNewest(old_sealed));
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  AddWebhook("wh-1", receiver.url() + "/", old_sealed);
  Enqueue("ev-1", kStart);
  WebhookDispatcher dispatcher(store_, both, clock_, random_, nullptr, LoopbackAllowed());
  auto report = dispatcher.RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->delivered, 1);
  const std::string resealed = store_.SealedSecret("wh-1");
  EXPECT_NE(resealed, old_sealed);
  EXPECT_TRUE(both.SealedUnderNewest(resealed));
  auto opened = both.Open(resealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, kSecret);
  auto r = receiver.requests().at(0);
  EXPECT_EQ(r.Header("x-chainloop-signature-256"),
            "sha256=" + crypto::HexEncode(crypto::HmacSha256(kSecret, r.body)));
}

TEST_F(WebhookDispatcherTest, ASecretThatCannotBeOpenedIsNeverSent) {
  crypto::SecretBox gone(std::vector<std::string>{kOldPepper});
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  AddWebhook("wh-1", receiver.url() + "/", gone.Seal(kSecret, random_));
  Enqueue("ev-1", kStart);
  auto report = Dispatcher(LoopbackAllowed())->RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->retried, 1);
  EXPECT_EQ(receiver.connections(), 0);
  EXPECT_EQ(OnlyDelivery().last_error,
            "cannot open the webhook secret (sealed under an unknown pepper)");
}

TEST_F(WebhookDispatcherTest, TokenNoticesAreEnqueuedHourlyWithTheirPayload) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  AddWebhook("wh-1", receiver.url() + "/");
  const UnixMillis due = kStart + 3 * kMillisPerDay;
  store_.AddDueNotice({.event = "token.expiring_soon",
                       .org_id = "org-1",
                       .token_id = "tok-1",
                       .token_name = "ci",
                       .project_id = std::nullopt,
                       .due_at = due});
  auto dispatcher = Dispatcher(LoopbackAllowed());
  auto report = dispatcher->RunOnce();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->notices, 1);
  EXPECT_EQ(report->delivered, 1);  // enqueued and sent in the same pass
  auto events = store_.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(IsUuid(events[0].id)) << events[0].id;
  EXPECT_EQ(events[0].created_at, kStart);
  auto r = receiver.requests().at(0);
  EXPECT_EQ(r.Header("x-chainloop-event"), "token.expiring_soon");
  auto body = ParseJson(r.body);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->as_object().at("data"), *ParseJson(R"({"api_token":{"id":"tok-1","name":"ci",)"
                                                     R"("project_id":null},"due_at":")" +
                                                     FormatRfc3339(due) + R"("})"));
  store::TokenNotice with_project{.event = "token.auto_revoke_soon",
                                  .org_id = "org-1",
                                  .token_id = "tok-2",
                                  .token_name = "deploy",
                                  .project_id = "proj-1",
                                  .due_at = due};
  auto payload = ParseJson(TokenNoticeEvent(with_project, kStart, random_).payload);
  ASSERT_TRUE(payload);
  EXPECT_EQ(payload->as_object().at("api_token").as_object().at("project_id"), "proj-1");

  clock_.Advance(kMillisPerHour - 1);
  ASSERT_TRUE(dispatcher->RunOnce());
  EXPECT_EQ(store_.NoticeCalls(), 1);
  clock_.Advance(1);
  ASSERT_TRUE(dispatcher->RunOnce());
  EXPECT_EQ(store_.NoticeCalls(), 2);
}

TEST_F(WebhookDispatcherTest, HistoryIsPrunedDailyAfterThirtyDays) {
  auto dispatcher = Dispatcher(LoopbackAllowed());
  ASSERT_TRUE(dispatcher->RunOnce());
  clock_.Advance(kMillisPerDay - 1);
  ASSERT_TRUE(dispatcher->RunOnce());
  clock_.Advance(1);
  ASSERT_TRUE(dispatcher->RunOnce());
  EXPECT_EQ(store_.PruneCalls(),
            (std::vector<UnixMillis>{kStart - 30 * kMillisPerDay,
                                     kStart + kMillisPerDay - 30 * kMillisPerDay}));
}

TEST_F(WebhookDispatcherTest, CountsOutcomesAndDurations) {
  LoopbackHttpServer ok([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  LoopbackHttpServer bad([](const LoopbackRequest&) { return LoopbackResponse{500}; });
  AddWebhook("wh-ok", ok.url() + "/");
  AddWebhook("wh-bad", bad.url() + "/");
  Enqueue("ev-1", kStart);
  clock_.Set(kStart + kMillisPerDay);  // the failed attempt is the last one
  Enqueue("ev-2", kStart + kMillisPerDay);
  auto report = Dispatcher(LoopbackAllowed())->RunOnce();
  ASSERT_TRUE(report);
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("chainloop_webhook_deliveries_total{outcome=\"delivered\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("chainloop_webhook_deliveries_total{outcome=\"failed\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("chainloop_webhook_deliveries_total{outcome=\"retry\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("chainloop_webhook_delivery_duration_seconds_count 4"), std::string::npos)
      << text;
}

TEST_F(WebhookDispatcherTest, LogsNameTheAttemptButNeverTheSecretOrTheBody) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{500}; });
  AddWebhook("wh-1", receiver.url() + "/secret-path-4242");
  Enqueue("ev-1", kStart);
  std::string sink;
  SetLogSinkForTest(&sink);
  auto report = Dispatcher(LoopbackAllowed())->RunOnce();
  FlushLog();
  SetLogSinkForTest(nullptr);
  ASSERT_TRUE(report);
  EXPECT_NE(sink.find("webhook delivery attempt"), std::string::npos) << sink;
  EXPECT_NE(sink.find("wh-1"), std::string::npos) << sink;
  EXPECT_NE(sink.find(OnlyDelivery().id), std::string::npos) << sink;
  EXPECT_NE(sink.find("token.revoked"), std::string::npos) << sink;
  EXPECT_NE(sink.find("500"), std::string::npos) << sink;
  EXPECT_EQ(sink.find(kSecret), std::string::npos) << sink;
  EXPECT_EQ(sink.find("ci-marker-7731"), std::string::npos) << sink;    // from the body
  EXPECT_EQ(sink.find("secret-path-4242"), std::string::npos) << sink;  // from the URL
  EXPECT_EQ(sink.find("sha256="), std::string::npos) << sink;
}

TEST_F(WebhookDispatcherTest, AFailedClaimSendsNothingAndTheThreadKeepsPolling) {
  LoopbackHttpServer receiver([](const LoopbackRequest&) { return LoopbackResponse{200}; });
  AddWebhook("wh-1", receiver.url() + "/");
  Enqueue("ev-1", kStart);
  store_.FailClaims(true);
  auto dispatcher = Dispatcher(LoopbackAllowed());
  auto failed = dispatcher->RunOnce();
  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().IsUnavailable());
  dispatcher->Start(milliseconds(10));
  std::this_thread::sleep_for(milliseconds(50));
  store_.FailClaims(false);
  for (int i = 0; i < 500 && OnlyDelivery().status != "delivered"; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  dispatcher->Stop();
  EXPECT_EQ(OnlyDelivery().status, "delivered");
  EXPECT_EQ(receiver.requests().size(), 1u);
}

}  // namespace
}  // namespace cl::jobs
