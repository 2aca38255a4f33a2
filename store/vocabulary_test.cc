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
  EXPECT_EQ(AllRevocationReasons().size(), 2u);
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

TEST(Vocabulary, AnythingElseIsRefused) {
  const std::string unknown[] = {"",        "Manual",      "INACTIVE",   " manual",
                                 "manual ", "manual\n",    "revoked",    "pending?",
                                 "Pending", "initialised", "succeeded.", "failed"};
  for (const std::string& s : unknown) {
    EXPECT_FALSE(ParseRevocationReason(s).has_value()) << s;
    EXPECT_FALSE(ParseRunState(s).has_value()) << s;
    EXPECT_FALSE(ParseInvitationStatus(s).has_value()) << s;
  }
  // A name of one set is not a value of another.
  EXPECT_FALSE(ParseRunState("pending").has_value());
  EXPECT_FALSE(ParseInvitationStatus("manual").has_value());
  EXPECT_FALSE(ParseRevocationReason("succeeded").has_value());
}

}  // namespace
}  // namespace cl::store
