// Tests of the issuer URL policy and discovery document validation.
#include "oidc/discovery.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace cl::oidc {
namespace {

TEST(IsAllowedIssuerUrl, Table) {
  struct Case {
    const char* url;
    bool allowed;
  } cases[] = {
      {"https://gitlab.com", true},
      {"https://token.actions.githubusercontent.com", true},
      {"https://idp.example.com:8443/realms/x", true},
      {"HTTPS://idp.example.com", true},
      {"http://127.0.0.1:8090", true},
      {"http://localhost:8090/path", true},
      {"http://[::1]:8090", true},
      {"http://idp.example.com", false},  // plain http off loopback
      {"http://127.0.0.2:8090", false},   // only the named loopback hosts
      {"http://127.0.0.1.evil.com", false},
      {"http://localhost.evil.com", false},
      {"https://user@idp.example.com", false},  // user info
      {"http://127.0.0.1@evil.com", false},
      {"https://idp.example.com#frag", false},
      {"https://", false},
      {"https://:443", false},
      {"https://idp.example.com:99999", false},
      {"https://idp.example.com:", false},
      {"https://idp example.com", false},
      {"ftp://idp.example.com", false},
      {"idp.example.com", false},
      {"", false},
      {"http://[::1", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsAllowedIssuerUrl(c.url), c.allowed) << c.url;
  }
}

constexpr char kIssuer[] = "https://idp.example.com";

std::string Doc(const std::string& issuer,
                const std::string& token_endpoint = "https://idp.example.com/token") {
  return R"({"issuer":")" + issuer +
         R"(","authorization_endpoint":"https://idp.example.com/auth","token_endpoint":")" +
         token_endpoint +
         R"(","jwks_uri":"https://idp.example.com/jwks","userinfo_endpoint":"https://idp.example.com/me"})";
}

TEST(ParseDiscovery, AcceptsMatchingIssuer) {
  auto md = ParseDiscovery(Doc(kIssuer), kIssuer);
  ASSERT_TRUE(md) << md.error().ToString();
  EXPECT_EQ(md->token_endpoint, "https://idp.example.com/token");
  EXPECT_EQ(md->userinfo_endpoint, "https://idp.example.com/me");
  EXPECT_TRUE(md->device_authorization_endpoint.empty());
}

TEST(ParseDiscovery, RejectsIssuerMismatch) {
  for (const char* other :
       {"https://evil.example.com", "https://idp.example.com/", "https://IDP.example.com"}) {
    auto md = ParseDiscovery(Doc(other), kIssuer);
    ASSERT_FALSE(md) << other;
    EXPECT_TRUE(md.error().IsUnavailable());
    EXPECT_EQ(md.error().reason(), "idp_discovery_invalid");
  }
}

TEST(ParseDiscovery, RejectsHttpEndpointOffLoopback) {
  auto md = ParseDiscovery(Doc(kIssuer, "http://idp.example.com/token"), kIssuer);
  ASSERT_FALSE(md);
  EXPECT_EQ(md.error().reason(), "idp_discovery_invalid");
}

TEST(ParseDiscovery, RejectsMissingOrMistypedMembers) {
  EXPECT_FALSE(ParseDiscovery(R"({"issuer":"https://idp.example.com"})", kIssuer));
  EXPECT_FALSE(ParseDiscovery(R"([1,2])", kIssuer));
  EXPECT_FALSE(ParseDiscovery("not json", kIssuer));
  std::string doc = Doc(kIssuer);
  doc.back() = ',';
  doc += R"("device_authorization_endpoint":42})";
  EXPECT_FALSE(ParseDiscovery(doc, kIssuer));
}

// Found by discovery_fuzzer (one-hour run, 2026-11-28): an empty required endpoint was taken
// for an absent optional one and accepted.
TEST(ParseDiscovery, RejectsEmptyRequiredEndpoints) {
  for (const char* name : {"authorization_endpoint", "token_endpoint", "jwks_uri"}) {
    boost::json::object doc = boost::json::parse(Doc(kIssuer)).as_object();
    doc[name] = "";
    auto md = ParseDiscovery(boost::json::serialize(doc), kIssuer);
    ASSERT_FALSE(md) << name;
    EXPECT_TRUE(md.error().IsUnavailable());
    EXPECT_EQ(md.error().reason(), "idp_discovery_invalid");
    EXPECT_NE(md.error().message().find(name), std::string::npos) << md.error().message();
  }
  // Optional endpoints may be empty.
  boost::json::object doc = boost::json::parse(Doc(kIssuer)).as_object();
  doc["userinfo_endpoint"] = "";
  doc["device_authorization_endpoint"] = "";
  auto md = ParseDiscovery(boost::json::serialize(doc), kIssuer);
  ASSERT_TRUE(md) << md.error().ToString();
  EXPECT_TRUE(md->userinfo_endpoint.empty());
}

TEST(FetchDiscovery, FetchesWellKnownWithLimits) {
  HttpClientRequest seen;
  FetchOptions opts;
  opts.fetch = [&](const HttpClientRequest& req) -> Result<HttpClientResponse> {
    seen = req;
    HttpClientResponse resp;
    resp.status = 200;
    resp.body = Doc(kIssuer);
    return resp;
  };
  auto md = FetchDiscovery(kIssuer, opts);
  ASSERT_TRUE(md) << md.error().ToString();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.url, "https://idp.example.com/.well-known/openid-configuration");
  EXPECT_EQ(seen.timeout_ms, 5000);
  EXPECT_EQ(seen.max_response_bytes, 256u * 1024u);
}

TEST(FetchDiscovery, UnreachableOrErrorStatusIsIdpUnavailable) {
  FetchOptions down;
  down.fetch = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return Fail(Error::Unavailable("connection refused"));
  };
  auto md = FetchDiscovery(kIssuer, down);
  ASSERT_FALSE(md);
  EXPECT_EQ(md.error().reason(), "idp_unavailable");

  FetchOptions err500;
  err500.fetch = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
    HttpClientResponse resp;
    resp.status = 500;
    return resp;
  };
  md = FetchDiscovery(kIssuer, err500);
  ASSERT_FALSE(md);
  EXPECT_EQ(md.error().reason(), "idp_unavailable");
}

TEST(FetchDiscovery, RefusesHttpIssuerWithoutFetching) {
  int calls = 0;
  FetchOptions opts;
  opts.fetch = [&](const HttpClientRequest&) -> Result<HttpClientResponse> {
    ++calls;
    return Fail(Error::Unavailable("unexpected"));
  };
  auto md = FetchDiscovery("http://idp.example.com", opts);
  ASSERT_FALSE(md);
  EXPECT_EQ(md.error().reason(), "bad_issuer_url");
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace cl::oidc
