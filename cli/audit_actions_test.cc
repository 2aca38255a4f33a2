// The CLI's table of audit action names (what `organization audit list --action` accepts and
// completes) against the server's (domain/audit_events.h): the same names, in the same order. And
// the CLI's webhook event list (what `webhook create --event` lists) against the catalogue
// (store/webhook_events.h): every subscribable event, in the catalogue's order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "domain/audit_events.h"
#include "store/webhook_events.h"

namespace cl::cli {
namespace {

TEST(AuditActionsTest, TheCliKnowsEveryActionTheServerRecords) {
  std::vector<std::string> server;
  for (auto action : domain::AllAuditActions()) {
    server.emplace_back(domain::AuditActionName(action));
  }
  EXPECT_EQ(AuditActionNames(), server);
}

TEST(WebhookEventsTest, TheCliListsEverySubscribableEventOfTheCatalogue) {
  std::vector<std::string> server;
  std::vector<std::string> cli;
  for (const auto& e : store::AllWebhookEvents()) {
    if (e.subscribable) server.push_back(std::string(e.name) + ": " + std::string(e.description));
  }
  for (const auto& e : WebhookEventNames()) cli.push_back(e.name + ": " + e.description);
  EXPECT_EQ(cli, server);
}

}  // namespace
}  // namespace cl::cli
