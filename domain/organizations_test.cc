// OrganizationService: names, and the API token inactivity setting.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

TEST_F(DomainTest, OrganizationNamesAreUniqueAndValidated) {
  Principal a = Auth(LoginAs("a", "a@example.com"));
  ASSERT_TRUE(orgs_->Create(a, "acme"));
  EXPECT_TRUE(orgs_->Create(a, "acme").error().IsAlreadyExists());
  EXPECT_TRUE(orgs_->Create(a, "Not_Valid").error().IsInvalidArgument());
  auto mine = orgs_->ListMine(a);
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ(mine->at(0).role, store::OrgRole::kOwner);
}

TEST_F(ApiTokenTest, OnlyOwnersAndAdminsChangeTheAutoRevokeSetting) {
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "a@example.com", store::OrgRole::kAdmin));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "m@example.com", store::OrgRole::kMember));
  ASSERT_TRUE(orgs_->Invite(owner_, "acme", "v@example.com", store::OrgRole::kViewer));
  Principal admin = Auth(LoginAs("a", "a@example.com"));
  Principal member = Auth(LoginAs("m", "m@example.com"));
  Principal viewer = Auth(LoginAs("v", "v@example.com"));
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(member, "acme", 30).error().IsPermissionDenied());
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(viewer, "acme", 30).error().IsPermissionDenied());
  clock_.Advance(kMillisPerSecond);  // the change is then the newest audit event
  auto set = orgs_->SetApiTokenMaxDaysInactive(admin, "acme", 30);
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_EQ(set->api_token_max_days_inactive, 30);
  // A refused change leaves the setting as it was, and each change is audited.
  auto org = orgs_->Describe(owner_, "acme");
  ASSERT_TRUE(org);
  EXPECT_EQ(org->org.api_token_max_days_inactive, 30);
  auto events = orgs_->ListAuditEvents(owner_, "acme", 1);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->at(0).action, "organization.updated");
  EXPECT_NE(events->at(0).message.find("30 days"), std::string::npos);
}

TEST_F(ApiTokenTest, AutoRevokeThresholdSettingAndDate) {
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 366).error().IsInvalidArgument());
  EXPECT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", -1).error().IsInvalidArgument());
  auto org = orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 90);
  ASSERT_TRUE(org);
  EXPECT_EQ(org->api_token_max_days_inactive, 90);
  auto created = MustCreate(owner_, {.name = "ci"});
  EXPECT_EQ(AutoRevokeAt(created.record, org->api_token_max_days_inactive),
            created.record.created_at + 90 * kMillisPerDay);
  org = orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 0);
  ASSERT_TRUE(org);
  EXPECT_FALSE(org->api_token_max_days_inactive);
  EXPECT_FALSE(AutoRevokeAt(created.record, org->api_token_max_days_inactive));
}

}  // namespace
}  // namespace cl::domain
