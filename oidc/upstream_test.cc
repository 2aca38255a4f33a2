// Tests of UpstreamIdp against a fake IdP (no network): code exchange and ID token checks,
// key rotation, outages, userinfo fallback and the device flow.
#include "oidc/upstream.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <optional>

#include "crypto/hash.h"
#include "crypto/jose_testing.h"

namespace cl::oidc {
namespace {

using crypto::TestSigningKey;

constexpr char kIssuer[] = "https://idp.example.com";
constexpr char kClientId[] = "chainloop";
constexpr char kSecret[] = "s3cr3t-client-secret";
constexpr char kCode[] = "auth-code-value-123";
constexpr char kVerifier[] = "verifier-value-456";
constexpr char kNonce[] = "nonce-789";

std::string Reason(crypto::JoseError e) { return std::string(crypto::JoseErrorString(e)); }

// Key generation is slow (RSA-2048): every test shares the same two keys.
const TestSigningKey& SharedRsaKey() {
  static const TestSigningKey key = TestSigningKey::GenerateRsa("k1");
  return key;
}
const TestSigningKey& SharedEcKey() {
  static const TestSigningKey key = TestSigningKey::GenerateEcP256("k2");
  return key;
}

// A scripted IdP: answers by method + URL, counts calls, records the last request per URL.
class FakeIdp {
 public:
  struct Answer {
    int status = 200;
    std::string body;
  };

  FakeIdp() : k1(SharedRsaKey()), k2(SharedEcKey()) {
    jwks = crypto::JwksJson({&k1});
    discovery = std::string(R"({"issuer":")") + kIssuer +
                R"(","authorization_endpoint":"https://idp.example.com/auth",)"
                R"("token_endpoint":"https://idp.example.com/token",)"
                R"("jwks_uri":"https://idp.example.com/jwks",)"
                R"("userinfo_endpoint":"https://idp.example.com/me",)"
                R"("device_authorization_endpoint":"https://idp.example.com/device/auth"})";
  }

  HttpFetchFn Fn() {
    return [this](const HttpClientRequest& req) -> Result<HttpClientResponse> {
      ++calls[req.method + " " + req.url];
      last[req.url] = req;
      if (!up) return Fail(Error::Unavailable("request to " + req.url + " failed: refused"));
      Answer a;
      if (req.url == std::string(kIssuer) + "/.well-known/openid-configuration") {
        a.body = discovery;
      } else if (req.url == "https://idp.example.com/jwks") {
        if (!jwks_up) return Fail(Error::Unavailable("request to " + req.url + " timed out"));
        a.body = jwks;
      } else if (req.url == "https://idp.example.com/token" && req.method == "POST") {
        if (token_transport_error) return Fail(*token_transport_error);
        a = token;
      } else if (req.url == "https://idp.example.com/me") {
        a = userinfo;
      } else if (req.url == "https://idp.example.com/device/auth" && req.method == "POST") {
        a = device;
      } else {
        a.status = 404;
      }
      HttpClientResponse resp;
      resp.status = a.status;
      resp.body = a.body;
      return resp;
    };
  }

  int Calls(const std::string& method_url) const {
    auto it = calls.find(method_url);
    return it == calls.end() ? 0 : it->second;
  }

  TestSigningKey k1, k2;
  std::string discovery, jwks;
  Answer token, userinfo, device;
  std::optional<Error> token_transport_error;  // what HttpFetch fails with for the token call
  bool up = true;
  bool jwks_up = true;
  std::map<std::string, int> calls;
  std::map<std::string, HttpClientRequest> last;
};

class UpstreamIdpTest : public ::testing::Test {
 protected:
  UpstreamConfig Config() {
    UpstreamConfig c;
    c.issuer = kIssuer;
    c.client_id = kClientId;
    c.client_secret = kSecret;
    c.redirect_uri = "https://cp.example.com/auth/callback";
    c.fetch.fetch = fake_.Fn();
    return c;
  }

  int64_t NowSeconds() const { return clock_.Now() / 1000; }

  boost::json::object Claims() const {
    return boost::json::object{{"iss", kIssuer},
                               {"aud", kClientId},
                               {"sub", "alice"},
                               {"iat", NowSeconds()},
                               {"exp", NowSeconds() + 600},
                               {"nonce", kNonce},
                               {"email", "alice@example.com"},
                               {"email_verified", true},
                               {"name", "Alice"}};
  }

  std::string TokenResponse(const std::string& id_token) const {
    return boost::json::serialize(boost::json::object{{"access_token", "access-token-abc"},
                                                      {"token_type", "Bearer"},
                                                      {"id_token", id_token},
                                                      {"expires_in", 600}});
  }

  void AnswerToken(const TestSigningKey& key, const boost::json::object& claims) {
    fake_.token = {200, TokenResponse(key.Sign({}, claims))};
  }

  Result<IdTokenClaims> Exchange() { return idp_.ExchangeCode(kCode, kVerifier, kNonce); }

  // No secret may leak into an error a handler could log or return.
  static void ExpectNoSecrets(const Error& e) {
    for (const char* secret : {kSecret, kCode, kVerifier, "access-token-abc"}) {
      EXPECT_EQ(e.message().find(secret), std::string::npos) << e.message();
    }
  }

  FakeClock clock_;
  FakeIdp fake_;
  UpstreamIdp idp_{Config(), clock_};
};

TEST_F(UpstreamIdpTest, AuthorizationUrlCarriesPkceStateAndNonce) {
  auto url = idp_.AuthorizationUrl("st", "nn", "challenge");
  ASSERT_TRUE(url) << url.error().ToString();
  EXPECT_EQ(url->rfind("https://idp.example.com/auth?", 0), 0u) << *url;
  for (const char* part :
       {"response_type=code", "client_id=chainloop", "state=st", "nonce=nn",
        "code_challenge=challenge", "code_challenge_method=S256", "scope=openid%20email%20profile",
        "redirect_uri=https%3A%2F%2Fcp.example.com%2Fauth%2Fcallback"}) {
    EXPECT_NE(url->find(part), std::string::npos) << part << " in " << *url;
  }
  EXPECT_EQ(url->find(kSecret), std::string::npos);
}

TEST_F(UpstreamIdpTest, ExchangeCodeHappyPath) {
  AnswerToken(fake_.k1, Claims());
  auto claims = Exchange();
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->issuer, kIssuer);
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_EQ(claims->email, "alice@example.com");
  EXPECT_TRUE(claims->email_verified);
  EXPECT_EQ(claims->name, "Alice");
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/me"), 0);

  const HttpClientRequest& req = fake_.last["https://idp.example.com/token"];
  EXPECT_EQ(req.method, "POST");
  std::string basic;
  for (const auto& [k, v] : req.headers) {
    if (k == "Authorization") basic = v;
  }
  // base64("chainloop:s3cr3t-client-secret")
  EXPECT_EQ(basic, "Basic Y2hhaW5sb29wOnMzY3IzdC1jbGllbnQtc2VjcmV0");
  EXPECT_NE(req.body.find("grant_type=authorization_code"), std::string::npos);
  EXPECT_NE(req.body.find(std::string("code=") + kCode), std::string::npos);
  EXPECT_NE(req.body.find(std::string("code_verifier=") + kVerifier), std::string::npos);
  EXPECT_NE(req.body.find("redirect_uri=https%3A%2F%2Fcp.example.com%2Fauth%2Fcallback"),
            std::string::npos);
  EXPECT_EQ(req.body.find(kSecret), std::string::npos);  // basic auth, not in the body
  EXPECT_EQ(req.timeout_ms, 5000);
}

TEST_F(UpstreamIdpTest, WrongNonceIsRejected) {
  auto c = Claims();
  c["nonce"] = "someone-elses-nonce";
  AnswerToken(fake_.k1, c);
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsUnauthenticated());
  EXPECT_EQ(r.error().reason(), "bad_nonce");

  c.erase("nonce");
  AnswerToken(fake_.k1, c);
  r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "bad_nonce");
}

TEST_F(UpstreamIdpTest, WrongAudienceIsRejected) {
  auto c = Claims();
  c["aud"] = "another-client";
  AnswerToken(fake_.k1, c);
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsUnauthenticated());
  EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtBadAudience));
}

// OIDC Core 3.1.3.7 items 3-5: every audience must be us (we trust no other), and azp, when
// present, must be us, whatever the number of audiences.
TEST_F(UpstreamIdpTest, AudienceAndAzpCombinations) {
  using boost::json::array;
  using boost::json::value;
  struct Case {
    const char* name;
    value aud;                 // null: claim absent
    std::optional<value> azp;  // nullopt: claim absent
    bool accepted;
  };
  const Case cases[] = {
      {"aud string, no azp", value(kClientId), std::nullopt, true},
      {"aud string, azp us", value(kClientId), value(kClientId), true},
      {"aud [us], no azp", array{kClientId}, std::nullopt, true},
      {"aud [us], azp us", array{kClientId}, value(kClientId), true},
      {"aud [us, us], azp us", array{kClientId, kClientId}, value(kClientId), true},
      {"aud [us, other], azp us", array{kClientId, "other"}, value(kClientId), false},
      {"aud [us, other], no azp", array{kClientId, "other"}, std::nullopt, false},
      {"aud [other, us], azp us", array{"other", kClientId}, value(kClientId), false},
      {"aud [us, other], azp other", array{kClientId, "other"}, value("other"), false},
      {"aud string, azp other", value(kClientId), value("other"), false},
      {"aud [us], azp other", array{kClientId}, value("other"), false},
      {"aud [us], azp empty", array{kClientId}, value(""), false},
      {"aud [us], azp not a string", array{kClientId}, value(17), false},
      {"aud [us], azp array", array{kClientId}, value(array{kClientId}), false},
      {"aud other", value("other"), std::nullopt, false},
      {"aud [other]", array{"other"}, value(kClientId), false},
      {"aud [], azp us", array{}, value(kClientId), false},
      {"aud absent, azp us", value(), value(kClientId), false},
      {"aud [us, 17]", array{kClientId, 17}, std::nullopt, false},
      {"aud prefix of us", value("chain"), std::nullopt, false},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto c = Claims();
    if (tc.aud.is_null()) {
      c.erase("aud");
    } else {
      c["aud"] = tc.aud;
    }
    if (tc.azp) c["azp"] = *tc.azp;
    AnswerToken(fake_.k1, c);
    auto r = Exchange();
    if (tc.accepted) {
      EXPECT_TRUE(r) << r.error().ToString();
      continue;
    }
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().IsUnauthenticated());
    EXPECT_TRUE(r.error().reason() == Reason(crypto::JoseError::kJwtBadAudience) ||
                r.error().reason() == Reason(crypto::JoseError::kJwtMissingClaim))
        << r.error().ToString();
  }
}

TEST_F(UpstreamIdpTest, WrongIssuerIsRejected) {
  auto c = Claims();
  c["iss"] = "https://idp.example.com/";
  AnswerToken(fake_.k1, c);
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtBadIssuer));
}

TEST_F(UpstreamIdpTest, ExpiryUsesSixtySecondLeeway) {
  auto c = Claims();
  c["iat"] = NowSeconds() - 300;
  c["exp"] = NowSeconds() - 30;  // within leeway
  AnswerToken(fake_.k1, c);
  EXPECT_TRUE(Exchange());
  c["exp"] = NowSeconds() - 61;
  AnswerToken(fake_.k1, c);
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsUnauthenticated());
  EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtExpired));
}

TEST_F(UpstreamIdpTest, IssuedInTheFutureIsRejected) {
  auto c = Claims();
  c["iat"] = NowSeconds() + 120;
  c["exp"] = NowSeconds() + 720;
  AnswerToken(fake_.k1, c);
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtIssuedInFuture));
}

// An ID token is issued moments before the code exchange: one whose iat is older than
// id_token_max_age (10 min by default, plus the 60 s leeway) is refused even though its exp is
// still ahead, and so is one issued more than the leeway in the future.
TEST_F(UpstreamIdpTest, IssuedAtMustBeRecent) {
  struct Case {
    int64_t iat_offset;  // seconds relative to now
    bool accepted;
    const char* reason;
  };
  const Case cases[] = {
      {0, true, ""},
      {-60, true, ""},
      {-600, true, ""},
      {-659, true, ""},  // max age + leeway - 1 s
      {-660, false, "jwt_too_old"},
      {-3600, false, "jwt_too_old"},
      {-30 * 24 * 3600, false, "jwt_too_old"},
      {60, true, ""},  // within the leeway
      {61, false, "jwt_issued_in_future"},
      {3600, false, "jwt_issued_in_future"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.iat_offset);
    auto c = Claims();
    c["iat"] = NowSeconds() + tc.iat_offset;
    c["exp"] = NowSeconds() + 7 * 24 * 3600;  // always valid
    AnswerToken(fake_.k1, c);
    auto r = Exchange();
    if (tc.accepted) {
      EXPECT_TRUE(r) << r.error().ToString();
    } else {
      ASSERT_FALSE(r);
      EXPECT_TRUE(r.error().IsUnauthenticated());
      EXPECT_EQ(r.error().reason(), tc.reason);
    }
  }
  // Device flow ID tokens too.
  auto c = Claims();
  c.erase("nonce");
  c["iat"] = NowSeconds() - 30 * 24 * 3600;
  c["exp"] = NowSeconds() + 600;
  AnswerToken(fake_.k1, c);
  auto p = idp_.PollDeviceToken("dc");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().reason(), "jwt_too_old");
}

TEST_F(UpstreamIdpTest, IdTokenMaxAgeIsConfigurable) {
  UpstreamConfig config = Config();
  config.id_token_max_age = 2 * kMillisPerMinute;
  UpstreamIdp idp(config, clock_);
  auto c = Claims();
  c["iat"] = NowSeconds() - 170;  // 2 min + 50 s: within max age + leeway
  AnswerToken(fake_.k1, c);
  auto r = idp.ExchangeCode(kCode, kVerifier, kNonce);
  EXPECT_TRUE(r) << r.error().ToString();
  c["iat"] = NowSeconds() - 181;
  AnswerToken(fake_.k1, c);
  r = idp.ExchangeCode(kCode, kVerifier, kNonce);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "jwt_too_old");
}

TEST_F(UpstreamIdpTest, TamperedSignatureIsRejected) {
  std::string token = fake_.k1.Sign({}, Claims());
  // Swap the payload for one claiming another subject, keeping the original signature.
  auto c = Claims();
  c["sub"] = "mallory";
  std::string other = fake_.k1.Sign({}, c);
  auto dot1 = token.find('.'), dot2 = token.rfind('.');
  auto odot1 = other.find('.'), odot2 = other.rfind('.');
  std::string forged =
      token.substr(0, dot1) + other.substr(odot1, odot2 - odot1) + token.substr(dot2);
  fake_.token = {200, TokenResponse(forged)};
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsUnauthenticated());
  EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtBadSignature));
  ExpectNoSecrets(r.error());
}

// The IdP rotates its signing key (new kid, old key withdrawn) right after we fetched its keys:
// the next login refetches once and succeeds, instead of failing with jwt_unknown_kid until a
// cooldown that started with the earlier fetch has passed.
TEST_F(UpstreamIdpTest, LoginRightAfterKeyRotationRefetchesOnceAndSucceeds) {
  AnswerToken(fake_.k1, Claims());
  ASSERT_TRUE(Exchange());
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/jwks"), 1);

  fake_.jwks = crypto::JwksJson({&fake_.k2});
  clock_.Advance(2 * kMillisPerSecond);
  AnswerToken(fake_.k2, Claims());
  auto r = Exchange();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/jwks"), 2);
  // The withdrawn key is gone from the set: its tokens no longer verify.
  AnswerToken(fake_.k1, Claims());
  r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtUnknownKid));

  // A second rotation, once the (short) login cooldown has passed, is picked up too.
  TestSigningKey k3 = TestSigningKey::GenerateEcP256("k3");
  clock_.Advance(5 * kMillisPerSecond);
  fake_.jwks = crypto::JwksJson({&k3});
  AnswerToken(k3, Claims());
  r = Exchange();
  ASSERT_TRUE(r) << r.error().ToString();
}

TEST_F(UpstreamIdpTest, UnknownKidTriggersExactlyOneRefreshWithinCooldown) {
  AnswerToken(fake_.k1, Claims());
  ASSERT_TRUE(Exchange());
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/jwks"), 1);

  // The IdP rotates to k2 and publishes it; the first k2 token triggers one refetch.
  clock_.Advance(61 * kMillisPerSecond);
  fake_.jwks = crypto::JwksJson({&fake_.k1, &fake_.k2});
  AnswerToken(fake_.k2, Claims());
  auto r = Exchange();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/jwks"), 2);

  // A token naming a key nobody published: one more refetch would be within the cooldown.
  TestSigningKey rogue = TestSigningKey::GenerateEcP256("k3");
  AnswerToken(rogue, Claims());
  for (int i = 0; i < 3; ++i) {
    r = Exchange();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason(), Reason(crypto::JoseError::kJwtUnknownKid));
  }
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/jwks"), 2);
}

TEST_F(UpstreamIdpTest, IdpDownWhenColdIsIdpUnavailableThenRecovers) {
  fake_.up = false;
  auto s = idp_.Init();
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().IsUnavailable());
  EXPECT_EQ(s.error().reason(), "idp_unavailable");
  auto url = idp_.AuthorizationUrl("s", "n", "c");
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().reason(), "idp_unavailable");
  auto ex = Exchange();
  ASSERT_FALSE(ex);
  EXPECT_EQ(ex.error().reason(), "idp_unavailable");
  ExpectNoSecrets(ex.error());
  // Failing fast: one discovery attempt in the retry window.
  EXPECT_EQ(fake_.Calls("GET https://idp.example.com/.well-known/openid-configuration"), 1);

  fake_.up = true;
  clock_.Advance(6 * kMillisPerSecond);
  EXPECT_TRUE(idp_.AuthorizationUrl("s", "n", "c"));
}

TEST_F(UpstreamIdpTest, JwksDownWhenColdIsIdpUnavailable) {
  ASSERT_TRUE(idp_.Init());
  fake_.jwks_up = false;
  AnswerToken(fake_.k1, Claims());
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "idp_unavailable");
}

TEST_F(UpstreamIdpTest, InvalidGrantIsInvalidArgument) {
  fake_.token = {400,
                 R"({"error":"invalid_grant","error_description":"grant request is invalid"})"};
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().IsInvalidArgument());
  EXPECT_EQ(r.error().reason(), "invalid_grant");
  ExpectNoSecrets(r.error());
}

// The server logs a failed login's error message: it must say what went wrong with the
// provider (timeout, oversized answer), and carry no secret.
TEST_F(UpstreamIdpTest, TransportFailuresNameTheirCause) {
  const std::pair<Error, const char*> cases[] = {
      {Error::Unavailable("request to https://idp.example.com/token failed: Timeout was reached"),
       "Timeout was reached"},
      {Error::PayloadTooLarge("response from https://idp.example.com/token exceeds the size limit"),
       "exceeds the size limit"},
  };
  for (const auto& [transport, cause] : cases) {
    SCOPED_TRACE(cause);
    fake_.token_transport_error = transport;
    auto r = Exchange();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().IsUnavailable());
    EXPECT_EQ(r.error().reason(), "idp_unavailable");
    EXPECT_NE(r.error().message().find(cause), std::string::npos) << r.error().message();
    ExpectNoSecrets(r.error());
  }
  // Every call carries the documented limits: 5 s, 256 KiB.
  const HttpClientRequest& req = fake_.last["https://idp.example.com/token"];
  EXPECT_EQ(req.timeout_ms, 5000);
  EXPECT_EQ(req.max_response_bytes, 256u * 1024u);
}

TEST_F(UpstreamIdpTest, TokenEndpointOutageIsIdpUnavailable) {
  fake_.token = {503, "busy"};
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "idp_unavailable");
}

TEST_F(UpstreamIdpTest, RejectedClientIsAnOperatorError) {
  fake_.token = {401, R"({"error":"invalid_client"})"};
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "idp_client_rejected");
  ExpectNoSecrets(r.error());
}

TEST_F(UpstreamIdpTest, EmailFromUserinfoWhenNotInIdToken) {
  auto c = Claims();
  c.erase("email");
  c.erase("email_verified");
  c.erase("name");
  AnswerToken(fake_.k1, c);
  fake_.userinfo = {
      200, R"({"sub":"alice","email":"alice@corp.test","email_verified":true,"name":"A"})"};
  auto r = Exchange();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->email, "alice@corp.test");
  EXPECT_TRUE(r->email_verified);
  EXPECT_EQ(r->name, "A");
  const HttpClientRequest& req = fake_.last["https://idp.example.com/me"];
  bool bearer = false;
  for (const auto& [k, v] : req.headers)
    bearer |= (k == "Authorization" && v == "Bearer access-token-abc");
  EXPECT_TRUE(bearer);
}

TEST_F(UpstreamIdpTest, UserinfoForAnotherSubjectIsRejected) {
  auto c = Claims();
  c.erase("email");
  AnswerToken(fake_.k1, c);
  fake_.userinfo = {200, R"({"sub":"mallory","email":"mallory@corp.test"})"};
  auto r = Exchange();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "userinfo_sub_mismatch");
}

TEST_F(UpstreamIdpTest, DeviceFlowStartAndPollStates) {
  fake_.device = {
      200, R"({"device_code":"dc-secret","user_code":"ABCD-EFGH",)"
           R"("verification_uri":"https://idp.example.com/device",)"
           R"("verification_uri_complete":"https://idp.example.com/device?user_code=ABCD-EFGH",)"
           R"("expires_in":600,"interval":5})"};
  auto start = idp_.StartDeviceAuthorization();
  ASSERT_TRUE(start) << start.error().ToString();
  EXPECT_EQ(start->device_code, "dc-secret");
  EXPECT_EQ(start->user_code, "ABCD-EFGH");
  EXPECT_EQ(start->expires_in, 600);
  EXPECT_EQ(start->interval, 5);
  EXPECT_NE(fake_.last["https://idp.example.com/device/auth"].body.find("scope=openid"),
            std::string::npos);

  const std::pair<const char*, DevicePoll::State> states[] = {
      {"authorization_pending", DevicePoll::State::kPending},
      {"slow_down", DevicePoll::State::kSlowDown},
      {"expired_token", DevicePoll::State::kExpired},
      {"access_denied", DevicePoll::State::kDenied},
  };
  for (const auto& [error, state] : states) {
    fake_.token = {400, std::string(R"({"error":")") + error + "\"}"};
    auto p = idp_.PollDeviceToken("dc-secret");
    ASSERT_TRUE(p) << error;
    EXPECT_EQ(p->state, state) << error;
    EXPECT_FALSE(p->claims);
  }

  auto c = Claims();
  c.erase("nonce");  // no nonce in the device flow
  AnswerToken(fake_.k1, c);
  auto p = idp_.PollDeviceToken("dc-secret");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->state, DevicePoll::State::kSuccess);
  ASSERT_TRUE(p->claims);
  EXPECT_EQ(p->claims->email, "alice@example.com");
  const std::string& body = fake_.last["https://idp.example.com/token"].body;
  EXPECT_NE(body.find("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"),
            std::string::npos);
  EXPECT_NE(body.find("device_code=dc-secret"), std::string::npos);

  // A bad ID token fails the poll like a code exchange.
  c["aud"] = "someone-else";
  AnswerToken(fake_.k1, c);
  p = idp_.PollDeviceToken("dc-secret");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().reason(), Reason(crypto::JoseError::kJwtBadAudience));
}

TEST_F(UpstreamIdpTest, DeviceFlowUnsupportedWithoutEndpoint) {
  fake_.discovery = std::string(R"({"issuer":")") + kIssuer +
                    R"(","authorization_endpoint":"https://idp.example.com/auth",)"
                    R"("token_endpoint":"https://idp.example.com/token",)"
                    R"("jwks_uri":"https://idp.example.com/jwks"})";
  auto r = idp_.StartDeviceAuthorization();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason(), "device_flow_unsupported");
}

}  // namespace
}  // namespace cl::oidc
