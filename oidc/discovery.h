// OpenID Provider discovery (OIDC Discovery 1.0) and the URL policy for issuers and endpoints.
//
// FetchDiscovery reads `<issuer>/.well-known/openid-configuration` with a timeout and a size cap,
// requires the document's `issuer` to equal the configured issuer byte for byte, and refuses
// endpoints that are not https (plain http is allowed only on loopback hosts, for development).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/http_client.h"
#include "common/result.h"

namespace cl::oidc {

// Outbound HTTP as a function, so tests can answer without a network. Same contract as
// cl::HttpFetch: Unavailable when unreachable, a non-2xx status is not an error.
using HttpFetchFn = std::function<Result<HttpClientResponse>(const HttpClientRequest&)>;

struct FetchOptions {
  HttpFetchFn fetch;  // empty: cl::HttpFetch
  long timeout_ms = 5'000;
  size_t max_response_bytes = 256 * 1024;
  std::string ca_file;  // extra CA bundle (PEM) to trust, e.g. a private IdP's CA
};

struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string userinfo_endpoint;              // may be empty
  std::string device_authorization_endpoint;  // may be empty (no device flow)
};

// True for an absolute https URL with a host, or an http URL whose host is a loopback name
// (127.0.0.1, [::1], localhost). Rejects user info ("user@host"), fragments, bad ports and
// whitespace/control characters. Used for issuers and every endpoint taken from discovery.
bool IsAllowedIssuerUrl(std::string_view url);

// Validates a discovery document for `issuer` (exposed for tests). Errors are Unavailable with
// reason "idp_discovery_invalid": the IdP cannot be used, which the API reports as 503.
Result<ProviderMetadata> ParseDiscovery(std::string_view json, const std::string& issuer);

// GET issuer + "/.well-known/openid-configuration" and ParseDiscovery. Unreachable IdP, timeout,
// non-200 or oversized answer: Unavailable with reason "idp_unavailable".
Result<ProviderMetadata> FetchDiscovery(const std::string& issuer, const FetchOptions& options);

// GET `url` under `options` and return the body of a 200 answer; anything else is Unavailable
// with reason "idp_unavailable". `what` names the document in error messages ("JWKS").
Result<std::string> FetchDocument(const std::string& url, const FetchOptions& options,
                                  std::string_view what);

}  // namespace cl::oidc
