// Tests of `chainloop organization webhook` (alias `webhooks`) run as whole command lines against
// a fake control plane: the requests each command sends, the secret shown once, tables and
// -o json, local checks, and the help listing the event catalogue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/cli_test_support.h"
#include "cli/commands.h"
#include "common/json.h"

namespace cl::cli {
namespace {

using testing::CliRunTest;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::NewToken;
using ::testing::Not;

constexpr char kId[] = "0b3f6c2e-5a1d-4e8f-9c7b-2d4a6e8f1a3c";
constexpr char kSecret[] = "clwhsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

std::string WebhookJson() {
  return std::string(R"({"id":")") + kId +
         R"(","url":"https://hooks.example.com/in","description":"security team",)"
         R"("events":["token.created","token.revoked"],"created_at":"2026-03-01T00:00:00Z",)"
         R"("created_by":{"kind":"user","id":"u1","name":"alice@example.com"}})";
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  return R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
}

class WebhookCommandsTest : public CliRunTest {
 protected:
  void SetUp() override {
    Serve([this](const FakeRequest& r) { return Answer(r); });
    StoreSession(NewToken(crypto::CredentialKind::kSession));
  }

  FakeResponse Answer(const FakeRequest& r) {
    const std::string base = "/v1/organizations/acme/webhooks";
    if (r.method == "POST" && r.path == base) {
      return {201, R"({"webhook":)" + WebhookJson() + R"(,"secret":")" + kSecret + "\"}"};
    }
    if (r.method == "GET" && r.path == base) {
      return {200, R"({"webhooks":[)" + WebhookJson() + R"(],"next_cursor":null})"};
    }
    if (r.path == base + "/" + kId) {
      if (r.method == "GET") return {200, R"({"webhook":)" + WebhookJson() + "}"};
      if (r.method == "DELETE") return {204, ""};
    }
    if (r.method == "GET" && r.path == base + "/" + kId + "/deliveries") {
      return {
          200,
          R"({"deliveries":[{"id":"d1","event_id":"e1","event":"token.revoked",)"
          R"("status":"pending","attempts":2,"created_at":"2026-03-01T00:00:00Z",)"
          R"("last_attempt_at":"2026-03-01T00:01:00Z","next_attempt_at":"2026-03-01T00:02:00Z",)"
          R"("response_status":503,"error":"HTTP 503","delivered_at":null}],)"
          R"("next_cursor":null})"};
    }
    if (r.method == "POST" && r.path == base + "/" + kId + "/ping") {
      return {202, R"({"event_id":"ev-ping-1"})"};
    }
    return {404, ErrorBody("not_found", "webhook not found")};
  }
};

TEST_F(WebhookCommandsTest, CreateSendsTheRequestAndShowsTheSecretOnce) {
  ASSERT_EQ(Run({"organization", "webhook", "create", "--url", "https://hooks.example.com/in",
                 "--event", "token.created,token.revoked", "--event", "token.leaked",
                 "--description", "security team"}),
            0)
      << err_.str();
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].body, R"({"url":"https://hooks.example.com/in",)"
                                R"("events":["token.created","token.revoked","token.leaked"],)"
                                R"("description":"security team"})");
  const std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr(std::string("ID: ") + kId + "\n"));
  EXPECT_THAT(out, HasSubstr("Events: token.created,token.revoked\n"));
  EXPECT_THAT(out, HasSubstr(std::string("\n") + kSecret + "\n"));  // alone on its line
  EXPECT_THAT(out, HasSubstr("it will not be shown again"));
  EXPECT_THAT(err_.str(), Not(HasSubstr(kSecret)));

  // The alias, without a description; -o json prints the answer (secret included) as is.
  ASSERT_EQ(Run({"org", "webhooks", "create", "--url", "http://hooks.example.com/in", "--event",
                 "token.created", "-o", "json"}),
            0)
      << err_.str();
  EXPECT_EQ(requests().back().body,
            R"({"url":"http://hooks.example.com/in","events":["token.created"]})");
  auto printed = ParseJson(out_.str());
  ASSERT_TRUE(printed) << out_.str();
  EXPECT_EQ(printed->at("secret").as_string(), kSecret);
  EXPECT_EQ(printed->at("webhook").at("id").as_string(), kId);
}

TEST_F(WebhookCommandsTest, CreateChecksLocallyAndReportsServerErrors) {
  for (const char* url : {"ftp://hooks.example.com", "hooks.example.com", "https://"}) {
    EXPECT_EQ(Run({"org", "webhook", "create", "--url", url, "--event", "token.created"}), 1)
        << url;
    EXPECT_THAT(err_.str(), HasSubstr("--url must be")) << url;
  }
  EXPECT_EQ(Run({"org", "webhook", "create", "--url", "https://h.example.com", "--event", ""}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--event must name at least one event"));
  EXPECT_TRUE(requests().empty());
  EXPECT_EQ(Run({"org", "webhook", "create", "--url", "https://h.example.com"}), 2);  // required

  // What the server refuses is shown as it says it.
  Serve([](const FakeRequest&) {
    return FakeResponse{
        409, ErrorBody("already_exists", "the organization already has a webhook to this URL")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run({"org", "webhook", "create", "--url", "https://h.example.com", "--event",
                 "token.created"}),
            1);
  EXPECT_THAT(err_.str(), HasSubstr("already has a webhook to this URL"));

  // An answer without the secret is an error, not a blank line.
  Serve([](const FakeRequest&) {
    return FakeResponse{201, R"({"webhook":)" + WebhookJson() + "}"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run({"org", "webhook", "create", "--url", "https://h.example.com", "--event",
                 "token.created"}),
            1);
  EXPECT_THAT(err_.str(), HasSubstr("no signing secret"));
}

TEST_F(WebhookCommandsTest, ListDescribeDeliveriesAndPing) {
  ASSERT_EQ(Run({"org", "webhook", "list"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("URL"));
  EXPECT_THAT(out_.str(), HasSubstr("https://hooks.example.com/in"));
  EXPECT_THAT(out_.str(), HasSubstr("token.created,token.revoked"));
  EXPECT_EQ(requests().back().target, "/v1/organizations/acme/webhooks?limit=1000");

  ASSERT_EQ(Run({"org", "webhook", "describe", "--id", kId}), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Description: security team\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Created by: alice@example.com (user)\n"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("clwhsec_")));
  ASSERT_EQ(Run({"org", "webhook", "describe", "--id", kId, "-o", "json"}), 0);
  EXPECT_EQ(ParseJson(out_.str())->at("webhook").at("url").as_string(),
            "https://hooks.example.com/in");
  EXPECT_EQ(Run({"org", "webhook", "describe", "--id", "nope"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("webhook not found"));

  ASSERT_EQ(Run({"org", "webhook", "deliveries", "--id", kId, "--limit", "5"}), 0) << err_.str();
  EXPECT_EQ(requests().back().target,
            std::string("/v1/organizations/acme/webhooks/") + kId + "/deliveries?limit=5");
  EXPECT_THAT(out_.str(), HasSubstr("token.revoked"));
  EXPECT_THAT(out_.str(), HasSubstr("pending"));
  EXPECT_THAT(out_.str(), HasSubstr("HTTP 503"));
  ASSERT_EQ(Run({"org", "webhook", "deliveries", "--id", kId, "-o", "json"}), 0);
  EXPECT_EQ(ParseJson(out_.str())->at("deliveries").at(0).at("attempts").as_int64(), 2);

  ASSERT_EQ(Run({"org", "webhook", "ping", "--id", kId}), 0) << err_.str();
  EXPECT_EQ(requests().back().method, "POST");
  EXPECT_EQ(requests().back().body, "{}");
  EXPECT_THAT(out_.str(), HasSubstr("Ping event ev-ping-1 queued"));
  ASSERT_EQ(Run({"org", "webhook", "ping", "--id", kId, "-o", "json"}), 0);
  EXPECT_EQ(ParseJson(out_.str())->at("event_id").as_string(), "ev-ping-1");
}

TEST_F(WebhookCommandsTest, DeleteSendsDeleteAndPrintsTheDeletedShape) {
  ASSERT_EQ(Run({"org", "webhook", "delete", "--id", kId, "-y"}), 0) << err_.str();
  EXPECT_EQ(requests().back().method, "DELETE");
  EXPECT_EQ(requests().back().path, std::string("/v1/organizations/acme/webhooks/") + kId);
  EXPECT_EQ(out_.str(), std::string("Webhook ") + kId + " deleted\n");
  ASSERT_EQ(Run({"org", "webhook", "delete", "--id", kId, "-y", "-o", "json"}), 0);
  EXPECT_EQ(out_.str().substr(0, out_.str().find_last_not_of('\n') + 1),
            std::string(R"({"deleted":{"kind":"webhook","id":")") + kId + R"("}})");
}

TEST_F(WebhookCommandsTest, HelpListsTheEventCatalogueAndTheAlias) {
  ASSERT_EQ(Run({"organization", "webhooks", "-h"}), 0) << err_.str();
  for (const char* cmd : {"create", "list", "describe", "delete", "deliveries", "ping"}) {
    EXPECT_THAT(out_.str(), HasSubstr(std::string("  ") + cmd + " ")) << cmd;
  }
  EXPECT_THAT(out_.str(), HasSubstr("webhook, webhooks"));
  ASSERT_EQ(Run({"organization", "webhook", "create", "--help"}), 0);
  for (const auto& e : WebhookEventNames()) EXPECT_THAT(out_.str(), HasSubstr(e.name));
  EXPECT_THAT(out_.str(), Not(HasSubstr("ping:")));
}

}  // namespace
}  // namespace cl::cli
