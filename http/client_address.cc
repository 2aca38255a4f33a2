// How ClientAddress walks the forwarding headers (the rules are in http/client_address.h).
#include "http/client_address.h"

#include <optional>

#include "http/http.h"

namespace cl::http {
namespace {

constexpr std::string_view kOws = " \t";

std::string_view Trim(std::string_view s) {
  size_t first = s.find_first_not_of(kOws);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kOws) - first + 1);
}

// Splits `value` at each `sep`, appending the trimmed pieces, empty ones included. Quotes are
// not honoured: no address contains a comma or semicolon, and a quote a client opened must not
// swallow the entries the proxies appended after it.
void Split(std::string_view value, char sep, std::vector<std::string_view>& out) {
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || value[i] == sep) {
      out.push_back(Trim(value.substr(start, i - start)));
      start = i + 1;
    }
  }
}

// An X-Forwarded-For entry: exactly an address.
std::optional<std::string> XForwardedForAddress(std::string_view entry) {
  return CanonicalAddress(entry);
}

// The address of an RFC 7239 node (section 6): IPv4 or "[IPv6]", either with an optional
// ":port"; "unknown" and obfuscated identifiers are no address.
std::optional<std::string> NodeAddress(std::string_view node) {
  std::string_view address;
  std::string_view port;
  if (!node.empty() && node.front() == '[') {
    size_t close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    address = node.substr(1, close - 1);
    std::string_view rest = node.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
    if (address.find(':') == std::string_view::npos) return std::nullopt;  // IPv6 only
  } else {
    size_t colon = node.find(':');
    address = node.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = node.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;  // obfuscated ports say nothing either
  }
  if (port.size() > 5) return std::nullopt;
  return CanonicalAddress(address);
}

// A Forwarded element such as `for=192.0.2.60;proto=http;by=203.0.113.43`: the address of its
// one for= parameter (a token or a quoted string).
std::optional<std::string> ForwardedElementAddress(std::string_view element) {
  std::vector<std::string_view> pairs;
  Split(element, ';', pairs);
  std::optional<std::string_view> node;
  for (std::string_view pair : pairs) {
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    if (!EqualsIgnoreCase(pair.substr(0, eq), "for")) continue;
    if (node) return std::nullopt;  // two for= in one element: which hop wrote which?
    std::string_view value = pair.substr(eq + 1);
    if (!value.empty() && value.front() == '"') {
      if (value.size() < 2 || value.back() != '"') return std::nullopt;
      value = value.substr(1, value.size() - 2);
      // No address needs an escape; an escaped character is someone's invention.
      if (value.find_first_of("\\\"") != std::string_view::npos) return std::nullopt;
    }
    node = value;
  }
  if (!node) return std::nullopt;
  return NodeAddress(*node);
}

}  // namespace

TrustedProxies::TrustedProxies(std::vector<Cidr> blocks, ForwardedHeader header)
    : blocks_(std::move(blocks)), header_(header) {}

bool TrustedProxies::Contains(std::string_view address) const {
  for (const Cidr& block : blocks_) {
    if (block.Contains(address)) return true;
  }
  return false;
}

std::string ClientAddress(std::string_view peer,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const TrustedProxies& trusted) {
  if (trusted.empty() || !trusted.Contains(peer)) return std::string(peer);
  const bool xff = trusted.header() == ForwardedHeader::kXForwardedFor;
  const std::string_view name = xff ? "x-forwarded-for" : "forwarded";
  // Every instance of the header, in order, as one list (RFC 9110 5.3).
  std::vector<std::string_view> entries;
  for (const auto& [header_name, value] : headers) {
    if (header_name == name) Split(value, ',', entries);
  }
  std::string last_trusted(peer);
  size_t hops = 0;
  for (size_t i = entries.size(); i-- > 0;) {
    if (++hops > kMaxForwardedHops) return last_trusted;
    auto address = xff ? XForwardedForAddress(entries[i]) : ForwardedElementAddress(entries[i]);
    if (!address) return last_trusted;
    if (!trusted.Contains(*address)) return *std::move(address);
    last_trusted = *std::move(address);
  }
  return std::string(peer);
}

}  // namespace cl::http
