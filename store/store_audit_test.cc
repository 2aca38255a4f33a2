// StoreTest (SQLite and PostgreSQL): the audit log.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, AuditEventsNewestFirstWithLimit) {
  this->Migrated();
  const std::string org = Id();
  const std::string other = Id();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(this->db_->AppendAuditEvent(
        this->Event(org, "action." + std::to_string(i), this->now_ + i * 10)));
  }
  ASSERT_TRUE(this->db_->AppendAuditEvent(this->Event(other, "elsewhere", this->now_ + 100)));
  auto events = this->db_->ListAuditEvents(org, 3);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].action, "action.4");
  EXPECT_EQ((*events)[1].action, "action.3");
  EXPECT_EQ((*events)[2].action, "action.2");
  EXPECT_EQ((*events)[0].created_at, this->now_ + 40);
  EXPECT_EQ((*events)[0].actor_name, "actor@example.com");
  EXPECT_EQ((*events)[0].target_id, org);
  EXPECT_EQ(this->db_->ListAuditEvents(org, 100)->size(), 5u);
  EXPECT_TRUE(this->db_->ListAuditEvents(org, 0)->empty());
}

TYPED_TEST(StoreTest, AuditEventsKeepTheClientAddress) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  AuditEvent direct = this->Event(org, "direct", this->now_ + 1);
  direct.client_address = "2001:db8::7";
  ASSERT_TRUE(this->db_->AppendAuditEvent(direct));
  // Written in the same transaction as the change it records.
  AuditEvent with_project = this->Event(org, "project.created", this->now_ + 2);
  with_project.client_address = "203.0.113.9";
  ASSERT_TRUE(
      this->db_->CreateProject(Project{Id(), org, "web", this->now_}, std::nullopt, with_project));
  ASSERT_TRUE(this->db_->AppendAuditEvent(this->Event(org, "no-address", this->now_ + 3)));
  // The sweep's multi-row insert (PostgreSQL: unnest), with and without an address.
  ASSERT_TRUE(this->db_->SetApiTokenMaxDaysInactive(org, 1, this->Event(org, "x", 0)));
  ASSERT_TRUE(this->db_->CreateApiToken(Token(org, "a", 0), this->Event(org, "x", 0)));
  ASSERT_TRUE(this->db_->CreateApiToken(Token(org, "b", 0), this->Event(org, "x", 0)));
  const UnixMillis later = this->now_ + 10 * kMillisPerDay;
  auto sweep = this->db_->RevokeInactiveApiTokens(later, [&](const RevokedToken& r) {
    AuditEvent e = SweepEvent(r, later);
    if (r.name == "a") e.client_address = "198.51.100.1";
    return e;
  });
  ASSERT_TRUE(sweep) << sweep.error().ToString();
  ASSERT_EQ(sweep->revoked.size(), 2u);

  auto events = this->db_->ListAuditEvents(org, 100);
  ASSERT_TRUE(events) << events.error().ToString();
  std::map<std::string, std::string> by_action;  // action (or swept token id) -> address
  for (const AuditEvent& e : *events) {
    by_action[e.action == "api_token.revoked" ? "swept:" + e.target_id : e.action] =
        e.client_address;
  }
  EXPECT_EQ(by_action["direct"], "2001:db8::7");
  EXPECT_EQ(by_action["project.created"], "203.0.113.9");
  EXPECT_EQ(by_action["no-address"], "");
  for (const RevokedToken& r : sweep->revoked) {
    EXPECT_EQ(by_action["swept:" + r.id], r.name == "a" ? "198.51.100.1" : "") << r.name;
  }
  // No address is stored as NULL, not as an empty string: deleting '' rows removes nothing.
  ASSERT_TRUE(ExecBehindTheStore(this->url_, "DELETE FROM audit_events WHERE client_address = ''"));
  EXPECT_EQ(this->db_->ListAuditEvents(org, 100)->size(), events->size());
}

}  // namespace
}  // namespace cl::store::testing
