// StoreTest (SQLite and PostgreSQL): sessions and login state (login requests, authorization
// codes, device requests).
#include <gtest/gtest.h>

#include <string>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, Sessions) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  Session s{Id(), u.id, Hash(), this->now_, this->now_ + kMillisPerDay, std::nullopt};
  ASSERT_TRUE(this->db_->CreateSession(s));
  Session clash{Id(), u.id, s.token_hash, this->now_, this->now_ + 1, std::nullopt};
  auto st = this->db_->CreateSession(clash);
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().IsAlreadyExists());
  EXPECT_EQ(st.error().message().find(s.token_hash), std::string::npos);

  auto got = this->db_->GetSessionByHash(s.token_hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, s.id);
  EXPECT_EQ(got->user_id, u.id);
  EXPECT_EQ(got->expires_at, s.expires_at);
  EXPECT_FALSE(got->revoked_at.has_value());
  EXPECT_TRUE(this->db_->GetSessionByHash(Hash()).error().IsNotFound());

  ASSERT_TRUE(this->db_->RevokeSession(s.id, this->now_ + 5));
  ASSERT_TRUE(this->db_->RevokeSession(s.id, this->now_ + 9));  // keeps the first time
  EXPECT_EQ(this->db_->GetSessionByHash(s.token_hash)->revoked_at, this->now_ + 5);
  EXPECT_TRUE(this->db_->RevokeSession(Id(), this->now_).error().IsNotFound());
}

TYPED_TEST(StoreTest, LoginRequestsAndAuthCodesAreSingleUse) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  const UnixMillis now = this->now_;
  LoginRequest r{Hash(),      "nonce",     "verifier",  "http://127.0.0.1:5555/cb",
                 "cli-state", "challenge", now + 60'000};
  ASSERT_TRUE(this->db_->PutLoginRequest(r));
  EXPECT_TRUE(this->db_->PutLoginRequest(r).error().IsAlreadyExists());
  auto taken = this->db_->TakeLoginRequest(r.state_hash, now);
  ASSERT_TRUE(taken) << taken.error().ToString();
  EXPECT_EQ(taken->nonce, "nonce");
  EXPECT_EQ(taken->upstream_code_verifier, "verifier");
  EXPECT_EQ(taken->cli_redirect_uri, r.cli_redirect_uri);
  EXPECT_EQ(taken->cli_state, "cli-state");
  EXPECT_EQ(taken->cli_code_challenge, "challenge");
  EXPECT_EQ(taken->expires_at, now + 60'000);
  EXPECT_TRUE(this->db_->TakeLoginRequest(r.state_hash, now).error().IsNotFound());

  LoginRequest old = r;
  old.state_hash = Hash();
  old.expires_at = now - 1;
  ASSERT_TRUE(this->db_->PutLoginRequest(old));
  EXPECT_TRUE(this->db_->TakeLoginRequest(old.state_hash, now).error().IsNotFound());

  AuthCode c{Hash(), u.id, "challenge", now + 30'000};
  ASSERT_TRUE(this->db_->PutAuthCode(c));
  auto code = this->db_->TakeAuthCode(c.code_hash, now);
  ASSERT_TRUE(code) << code.error().ToString();
  EXPECT_EQ(code->user_id, u.id);
  EXPECT_EQ(code->cli_code_challenge, "challenge");
  EXPECT_TRUE(this->db_->TakeAuthCode(c.code_hash, now).error().IsNotFound());
  AuthCode expired{Hash(), u.id, "x", now + 10};
  ASSERT_TRUE(this->db_->PutAuthCode(expired));
  EXPECT_TRUE(this->db_->TakeAuthCode(expired.code_hash, now + 10).error().IsNotFound());
}

TYPED_TEST(StoreTest, PurgeRemovesOnlyExpiredLoginState) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  const UnixMillis now = this->now_;
  LoginRequest live{Hash(), "n", "v", "u", "s", "c", now + 1000};
  LoginRequest dead{Hash(), "n", "v", "u", "s", "c", now - 1000};
  AuthCode live_code{Hash(), u.id, "c", now + 1000};
  AuthCode dead_code{Hash(), u.id, "c", now - 1000};
  DeviceRequest live_dev{Hash(), "dc", now + 1000, 5};
  DeviceRequest dead_dev{Hash(), "dc", now - 1000, 5};
  ASSERT_TRUE(this->db_->PutLoginRequest(live));
  ASSERT_TRUE(this->db_->PutLoginRequest(dead));
  ASSERT_TRUE(this->db_->PutAuthCode(live_code));
  ASSERT_TRUE(this->db_->PutAuthCode(dead_code));
  ASSERT_TRUE(this->db_->PutDeviceRequest(live_dev));
  ASSERT_TRUE(this->db_->PutDeviceRequest(dead_dev));

  ASSERT_TRUE(this->db_->PurgeExpiredLoginState(now));
  // Expired rows are gone even for a caller whose clock is behind.
  EXPECT_TRUE(this->db_->TakeLoginRequest(dead.state_hash, now - 5000).error().IsNotFound());
  EXPECT_TRUE(this->db_->TakeAuthCode(dead_code.code_hash, now - 5000).error().IsNotFound());
  EXPECT_TRUE(this->db_->GetDeviceRequest(dead_dev.handle_hash, now - 5000).error().IsNotFound());
  EXPECT_TRUE(this->db_->TakeLoginRequest(live.state_hash, now));
  EXPECT_TRUE(this->db_->TakeAuthCode(live_code.code_hash, now));
  EXPECT_TRUE(this->db_->GetDeviceRequest(live_dev.handle_hash, now));
}

TYPED_TEST(StoreTest, CountPendingLoginsCountsLoginAndDeviceRequestsUntilPurged) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  const UnixMillis now = this->now_;
  auto count = [&] {
    auto n = this->db_->CountPendingLogins();
    EXPECT_TRUE(n) << n.error().ToString();
    return n ? *n : -1;
  };
  EXPECT_EQ(count(), 0);
  LoginRequest live{Hash(), "n", "v", "u", "s", "c", now + 1000};
  LoginRequest dead{Hash(), "n", "v", "u", "s", "c", now - 1000};
  ASSERT_TRUE(this->db_->PutLoginRequest(live));
  ASSERT_TRUE(this->db_->PutLoginRequest(dead));
  EXPECT_EQ(count(), 2);
  DeviceRequest live_dev{Hash(), "dc", now + 1000, 5};
  DeviceRequest dead_dev{Hash(), "dc", now - 1000, 5};
  ASSERT_TRUE(this->db_->PutDeviceRequest(live_dev));
  ASSERT_TRUE(this->db_->PutDeviceRequest(dead_dev));
  EXPECT_EQ(count(), 4);
  // One-time codes belong to people the IdP verified: not pending anonymous state.
  ASSERT_TRUE(this->db_->PutAuthCode(AuthCode{Hash(), u.id, "c", now + 1000}));
  EXPECT_EQ(count(), 4);
  // Expired rows count until purged (they take space), then not.
  ASSERT_TRUE(this->db_->PurgeExpiredLoginState(now));
  EXPECT_EQ(count(), 2);
  ASSERT_TRUE(this->db_->TakeLoginRequest(live.state_hash, now));
  ASSERT_TRUE(this->db_->DeleteDeviceRequest(live_dev.handle_hash));
  EXPECT_EQ(count(), 0);
}

TYPED_TEST(StoreTest, DeviceRequests) {
  this->Migrated();
  const UnixMillis now = this->now_;
  DeviceRequest d{Hash(), "upstream-device-code", now + 600'000, 7};
  ASSERT_TRUE(this->db_->PutDeviceRequest(d));
  for (int poll = 0; poll < 2; ++poll) {  // polling does not consume it
    auto got = this->db_->GetDeviceRequest(d.handle_hash, now);
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(got->upstream_device_code, "upstream-device-code");
    EXPECT_EQ(got->interval_seconds, 7);
    EXPECT_EQ(got->expires_at, now + 600'000);
  }
  EXPECT_TRUE(this->db_->GetDeviceRequest(d.handle_hash, now + 600'000).error().IsNotFound());
  ASSERT_TRUE(this->db_->DeleteDeviceRequest(d.handle_hash));
  EXPECT_TRUE(this->db_->GetDeviceRequest(d.handle_hash, now).error().IsNotFound());
  EXPECT_TRUE(this->db_->DeleteDeviceRequest(d.handle_hash).error().IsNotFound());
}

}  // namespace
}  // namespace cl::store::testing
