#include "common/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace cl {
namespace {

// An address as 16 bytes (IPv4 in the first 4) and its family; nullopt when not an address.
struct ParsedAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;
};

std::optional<ParsedAddress> ParseAddress(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ParsedAddress out;
  if (inet_pton(AF_INET, buf, out.bytes.data()) == 1) {
    out.v4 = true;
    return out;
  }
  if (inet_pton(AF_INET6, buf, out.bytes.data()) != 1) return std::nullopt;
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 client behind a dual-stack socket.
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out.bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
    std::fill(out.bytes.begin() + 4, out.bytes.end(), 0);
    out.v4 = true;
  }
  return out;
}

std::string FormatAddress(const ParsedAddress& a) {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(a.v4 ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

}  // namespace

Result<Cidr> Cidr::Parse(std::string_view text) {
  auto invalid = [&] {
    return Fail(Error::InvalidArgument("'" + std::string(text.substr(0, 64)) +
                                       "' is not an address block such as 10.0.0.0/8 or fd00::/8"));
  };
  size_t slash = text.find('/');
  auto addr = ParseAddress(text.substr(0, slash));
  if (!addr) return invalid();
  Cidr c;
  c.bytes_ = addr->bytes;
  c.v4_ = addr->v4;
  const int max_prefix = c.v4_ ? 32 : 128;
  c.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    int n = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || n < 0 || n > max_prefix) {
      return invalid();
    }
    c.prefix_ = n;
  }
  return c;
}

bool Cidr::Contains(std::string_view address) const {
  auto a = ParseAddress(address);
  if (!a || a->v4 != v4_) return false;
  const int full = prefix_ / 8;
  if (std::memcmp(a->bytes.data(), bytes_.data(), static_cast<size_t>(full)) != 0) return false;
  const int rest = prefix_ % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a->bytes[full] & mask) == (bytes_[full] & mask);
}

std::optional<std::string> CanonicalAddress(std::string_view text) {
  auto a = ParseAddress(text);
  if (!a) return std::nullopt;
  return FormatAddress(*a);
}

bool IsNonPublicAddress(std::string_view address) {
  auto a = ParseAddress(address);
  if (!a) return true;
  const auto& b = a->bytes;
  if (a->v4) {
    return b[0] == 0 ||                             // 0/8: "this network", 0.0.0.0
           b[0] == 10 ||                            // 10/8
           b[0] == 127 ||                           // loopback
           (b[0] == 100 && (b[1] & 0xc0) == 64) ||  // 100.64/10: carrier-grade NAT
           (b[0] == 169 && b[1] == 254) ||          // link-local
           (b[0] == 172 && (b[1] & 0xf0) == 16) ||  // 172.16/12
           (b[0] == 192 && b[1] == 168) ||          // 192.168/16
           b[0] >= 224;                             // multicast 224/4, reserved 240/4, broadcast
  }
  static constexpr uint8_t kZero[12] = {};
  return std::memcmp(b.data(), kZero, sizeof kZero) == 0 ||  // ::/96: ::, ::1, IPv4-compatible
         (b[0] & 0xfe) == 0xfc ||                            // fc00::/7: unique local
         (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||          // fe80::/10: link-local
         (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||          // fec0::/10: site-local
         b[0] == 0xff;                                       // ff00::/8: multicast
}

Result<AddressPolicy> AddressPolicy::Parse(const std::vector<std::string>& allowed) {
  std::vector<Cidr> blocks;
  for (const std::string& text : allowed) {
    CL_ASSIGN_OR_RETURN(Cidr block, Cidr::Parse(text));
    blocks.push_back(block);
  }
  return AddressPolicy(std::move(blocks));
}

bool AddressPolicy::Allows(std::string_view address) const {
  if (!ParseAddress(address)) return false;
  if (!IsNonPublicAddress(address)) return true;
  return std::any_of(allowed_.begin(), allowed_.end(),
                     [&](const Cidr& block) { return block.Contains(address); });
}

std::string ClientAddressKey(std::string_view address) {
  auto a = ParseAddress(address);
  if (!a) return std::string(address.substr(0, 64));
  if (!a->v4) {
    std::fill(a->bytes.begin() + 8, a->bytes.end(), 0);
    return FormatAddress(*a) + "/64";
  }
  return FormatAddress(*a);
}

}  // namespace cl
