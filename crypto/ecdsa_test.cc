// Tests for crypto/ecdsa.h (PEM P-256 keys, DER ECDSA/SHA-256 signatures) and the standard
// base64 decoder secret scanners' signature headers use.
#include "crypto/ecdsa.h"

#include <gtest/gtest.h>

#include "crypto/ecdsa_testing.h"
#include "crypto/hash.h"

namespace cl::crypto {
namespace {

constexpr std::string_view kBody =
    R"([{"token":"clapi_x","type":"chainloop_api_token","url":"https://github.com/a/b","source":"content"}])";

TEST(EcdsaP256, VerifiesItsOwnSignatureOverTheExactBytes) {
  auto signer = TestEcdsaKey::Generate();
  auto key = EcdsaP256PublicKey::FromPem(signer.PublicPem());
  ASSERT_TRUE(key) << key.error().message();
  std::string sig = signer.SignDer(kBody);
  EXPECT_TRUE((*key)->Verify(kBody, sig));
}

TEST(EcdsaP256, RefusesAnotherKeysSignature) {
  auto signer = TestEcdsaKey::Generate();
  auto other = TestEcdsaKey::Generate();
  auto key = EcdsaP256PublicKey::FromPem(other.PublicPem());
  ASSERT_TRUE(key);
  EXPECT_FALSE((*key)->Verify(kBody, signer.SignDer(kBody)));
}

TEST(EcdsaP256, RefusesATamperedBody) {
  auto signer = TestEcdsaKey::Generate();
  auto key = EcdsaP256PublicKey::FromPem(signer.PublicPem());
  ASSERT_TRUE(key);
  std::string sig = signer.SignDer(kBody);
  std::string tampered(kBody);
  tampered[tampered.size() - 3] = 'X';
  EXPECT_FALSE((*key)->Verify(tampered, sig));
  // A trailing space is a different body too: the signature covers the raw bytes.
  EXPECT_FALSE((*key)->Verify(std::string(kBody) + " ", sig));
}

TEST(EcdsaP256, RefusesNonDerSignatures) {
  auto signer = TestEcdsaKey::Generate();
  auto key = EcdsaP256PublicKey::FromPem(signer.PublicPem());
  ASSERT_TRUE(key);
  std::string sig = signer.SignDer(kBody);
  EXPECT_FALSE((*key)->Verify(kBody, ""));
  EXPECT_FALSE((*key)->Verify(kBody, std::string(64, '\x01')));     // raw r||s shape
  EXPECT_FALSE((*key)->Verify(kBody, sig + std::string(1, '\0')));  // trailing garbage
  std::string flipped = sig;
  flipped[0] = 0x31;  // not a SEQUENCE
  EXPECT_FALSE((*key)->Verify(kBody, flipped));
  std::string truncated = sig.substr(0, sig.size() - 1);
  EXPECT_FALSE((*key)->Verify(kBody, truncated));
}

TEST(EcdsaP256, RefusesKeysOfAnotherCurveOrType) {
  auto p384 = TestEcdsaKey::Generate("secp384r1");
  auto key = EcdsaP256PublicKey::FromPem(p384.PublicPem());
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message().find("P-256"), std::string::npos) << key.error().message();
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem(""));
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem("not a key"));
  EXPECT_FALSE(
      EcdsaP256PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem(std::string(EcdsaP256PublicKey::kMaxPemBytes + 1, 'A')));
}

TEST(Base64, DecodesTheStandardAlphabetWithPadding) {
  EXPECT_EQ(*Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(*Base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(*Base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(*Base64Decode("+/+/"), "\xfb\xff\xbf");
  EXPECT_EQ(*Base64Decode(""), "");
}

TEST(Base64, RefusesMalformedInput) {
  EXPECT_FALSE(Base64Decode("-_-_"));       // base64url alphabet
  EXPECT_FALSE(Base64Decode("Zm9vYg="));    // wrong padding
  EXPECT_FALSE(Base64Decode("Zm9v Yg=="));  // whitespace
  EXPECT_FALSE(Base64Decode("Zh=="));       // non-canonical trailing bits
  EXPECT_FALSE(Base64Decode("Z==="));
  EXPECT_FALSE(Base64Decode("%%%%"));
}

TEST(EcdsaP256, SignatureHeaderRoundTrip) {
  // What a scanner sends: base64 of the DER signature.
  auto signer = TestEcdsaKey::Generate();
  auto key = EcdsaP256PublicKey::FromPem(signer.PublicPem());
  ASSERT_TRUE(key);
  std::string sig = signer.SignDer(kBody);
  std::string header = Base64UrlEncode(sig);
  for (char& c : header) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (header.size() % 4 != 0) header += '=';
  auto decoded = Base64Decode(header);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE((*key)->Verify(kBody, *decoded));
}

}  // namespace
}  // namespace cl::crypto
