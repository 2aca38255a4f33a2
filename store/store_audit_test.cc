// StoreTest (SQLite and PostgreSQL): the audit log.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cl::store::testing
