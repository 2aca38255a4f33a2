// Handler tests of the webhook routes (api/webhook_routes.cc) through the router: the request
// bodies they accept and refuse, the JSON shapes (the secret only in the creation's answer),
// status codes, pagination of both lists, ping into the delivery log, the event catalogue, the
// allowed networks, and 503 when the service is not wired.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "api/api_testing.h"

namespace cl::api {
namespace {

using testing::Answer;

constexpr char kWebhooks[] = "/v1/organizations/acme/webhooks";

class WebhookRoutesTest : public testing::AcmeApiTest {
 protected:
  Answer Create(const std::string& url, const std::string& events = R"(["token.created"])") {
    return Call("POST", kWebhooks, owner_, R"({"url":")" + url + R"(","events":)" + events + "}");
  }
  std::string CreatedId(const std::string& url) {
    Answer a = Create(url);
    EXPECT_EQ(a.status, 201) << SerializeJson(a.body);
    return a.status == 201 ? std::string(a.body.at("webhook").at("id").as_string()) : "";
  }
};

TEST_F(WebhookRoutesTest, CreateAnswersTheWebhookAndTheSecretOnce) {
  Answer a = Call("POST", kWebhooks, owner_,
                  R"({"url":"https://hooks.example.com/in","description":"sec team",)"
                  R"("events":["token.revoked","token.created","token.revoked"]})");
  ASSERT_EQ(a.status, 201) << SerializeJson(a.body);
  EXPECT_EQ(a.Header("Cache-Control"), "no-store");
  const auto& body = a.body.as_object();
  EXPECT_EQ(body.size(), 2u);
  const std::string secret(body.at("secret").as_string());
  EXPECT_EQ(secret.rfind("clwhsec_", 0), 0u);
  EXPECT_EQ(secret.size(), 8u + 43u);
  const auto& w = body.at("webhook").as_object();
  std::set<std::string> keys;
  for (const auto& kv : w) keys.insert(std::string(kv.key()));
  EXPECT_EQ(keys, (std::set<std::string>{"id", "url", "description", "events", "created_at",
                                         "created_by"}));
  EXPECT_EQ(SerializeJson(w.at("events")), R"(["token.created","token.revoked"])");
  EXPECT_EQ(w.at("created_by").at("kind").as_string(), "user");
  const std::string id(w.at("id").as_string());

  // Never again: not in a describe, not in a list, not even sealed.
  for (const std::string& path : {std::string(kWebhooks) + "/" + id, std::string(kWebhooks)}) {
    Answer again = Call("GET", path, owner_);
    ASSERT_EQ(again.status, 200) << path;
    const std::string text = SerializeJson(again.body);
    EXPECT_EQ(text.find(secret), std::string::npos) << path;
    EXPECT_EQ(text.find("v1."), std::string::npos) << path;
    EXPECT_EQ(text.find("secret"), std::string::npos) << path;
  }
  Answer got = Call("GET", std::string(kWebhooks) + "/" + id, owner_);
  EXPECT_EQ(SerializeJson(got.body.at("webhook")), SerializeJson(w));
}

TEST_F(WebhookRoutesTest, CreateRefusesBadBodies) {
  struct Case {
    std::string body;
    const char* code;
  } cases[] = {
      {R"({"events":["token.created"]})", "missing_field"},
      {R"({"url":"https://h.example.com","events":"token.created"})", "invalid_field_type"},
      {R"({"url":"https://h.example.com","events":["token.created"],"secret":"x"})",
       "unknown_field"},
      {R"({"url":"https://h.example.com","events":[]})", "invalid_argument"},
      {R"({"url":"https://h.example.com"})", "invalid_argument"},
      {R"({"url":"https://h.example.com","events":["nope"]})", "invalid_argument"},
      {R"({"url":"https://h.example.com","events":["ping"]})", "invalid_argument"},
      {R"({"url":"gopher://h.example.com","events":["token.created"]})", "invalid_argument"},
      {R"({"url":"http://10.0.0.5/x","events":["token.created"]})", "invalid_argument"},
      {R"({"url":"https://h.example.com","events":["token.created"],"description":"a\u001bb"})",
       "invalid_argument"},
      {"[]", "malformed_json"},
  };
  for (const auto& c : cases) {
    Answer a = Call("POST", kWebhooks, owner_, c.body);
    EXPECT_EQ(a.status, 400) << c.body << " " << SerializeJson(a.body);
    EXPECT_EQ(a.code, c.code) << c.body;
  }
  Answer list = Call("GET", kWebhooks, owner_);
  EXPECT_EQ(list.body.at("webhooks").as_array().size(), 0u);
}

TEST_F(WebhookRoutesTest, TheSameUrlTwiceIsAConflictAndUnknownIdsAreNotFound) {
  ASSERT_EQ(Create("https://hooks.example.com/a").status, 201);
  Answer again = Create("https://hooks.example.com/a", R"(["member.removed"])");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.code, "already_exists");
  // Another organization may register the same URL.
  ASSERT_FALSE(CreateOrg(owner_, "beta").empty());
  EXPECT_EQ(Call("POST", "/v1/organizations/beta/webhooks", owner_,
                 R"({"url":"https://hooks.example.com/a","events":["token.created"]})")
                .status,
            201);
  for (const std::string& id :
       {std::string("00000000-0000-4000-8000-000000000000"), std::string("not-a-uuid")}) {
    for (const char* method : {"GET", "DELETE"}) {
      Answer a = Call(method, std::string(kWebhooks) + "/" + id, owner_);
      EXPECT_EQ(a.status, 404) << method << " " << id;
      EXPECT_EQ(a.code, "not_found");
    }
    EXPECT_EQ(Call("GET", std::string(kWebhooks) + "/" + id + "/deliveries", owner_).status, 404);
    EXPECT_EQ(Call("POST", std::string(kWebhooks) + "/" + id + "/ping", owner_, "{}").status, 404);
  }
  // A webhook of another organization is not found through this one.
  Answer beta = Call("GET", "/v1/organizations/beta/webhooks", owner_);
  const std::string beta_id(beta.body.at("webhooks").at(0).at("id").as_string());
  EXPECT_EQ(Call("GET", std::string(kWebhooks) + "/" + beta_id, owner_).status, 404);
  EXPECT_EQ(Call("DELETE", std::string(kWebhooks) + "/" + beta_id, owner_).status, 404);
}

TEST_F(WebhookRoutesTest, DeleteAnswers204AndTheWebhookIsGone) {
  const std::string id = CreatedId("https://hooks.example.com/gone");
  Answer del = Call("DELETE", std::string(kWebhooks) + "/" + id, owner_);
  EXPECT_EQ(del.status, 204);
  EXPECT_EQ(Call("GET", std::string(kWebhooks) + "/" + id, owner_).status, 404);
  EXPECT_EQ(Call("DELETE", std::string(kWebhooks) + "/" + id, owner_).status, 404);
  // The URL may be registered again.
  EXPECT_EQ(Create("https://hooks.example.com/gone").status, 201);
}

TEST_F(WebhookRoutesTest, PingQueuesADeliveryShownInTheLog) {
  const std::string id = CreatedId("https://hooks.example.com/ping");
  const std::string log = std::string(kWebhooks) + "/" + id + "/deliveries";
  Answer empty = Call("GET", log, owner_);
  ASSERT_EQ(empty.status, 200);
  EXPECT_EQ(SerializeJson(empty.body), R"({"deliveries":[],"next_cursor":null})");

  Answer bad = Call("POST", std::string(kWebhooks) + "/" + id + "/ping", owner_, R"({"x":1})");
  EXPECT_EQ(bad.code, "unknown_field");
  std::vector<std::string> events;
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(1000);
    Answer ping =
        Call("POST", std::string(kWebhooks) + "/" + id + "/ping", owner_, i == 0 ? "" : "{}");
    ASSERT_EQ(ping.status, 202) << SerializeJson(ping.body);
    events.emplace_back(ping.body.at("event_id").as_string());
  }
  Answer full = Call("GET", log, owner_);
  ASSERT_EQ(full.status, 200);
  const auto& deliveries = full.body.at("deliveries").as_array();
  ASSERT_EQ(deliveries.size(), 3u);
  const auto& newest = deliveries[0].as_object();
  std::set<std::string> keys;
  for (const auto& kv : newest) keys.insert(std::string(kv.key()));
  EXPECT_EQ(keys, (std::set<std::string>{"id", "event_id", "event", "status", "attempts",
                                         "created_at", "last_attempt_at", "next_attempt_at",
                                         "response_status", "error", "delivered_at"}));
  EXPECT_EQ(newest.at("event_id").as_string(), events[2]);
  EXPECT_EQ(newest.at("event").as_string(), "ping");
  EXPECT_EQ(newest.at("status").as_string(), "pending");
  EXPECT_EQ(newest.at("attempts").as_int64(), 0);
  EXPECT_TRUE(newest.at("next_attempt_at").is_string());
  EXPECT_TRUE(newest.at("last_attempt_at").is_null());
  EXPECT_TRUE(newest.at("response_status").is_null());
  EXPECT_TRUE(newest.at("error").is_null());

  // Pages of one, newest first, each delivery once.
  std::vector<std::string> seen;
  std::string cursor;
  for (int guard = 0; guard < 10; ++guard) {
    Answer page =
        Call("GET", log + "?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor), owner_);
    ASSERT_EQ(page.status, 200) << SerializeJson(page.body);
    for (const auto& d : page.body.at("deliveries").as_array()) {
      seen.emplace_back(d.at("event_id").as_string());
    }
    if (page.body.at("next_cursor").is_null()) break;
    cursor = std::string(page.body.at("next_cursor").as_string());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{events[2], events[1], events[0]}));
  // A cursor of the webhooks list is refused by the deliveries list.
  ASSERT_EQ(Create("https://hooks.example.com/second").status, 201);
  Answer list = Call("GET", std::string(kWebhooks) + "?limit=1", owner_);
  ASSERT_TRUE(list.body.at("next_cursor").is_string());
  Answer mixed =
      Call("GET", log + "?cursor=" + std::string(list.body.at("next_cursor").as_string()), owner_);
  EXPECT_EQ(mixed.code, "invalid_cursor");
}

TEST_F(WebhookRoutesTest, TheCatalogueListsSubscribableEventsToAnyCaller) {
  Answer a = Call("GET", "/v1/webhook-events", owner_);
  ASSERT_EQ(a.status, 200);
  std::vector<std::string> names;
  for (const auto& e : a.body.at("events").as_array()) {
    names.emplace_back(e.at("name").as_string());
    EXPECT_FALSE(e.at("description").as_string().empty());
    EXPECT_EQ(e.as_object().size(), 2u);
  }
  std::vector<std::string> expected;
  for (const auto& e : domain::SubscribableWebhookEvents()) expected.emplace_back(e.name);
  EXPECT_EQ(names, expected);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ping"), 0);
  EXPECT_EQ(Call("GET", "/v1/webhook-events", "").status, 401);
  Answer token = Call("POST", "/v1/organizations/acme/api-tokens", owner_,
                      R"({"name":"reader","permissions":["organization:read"]})");
  ASSERT_EQ(token.status, 201);
  EXPECT_EQ(
      Call("GET", "/v1/webhook-events", std::string(token.body.at("token").as_string())).status,
      200);
}

TEST_F(WebhookRoutesTest, RolesBelowAdminAreRefused) {
  const std::string id = CreatedId("https://hooks.example.com/roles");
  for (const char* role : {"member", "viewer"}) {
    std::string who = JoinAs(owner_, "acme", std::string("w-") + role, role);
    ASSERT_FALSE(who.empty());
    Answer list = Call("GET", kWebhooks, who);
    EXPECT_EQ(list.status, 403) << role;
    EXPECT_EQ(list.code, "permission_denied") << role;
    EXPECT_EQ(Call("POST", kWebhooks, who,
                   R"({"url":"https://hooks.example.com/x","events":["token.created"]})")
                  .status,
              403)
        << role;
    EXPECT_EQ(Call("DELETE", std::string(kWebhooks) + "/" + id, who).status, 403) << role;
    EXPECT_EQ(Call("POST", std::string(kWebhooks) + "/" + id + "/ping", who, "{}").status, 403)
        << role;
  }
  EXPECT_EQ(Call("GET", std::string(kWebhooks) + "/" + id, owner_).status, 200);
  std::string admin = JoinAs(owner_, "acme", "w-admin", "admin");
  EXPECT_EQ(Call("GET", kWebhooks, admin).status, 200);
  EXPECT_EQ(Call("POST", kWebhooks, admin,
                 R"({"url":"https://hooks.example.com/admin","events":["member.removed"]})")
                .status,
            201);
  // A stranger does not learn that the organization exists.
  std::string stranger = LoginAs("stranger", "stranger@example.com");
  EXPECT_EQ(Call("GET", kWebhooks, stranger).status, 404);
}

class WebhookAllowedNetworksTest : public WebhookRoutesTest {
 protected:
  std::vector<Cidr> WebhookAllowedNetworks() override { return {*Cidr::Parse("127.0.0.1/32")}; }
};

TEST_F(WebhookAllowedNetworksTest, AnAllowedNetworkMayBeRegistered) {
  EXPECT_EQ(Create("http://127.0.0.1:8080/hook").status, 201);
  EXPECT_EQ(Create("http://127.0.0.2:8080/hook").code, "invalid_argument");
  EXPECT_EQ(Create("http://[::1]:8080/hook").code, "invalid_argument");
}

class WebhooksNotWiredTest : public testing::AcmeApiTest {
 protected:
  void Configure(ApiDeps& deps) override { deps.webhooks = nullptr; }
};

TEST_F(WebhooksNotWiredTest, RoutesAnswer503) {
  Answer a = Call("GET", kWebhooks, owner_);
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.code, "unavailable");
}

}  // namespace
}  // namespace cl::api
