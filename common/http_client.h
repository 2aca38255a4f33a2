// Outbound HTTP (libcurl) for the server's calls to identity providers and for the CLI.
//
// Every call has a total timeout and a response size cap; redirects are not followed. A call to
// a URL someone else chose (a webhook) carries an AddressPolicy: every address the host resolves
// to is checked when the socket is opened, so a name that resolves (or re-resolves) to an
// internal address cannot get through.
// Thread-safe: each call uses its own curl easy handle.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/address.h"
#include "common/result.h"

namespace cl {

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Content-Type", "..."}
  std::string body;
  long timeout_ms = 10'000;
  size_t max_response_bytes = 1 << 20;
  // Extra CA file to trust (PEM), and whether to skip TLS verification (CLI --insecure only).
  std::string ca_file;
  bool insecure_skip_verify = false;
  // Ignore proxies from the environment (http_proxy, https_proxy, all_proxy) and connect to the
  // URL's host directly: for requests whose headers a proxy must not see (a bearer credential
  // over plain http, or over TLS that is not verified).
  bool no_proxy = false;
  // When set (it must outlive the call), connect only to peer addresses it allows; proxies are
  // then ignored (the proxy's address is not the one to judge). A refusal fails the call with
  // Reason::kAddressNotAllowed and the message "address not allowed: ADDRESS".
  const AddressPolicy* address_policy = nullptr;
  // A response longer than max_response_bytes: false fails the call with PayloadTooLarge; true
  // stops reading there and returns the status with the body cut (HttpClientResponse::truncated).
  bool truncate_response = false;
};

struct HttpClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  bool truncated = false;  // the body stops at the cap (truncate_response)
  std::string Header(std::string_view name) const;
};

// Fails with Unavailable when the peer cannot be reached or times out, with PayloadTooLarge when
// the response exceeds the cap (unless truncate_response), and with PermissionDenied /
// kAddressNotAllowed when the address policy refused the peer. A non-2xx status is NOT an error.
Result<HttpClientResponse> HttpFetch(const HttpClientRequest& req);

// application/x-www-form-urlencoded encoding of one component.
std::string UrlEncode(std::string_view s);
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace cl
