// StoreTest (SQLite and PostgreSQL): pepper rotation: pepper ids, re-hashing, counting.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "store/sql_database.h"
#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, PepperIdsRoundTripAndRehashMovesOnlyFromTheOldHash) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  t.pepper_id = "aaaaaaaa";
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  Session s{Id(), u.id, Hash(), this->now_, this->now_ + kMillisPerDay, std::nullopt, "aaaaaaaa"};
  ASSERT_TRUE(this->db_->CreateSession(s));
  EXPECT_EQ(this->db_->GetApiTokenByHash(t.token_hash)->pepper_id, "aaaaaaaa");
  EXPECT_EQ(this->db_->GetSessionByHash(s.token_hash)->pepper_id, "aaaaaaaa");

  const std::string new_token_hash = Hash();
  auto moved = this->db_->RehashApiToken(t.id, t.token_hash, new_token_hash, "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_TRUE(*moved);
  EXPECT_TRUE(this->db_->GetApiTokenByHash(t.token_hash).error().IsNotFound());
  auto got = this->db_->GetApiTokenByHash(new_token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, t.id);
  EXPECT_EQ(got->pepper_id, "bbbbbbbb");
  EXPECT_EQ(got->name, "ci");
  // A second (racing) re-hash from the old hash changes nothing; neither does an unknown id.
  moved = this->db_->RehashApiToken(t.id, t.token_hash, Hash(), "cccccccc");
  ASSERT_TRUE(moved);
  EXPECT_FALSE(*moved);
  EXPECT_EQ(this->db_->GetApiTokenByHash(new_token_hash)->pepper_id, "bbbbbbbb");
  EXPECT_FALSE(*this->db_->RehashApiToken(Id(), new_token_hash, Hash(), "cccccccc"));

  const std::string new_session_hash = Hash();
  moved = this->db_->RehashSession(s.id, s.token_hash, new_session_hash, "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_TRUE(*moved);
  EXPECT_TRUE(this->db_->GetSessionByHash(s.token_hash).error().IsNotFound());
  EXPECT_EQ(this->db_->GetSessionByHash(new_session_hash)->id, s.id);
  EXPECT_EQ(this->db_->GetSessionByHash(new_session_hash)->pepper_id, "bbbbbbbb");
  EXPECT_FALSE(*this->db_->RehashSession(s.id, s.token_hash, Hash(), "cccccccc"));
  // Same hash, new id: only records the pepper (a hash from before ids were kept).
  EXPECT_TRUE(*this->db_->RehashSession(s.id, new_session_hash, new_session_hash, "dddddddd"));
  EXPECT_EQ(this->db_->GetSessionByHash(new_session_hash)->pepper_id, "dddddddd");

  // Moving onto a hash another row holds is refused without naming the hash.
  ApiToken other = Token(org, "other", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(other, this->Event(org, "api_token.created")));
  auto clash = this->db_->RehashApiToken(other.id, other.token_hash, new_token_hash, "bbbbbbbb");
  ASSERT_FALSE(clash);
  EXPECT_TRUE(clash.error().IsAlreadyExists());
  EXPECT_EQ(clash.error().message().find(new_token_hash), std::string::npos);
  EXPECT_EQ(this->db_->GetApiTokenByHash(other.token_hash)->id, other.id);
}

// A revoked row's hash is frozen: the revoker announces the hash the row holds after the
// revocation, so no later re-hash (an instance that read the row before) may change it.
TYPED_TEST(StoreTest, RevokedCredentialsAreNeverRehashed) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  ApiToken t = Token(org, "ci", this->now_);
  t.pepper_id = "aaaaaaaa";
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  ASSERT_TRUE(this->db_->RevokeApiToken(org, t.id, this->now_ + 1, RevocationReason::kManual,
                                        "owner", this->Event(org, "api_token.revoked")));
  auto moved = this->db_->RehashApiToken(t.id, t.token_hash, Hash(), "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_FALSE(*moved);
  EXPECT_EQ(this->db_->GetApiTokenByHash(t.token_hash)->pepper_id, "aaaaaaaa");

  Session s{Id(), u.id, Hash(), this->now_, this->now_ + kMillisPerDay, std::nullopt, "aaaaaaaa"};
  ASSERT_TRUE(this->db_->CreateSession(s));
  ASSERT_TRUE(this->db_->RevokeSession(s.id, this->now_ + 1));
  moved = this->db_->RehashSession(s.id, s.token_hash, Hash(), "bbbbbbbb");
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_FALSE(*moved);
  EXPECT_EQ(this->db_->GetSessionByHash(s.token_hash)->pepper_id, "aaaaaaaa");
}

TYPED_TEST(StoreTest, CountCredentialsByPepperCountsOnlyLiveOnes) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  const UnixMillis now = this->now_ + 1000;
  auto token = [&](const std::string& name, const std::string& pepper) {
    ApiToken t = Token(org, name, this->now_);
    t.pepper_id = pepper;
    EXPECT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    return t;
  };
  token("a1", "aaaaaaaa");
  token("a2", "aaaaaaaa");
  token("b1", "bbbbbbbb");
  token("legacy", "");  // written before pepper ids (NULL)
  {
    ApiToken t = Token(org, "gone", this->now_);
    t.pepper_id = "aaaaaaaa";
    t.expires_at = now;  // expires exactly now: not live
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
  }
  ApiToken revoked = token("revoked", "bbbbbbbb");
  ASSERT_TRUE(this->db_->RevokeApiToken(org, revoked.id, now, RevocationReason::kManual, "owner",
                                        this->Event(org, "api_token.revoked")));
  auto session = [&](const std::string& pepper, UnixMillis expires) {
    Session s{Id(), u.id, Hash(), this->now_, expires, std::nullopt, pepper};
    EXPECT_TRUE(this->db_->CreateSession(s));
    return s;
  };
  session("bbbbbbbb", now + kMillisPerHour);
  session("cccccccc", now + kMillisPerHour);
  session("cccccccc", now);  // expired
  Session ended = session("cccccccc", now + kMillisPerHour);
  ASSERT_TRUE(this->db_->RevokeSession(ended.id, now));

  auto usage = this->db_->CountCredentialsByPepper(now);
  ASSERT_TRUE(usage) << usage.error().ToString();
  ASSERT_EQ(usage->size(), 4u);
  EXPECT_EQ((*usage)[0].pepper_id, "");
  EXPECT_EQ((*usage)[0].api_tokens, 1);
  EXPECT_EQ((*usage)[0].sessions, 0);
  EXPECT_EQ((*usage)[1].pepper_id, "aaaaaaaa");
  EXPECT_EQ((*usage)[1].api_tokens, 2);  // a1 and a2, not the expired one
  EXPECT_EQ((*usage)[1].sessions, 0);
  EXPECT_EQ((*usage)[2].pepper_id, "bbbbbbbb");
  EXPECT_EQ((*usage)[2].api_tokens, 1);  // b1, not the revoked one
  EXPECT_EQ((*usage)[2].sessions, 1);
  EXPECT_EQ((*usage)[3].pepper_id, "cccccccc");
  EXPECT_EQ((*usage)[3].api_tokens, 0);
  EXPECT_EQ((*usage)[3].sessions, 1);

  // Attribution fills only the unknown ones, live or not, and is idempotent.
  auto changed = this->db_->AttributeUnknownPepper("aaaaaaaa");
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(*changed, 1);
  EXPECT_EQ(*this->db_->AttributeUnknownPepper("bbbbbbbb"), 0);
  usage = this->db_->CountCredentialsByPepper(now);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 3u);
  EXPECT_EQ((*usage)[0].pepper_id, "aaaaaaaa");
  EXPECT_EQ((*usage)[0].api_tokens, 3);
}

TYPED_TEST(StoreTest, MigrationToPepperIdsKeepsCredentialsUnattributed) {
  auto* sql = dynamic_cast<SqlDatabase*>(this->db_.get());
  ASSERT_NE(sql, nullptr);
  ASSERT_TRUE(sql->MigrateTo(4));
  User u = this->NewUser("owner@example.com");
  const std::string org = this->OldOrg("acme", u);
  // What a server before migration 5 wrote: no pepper_id column at all.
  ApiToken t = Token(org, "old", this->now_);
  EXPECT_FALSE(this->db_->CreateApiToken(t, this->Event(org, "x")));  // the column is missing

  ASSERT_TRUE(this->db_->Migrate());
  EXPECT_EQ(*this->db_->SchemaVersion(), this->db_->LatestKnownSchemaVersion());
  ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "x")));  // pepper_id "" -> NULL
  auto got = this->db_->GetApiTokenByHash(t.token_hash);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->pepper_id, "");
  auto usage = this->db_->CountCredentialsByPepper(this->now_);
  ASSERT_TRUE(usage);
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].pepper_id, "");
  EXPECT_EQ((*usage)[0].api_tokens, 1);
}

TYPED_TEST(StoreTest, TwoInstancesRehashingTogetherMoveEachTokenOnce) {
  this->Migrated();
  User u = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", u);
  constexpr int kTokens = 40;
  std::vector<ApiToken> tokens;
  std::vector<std::string> new_hashes;
  for (int i = 0; i < kTokens; ++i) {
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_);
    t.pepper_id = "aaaaaaaa";
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    tokens.push_back(t);
    new_hashes.push_back(Hash());  // the same HMAC under the new pepper on both instances
  }
  auto second = OpenDatabase(this->url_);
  ASSERT_TRUE(second) << second.error().ToString();
  std::vector<int> moved(2, 0);
  std::vector<int> failed(2, 0);
  auto run = [&](Database& db, int who) {
    for (int i = 0; i < kTokens; ++i) {
      auto r = db.RehashApiToken(tokens[i].id, tokens[i].token_hash, new_hashes[i], "bbbbbbbb");
      if (!r) {
        ++failed[who];
      } else if (*r) {
        ++moved[who];
      }
    }
  };
  std::thread a([&] { run(*this->db_, 0); });
  std::thread b([&] { run(**second, 1); });
  a.join();
  b.join();
  EXPECT_EQ(failed[0] + failed[1], 0);
  EXPECT_EQ(moved[0] + moved[1], kTokens);
  for (int i = 0; i < kTokens; ++i) {
    auto got = this->db_->GetApiTokenByHash(new_hashes[i]);
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(got->id, tokens[i].id);
    EXPECT_EQ(got->pepper_id, "bbbbbbbb");
  }
}

}  // namespace
}  // namespace cl::store::testing
