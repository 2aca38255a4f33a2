// Tests of CiVerifierOptions::on_fetch (the chainloop_ci_issuer_fetches_total metric): every
// fetch from an allowed issuer is reported with its document and outcome; a token naming an
// issuer off the allow-list reports nothing, since nothing is fetched.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/http_client.h"
#include "crypto/hash.h"
#include "oidc/ci_verifier.h"

namespace cl::oidc {
namespace {

constexpr const char* kIssuer = "https://gitlab.com";

// A JWT shaped token naming `iss`; its signature is never reached (no keys are served).
std::string UnsignedToken(const std::string& iss) {
  return crypto::Base64UrlEncode(R"({"alg":"RS256","typ":"JWT","kid":"k1"})") + "." +
         crypto::Base64UrlEncode(R"({"iss":")" + iss + R"(","aud":"a","sub":"s","jti":"j"})") +
         "." + crypto::Base64UrlEncode("signature");
}

class CiVerifierFetchTest : public ::testing::Test {
 protected:
  CiTokenVerifier Make(bool serve_discovery) {
    CiVerifierOptions o;
    o.fetch.fetch = [serve_discovery](const HttpClientRequest& req) -> Result<HttpClientResponse> {
      if (serve_discovery &&
          req.url == std::string(kIssuer) + "/.well-known/openid-configuration") {
        return HttpClientResponse{
            200,
            R"({"issuer":"https://gitlab.com","jwks_uri":"https://gitlab.com/oauth/discovery/keys"})",
            {}};
      }
      return Fail(Error::Unavailable("connection refused", Reason::kUnavailable));
    };
    o.on_fetch = [this](const std::string& issuer, std::string_view document, bool ok) {
      reported_.push_back(issuer + " " + std::string(document) + (ok ? " ok" : " error"));
    };
    return CiTokenVerifier(o, clock_);
  }
  FakeClock clock_;
  std::vector<std::string> reported_;
};

TEST_F(CiVerifierFetchTest, DiscoveryFailureIsReported) {
  auto v = Make(/*serve_discovery=*/false);
  EXPECT_FALSE(v.Verify(UnsignedToken(kIssuer), {}));
  EXPECT_EQ(reported_, std::vector<std::string>{"https://gitlab.com discovery error"});
}

TEST_F(CiVerifierFetchTest, DiscoveryThenKeysAreReported) {
  auto v = Make(/*serve_discovery=*/true);
  EXPECT_FALSE(v.Verify(UnsignedToken(kIssuer), {}));
  EXPECT_EQ(reported_, (std::vector<std::string>{"https://gitlab.com discovery ok",
                                                 "https://gitlab.com jwks error"}));
}

TEST_F(CiVerifierFetchTest, UnlistedIssuerReportsNothing) {
  auto v = Make(/*serve_discovery=*/true);
  EXPECT_FALSE(v.Verify(UnsignedToken("https://evil.example.com"), {}));
  EXPECT_TRUE(reported_.empty());
}

}  // namespace
}  // namespace cl::oidc
