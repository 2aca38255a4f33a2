// Control plane URL checks and normalization.
#include "cli/control_plane_url.h"

#include <arpa/inet.h>

#include <cctype>

namespace cl::cli {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

bool IsIpv6LiteralChar(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

Error BadUrl(std::string_view url, std::string_view why) {
  return Error::InvalidArgument("the control plane URL '" + std::string(url) + "' " +
                                std::string(why));
}

}  // namespace

bool IsHttpsUrl(std::string_view url) { return StartsWith(Lower(url), "https://"); }

bool IsLoopbackHost(std::string_view host) {
  std::string h = Lower(host);
  if (h == "localhost" || h == "::1") return true;
  in_addr addr{};
  if (inet_pton(AF_INET, h.c_str(), &addr) == 1) {
    return (ntohl(addr.s_addr) >> 24) == 127;
  }
  return false;
}

std::string UrlHost(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (StartsWith(rest, "[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return {};
    return std::string(rest.substr(1, close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

Result<std::string> NormalizeControlPlaneUrl(std::string_view url) {
  for (char c : url) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f || c == '\\') {
      return Fail(BadUrl(url, "contains a space, backslash, control or non-ASCII character"));
    }
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return Fail(BadUrl(url, "must not have a query (?) or fragment (#)"));
  }
  std::string lower = Lower(url);
  std::string scheme;
  if (StartsWith(lower, "https://")) {
    scheme = "https";
  } else if (StartsWith(lower, "http://")) {
    scheme = "http";
  } else {
    return Fail(BadUrl(url, "must start with https:// (or http:// for a local server)"));
  }
  std::string_view rest = url.substr(scheme.size() + 3);
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path =
      authority.size() < rest.size() ? rest.substr(authority.size()) : std::string_view();
  if (authority.find('@') != std::string_view::npos) {
    return Fail(BadUrl(url, "must not contain a user name or password"));
  }
  std::string host;
  std::string_view after_host;
  if (StartsWith(authority, "[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return Fail(BadUrl(url, "has a bad host"));
    std::string_view literal = authority.substr(1, close - 1);
    for (char c : literal) {
      if (!IsIpv6LiteralChar(c)) return Fail(BadUrl(url, "has a bad IPv6 host"));
    }
    host = "[" + Lower(literal) + "]";
    after_host = authority.substr(close + 1);
  } else {
    std::string_view name = authority.substr(0, authority.find(':'));
    if (name.empty()) return Fail(BadUrl(url, "has no host"));
    for (char c : name) {
      if (!IsHostNameChar(c)) return Fail(BadUrl(url, "has a bad host"));
    }
    host = Lower(name);
    after_host = authority.substr(name.size());
  }
  int port = scheme == "https" ? 443 : 80;
  if (!after_host.empty()) {
    if (after_host[0] != ':' || after_host.size() == 1 || after_host.size() > 6) {
      return Fail(BadUrl(url, "has a bad port"));
    }
    port = 0;
    for (char c : after_host.substr(1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Fail(BadUrl(url, "has a bad port"));
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return Fail(BadUrl(url, "has a bad port"));
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return scheme + "://" + host + ":" + std::to_string(port) + std::string(path);
}

Status CheckControlPlaneUrl(std::string_view url, bool insecure) {
  CL_RETURN_IF_ERROR(NormalizeControlPlaneUrl(url));
  bool http = StartsWith(Lower(url), "http://");
  std::string host = UrlHost(url);
  if (http && !IsLoopbackHost(host) && !insecure) {
    return Fail(Error::InvalidArgument(
        "refusing to send credentials over plain http:// to " + host +
        ": use an https:// control plane URL, or pass --insecure if you really mean it"));
  }
  return Ok();
}

}  // namespace cl::cli
