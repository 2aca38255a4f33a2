// The closed sets of store/vocabulary.h: released wire names, round trips, and that anything
// else is refused.
#include "store/vocabulary.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace cl::store {
namespace {

// Each set's every value: its name parses back to it, and names are unique.
template <typename E, typename NameFn, typename ParseFn>
void ExpectRoundTrip(std::span<const E> values, NameFn name, ParseFn parse) {
  std::set<std::string_view> seen;
  for (E v : values) {
    std::string_view n = name(v);
    EXPECT_FALSE(n.empty());
    EXPECT_TRUE(seen.insert(n).second) << "duplicate " << n;
    auto back = parse(n);
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, v) << n;
  }
}

TEST(Vocabulary, RevocationReasons) {
  EXPECT_EQ(RevocationReasonName(RevocationReason::kManual), "manual");
  EXPECT_EQ(RevocationReasonName(RevocationReason::kInactive), "inactive");
  EXPECT_EQ(RevocationReasonName(RevocationReason::kLeaked), "leaked");
  EXPECT_EQ(RevocationReasonName(RevocationReason::kRotated), "rotated");
  EXPECT_EQ(AllRevocationReasons().size(), 4u);
  ExpectRoundTrip(AllRevocationReasons(), RevocationReasonName, ParseRevocationReason);
}

TEST(Vocabulary, RunStates) {
  EXPECT_EQ(RunStateName(RunState::kInitialized), "initialized");
  EXPECT_EQ(RunStateName(RunState::kSucceeded), "succeeded");
  EXPECT_EQ(AllRunStates().size(), 2u);
  ExpectRoundTrip(AllRunStates(), RunStateName, ParseRunState);
}

TEST(Vocabulary, InvitationStatuses) {
  EXPECT_EQ(InvitationStatusName(InvitationStatus::kPending), "pending");
  EXPECT_EQ(InvitationStatusName(InvitationStatus::kAccepted), "accepted");
  EXPECT_EQ(AllInvitationStatuses().size(), 2u);
  ExpectRoundTrip(AllInvitationStatuses(), InvitationStatusName, ParseInvitationStatus);
}

TEST(Vocabulary, OrgRoles) {
  EXPECT_EQ(OrgRoleName(OrgRole::kOwner), "owner");
  EXPECT_EQ(OrgRoleName(OrgRole::kAdmin), "admin");
  EXPECT_EQ(OrgRoleName(OrgRole::kMember), "member");
  EXPECT_EQ(OrgRoleName(OrgRole::kViewer), "viewer");
  EXPECT_EQ(AllOrgRoles().size(), 4u);
  ExpectRoundTrip(AllOrgRoles(), OrgRoleName, ParseOrgRole);
}

TEST(Vocabulary, ProjectRoles) {
  EXPECT_EQ(ProjectRoleName(ProjectRole::kAdmin), "admin");
  EXPECT_EQ(ProjectRoleName(ProjectRole::kViewer), "viewer");
  EXPECT_EQ(AllProjectRoles().size(), 2u);
  ExpectRoundTrip(AllProjectRoles(), ProjectRoleName, ParseProjectRole);
}

TEST(Vocabulary, AnythingElseIsRefused) {
  const std::string unknown[] = {"",        "Manual",      "INACTIVE",   " manual",
                                 "manual ", "manual\n",    "revoked",    "pending?",
                                 "Pending", "initialised", "succeeded.", "failed",
                                 "Owner",   "ADMIN",       " viewer",    "member ",
                                 "owners",  "nobody",      "root",       std::string("admin\0", 6)};
  for (const std::string& s : unknown) {
    EXPECT_FALSE(ParseRevocationReason(s).has_value()) << s;
    EXPECT_FALSE(ParseRunState(s).has_value()) << s;
    EXPECT_FALSE(ParseInvitationStatus(s).has_value()) << s;
    EXPECT_FALSE(ParseOrgRole(s).has_value()) << s;
    EXPECT_FALSE(ParseProjectRole(s).has_value()) << s;
  }
  // A name of one set is not a value of another.
  EXPECT_FALSE(ParseRunState("pending").has_value());
  EXPECT_FALSE(ParseInvitationStatus("manual").has_value());
  EXPECT_FALSE(ParseRevocationReason("succeeded").has_value());
  // Owners and members are organization roles only.
  EXPECT_FALSE(ParseProjectRole("owner").has_value());
  EXPECT_FALSE(ParseProjectRole("member").has_value());
  EXPECT_FALSE(ParseOrgRole("pending").has_value());
}

}  // namespace
}  // namespace cl::store
