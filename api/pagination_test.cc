// Cursor pagination of the list endpoints (api/pagination.h): strict cursor decoding, and one
// table of every list route, each checked for `limit`, `cursor` and `next_cursor`. Any GET route
// that answers a JSON array and is missing from the table fails the test, so a new list route
// cannot ship without pagination.
#include "api/pagination.h"

#include <boost/json/array.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/api_testing.h"
#include "crypto/hash.h"

namespace cl::api {
namespace {

using testing::Answer;

const std::string kUuid = "0b6d2a5e-5a3c-4b8e-9a57-6f8f7c1d2e3f";

TEST(Cursor, RoundTripsEachKeyKind) {
  store::NameKey name{"acme", kUuid};
  auto n =
      DecodeCursor<store::NameKey>(ListKind::kProjects, EncodeCursor(ListKind::kProjects, name));
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(n->name, "acme");
  EXPECT_EQ(n->id, kUuid);
  store::TimeKey time{-1'700'000'000'123, kUuid};
  auto t = DecodeCursor<store::TimeKey>(ListKind::kAuditEvents,
                                        EncodeCursor(ListKind::kAuditEvents, time));
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->created_at, -1'700'000'000'123);
  store::WorkflowKey wf{"web", "build \"quoted\" \xc3\xa9", kUuid};
  auto w = DecodeCursor<store::WorkflowKey>(ListKind::kWorkflows,
                                            EncodeCursor(ListKind::kWorkflows, wf));
  ASSERT_TRUE(w) << w.error().ToString();
  EXPECT_EQ(w->workflow_name, wf.workflow_name);
}

TEST(Cursor, RefusesAnythingElseAsInvalidCursor) {
  auto b64 = [](const std::string& json) { return crypto::Base64UrlEncode(json); };
  const std::string time_cursor = EncodeCursor(ListKind::kApiTokens, store::TimeKey{5, kUuid});
  const std::vector<std::string> bad = {
      "",
      "!!!",
      "abc=",
      std::string(kMaxCursorLength + 1, 'A'),
      b64("not json"),
      b64("{}"),
      b64("[]"),
      b64("[1,2,3]"),
      b64(R"(["api_tokens"])"),
      b64(R"(["api_tokens",5])"),
      b64(R"(["api_tokens",5,"id","extra"])"),
      b64(R"(["api_tokens","5","id"])"),                   // created_at as text
      b64(R"(["api_tokens",5.5,"id"])"),                   // not an integer
      b64(R"(["api_tokens",18446744073709551615,"id"])"),  // beyond int64
      b64(R"(["api_tokens",5,null])"),
      b64(R"(["projects","acme","id"])"),  // another list's cursor
      time_cursor + "A",
      time_cursor.substr(0, time_cursor.size() - 3),
  };
  for (const auto& cursor : bad) {
    auto r = DecodeCursor<store::TimeKey>(ListKind::kApiTokens, cursor);
    ASSERT_FALSE(r) << cursor;
    EXPECT_TRUE(r.error().IsInvalidArgument()) << cursor;
    EXPECT_EQ(r.error().reason(), "invalid_cursor") << cursor;
  }
  EXPECT_TRUE(DecodeCursor<store::TimeKey>(ListKind::kApiTokens, time_cursor));
  // The same key values under another list's name are refused too.
  EXPECT_FALSE(DecodeCursor<store::TimeKey>(ListKind::kWorkflowRuns, time_cursor));
  EXPECT_FALSE(DecodeCursor<store::NameKey>(ListKind::kApiTokens, time_cursor));
}

// Every list route: where it is, the array its answer holds, and how the test adds a row.
struct ListRoute {
  std::string path;
  std::string array;
};

class PaginationTest : public testing::AcmeApiTest {
 protected:
  void SetUp() override {
    AcmeApiTest::SetUp();
    if (HasFatalFailure()) return;
    // A webhook whose delivery log is one of the lists.
    Answer hook = Call("POST", "/v1/organizations/acme/webhooks", owner_,
                       R"({"url":"https://hooks.example.com/0","events":["token.created"]})");
    ASSERT_EQ(hook.status, 201) << SerializeJson(hook.body);
    hook_id_ = std::string(hook.body.at("webhook").at("id").as_string());
    kListRoutes.push_back(
        {"/v1/organizations/acme/webhooks/" + hook_id_ + "/deliveries", "deliveries"});
  }

  // Lists of a fixed catalogue, the same for every caller and never long: not paginated.
  const std::set<std::string> kCatalogues = {"/v1/webhook-events"};

  // The table. Add a list route here (and paginate it) or the completeness test fails. SetUp
  // adds the delivery log of its webhook.
  std::vector<ListRoute> kListRoutes = {
      {"/v1/organizations", "organizations"},
      {"/v1/organizations/acme/api-tokens", "api_tokens"},
      {"/v1/organizations/acme/members", "members"},
      {"/v1/organizations/acme/invitations", "invitations"},
      {"/v1/organizations/acme/audit-events", "audit_events"},
      {"/v1/organizations/acme/projects", "projects"},
      {"/v1/organizations/acme/workflows", "workflows"},
      {"/v1/organizations/acme/workflow-runs", "workflow_runs"},
      {"/v1/organizations/acme/federation-policies", "policies"},
      {"/v1/organizations/acme/webhooks", "webhooks"},
  };
  std::string hook_id_;

  // At least three rows in every list the owner sees.
  void Seed() {
    for (const char* org : {"beta", "gamma", "delta"}) CreateOrg(owner_, org);
    const std::string acme_id = OrgId();
    for (int i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i);
      EXPECT_EQ(
          Call("POST", "/v1/organizations/acme/api-tokens", owner_, R"({"name":"tok)" + n + R"("})")
              .status,
          201);
      EXPECT_FALSE(JoinAs(owner_, "acme", "member" + n, "viewer").empty());
      EXPECT_EQ(Call("POST", "/v1/organizations/acme/invitations", owner_,
                     R"({"receiver_email":"pending)" + n + R"(@example.com","role":"viewer"})")
                    .status,
                201);
      EXPECT_EQ(
          Call("POST", "/v1/organizations/acme/projects", owner_, R"({"name":"proj)" + n + R"("})")
              .status,
          201);
      EXPECT_EQ(Call("POST", "/v1/organizations/acme/workflow-runs", owner_,
                     R"({"workflow":"wf)" + n + R"(","project":"proj0"})")
                    .status,
                201);
      store::TrustPolicyRecord policy;
      policy.id = NewUuid(random_);
      policy.org_id = acme_id;
      policy.name = "policy" + n;
      policy.issuer = "https://gitlab.example";
      policy.provider = "gitlab";
      policy.audience = kExternalUrl;
      policy.bound_claims = {{"project_path", "acme/*"}};
      policy.permissions = {"workflow_run:create"};
      policy.created_by_kind = "user";
      policy.created_at = clock_.Now();
      store::AuditEvent event;
      event.id = NewUuid(random_);
      event.org_id = acme_id;
      event.action = "trust_policy.created";
      event.created_at = clock_.Now();
      EXPECT_TRUE(db_->CreateTrustPolicy(policy, event));
      EXPECT_EQ(
          Call("POST", "/v1/organizations/acme/webhooks", owner_,
               R"({"url":"https://hooks.example.com/)" + n + R"(/","events":["member.removed"]})")
              .status,
          201);
      EXPECT_EQ(Call("POST", "/v1/organizations/acme/webhooks/" + hook_id_ + "/ping", owner_, "{}")
                    .status,
                202);
    }
  }

  std::string OrgId() {
    auto org = db_->GetOrganizationByName("acme");
    return org ? org->id : "";
  }

  static std::string With(const std::string& path, const std::string& query) {
    return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
  }

  // Follows next_cursor from the first page with `limit`; the ids (or names) seen, in order.
  std::vector<std::string> Follow(const ListRoute& route, int limit) {
    std::vector<std::string> seen;
    std::string cursor;
    for (int guard = 0; guard < 1000; ++guard) {
      std::string target = With(route.path, "limit=" + std::to_string(limit));
      if (!cursor.empty()) target += "&cursor=" + cursor;
      Answer a = Call("GET", target, owner_);
      EXPECT_EQ(a.status, 200) << target << " " << SerializeJson(a.body);
      if (a.status != 200) break;
      const auto& items = a.body.at(route.array).as_array();
      EXPECT_LE(items.size(), static_cast<size_t>(limit)) << route.path;
      for (const auto& item : items) seen.push_back(SerializeJson(item));
      const auto& next = a.body.at("next_cursor");
      if (next.is_null()) break;
      cursor = std::string(next.as_string());
    }
    return seen;
  }
};

TEST_F(PaginationTest, EveryListRouteIsInTheTable) {
  Seed();
  std::set<std::string> listed;
  for (const auto& route : kListRoutes) listed.insert(route.path);
  int lists = 0;
  for (const auto& route : router_.routes()) {
    if (route.method != "GET" || route.pattern.back() == '}') continue;
    std::string path = route.pattern;
    for (auto at = path.find("{org}"); at != std::string::npos; at = path.find("{org}")) {
      path.replace(at, 5, "acme");
    }
    if (auto at = path.find("/webhooks/{id}/"); at != std::string::npos) {
      path.replace(at + 10, 4, hook_id_);
    }
    if (kCatalogues.count(path)) continue;
    Answer a = Call("GET", path, owner_);
    if (a.status != 200 || !a.body.is_object()) continue;
    bool answers_a_list = false;
    for (const auto& [key, value] : a.body.as_object()) {
      if (!value.is_array()) continue;
      answers_a_list = true;
      EXPECT_TRUE(listed.count(path))
          << path << " answers the array '" << key << "' but is not in the pagination table";
      EXPECT_TRUE(a.body.as_object().contains("next_cursor")) << path;
    }
    if (answers_a_list) ++lists;
  }
  EXPECT_EQ(lists, static_cast<int>(kListRoutes.size()));
}

TEST_F(PaginationTest, EveryListRouteChecksLimitAndCursor) {
  const std::string other_kind = EncodeCursor(ListKind::kInvitations, store::TimeKey{1, kUuid});
  const std::string other_name = EncodeCursor(ListKind::kOrganizations, store::NameKey{"a", kUuid});
  for (const auto& route : kListRoutes) {
    for (const char* bad : {"0", "1001", "abc", "-1", "1.5", "", "+5", "99999999999"}) {
      Answer a = Call("GET", With(route.path, std::string("limit=") + bad), owner_);
      EXPECT_EQ(a.status, 400) << route.path << " limit=" << bad;
      EXPECT_EQ(a.code, "invalid_argument") << route.path << " limit=" << bad;
    }
    for (const std::string& bad :
         {std::string("garbage!"), std::string(2000, 'A'), crypto::Base64UrlEncode("[]"),
          route.path.find("invitations") == std::string::npos ? other_kind : other_name}) {
      Answer a = Call("GET", With(route.path, "cursor=" + bad), owner_);
      EXPECT_EQ(a.status, 400) << route.path << " cursor=" << bad;
      EXPECT_EQ(a.code, "invalid_cursor") << route.path << " cursor=" << bad;
    }
    Answer first = Call("GET", With(route.path, "limit=1000"), owner_);
    ASSERT_EQ(first.status, 200) << route.path << " " << SerializeJson(first.body);
    EXPECT_TRUE(first.body.at("next_cursor").is_null()) << route.path;
  }
}

TEST_F(PaginationTest, FollowingNextCursorSeesEveryRowOnce) {
  Seed();
  for (const auto& route : kListRoutes) {
    Answer all = Call("GET", With(route.path, "limit=1000"), owner_);
    ASSERT_EQ(all.status, 200) << route.path;
    std::vector<std::string> expected;
    for (const auto& item : all.body.at(route.array).as_array()) {
      expected.push_back(SerializeJson(item));
    }
    EXPECT_GE(expected.size(), 3u) << route.path;
    for (int limit : {1, 2}) {
      EXPECT_EQ(Follow(route, limit), expected) << route.path << " limit=" << limit;
    }
    // A cursor of one list is refused by every other.
    Answer page = Call("GET", With(route.path, "limit=1"), owner_);
    ASSERT_TRUE(page.body.at("next_cursor").is_string()) << route.path;
    const std::string cursor(page.body.at("next_cursor").as_string());
    for (const auto& other : kListRoutes) {
      if (other.path == route.path) continue;
      Answer a = Call("GET", With(other.path, "cursor=" + cursor), owner_);
      EXPECT_EQ(a.code, "invalid_cursor") << route.path << " cursor on " << other.path;
    }
  }
}

TEST_F(PaginationTest, AuditEventFilters) {
  const std::string kEvents = "/v1/organizations/acme/audit-events";
  Answer created = Call("POST", "/v1/organizations/acme/api-tokens", owner_, R"({"name":"ci"})");
  ASSERT_EQ(created.status, 201);
  const std::string token_id(created.body.at("api_token").at("id").as_string());
  clock_.Advance(60'000);
  ASSERT_EQ(Call("POST", "/v1/organizations/acme/api-tokens/" + token_id + "/revoke", owner_, "{}")
                .status,
            200);
  auto actions = [&](const std::string& query) {
    Answer a = Call("GET", kEvents + "?" + query, owner_);
    EXPECT_EQ(a.status, 200) << query << " " << SerializeJson(a.body);
    std::vector<std::string> out;
    if (a.status != 200) return out;
    for (const auto& e : a.body.at("audit_events").as_array()) {
      out.emplace_back(e.at("action").as_string());
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(actions("action=api_token.revoked"), V{"api_token.revoked"});
  EXPECT_EQ(actions("target_id=" + token_id), (V{"api_token.revoked", "api_token.created"}));
  EXPECT_EQ(actions("actor=owner@example.com&target_id=" + token_id + "&action=api_token.created"),
            V{"api_token.created"});
  EXPECT_EQ(actions("actor=nobody@example.com"), V{});
  const std::string revoked_at = FormatRfc3339(clock_.Now());
  EXPECT_EQ(actions("since=" + revoked_at), V{"api_token.revoked"});
  EXPECT_EQ(actions("until=" + revoked_at + "&target_id=" + token_id), V{"api_token.created"});
  // An offset names the same instant.
  const std::string created_at = FormatRfc3339(clock_.Now() - 60'000);
  EXPECT_EQ(actions("since=" + created_at.substr(0, 19) + "%2B00:00&target_id=" + token_id).size(),
            2u);
  for (const std::string& bad :
       {std::string("action=api_token.exploded"), std::string("since=yesterday"),
        std::string("until=2026-13-01T00:00:00Z"), std::string("since=2026-12-07T10:00:00"),
        "since=" + revoked_at + "&until=" + revoked_at,
        "since=" + revoked_at + "&until=" + created_at}) {
    Answer a = Call("GET", kEvents + "?" + bad, owner_);
    EXPECT_EQ(a.status, 400) << bad;
    EXPECT_EQ(a.code, "invalid_argument") << bad;
  }
}

}  // namespace
}  // namespace cl::api
