// Client addresses as the abuse limits key them: address blocks (Cidr) for exemptions, and
// ClientAddressKey, the one definition of "the same client" shared by the failed-auth throttle,
// the login-start limit (domain/throttle.h) and the per-address connection limit (http/).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cl {

// An address block such as "10.0.0.0/8" or "fd00::/8" (a bare address is a /32 or /128).
class Cidr {
 public:
  static Result<Cidr> Parse(std::string_view text);
  // `address` is an IP address as text; IPv4-mapped IPv6 addresses match IPv4 blocks.
  bool Contains(std::string_view address) const;

 private:
  std::array<uint8_t, 16> bytes_{};
  bool v4_ = false;
  int prefix_ = 0;
};

// `text` as an IP address in one canonical spelling (IPv4-mapped IPv6 as IPv4, IPv6 compressed
// and lower-case); nullopt when it is not exactly an address: ports, brackets, zone ids, blanks
// and anything longer than an address are refused.
std::optional<std::string> CanonicalAddress(std::string_view text);

// The key under which a client address is limited: the address itself for IPv4 (IPv4-mapped
// IPv6 included), its /64 for IPv6 (one client usually holds the whole /64), and the text as
// given (at most 64 characters) when it is not an address.
std::string ClientAddressKey(std::string_view address);

}  // namespace cl
