// OpenID Provider discovery and the issuer/endpoint URL policy.
#include "oidc/discovery.h"

#include <boost/json.hpp>
#include <cctype>
#include <string>

#include "common/json.h"

namespace cl::oidc {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsLoopbackHost(std::string_view host) {
  return host == "127.0.0.1" || host == "[::1]" || EqualsIgnoreCase(host, "localhost");
}

bool IsValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= 65535;
}

Error Invalid(std::string message) {
  return Error::Unavailable(std::move(message), Reason::kIdpDiscoveryInvalid);
}

// Reads an optional string member; a present non-string value is an error.
Result<std::string> StringMember(const boost::json::object& obj, std::string_view name,
                                 bool required) {
  auto it = obj.find(name);
  if (it == obj.end() || it->value().is_null()) {
    if (required) return Fail(Invalid("discovery document lacks \"" + std::string(name) + "\""));
    return std::string();
  }
  if (!it->value().is_string()) {
    return Fail(Invalid("discovery member \"" + std::string(name) + "\" is not a string"));
  }
  return std::string(it->value().as_string());
}

}  // namespace

bool IsAllowedIssuerUrl(std::string_view url) {
  if (url.size() > 2048) return false;
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  bool https;
  if (url.size() >= 8 && EqualsIgnoreCase(url.substr(0, 8), "https://")) {
    https = true;
    url.remove_prefix(8);
  } else if (url.size() >= 7 && EqualsIgnoreCase(url.substr(0, 7), "http://")) {
    https = false;
    url.remove_prefix(7);
  } else {
    return false;
  }
  if (url.find('#') != std::string_view::npos) return false;
  std::string_view authority = url.substr(0, url.find_first_of("/?"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (!IsValidPort(port)) return false;
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (!IsValidPort(port)) return false;
    }
    if (host.empty()) return false;
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
    }
  }
  return https || IsLoopbackHost(host);
}

Result<ProviderMetadata> ParseDiscovery(std::string_view json, const std::string& issuer) {
  auto parsed = ParseJson(json);
  if (!parsed || !parsed->is_object()) {
    return Fail(Invalid("discovery document is not a JSON object"));
  }
  const boost::json::object& obj = parsed->as_object();
  ProviderMetadata md;
  CL_ASSIGN_OR_RETURN(md.issuer, StringMember(obj, "issuer", true));
  if (md.issuer != issuer) {
    // Both are public URLs; naming them makes misconfiguration easy to fix.
    return Fail(Invalid("discovery issuer \"" + md.issuer + "\" does not match the configured \"" +
                        issuer + "\""));
  }
  CL_ASSIGN_OR_RETURN(md.authorization_endpoint, StringMember(obj, "authorization_endpoint", true));
  CL_ASSIGN_OR_RETURN(md.token_endpoint, StringMember(obj, "token_endpoint", true));
  CL_ASSIGN_OR_RETURN(md.jwks_uri, StringMember(obj, "jwks_uri", true));
  CL_ASSIGN_OR_RETURN(md.userinfo_endpoint, StringMember(obj, "userinfo_endpoint", false));
  CL_ASSIGN_OR_RETURN(md.device_authorization_endpoint,
                      StringMember(obj, "device_authorization_endpoint", false));
  struct Endpoint {
    const char* name;
    const std::string* value;
    bool required;
  };
  const Endpoint endpoints[] = {
      {"authorization_endpoint", &md.authorization_endpoint, true},
      {"token_endpoint", &md.token_endpoint, true},
      {"jwks_uri", &md.jwks_uri, true},
      {"userinfo_endpoint", &md.userinfo_endpoint, false},
      {"device_authorization_endpoint", &md.device_authorization_endpoint, false},
  };
  for (const auto& [name, value, required] : endpoints) {
    // An optional endpoint may be empty (absent); a required one names a URL.
    if (value->empty() && !required) continue;
    if (!IsAllowedIssuerUrl(*value)) {
      return Fail(Invalid(std::string("discovery ") + name +
                          " must be an https URL (http only on loopback)"));
    }
  }
  return md;
}

Result<std::string> FetchDocument(const std::string& url, const FetchOptions& options,
                                  std::string_view what) {
  HttpClientRequest req;
  req.method = "GET";
  req.url = url;
  req.headers = {{"Accept", "application/json"}};
  req.timeout_ms = options.timeout_ms;
  req.max_response_bytes = options.max_response_bytes;
  req.ca_file = options.ca_file;
  auto resp = options.fetch ? options.fetch(req) : HttpFetch(req);
  if (!resp) {
    return Fail(Error::Unavailable(
        std::string(what) + " fetch from the identity provider failed: " + resp.error().message(),
        Reason::kIdpUnavailable));
  }
  if (resp->status != 200) {
    return Fail(Error::Unavailable(std::string(what) +
                                       " fetch from the identity provider returned HTTP " +
                                       std::to_string(resp->status),
                                   Reason::kIdpUnavailable));
  }
  return std::move(resp->body);
}

Result<ProviderMetadata> FetchDiscovery(const std::string& issuer, const FetchOptions& options) {
  if (!IsAllowedIssuerUrl(issuer)) {
    return Fail(Error::InvalidArgument(
        "issuer \"" + issuer + "\" must be an https URL (http only on loopback)",
        Reason::kBadIssuerUrl));
  }
  std::string base = issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  CL_ASSIGN_OR_RETURN(std::string body, FetchDocument(base + "/.well-known/openid-configuration",
                                                      options, "discovery document"));
  return ParseDiscovery(body, issuer);
}

}  // namespace cl::oidc
