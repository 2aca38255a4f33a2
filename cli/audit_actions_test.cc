// The CLI's table of audit action names (what `organization audit list --action` accepts and
// completes) against the server's (domain/audit_events.h): the same names, in the same order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "domain/audit_events.h"

namespace cl::cli {
namespace {

TEST(AuditActionsTest, TheCliKnowsEveryActionTheServerRecords) {
  std::vector<std::string> server;
  for (auto action : domain::AllAuditActions()) {
    server.emplace_back(domain::AuditActionName(action));
  }
  EXPECT_EQ(AuditActionNames(), server);
}

}  // namespace
}  // namespace cl::cli
