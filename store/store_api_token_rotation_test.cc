// StoreTest (SQLite and PostgreSQL): API token rotation (RotateApiToken, RevokeRotatedApiTokens,
// the list filters around a rotation deadline) and last-used details (RecordApiTokenUsage).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

// The ids ListApiTokens returns for `status` at `now`, newest first.
std::vector<std::string> Ids(const Result<std::vector<ApiToken>>& list) {
  EXPECT_TRUE(list) << list.error().ToString();
  std::vector<std::string> ids;
  if (list) {
    for (const auto& tok : *list) ids.push_back(tok.id);
  }
  return ids;
}

ApiTokenFilter Filter(const std::string& org, ApiTokenFilter::Status status, UnixMillis now) {
  ApiTokenFilter f;
  f.org_id = org;
  f.status = status;
  f.now = now;
  return f;
}

TYPED_TEST(StoreTest, RotationWithGraceSharesTheNameUntilTheDeadline) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken a = Token(org, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(a, this->Event(org, "api_token.created")));
  ApiToken b = Token(org, "ci", this->now_ + 10);
  const UnixMillis deadline = this->now_ + 10 + 60'000;
  auto st = this->db_->RotateApiToken(a.id, b, deadline, this->Event(org, "api_token.rotated"));
  ASSERT_TRUE(st) << st.error().ToString();
  auto old = this->db_->GetApiToken(org, a.id);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->rotated_to, b.id);
  EXPECT_EQ(old->rotation_deadline, deadline);
  EXPECT_FALSE(old->revoked_at);
  // Both active until the deadline; from it on the old one lists as revoked.
  EXPECT_EQ(
      Ids(this->db_->ListApiTokens(Filter(org, ApiTokenFilter::Status::kActive, deadline - 1))),
      (std::vector<std::string>{b.id, a.id}));
  EXPECT_EQ(Ids(this->db_->ListApiTokens(Filter(org, ApiTokenFilter::Status::kActive, deadline))),
            (std::vector<std::string>{b.id}));
  EXPECT_EQ(Ids(this->db_->ListApiTokens(Filter(org, ApiTokenFilter::Status::kRevoked, deadline))),
            (std::vector<std::string>{a.id}));
  // The replacement holds the name: a third token named ci is refused.
  ApiToken c = Token(org, "ci", this->now_ + 20);
  EXPECT_TRUE(this->db_->CreateApiToken(c, this->Event(org, "api_token.created"))
                  .error()
                  .IsAlreadyExists());

  // The job: nothing before the deadline, the old token at it (revoked_at = the deadline), once.
  auto make_event = [&](const RevokedToken&) { return this->Event(org, "api_token.revoked"); };
  auto early = this->db_->RevokeRotatedApiTokens(deadline - 1, make_event);
  ASSERT_TRUE(early) << early.error().ToString();
  EXPECT_TRUE(early->empty());
  auto due = this->db_->RevokeRotatedApiTokens(deadline + 5000, make_event);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->at(0).id, a.id);
  EXPECT_EQ(due->at(0).token_hash, a.token_hash);
  EXPECT_TRUE(this->db_->RevokeRotatedApiTokens(deadline + 6000, make_event)->empty());
  old = this->db_->GetApiToken(org, a.id);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->revoked_at, deadline);
  EXPECT_EQ(old->revocation_reason, RevocationReason::kRotated);
  EXPECT_EQ(old->revoked_by_name, "system");
}

TYPED_TEST(StoreTest, RotationWithoutGraceRevokesAtOnceAndRefusalsWriteNothing) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken a = Token(org, "ci", this->now_);
  a.expires_at = this->now_ + 100'000;
  ASSERT_TRUE(this->db_->CreateApiToken(a, this->Event(org, "api_token.created")));
  ApiToken b = Token(org, "ci", this->now_ + 10);
  ASSERT_TRUE(
      this->db_->RotateApiToken(a.id, b, b.created_at, this->Event(org, "api_token.rotated")));
  auto old = this->db_->GetApiToken(org, a.id);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->revoked_at, b.created_at);
  EXPECT_EQ(old->revocation_reason, RevocationReason::kRotated);
  EXPECT_EQ(old->revoked_by_name, "creator@example.com");

  // Revoked, already rotated, expired, unknown: refused, and the replacement is not written.
  ApiToken x = Token(org, "x", this->now_ + 20);
  auto again = this->db_->RotateApiToken(a.id, x, x.created_at, this->Event(org, "r"));
  EXPECT_EQ(again.error().reason(), "already_revoked");
  ApiToken c = Token(org, "ci", this->now_ + 30);
  ASSERT_TRUE(this->db_->RotateApiToken(b.id, c, this->now_ + 60'000, this->Event(org, "r")));
  auto rotated_twice = this->db_->RotateApiToken(b.id, x, x.created_at, this->Event(org, "r"));
  EXPECT_EQ(rotated_twice.error().code(), Error::Code::kFailedPrecondition);
  ApiToken brief = Token(org, "brief", this->now_);
  brief.expires_at = this->now_ + 5;
  ASSERT_TRUE(this->db_->CreateApiToken(brief, this->Event(org, "api_token.created")));
  auto expired = this->db_->RotateApiToken(brief.id, x, x.created_at, this->Event(org, "r"));
  EXPECT_EQ(expired.error().reason(), "token_expired");
  EXPECT_TRUE(
      this->db_->RotateApiToken(Id(), x, x.created_at, this->Event(org, "r")).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetApiToken(org, x.id).error().IsNotFound());

  // A token in grace may still create (it works), but not once its deadline has passed.
  ApiToken by_b = Token(org, "by-b", this->now_ + 40);
  by_b.created_by_kind = "api_token";
  by_b.created_by_id = b.id;
  EXPECT_TRUE(this->db_->CreateApiToken(by_b, this->Event(org, "api_token.created")));
  ApiToken late = Token(org, "late", this->now_ + 60'000);
  late.created_by_kind = "api_token";
  late.created_by_id = b.id;
  EXPECT_EQ(this->db_->CreateApiToken(late, this->Event(org, "api_token.created")).error().reason(),
            "token_revoked");
}

TYPED_TEST(StoreTest, UsageRecordsTheNewestUsesAddressAndUserAgent) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken a = Token(org, "ci", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(a, this->Event(org, "api_token.created")));
  const UnixMillis t = this->now_ + 1000;
  // In one batch the later use wins, details included.
  ASSERT_TRUE(this->db_->RecordApiTokenUsage(
      {{a.id, t + 5, "203.0.113.5", "agent/5"}, {a.id, t, "203.0.113.1", "agent/1"}}));
  auto got = this->db_->GetApiToken(org, a.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->last_used_at, t + 5);
  EXPECT_EQ(got->last_used_address, "203.0.113.5");
  EXPECT_EQ(got->last_used_user_agent, "agent/5");
  // An older use (a late flush) changes nothing; one at the same instant takes over.
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 1, "198.51.100.1", "old"}}));
  got = this->db_->GetApiToken(org, a.id);
  EXPECT_EQ(got->last_used_address, "203.0.113.5");
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 5, "2001:db8::1", ""}}));
  got = this->db_->GetApiToken(org, a.id);
  EXPECT_EQ(got->last_used_at, t + 5);
  EXPECT_EQ(got->last_used_address, "2001:db8::1");
  EXPECT_EQ(got->last_used_user_agent, "");
  // Control characters and any valid UTF-8 are stored as they came.
  const std::string ua = "curl/8 \x1b[31m\xc3\xa9\t\xe2\x80\xae";
  ASSERT_TRUE(this->db_->RecordApiTokenUsage({{a.id, t + 9, "192.0.2.9", ua}}));
  got = this->db_->GetApiToken(org, a.id);
  EXPECT_EQ(got->last_used_user_agent, ua);
}

}  // namespace
}  // namespace cl::store::testing
