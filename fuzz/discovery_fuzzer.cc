// Fuzz target: OpenID Provider discovery documents (oidc/discovery), as served by an upstream
// IdP or a CI issuer at /.well-known/openid-configuration, and the issuer URL policy.
//
// First byte even: the rest is a discovery document for a fixed issuer, parsed directly and
// through FetchDiscovery with an in-process transport (never the network). First byte odd: the
// rest is "<issuer>\n<document>", so the URL policy sees fuzzed issuers too.
// Invariants: a document that parses names exactly the configured issuer, and every endpoint
// it yields passes IsAllowedIssuerUrl; errors are Unavailable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "oidc/discovery.h"

using namespace cl;

namespace {

void CheckMetadata(const Result<oidc::ProviderMetadata>& md, const std::string& issuer) {
  if (!md) {
    fuzz::Check(md.error().IsUnavailable(), "discovery errors are Unavailable");
    return;
  }
  fuzz::Check(md->issuer == issuer, "issuer is the configured one");
  for (const std::string* url : {&md->authorization_endpoint, &md->token_endpoint, &md->jwks_uri}) {
    fuzz::Check(oidc::IsAllowedIssuerUrl(*url), "required endpoint passes the URL policy");
  }
  for (const std::string* url : {&md->userinfo_endpoint, &md->device_authorization_endpoint}) {
    fuzz::Check(url->empty() || oidc::IsAllowedIssuerUrl(*url),
                "optional endpoint passes the URL policy");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string issuer = "https://idp.fuzz.test";
  std::string_view doc = rest;
  if (data[0] & 1) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) nl = rest.size();
    issuer = std::string(rest.substr(0, nl));
    doc = nl < rest.size() ? rest.substr(nl + 1) : std::string_view();
    bool allowed = oidc::IsAllowedIssuerUrl(issuer);
    if (allowed) {
      fuzz::Check(issuer.find_first_of(" \t\r\n#") == std::string::npos,
                  "an allowed URL has no whitespace or fragment");
    }
  }
  CheckMetadata(oidc::ParseDiscovery(doc, issuer), issuer);

  // The same document through the fetch path, answered in-process.
  oidc::FetchOptions options;
  options.max_response_bytes = 64 * 1024;
  std::string requested_url;
  options.fetch = [&](const HttpClientRequest& req) -> Result<HttpClientResponse> {
    requested_url = req.url;
    HttpClientResponse resp;
    resp.status = (data[0] & 2) ? 500 : 200;
    resp.body = std::string(doc);
    return resp;
  };
  auto fetched = oidc::FetchDiscovery(issuer, options);
  if (data[0] & 2) fuzz::Check(!fetched, "a non-200 answer is never accepted");
  if (fetched) CheckMetadata(fetched, issuer);
  return 0;
}
