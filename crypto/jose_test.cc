// Tests for crypto/jose.h: RFC 7515 A.2/A.3 vectors, JWK/JWKS parsing, and VerifyJwt's
// exact failure reasons with generated RSA and EC P-256 keys.
#include "crypto/jose.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <random>
#include <thread>

#include "crypto/hash.h"
#include "crypto/jose_testing.h"

namespace cl::crypto {
namespace {

namespace json = boost::json;

// RFC 7515 Appendix A.2 (RS256) and A.3 (ES256): public keys and compact serializations.
constexpr char kA2N[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm"
    "4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5r"
    "exMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhy"
    "xXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
constexpr char kPayloadB64[] =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ";
constexpr char kA2Token[] =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1"
    "L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYE"
    "UipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
constexpr char kA3X[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr char kA3Y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr char kA3Token[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr int64_t kRfcExp = 1300819380;

std::string A2Jwks() {
  return std::string(R"({"keys":[{"kty":"RSA","n":")") + kA2N + R"(","e":"AQAB"}]})";
}
std::string A3Jwks() {
  return std::string(R"({"keys":[{"kty":"EC","crv":"P-256","x":")") + kA3X + R"(","y":")" + kA3Y +
         R"("}]})";
}

Jwks MustParseJwks(const std::string& text) {
  auto r = Jwks::Parse(text);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return r ? std::move(*r) : Jwks{};
}

void ExpectReason(const Result<Jwt>& r, JoseError want, const std::string& what = "") {
  ASSERT_FALSE(r.has_value()) << what << ": unexpectedly verified";
  EXPECT_TRUE(r.error().IsUnauthenticated()) << what;
  EXPECT_EQ(r.error().reason(), JoseErrorString(want)) << what << ": " << r.error().message();
}

std::string SplitPart(const std::string& token, int index) {
  size_t d1 = token.find('.');
  size_t d2 = token.find('.', d1 + 1);
  if (index == 0) return token.substr(0, d1);
  if (index == 1) return token.substr(d1 + 1, d2 - d1 - 1);
  return token.substr(d2 + 1);
}

// ---------------------------------------------------------------------------------------------
// RFC 7515 vectors.

TEST(Rfc7515Test, A2Rs256SignatureVerifies) {
  Jwks jwks = MustParseJwks(A2Jwks());
  ASSERT_EQ(jwks.keys.size(), 1u);
  const Jwk& key = *jwks.keys[0];
  EXPECT_EQ(key.kty(), "RSA");
  EXPECT_TRUE(key.Accepts("RS256"));
  EXPECT_FALSE(key.Accepts("ES256"));
  std::string token = kA2Token;
  std::string input = token.substr(0, token.rfind('.'));
  auto sig = Base64UrlDecode(SplitPart(token, 2));
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(key.Verify("RS256", input, *sig));
  EXPECT_FALSE(key.Verify("RS256", input + "x", *sig));
  EXPECT_FALSE(key.Verify("ES256", input, *sig));
}

TEST(Rfc7515Test, A2ThroughVerifyJwtPassesSignatureThenChecksClaims) {
  Jwks jwks = MustParseJwks(A2Jwks());
  JwtCheck check;
  check.issuer = "joe";
  check.audiences = {"anything"};
  check.now = (kRfcExp - 100) * 1000;
  // Signature and issuer pass; the RFC payload has no aud, which VerifyJwt requires.
  ExpectReason(VerifyJwt(kA2Token, jwks, check), JoseError::kJwtMissingClaim, "A.2");
  check.issuer = "not-joe";
  ExpectReason(VerifyJwt(kA2Token, jwks, check), JoseError::kJwtBadIssuer, "A.2 issuer");
  // The same token with one signature character changed fails at the signature.
  std::string tampered = kA2Token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  ExpectReason(VerifyJwt(tampered, jwks, check), JoseError::kJwtBadSignature, "A.2 tampered");

  auto decoded = DecodeJwtUnverified(kA2Token);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->alg, "RS256");
  EXPECT_EQ(decoded->iss, "joe");
  EXPECT_EQ(decoded->exp, kRfcExp);
  EXPECT_TRUE(decoded->kid.empty());
}

TEST(Rfc7515Test, A3Es256SignatureVerifies) {
  Jwks jwks = MustParseJwks(A3Jwks());
  ASSERT_EQ(jwks.keys.size(), 1u);
  const Jwk& key = *jwks.keys[0];
  EXPECT_EQ(key.kty(), "EC");
  EXPECT_TRUE(key.Accepts("ES256"));
  EXPECT_FALSE(key.Accepts("RS256"));
  std::string token = kA3Token;
  std::string input = token.substr(0, token.rfind('.'));
  auto sig = Base64UrlDecode(SplitPart(token, 2));
  ASSERT_TRUE(sig.has_value());
  ASSERT_EQ(sig->size(), 64u);
  EXPECT_TRUE(key.Verify("ES256", input, *sig));
  EXPECT_FALSE(key.Verify("ES256", input + "x", *sig));
  // Wrong lengths are refused outright (no DER, no truncation, no extra bytes).
  EXPECT_FALSE(key.Verify("ES256", input, sig->substr(0, 63)));
  EXPECT_FALSE(key.Verify("ES256", input, *sig + '\0'));
  EXPECT_FALSE(key.Verify("ES256", input, ""));

  JwtCheck check;
  check.issuer = "joe";
  check.audiences = {"x"};
  check.now = (kRfcExp - 100) * 1000;
  ExpectReason(VerifyJwt(kA3Token, jwks, check), JoseError::kJwtMissingClaim, "A.3");
  std::string other_payload = std::string("eyJhbGciOiJFUzI1NiJ9.") +
                              Base64UrlEncode(R"({"iss":"joe","exp":1300819380})") + "." +
                              SplitPart(token, 2);
  ExpectReason(VerifyJwt(other_payload, jwks, check), JoseError::kJwtBadSignature, "A.3 swap");
}

// ---------------------------------------------------------------------------------------------
// JWK / JWKS parsing.

TEST(JwksTest, MalformedDocumentsFail) {
  for (std::string_view doc : {"", "not json", "[]", "{}", R"({"keys":{}})", R"({"keys":"x"})",
                               R"({"keys":null})", "42"}) {
    auto r = Jwks::Parse(doc);
    ASSERT_FALSE(r.has_value()) << doc;
    EXPECT_EQ(r.error().reason(), "jwks_malformed") << doc;
  }
}

TEST(JwksTest, UnsupportedAndBrokenKeysAreSkipped) {
  static const TestSigningKey rsa = TestSigningKey::GenerateRsa("good-rsa");
  std::string doc = R"({"keys":[
      {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"},
      {"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T","kid":"hmac"},
      {"kty":"EC","crv":"P-384","x":"AAAA","y":"AAAA","kid":"p384"},
      {"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
       "y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","kid":"offcurve"},
      {"kty":"RSA","n":"AQAB","e":"AQAB","kid":"tiny"},
      {"kid":"nokty"},
      "not an object",
      )" + rsa.PublicJwkJson() +
                    R"(]})";
  Jwks jwks = MustParseJwks(doc);
  ASSERT_EQ(jwks.keys.size(), 1u);
  EXPECT_EQ(jwks.keys[0]->kid(), "good-rsa");
  EXPECT_NE(jwks.FindByKid("good-rsa"), nullptr);
  EXPECT_EQ(jwks.FindByKid("ed"), nullptr);
  EXPECT_EQ(jwks.FindByKid(""), nullptr);
}

TEST(JwkTest, ReasonsForRejectedKeys) {
  struct Case {
    std::string json;
    JoseError want;
  };
  static const TestSigningKey small = TestSigningKey::GenerateRsa("small", 1024);
  const Case cases[] = {
      {R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
       JoseError::kJwkUnsupported},
      {R"({"kty":"oct","k":"AAAA"})", JoseError::kJwkUnsupported},
      {R"({"kty":"EC","crv":"P-384","x":"AAAA","y":"AAAA"})", JoseError::kJwkUnsupported},
      {small.PublicJwkJson(), JoseError::kJwkUnsupported},  // RSA < 2048 bits
      {R"({"kty":"RSA","e":"AQAB"})", JoseError::kJwksMalformed},
      {R"({"kty":"RSA","n":"!!","e":"AQAB"})", JoseError::kJwksMalformed},
      {R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"})",
       JoseError::kJwksMalformed},
      {R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
           "y":"x_FFzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
       JoseError::kJwksMalformed},  // y changed: not on the curve
      {R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
           "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"})",
       JoseError::kJwksMalformed},  // non-canonical base64url (trailing bits set)
      {R"({"kty":"EC","crv":"P-256","x":"83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
           "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
       JoseError::kJwksMalformed},  // short coordinate
      {std::string(R"({"kty":"RSA","use":"enc","e":"AQAB","n":")") + kA2N + "\"}",
       JoseError::kJwkUnsupported},
      {std::string(R"({"kty":"RSA","kid":5,"e":"AQAB","n":")") + kA2N + "\"}",
       JoseError::kJwksMalformed},
      {R"({"n":"AQAB"})", JoseError::kJwksMalformed},
      {"[]", JoseError::kJwksMalformed},
  };
  for (const auto& c : cases) {
    boost::system::error_code ec;
    json::value v = json::parse(c.json, ec);
    ASSERT_FALSE(ec) << c.json;
    auto r = Jwk::Parse(v);
    ASSERT_FALSE(r.has_value()) << c.json;
    EXPECT_EQ(r.error().reason(), JoseErrorString(c.want)) << c.json;
  }
}

TEST(JwkTest, DeclaredAlgRestrictsKey) {
  boost::system::error_code ec;
  json::value v =
      json::parse(std::string(R"({"kty":"RSA","alg":"RS384","e":"AQAB","n":")") + kA2N + "\"}", ec);
  auto key = Jwk::Parse(v);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ((*key)->alg(), "RS384");
  EXPECT_FALSE((*key)->Accepts("RS256"));
  EXPECT_FALSE((*key)->Accepts("RS384"));  // parsed, but not an algorithm we verify
}

// ---------------------------------------------------------------------------------------------
// VerifyJwt with generated keys.

constexpr UnixMillis kNow = 1'700'000'000'000;
constexpr int64_t kNowS = kNow / 1000;
constexpr char kIssuer[] = "https://issuer.example";

class VerifyJwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestSigningKey(TestSigningKey::GenerateRsa("rsa-1"));
    rsa2_ = new TestSigningKey(TestSigningKey::GenerateRsa("rsa-2"));
    ec_ = new TestSigningKey(TestSigningKey::GenerateEcP256("ec-1"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete rsa2_;
    delete ec_;
  }

  void SetUp() override {
    jwks_ = MustParseJwks(JwksJson({rsa_, rsa2_, ec_}));
    ASSERT_EQ(jwks_.keys.size(), 3u);
    check_.issuer = kIssuer;
    check_.audiences = {"chainloop", "other"};
    check_.now = kNow;
  }

  static json::object Claims() {
    return json::object{
        {"iss", kIssuer},     {"sub", "project_path:group/app:ref_type:branch:ref:main"},
        {"aud", "chainloop"}, {"iat", kNowS - 10},
        {"exp", kNowS + 300}, {"jti", "id-1"},
        {"project_id", 42}};
  }

  static TestSigningKey* rsa_;
  static TestSigningKey* rsa2_;
  static TestSigningKey* ec_;
  Jwks jwks_;
  JwtCheck check_;
};
TestSigningKey* VerifyJwtTest::rsa_ = nullptr;
TestSigningKey* VerifyJwtTest::rsa2_ = nullptr;
TestSigningKey* VerifyJwtTest::ec_ = nullptr;

TEST_F(VerifyJwtTest, GoodTokensVerify) {
  for (const TestSigningKey* key : {rsa_, rsa2_, ec_}) {
    auto r = VerifyJwt(key->Sign({}, Claims()), jwks_, check_);
    ASSERT_TRUE(r.has_value()) << key->kid() << ": " << r.error().ToString();
    EXPECT_EQ(r->alg, key->alg());
    EXPECT_EQ(r->kid, key->kid());
    EXPECT_EQ(r->iss, kIssuer);
    EXPECT_EQ(r->sub, "project_path:group/app:ref_type:branch:ref:main");
    EXPECT_EQ(r->aud, std::vector<std::string>{"chainloop"});
    EXPECT_EQ(r->exp, kNowS + 300);
    EXPECT_EQ(r->iat, kNowS - 10);
    EXPECT_FALSE(r->nbf.has_value());
    EXPECT_EQ(r->jti, "id-1");
    EXPECT_EQ(r->StringClaim("project_id"), "42");
    EXPECT_EQ(r->StringClaim("sub"), r->sub);
    EXPECT_EQ(r->StringClaim("absent"), "");
  }
}

TEST_F(VerifyJwtTest, ClaimFailuresHaveExactReasons) {
  using Mutate = std::function<void(json::object&, JwtCheck&)>;
  struct Case {
    std::string name;
    Mutate mutate;
    std::optional<JoseError> want;  // nullopt: must verify
  };
  const Case cases[] = {
      {"iss wrong", [](auto& c, auto&) { c["iss"] = "https://evil.example"; },
       JoseError::kJwtBadIssuer},
      {"iss trailing slash", [](auto& c, auto&) { c["iss"] = std::string(kIssuer) + "/"; },
       JoseError::kJwtBadIssuer},
      {"iss missing", [](auto& c, auto&) { c.erase("iss"); }, JoseError::kJwtMissingClaim},
      {"iss number", [](auto& c, auto&) { c["iss"] = 1; }, JoseError::kJwtMissingClaim},
      {"aud wrong", [](auto& c, auto&) { c["aud"] = "someone-else"; }, JoseError::kJwtBadAudience},
      {"aud array without ours",
       [](auto& c, auto&) {
         c["aud"] = json::array{"a", "b"};
       },
       JoseError::kJwtBadAudience},
      {"aud array with ours",
       [](auto& c, auto&) {
         c["aud"] = json::array{"a", "other"};
       },
       std::nullopt},
      {"aud missing", [](auto& c, auto&) { c.erase("aud"); }, JoseError::kJwtMissingClaim},
      {"aud empty array", [](auto& c, auto&) { c["aud"] = json::array{}; },
       JoseError::kJwtMissingClaim},
      {"aud mixed types",
       [](auto& c, auto&) {
         c["aud"] = json::array{"chainloop", 1};
       },
       JoseError::kJwtMissingClaim},
      {"no audiences configured", [](auto&, auto& k) { k.audiences.clear(); },
       JoseError::kJwtBadAudience},
      {"sub missing", [](auto& c, auto&) { c.erase("sub"); }, JoseError::kJwtMissingClaim},
      {"sub number", [](auto& c, auto&) { c["sub"] = 7; }, JoseError::kJwtMissingClaim},
      {"exp missing", [](auto& c, auto&) { c.erase("exp"); }, JoseError::kJwtMissingClaim},
      {"exp string", [](auto& c, auto&) { c["exp"] = "tomorrow"; }, JoseError::kJwtMissingClaim},
      {"exp long past", [](auto& c, auto&) { c["exp"] = kNowS - 3600; }, JoseError::kJwtExpired},
      {"exp 61s past", [](auto& c, auto&) { c["exp"] = kNowS - 61; }, JoseError::kJwtExpired},
      {"exp exactly leeway past", [](auto& c, auto&) { c["exp"] = kNowS - 60; },
       JoseError::kJwtExpired},
      {"exp 59s past", [](auto& c, auto&) { c["exp"] = kNowS - 59; }, std::nullopt},
      {"exp as fraction", [](auto& c, auto&) { c["exp"] = kNowS + 10.5; }, std::nullopt},
      {"exp huge", [](auto& c, auto&) { c["exp"] = INT64_MAX; }, std::nullopt},
      {"leeway over 60 is capped",
       [](auto& c, auto& k) {
         c["exp"] = kNowS - 61;
         k.leeway_seconds = 3600;
       },
       JoseError::kJwtExpired},
      {"zero leeway",
       [](auto& c, auto& k) {
         c["exp"] = kNowS;
         k.leeway_seconds = 0;
       },
       JoseError::kJwtExpired},
      {"negative leeway treated as zero",
       [](auto& c, auto& k) {
         c["exp"] = kNowS + 1;
         k.leeway_seconds = -100;
       },
       std::nullopt},
      {"nbf 61s ahead", [](auto& c, auto&) { c["nbf"] = kNowS + 61; }, JoseError::kJwtNotYetValid},
      {"nbf exactly leeway ahead", [](auto& c, auto&) { c["nbf"] = kNowS + 60; }, std::nullopt},
      {"nbf past", [](auto& c, auto&) { c["nbf"] = kNowS - 5; }, std::nullopt},
      {"nbf string", [](auto& c, auto&) { c["nbf"] = "x"; }, JoseError::kJwtMissingClaim},
      {"iat missing", [](auto& c, auto&) { c.erase("iat"); }, JoseError::kJwtMissingClaim},
      {"iat 61s ahead", [](auto& c, auto&) { c["iat"] = kNowS + 61; },
       JoseError::kJwtIssuedInFuture},
      {"iat exactly leeway ahead", [](auto& c, auto&) { c["iat"] = kNowS + 60; }, std::nullopt},
      {"max age exceeded",
       [](auto& c, auto& k) {
         k.max_age_seconds = 600;
         c["iat"] = kNowS - 661;
       },
       JoseError::kJwtTooOld},
      {"max age exactly at leeway",
       [](auto& c, auto& k) {
         k.max_age_seconds = 600;
         c["iat"] = kNowS - 660;
       },
       JoseError::kJwtTooOld},
      {"max age within",
       [](auto& c, auto& k) {
         k.max_age_seconds = 600;
         c["iat"] = kNowS - 659;
       },
       std::nullopt},
  };
  for (const TestSigningKey* key : {rsa_, ec_}) {
    for (const auto& c : cases) {
      json::object claims = Claims();
      JwtCheck check = check_;
      c.mutate(claims, check);
      auto r = VerifyJwt(key->Sign({}, claims), jwks_, check);
      std::string what = key->alg() + " " + c.name;
      if (c.want) {
        ExpectReason(r, *c.want, what);
      } else {
        EXPECT_TRUE(r.has_value()) << what << ": " << r.error().ToString();
      }
    }
  }
}

TEST_F(VerifyJwtTest, SubMillisecondBoundaryOfExp) {
  json::object claims = Claims();
  claims["exp"] = kNowS - 60;
  std::string token = rsa_->Sign({}, claims);
  JwtCheck check = check_;
  check.now = kNow - 1;  // one millisecond before exp + leeway
  EXPECT_TRUE(VerifyJwt(token, jwks_, check).has_value());
  check.now = kNow;
  ExpectReason(VerifyJwt(token, jwks_, check), JoseError::kJwtExpired);
}

TEST_F(VerifyJwtTest, AlgorithmsOutsideTheAllowListAreRefused) {
  json::object claims = Claims();
  std::string payload = Base64UrlEncode(json::serialize(claims));
  // alg none, with and without a signature part.
  std::string none = Base64UrlEncode(R"({"alg":"none","kid":"rsa-1"})") + "." + payload;
  ExpectReason(VerifyJwt(none + ".", jwks_, check_), JoseError::kJwtHeaderBadAlg, "none");
  ExpectReason(VerifyJwt(none + ".AAAA", jwks_, check_), JoseError::kJwtHeaderBadAlg, "none sig");
  // HS256 keyed with the RSA public key text (the classic confusion attack).
  std::string hs_input = Base64UrlEncode(R"({"alg":"HS256","kid":"rsa-1"})") + "." + payload;
  std::string hs = hs_input + "." + Base64UrlEncode(HmacSha256(rsa_->PublicJwkJson(), hs_input));
  ExpectReason(VerifyJwt(hs, jwks_, check_), JoseError::kJwtHeaderBadAlg, "HS256");
  // alg missing, not a string, unsupported even if the caller allows it.
  ExpectReason(VerifyJwt(rsa_->Sign({{"alg", nullptr}}, claims), jwks_, check_),
               JoseError::kJwtHeaderBadAlg, "missing alg");
  ExpectReason(VerifyJwt(rsa_->Sign({{"alg", 256}}, claims), jwks_, check_),
               JoseError::kJwtHeaderBadAlg, "numeric alg");
  ExpectReason(VerifyJwt(rsa_->Sign({{"alg", "rs256"}}, claims), jwks_, check_),
               JoseError::kJwtHeaderBadAlg, "lower-case alg");
  JwtCheck only_es = check_;
  only_es.allowed_algs = {"ES256"};
  ExpectReason(VerifyJwt(rsa_->Sign({}, claims), jwks_, only_es), JoseError::kJwtHeaderBadAlg,
               "RS256 not allowed");
  JwtCheck lax = check_;
  lax.allowed_algs = {"RS256", "ES256", "PS256", "none", "HS256"};
  ExpectReason(VerifyJwt(rsa_->Sign({{"alg", "PS256"}}, claims), jwks_, lax),
               JoseError::kJwtHeaderBadAlg, "PS256 unsupported");
  ExpectReason(VerifyJwt(hs, jwks_, lax), JoseError::kJwtHeaderBadAlg, "HS256 even if allowed");
  ExpectReason(VerifyJwt(none + ".", jwks_, lax), JoseError::kJwtHeaderBadAlg,
               "none even if allowed");
}

TEST_F(VerifyJwtTest, AlgMustFitTheKey) {
  // RS256 header naming the EC key.
  ExpectReason(VerifyJwt(ec_->Sign({{"alg", "RS256"}}, Claims()), jwks_, check_),
               JoseError::kJwtKeyAlgMismatch, "RS256 with EC key");
  // ES256 header naming the RSA key (signed by the RSA key).
  ExpectReason(VerifyJwt(rsa_->Sign({{"alg", "ES256"}}, Claims()), jwks_, check_),
               JoseError::kJwtKeyAlgMismatch, "ES256 with RSA key");
  // ES256 token signed by a real EC key, but the kid names an RSA key.
  ExpectReason(VerifyJwt(ec_->Sign({{"kid", "rsa-1"}}, Claims()), jwks_, check_),
               JoseError::kJwtKeyAlgMismatch, "EC token, RSA kid");
  // The JWK declares a different alg than the token uses.
  json::object jwk = rsa_->PublicJwk();
  jwk["alg"] = "RS512";
  Jwks declared = MustParseJwks(json::serialize(json::object{{"keys", json::array{jwk}}}));
  ExpectReason(VerifyJwt(rsa_->Sign({}, Claims()), declared, check_), JoseError::kJwtKeyAlgMismatch,
               "declared alg");
}

TEST_F(VerifyJwtTest, SameKidDifferentKeyTypesPicksTheFittingKey) {
  // Two keys share a kid (rotation across key types): the one accepting the alg is used.
  json::object rsa_jwk = rsa_->PublicJwk();
  json::object ec_jwk = ec_->PublicJwk();
  ec_jwk["kid"] = "shared";
  rsa_jwk["kid"] = "shared";
  Jwks jwks = MustParseJwks(json::serialize(json::object{{"keys", json::array{rsa_jwk, ec_jwk}}}));
  EXPECT_TRUE(VerifyJwt(ec_->Sign({{"kid", "shared"}}, Claims()), jwks, check_).has_value());
  EXPECT_TRUE(VerifyJwt(rsa_->Sign({{"kid", "shared"}}, Claims()), jwks, check_).has_value());
}

TEST_F(VerifyJwtTest, KeySelectionByKid) {
  ExpectReason(VerifyJwt(rsa_->Sign({{"kid", "nope"}}, Claims()), jwks_, check_),
               JoseError::kJwtUnknownKid, "unknown kid");
  ExpectReason(VerifyJwt(rsa_->Sign({{"kid", ""}}, Claims()), jwks_, check_),
               JoseError::kJwtUnknownKid, "empty kid");
  // Signed by rsa-1 but naming rsa-2: the signature check fails.
  ExpectReason(VerifyJwt(rsa_->Sign({{"kid", "rsa-2"}}, Claims()), jwks_, check_),
               JoseError::kJwtBadSignature, "other RSA kid");
  // No kid: two RSA keys are candidates, so RS256 is ambiguous; one EC key, so ES256 is not.
  ExpectReason(VerifyJwt(rsa_->Sign({{"kid", nullptr}}, Claims()), jwks_, check_),
               JoseError::kJwtUnknownKid, "no kid, two RSA keys");
  EXPECT_TRUE(VerifyJwt(ec_->Sign({{"kid", nullptr}}, Claims()), jwks_, check_).has_value());
  Jwks empty;
  ExpectReason(VerifyJwt(ec_->Sign({}, Claims()), empty, check_), JoseError::kJwtUnknownKid,
               "empty key set");
  ExpectReason(VerifyJwt(ec_->Sign({{"kid", nullptr}}, Claims()), empty, check_),
               JoseError::kJwtUnknownKid, "empty key set, no kid");
  ExpectReason(VerifyJwt(ec_->Sign({{"kid", 7}}, Claims()), jwks_, check_),
               JoseError::kJwtMalformed, "numeric kid");
}

TEST_F(VerifyJwtTest, TamperingBreaksTheSignature) {
  for (const TestSigningKey* key : {rsa_, ec_}) {
    std::string token = key->Sign({}, Claims());
    std::string header = SplitPart(token, 0), sig = SplitPart(token, 2);
    json::object evil = Claims();
    evil["sub"] = "project_path:attacker/app";
    std::string forged = header + "." + Base64UrlEncode(json::serialize(evil)) + "." + sig;
    ExpectReason(VerifyJwt(forged, jwks_, check_), JoseError::kJwtBadSignature, "payload");

    auto raw_sig = Base64UrlDecode(sig);
    ASSERT_TRUE(raw_sig.has_value());
    for (size_t i : {size_t{0}, raw_sig->size() / 2, raw_sig->size() - 1}) {
      std::string flipped = *raw_sig;
      flipped[i] ^= 0x01;
      ExpectReason(VerifyJwt(header + "." + SplitPart(token, 1) + "." + Base64UrlEncode(flipped),
                             jwks_, check_),
                   JoseError::kJwtBadSignature, "flipped byte");
    }
    std::string body = header + "." + SplitPart(token, 1) + ".";
    ExpectReason(VerifyJwt(body, jwks_, check_), JoseError::kJwtBadSignature, "empty sig");
    ExpectReason(VerifyJwt(body + Base64UrlEncode(raw_sig->substr(1)), jwks_, check_),
                 JoseError::kJwtBadSignature, "short sig");
    ExpectReason(VerifyJwt(body + Base64UrlEncode(*raw_sig + "x"), jwks_, check_),
                 JoseError::kJwtBadSignature, "long sig");
  }
  // An ES256 signature in DER form (what OpenSSL produces natively) is not a JWS signature.
  std::string token = ec_->Sign({}, Claims());
  auto raw = Base64UrlDecode(SplitPart(token, 2));
  ASSERT_TRUE(raw.has_value());
  std::string der = "\x30\x44\x02\x20" + raw->substr(0, 32) + "\x02\x20" + raw->substr(32);
  ExpectReason(
      VerifyJwt(token.substr(0, token.rfind('.') + 1) + Base64UrlEncode(der), jwks_, check_),
      JoseError::kJwtBadSignature, "DER ES256");
}

TEST_F(VerifyJwtTest, GarbageIsMalformedNeverACrash) {
  const std::string good = rsa_->Sign({}, Claims());
  const std::string deep(200, '[');
  const std::vector<std::string> inputs = {
      "",
      "a.b",
      "a.b.c.d",
      good + ".x",
      ".",
      "..",
      "...",
      "!!!.e30.AAAA",
      "e30.!!!.AAAA",
      SplitPart(good, 0) + "." + SplitPart(good, 1) + ".!!!",
      "e30.e30.AAAA=",
      Base64UrlEncode("not json") + ".e30.AAAA",
      Base64UrlEncode("[]") + ".e30.AAAA",
      Base64UrlEncode(R"({"alg":"RS256"})") + "." + Base64UrlEncode("[1,2]") + ".AAAA",
      Base64UrlEncode(R"({"alg":"RS256"})") + "." + Base64UrlEncode(deep) + ".AAAA",
      std::string(20000, 'a') + ".e30.AAAA",
      good + " ",
      " " + good,
      std::string("e30\0.e30.AAAA", 13),
  };
  for (const auto& in : inputs) {
    ExpectReason(VerifyJwt(in, jwks_, check_), JoseError::kJwtMalformed, in.substr(0, 40));
    EXPECT_FALSE(DecodeJwtUnverified(in).has_value()) << in.substr(0, 40);
  }
  // A token with a critical header extension we do not understand is refused even if signed.
  ExpectReason(VerifyJwt(rsa_->Sign({{"crit", json::array{"b64"}}, {"b64", false}}, Claims()),
                         jwks_, check_),
               JoseError::kJwtMalformed, "crit");
}

TEST_F(VerifyJwtTest, RandomMutationsNeverCrash) {
  const std::string good = ec_->Sign({}, Claims());
  std::mt19937 rng(12345);
  const std::string charset =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x01\xff";
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (t.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (pos < t.size()) t[pos] = charset[rng() % charset.size()];
          break;
        case 1:
          t.insert(pos, 1, charset[rng() % charset.size()]);
          break;
        default:
          if (pos < t.size()) t.erase(pos, 1 + rng() % 8);
      }
    }
    auto r = VerifyJwt(t, jwks_, check_);
    if (r) {
      ++accepted;
    } else {
      EXPECT_FALSE(r.error().reason().empty());
    }
  }
  // Only edits that leave the signed bytes unchanged (e.g. none) can verify; they are rare.
  EXPECT_LT(accepted, 30);
}

TEST_F(VerifyJwtTest, ErrorMessagesNeverContainTheToken) {
  std::string token = rsa_->Sign({}, json::object{{"iss", "x"}});
  auto r = VerifyJwt(token, jwks_, check_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message().find(SplitPart(token, 1)), std::string::npos);
  EXPECT_EQ(r.error().message().find(SplitPart(token, 2)), std::string::npos);
}

TEST_F(VerifyJwtTest, ConcurrentVerificationSharesKeys) {
  const std::string a = rsa_->Sign({}, Claims());
  const std::string b = ec_->Sign({}, Claims());
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (!VerifyJwt((i + t) % 2 ? a : b, jwks_, check_)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// Decode once, verify (possibly twice, as after a key refresh) without decoding again.
TEST_F(VerifyJwtTest, DecodedTokenVerifiesWithoutASecondDecode) {
  const std::string token = ec_->Sign({}, Claims());
  auto d = DecodeJwt(token);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  EXPECT_EQ(d->jwt.kid, "ec-1");
  EXPECT_EQ(d->signing_input, token.substr(0, token.rfind('.')));
  EXPECT_EQ(d->signature.size(), 64u);

  Jwks without_ec = MustParseJwks(JwksJson({rsa_, rsa2_}));
  auto stale = VerifyDecodedJwt(*d, without_ec, check_);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().reason(), JoseErrorString(JoseError::kJwtUnknownKid));
  auto fresh = VerifyDecodedJwt(*d, jwks_, check_);
  ASSERT_TRUE(fresh.has_value()) << fresh.error().ToString();
  EXPECT_EQ(d->jwt.sub, "project_path:group/app:ref_type:branch:ref:main");
  EXPECT_EQ(d->jwt.StringClaim("project_id"), "42");

  // The same checks as VerifyJwt: a claim failure is reported the same way.
  JwtCheck late = check_;
  late.now = (kNowS + 400) * 1000;
  auto expired = VerifyDecodedJwt(*d, jwks_, late);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().reason(), JoseErrorString(JoseError::kJwtExpired));
}

// The JWT decoder's base64url (four characters per step) agrees with crypto::Base64UrlDecode on
// every length, and refuses the same non-canonical spellings.
TEST(DecodeJwtTest, Base64UrlOfEveryLengthRoundTrips) {
  const std::string head = Base64UrlEncode(R"({"alg":"RS256"})") + "." + Base64UrlEncode("{}");
  std::mt19937 rng(7);
  for (size_t len = 0; len <= 70; ++len) {
    std::string bytes(len, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
    auto d = DecodeJwt(head + "." + Base64UrlEncode(bytes));
    ASSERT_TRUE(d.has_value()) << len;
    EXPECT_EQ(d->signature, bytes) << len;
  }
  for (const char* sig : {"AB", "AAB", "A", "AAAAA", "AA=A", "AA+A", "AA/A"}) {
    EXPECT_FALSE(Base64UrlDecode(sig).has_value()) << sig;
    auto d = DecodeJwt(head + "." + sig);
    ASSERT_FALSE(d.has_value()) << sig;
    EXPECT_EQ(d.error().reason(), JoseErrorString(JoseError::kJwtMalformed)) << sig;
  }
}

TEST(DecodeJwtUnverifiedTest, ReadsHeaderAndClaimsWithoutAKey) {
  static const TestSigningKey key = TestSigningKey::GenerateEcP256("k1");
  json::object claims{{"iss", "https://gitlab.com"},
                      {"aud", json::array{"a", "b"}},
                      {"sub", "s"},
                      {"exp", 100},
                      {"iat", 50},
                      {"nbf", 40},
                      {"namespace_id", 1234567890123},
                      {"ratio", 1.5}};
  auto r = DecodeJwtUnverified(key.Sign({}, claims));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->alg, "ES256");
  EXPECT_EQ(r->kid, "k1");
  EXPECT_EQ(r->header.at("typ").as_string(), "JWT");
  EXPECT_EQ(r->iss, "https://gitlab.com");
  EXPECT_EQ(r->aud, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->exp, 100);
  EXPECT_EQ(r->iat, 50);
  ASSERT_TRUE(r->nbf.has_value());
  EXPECT_EQ(*r->nbf, 40);
  EXPECT_EQ(r->StringClaim("namespace_id"), "1234567890123");
  EXPECT_EQ(r->StringClaim("ratio"), "1.5");
}

TEST(TestSigningKeyTest, CopiesShareTheKeyAndJwksRoundTrips) {
  TestSigningKey a = TestSigningKey::GenerateEcP256("a");
  TestSigningKey copy = a;
  TestSigningKey moved = std::move(copy);
  Jwks jwks = MustParseJwks(JwksJson({&a}));
  JwtCheck check;
  check.issuer = "i";
  check.audiences = {"x"};
  check.now = kNow;
  json::object claims{{"iss", "i"}, {"aud", "x"}, {"sub", "s"}, {"iat", kNowS}, {"exp", kNowS + 1}};
  EXPECT_TRUE(VerifyJwt(moved.Sign({}, claims), jwks, check).has_value());
  EXPECT_EQ(moved.alg(), "ES256");
  EXPECT_EQ(moved.PublicJwkJson(), a.PublicJwkJson());
}

}  // namespace
}  // namespace cl::crypto

namespace cl::crypto {
namespace {

TEST(LooksLikeJwt, TellsCompactJwsFromOpaqueCredentials) {
  EXPECT_TRUE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9..c2ln"));  // empty payload
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.eyJ9."));  // empty signature
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJSUzI1NiJ9.eyJ9"));   // two parts
  EXPECT_FALSE(LooksLikeJwt("eyJa.eyJ9.c2ln.x"));            // four parts
  EXPECT_FALSE(LooksLikeJwt("abc.def.ghi"));                 // not a JSON header
  EXPECT_FALSE(LooksLikeJwt("eyJa.ey J9.c2ln"));             // space
  EXPECT_FALSE(LooksLikeJwt("clapi_0123456789abcdef"));
  EXPECT_FALSE(LooksLikeJwt("eyJa.eyJ9." + std::string(17 * 1024, 'a')));  // over 16 KiB
}

}  // namespace
}  // namespace cl::crypto
