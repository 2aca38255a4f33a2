// WebhookService and the webhook rules: URLs (table of accepted and refused ones, the refused
// address ranges in every spelling, the operator's allowed networks), events (normalized,
// unknown and unsubscribable ones refused), and the service against a real store: the secret
// shown once and stored sealed, people with webhook:manage only, audit of every write, duplicate
// URLs, ping to one webhook only, and audited actions enqueued for subscribed webhooks.
#include "domain/webhooks.h"

#include <gtest/gtest.h>

#include <set>

#include "domain/testing/service_fixtures.h"

namespace cl::domain {
namespace {

std::vector<Cidr> Networks(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* t : texts) out.push_back(*Cidr::Parse(t));
  return out;
}

TEST(WebhookUrlTest, AcceptsHttpAndHttpsUrlsWithAHost) {
  for (const std::string& url : std::vector<std::string>{
           "https://hooks.example.com/chainloop", "http://hooks.example.com",
           "HTTPS://Example.COM/x", "Http://example.com:8080/a?b=c&d=e", "https://example.com:443",
           "https://203.0.113.7/in", "https://[2001:db8::1]:8443/in", "http://localhost:9/hook",
           "https://8.8.8.8", "https://example.com/" + std::string(2048 - 20, 'a')}) {
    EXPECT_TRUE(ValidateWebhookUrl(url, {})) << url;
  }
}

TEST(WebhookUrlTest, RefusesEachBrokenRuleWithItsMessage) {
  struct Case {
    std::string url;
    const char* message;
  } cases[] = {
      {"", "required"},
      {"ftp://example.com", "http:// or https://"},
      {"example.com/hook", "http:// or https://"},
      {"javascript:alert(1)", "http:// or https://"},
      {"https:/example.com", "http:// or https://"},
      {"https://user:pw@example.com/", "user name or password"},
      {"https://user@example.com/", "user name or password"},
      {"https://example.com/#frag", "fragment"},
      {"https://example.com#", "fragment"},
      {"https://example.com/" + std::string(2048, 'a'), "at most 2048"},
      {"https:///hook", "host"},
      {"https://:443/hook", "host"},
      {"https://?q", "host"},
      {"https://[]/", "host"},
      {"https://example.com:0/", "port"},
      {"https://example.com:65536/", "port"},
      {"https://example.com:/", "port"},
      {"https://example.com:8o/", "port"},
      {"https://exa mple.com/", "printable"},
      {"https://example.com/\n", "printable"},
      {"https://ex\xc3\xa4mple.com/", "printable"},
      {"https://[::1/", "unclosed"},
      {"https://[::1]x/", "after its IPv6"},
      {"https://[example.com]/", "not an IPv6"},
  };
  for (const auto& c : cases) {
    auto st = ValidateWebhookUrl(c.url, {});
    ASSERT_FALSE(st) << c.url;
    EXPECT_TRUE(st.error().IsInvalidArgument()) << c.url;
    EXPECT_NE(st.error().message().find(c.message), std::string::npos)
        << c.url << ": " << st.error().message();
  }
}

TEST(WebhookUrlTest, RefusesLiteralNonPublicAddressesInEverySpelling) {
  const char* refused[] = {
      "http://127.0.0.1/",
      "http://127.1/",
      "http://2130706433/",
      "http://0x7f.0.0.1/",
      "http://0177.0.0.1/",
      "http://127.0.0.1./",
      "http://10.0.0.5/",
      "http://172.16.3.4/",
      "http://172.31.255.255/",
      "http://192.168.1.1/",
      "http://169.254.169.254/",
      "http://100.64.0.1/",
      "http://100.127.255.254/",
      "http://0.0.0.0/",
      "http://0.1.2.3/",
      "http://224.0.0.1/",
      "http://255.255.255.255/",
      "http://240.0.0.1/",
      "http://[::1]/",
      "http://[::]/",
      "http://[fe80::1]/",
      "http://[fc00::1]/",
      "http://[fd12:3456::1]/",
      "http://[ff02::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:10.0.0.1]:8080/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://[fec0::1]/",
  };
  for (const char* url : refused) {
    auto st = ValidateWebhookUrl(url, {});
    ASSERT_FALSE(st) << url;
    EXPECT_NE(st.error().message().find("webhook_allowed_networks"), std::string::npos)
        << url << ": " << st.error().message();
  }
  // The edges of the private ranges are public.
  for (const char* url : {"http://172.15.255.255/", "http://172.32.0.0/", "http://100.63.255.255/",
                          "http://100.128.0.0/", "http://11.0.0.1/", "http://[2001:4860::8888]/"}) {
    EXPECT_TRUE(ValidateWebhookUrl(url, {})) << url;
  }
  // The message names the address as the resolver reads it.
  auto st = ValidateWebhookUrl("http://0x7f.1/", {});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("127.0.0.1"), std::string::npos) << st.error().message();
}

TEST(WebhookUrlTest, AllowedNetworksAdmitTheirAddressesOnly) {
  auto allowed = Networks({"127.0.0.1/32", "10.1.0.0/16", "fd00::/8"});
  for (const char* url : {"http://127.0.0.1:8080/", "http://10.1.2.3/", "http://[fd00::5]/",
                          "http://[::ffff:127.0.0.1]/", "http://2130706433/"}) {
    EXPECT_TRUE(ValidateWebhookUrl(url, allowed)) << url;
  }
  for (const char* url :
       {"http://127.0.0.2/", "http://10.2.0.1/", "http://[::1]/", "http://169.254.169.254/"}) {
    EXPECT_FALSE(ValidateWebhookUrl(url, allowed)) << url;
  }
}

TEST(WebhookUrlTest, RefusedAddressClassification) {
  EXPECT_TRUE(IsRefusedWebhookAddress("127.0.0.1"));
  EXPECT_TRUE(IsRefusedWebhookAddress("::ffff:192.168.0.1"));
  EXPECT_TRUE(IsRefusedWebhookAddress("not an address"));
  EXPECT_FALSE(IsRefusedWebhookAddress("8.8.8.8"));
  EXPECT_FALSE(IsRefusedWebhookAddress("2606:4700::1111"));
}

TEST(WebhookEventsTest, NormalizesAndRefusesWhatCannotBeSubscribed) {
  auto ok = NormalizeWebhookEvents({"token.revoked", "member.removed", "token.revoked"});
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(*ok, (std::vector<std::string>{"member.removed", "token.revoked"}));

  auto empty = NormalizeWebhookEvents({});
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message().find("at least one"), std::string::npos);
  auto unknown = NormalizeWebhookEvents({"token.created", "Token.Revoked"});
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(unknown.error().IsInvalidArgument());
  // The message lists every valid name, and not ping.
  for (const auto& e : SubscribableWebhookEvents()) {
    EXPECT_NE(unknown.error().message().find(std::string(e.name)), std::string::npos) << e.name;
  }
  EXPECT_EQ(unknown.error().message().find("ping"), std::string::npos);
  auto ping = NormalizeWebhookEvents({"ping"});
  ASSERT_FALSE(ping);
  EXPECT_NE(ping.error().message().find("cannot be subscribed"), std::string::npos);

  std::set<std::string> subscribable;
  for (const auto& e : SubscribableWebhookEvents()) subscribable.insert(std::string(e.name));
  EXPECT_EQ(subscribable.count("ping"), 0u);
  EXPECT_EQ(subscribable.size() + 1, store::AllWebhookEvents().size());
}

class WebhookServiceTest : public ApiTokenTest {
 protected:
  void SetUp() override {
    ApiTokenTest::SetUp();
    if (HasFatalFailure()) return;
    hooks_ = std::make_unique<WebhookService>(*db_, *authz_, *orgs_, box_, clock_, random_,
                                              std::vector<Cidr>{});
  }
  void TearDown() override {
    hooks_.reset();
    ApiTokenTest::TearDown();
  }
  Result<CreatedWebhook> Create(const Principal& p, const std::string& url,
                                std::vector<std::string> events = {"token.created"}) {
    clock_.Advance(kMillisPerSecond);
    return hooks_->Create(p, "acme", {url, std::move(events), ""});
  }
  std::vector<store::WebhookDelivery> Log(const std::string& id) {
    auto page = hooks_->Deliveries(owner_, "acme", id, {.limit = 100});
    EXPECT_TRUE(page) << page.error().ToString();
    return page ? page->items : std::vector<store::WebhookDelivery>{};
  }
  std::multiset<std::string> AuditActions() {
    auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 100}));
    std::multiset<std::string> out;
    if (events) {
      for (const auto& e : *events) out.insert(e.action);
    }
    return out;
  }

  crypto::SecretBox box_{{"test-pepper-test-pepper-test-pepper"}};
  std::unique_ptr<WebhookService> hooks_;
};

TEST_F(WebhookServiceTest, CreateDrawsASecretShownOnceAndStoresItSealed) {
  auto a = Create(owner_, "https://hooks.example.com/a", {"token.revoked", "token.created"});
  ASSERT_TRUE(a) << a.error().ToString();
  auto b = Create(owner_, "https://hooks.example.com/b");
  ASSERT_TRUE(b) << b.error().ToString();
  for (const auto* c : {&*a, &*b}) {
    EXPECT_EQ(c->secret.rfind("clwhsec_", 0), 0u);
    EXPECT_EQ(c->secret.size(), 8u + 43u);  // 32 bytes, base64url without padding
    auto raw = crypto::Base64UrlDecode(c->secret.substr(8));
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->size(), 32u);
  }
  EXPECT_NE(a->secret, b->secret);
  EXPECT_EQ(a->webhook.events, (std::vector<std::string>{"token.created", "token.revoked"}));
  EXPECT_EQ(a->webhook.created_by_kind, "user");
  EXPECT_EQ(a->webhook.created_by_id, owner_.id);

  auto stored = hooks_->Get(owner_, "acme", a->webhook.id);
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_EQ(stored->url, "https://hooks.example.com/a");
  EXPECT_EQ(stored->sealed_secret.find(a->secret), std::string::npos);
  EXPECT_EQ(stored->sealed_secret.find(a->secret.substr(8)), std::string::npos);
  auto opened = box_.Open(stored->sealed_secret);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(*opened, a->secret);
  EXPECT_EQ(AuditActions().count("webhook.created"), 2u);
}

TEST_F(WebhookServiceTest, RefusesTokensMembersAndBadInput) {
  auto token = MustCreate(
      owner_, {.name = "ci",
               .permissions = std::vector<std::string>{"organization:read", "api_token:read"}});
  auto by_token = Create(Auth(token.token), "https://hooks.example.com/t");
  ASSERT_FALSE(by_token);
  EXPECT_TRUE(by_token.error().IsPermissionDenied());
  EXPECT_TRUE(hooks_->List(Auth(token.token), "acme", {}).error().IsPermissionDenied());
  for (const auto& [sub, role] :
       {std::pair{"mem", store::OrgRole::kMember}, std::pair{"view", store::OrgRole::kViewer}}) {
    const std::string email = std::string(sub) + "@example.com";
    ASSERT_TRUE(orgs_->Invite(owner_, "acme", email, role));
    Principal who = Auth(LoginAs(sub, email));
    EXPECT_TRUE(Create(who, "https://hooks.example.com/m").error().IsPermissionDenied()) << sub;
    EXPECT_TRUE(hooks_->List(who, "acme", {}).error().IsPermissionDenied()) << sub;
  }
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "adm@example.com", store::OrgRole::kAdmin));
  EXPECT_TRUE(Create(Auth(LoginAs("adm", "adm@example.com")), "https://hooks.example.com/adm"));

  EXPECT_TRUE(Create(owner_, "http://10.0.0.1/").error().IsInvalidArgument());
  EXPECT_TRUE(Create(owner_, "https://h.example.com/", {}).error().IsInvalidArgument());
  EXPECT_TRUE(hooks_
                  ->Create(owner_, "acme",
                           {"https://h.example.com/", {"token.created"}, std::string(1025, 'd')})
                  .error()
                  .IsInvalidArgument());
  EXPECT_TRUE(
      hooks_->Create(owner_, "acme", {"https://h.example.com/", {"token.created"}, "bell\x07"})
          .error()
          .IsInvalidArgument());
  EXPECT_TRUE(Create(owner_, "https://hooks.example.com/x", {}).error().IsInvalidArgument());
  EXPECT_TRUE(hooks_->Create(owner_, "nope", {"https://h.example.com/", {"token.created"}, ""})
                  .error()
                  .IsNotFound());
  // Only the admin's webhook exists; every refusal wrote nothing.
  auto list = Items(hooks_->List(owner_, "acme", {}));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);
  EXPECT_EQ(AuditActions().count("webhook.created"), 1u);
}

TEST_F(WebhookServiceTest, DuplicatesConflictAndDeletionIsAudited) {
  auto a = Create(owner_, "https://hooks.example.com/a");
  ASSERT_TRUE(a);
  auto again = Create(owner_, "https://hooks.example.com/a", {"member.removed"});
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().IsAlreadyExists());
  EXPECT_TRUE(hooks_->Delete(owner_, "acme", a->webhook.id));
  EXPECT_TRUE(hooks_->Delete(owner_, "acme", a->webhook.id).error().IsNotFound());
  EXPECT_TRUE(hooks_->Get(owner_, "acme", a->webhook.id).error().IsNotFound());
  EXPECT_TRUE(hooks_->Get(owner_, "acme", "not-a-uuid").error().IsNotFound());
  EXPECT_EQ(AuditActions().count("webhook.deleted"), 1u);
  EXPECT_TRUE(Create(owner_, "https://hooks.example.com/a"));  // free again
}

TEST(WebhookUrlForDisplay, KeepsTheOriginOnly) {
  EXPECT_EQ(WebhookUrlForDisplay("https://hooks.slack.com/services/T0/B0/s3cr3t"),
            "https://hooks.slack.com/…");
  EXPECT_EQ(WebhookUrlForDisplay("https://h.example.com:8443?token=s3cr3t"),
            "https://h.example.com:8443/…");
  EXPECT_EQ(WebhookUrlForDisplay("https://h.example.com/"), "https://h.example.com");
  EXPECT_EQ(WebhookUrlForDisplay("https://h.example.com"), "https://h.example.com");
  EXPECT_EQ(WebhookUrlForDisplay("no scheme"), "(a webhook URL)");
}

TEST_F(WebhookServiceTest, AuditEventsNeverShowTheUrlsPathOrQuery) {
  const std::string url = "https://hooks.example.com/services/T0/B0/s3cr3t?key=k3y";
  auto a = Create(owner_, url);
  ASSERT_TRUE(a) << a.error().ToString();
  ASSERT_TRUE(hooks_->Delete(owner_, "acme", a->webhook.id));
  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 100}));
  ASSERT_TRUE(events);
  int seen = 0;
  for (const auto& e : *events) {
    if (e.action.rfind("webhook.", 0) != 0) continue;
    ++seen;
    EXPECT_EQ(e.message.find("s3cr3t"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("k3y"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("https://hooks.example.com/…"), std::string::npos) << e.message;
  }
  EXPECT_EQ(seen, 2);
}

TEST_F(WebhookServiceTest, AnOrganizationHasAtMostTwentyFiveWebhooks) {
  for (int i = 0; i < kMaxWebhooksPerOrganization; ++i) {
    ASSERT_TRUE(Create(owner_, "https://hooks.example.com/" + std::to_string(i))) << i;
  }
  auto over = Create(owner_, "https://hooks.example.com/over");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code(), Error::Code::kFailedPrecondition) << over.error().ToString();
  auto list = Items(hooks_->List(owner_, "acme", {.limit = 100}));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), static_cast<size_t>(kMaxWebhooksPerOrganization));
}

TEST_F(WebhookServiceTest, PingGoesToOneWebhookAndAuditedActionsToSubscribers) {
  auto created = Create(owner_, "https://hooks.example.com/created", {"token.created"});
  auto removed = Create(owner_, "https://hooks.example.com/removed", {"member.removed"});
  ASSERT_TRUE(created && removed);

  // Ping: to the one webhook, whatever it subscribes to.
  auto ping = hooks_->Ping(owner_, "acme", removed->webhook.id);
  ASSERT_TRUE(ping) << ping.error().ToString();
  auto log = Log(removed->webhook.id);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].event, "ping");
  EXPECT_EQ(log[0].event_id, *ping);
  EXPECT_EQ(log[0].status, "pending");
  EXPECT_TRUE(Log(created->webhook.id).empty());
  EXPECT_TRUE(
      hooks_->Ping(owner_, "acme", "00000000-0000-4000-8000-000000000000").error().IsNotFound());

  // An API token created: its audit event reaches the subscriber only, under its own id.
  auto token = MustCreate(owner_, {.name = "hooked"});
  auto events = Items(orgs_->ListAuditEvents(
      owner_, "acme", {.action = "api_token.created", .target_id = token.record.id},
      {.limit = 10}));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  log = Log(created->webhook.id);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].event, "token.created");
  EXPECT_EQ(log[0].event_id, (*events)[0].id);
  EXPECT_EQ(Log(removed->webhook.id).size(), 1u);  // still only the ping
  // Managing webhooks is not itself an event.
  EXPECT_TRUE(hooks_->Delete(owner_, "acme", removed->webhook.id));
  EXPECT_EQ(Log(created->webhook.id).size(), 1u);
}

}  // namespace
}  // namespace cl::domain
