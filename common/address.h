// Client addresses as the abuse limits key them: address blocks (Cidr) for exemptions, and
// ClientAddressKey, the one definition of "the same client" shared by the failed-auth throttle,
// the login-start limit (domain/throttle.h) and the per-address connection limit (http/).
// Also the outbound side: which peer addresses a call to a URL someone else chose (a webhook)
// may reach (IsNonPublicAddress, AddressPolicy).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// True for an address that is not a public unicast one: loopback (127/8, ::1), unspecified
// (0.0.0.0, ::), "this network" 0/8, private (10/8, 172.16/12, 192.168/16, fc00::/7, the
// deprecated site-local fec0::/10), carrier-grade NAT 100.64/10, link-local (169.254/16,
// fe80::/10), multicast (224/4, ff00::/8), reserved and broadcast (240/4), IPv4-compatible
// ::/96, and the IPv4-mapped form of each IPv4 one. Also true for text that is not an address
// (what cannot be classified is not public).
bool IsNonPublicAddress(std::string_view address);

// Which peer addresses an outbound call may connect to: every public address, and a non-public
// one only inside an allowed block (the operator's `webhook_allowed_networks`). Immutable, so
// one instance may be shared by concurrent calls.
class AddressPolicy {
 public:
  explicit AddressPolicy(std::vector<Cidr> allowed = {}) : allowed_(std::move(allowed)) {}
  // Each entry must be an address block (Cidr::Parse).
  static Result<AddressPolicy> Parse(const std::vector<std::string>& allowed);
  // `address` is an IP address as text (IPv4-mapped IPv6 is judged as its IPv4 address).
  bool Allows(std::string_view address) const;
  // The blocks where non-public addresses are allowed.
  const std::vector<Cidr>& allowed() const { return allowed_; }

 private:
  std::vector<Cidr> allowed_;
};

}  // namespace cl
