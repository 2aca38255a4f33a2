// The credential of a request: the Bearer scheme, trimming, and kind detection.
#include "domain/credential_extractor.h"

#include <gtest/gtest.h>

#include <string>

namespace cl::domain {
namespace {

TEST(Authenticator, RejectsMissingAndMalformedCredentials) {
  EXPECT_EQ(ExtractBearer("").error().reason(), "unauthenticated");
  EXPECT_EQ(ExtractBearer("Basic abc").error().reason(), "malformed_token");
  EXPECT_EQ(*ExtractBearer("bearer  tok "), "tok");
}

TEST(CredentialExtractor, BearerSchemeIsCaseInsensitiveAndNeedsAToken) {
  struct Case {
    std::string header;
    const char* reason;  // nullptr: extracted
    std::string token;
  };
  const Case cases[] = {
      {"Bearer abc", nullptr, "abc"},       {"BEARER abc", nullptr, "abc"},
      {"bEaReR   abc  ", nullptr, "abc"},   {"Bearer", "malformed_token", ""},
      {"Bearer ", "malformed_token", ""},   {"Bearerabc", "malformed_token", ""},
      {"Token abc", "malformed_token", ""}, {"", "unauthenticated", ""},
  };
  for (const Case& c : cases) {
    auto token = ExtractBearer(c.header);
    if (c.reason == nullptr) {
      ASSERT_TRUE(token) << c.header;
      EXPECT_EQ(*token, c.token) << c.header;
    } else {
      ASSERT_FALSE(token) << c.header;
      EXPECT_EQ(token.error().reason(), c.reason) << c.header;
    }
  }
}

TEST(CredentialExtractor, ExtractCredentialChecksTheShape) {
  auto missing = ExtractCredential("");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().reason(), "unauthenticated");
  auto garbage = ExtractCredential("Bearer not-a-credential");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().reason(), "malformed_token");
}

TEST(CredentialExtractor, OnlySessionsApiTokensAndFederatedTokensAuthenticate) {
  EXPECT_TRUE(AuthenticatesRequests(crypto::CredentialKind::kSession));
  EXPECT_TRUE(AuthenticatesRequests(crypto::CredentialKind::kApiToken));
  EXPECT_TRUE(AuthenticatesRequests(crypto::CredentialKind::kFederated));
  EXPECT_FALSE(AuthenticatesRequests(crypto::CredentialKind::kLoginCode));
  EXPECT_FALSE(AuthenticatesRequests(crypto::CredentialKind::kDeviceHandle));
}

}  // namespace
}  // namespace cl::domain
