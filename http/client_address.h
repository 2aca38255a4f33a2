// The address a request comes from. Directly connected clients are their TCP peer. Behind a
// load balancer every peer is the balancer, so when (and only when) the peer is a configured
// trusted proxy, the client is read from the forwarding header that proxy appends to: the
// rightmost entry that is not itself a trusted proxy. A client can prepend anything to that
// header, so entries left of the first untrusted one, or of a malformed one, are never used.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/address.h"

namespace cl::http {

// The header the trusted proxies write: X-Forwarded-For (nginx's $proxy_add_x_forwarded_for,
// the usual) or RFC 7239 Forwarded (its for= parameters). Only that one is read: a proxy passes
// the other through from the client unchanged, so reading both would let the client choose.
enum class ForwardedHeader { kXForwardedFor, kForwarded };

// At most this many forwarding entries are read, from the right; a client that is still behind
// trusted proxies after them is the last trusted hop reached.
inline constexpr size_t kMaxForwardedHops = 32;

// The trusted proxies' address blocks and the header they write. Empty (the default): no proxy
// is trusted and forwarding headers are ignored. Immutable once built; safe to share.
class TrustedProxies {
 public:
  TrustedProxies() = default;
  TrustedProxies(std::vector<Cidr> blocks, ForwardedHeader header);

  bool empty() const { return blocks_.empty(); }
  ForwardedHeader header() const { return header_; }
  // `address` (an IP address as text; IPv4-mapped IPv6 matches IPv4 blocks) is a trusted proxy.
  bool Contains(std::string_view address) const;

 private:
  std::vector<Cidr> blocks_;
  ForwardedHeader header_ = ForwardedHeader::kXForwardedFor;
};

// The client's address for a request from TCP peer `peer` with `headers` (names lower-case, as
// in Request::headers, in the order received):
// - `peer` is not a trusted proxy (always so when `trusted` is empty): `peer`; headers ignored.
// - Otherwise the forwarding entries of every instance of trusted.header(), as one list, are
//   walked from the right, skipping trusted proxies: the first untrusted entry is the client.
//   Every entry trusted, or none: `peer`. A malformed entry (not exactly an address, e.g. with
//   a port in X-Forwarded-For, "unknown", garbage, empty), or more than kMaxForwardedHops
//   entries: the walk stops there and the last trusted hop reached is the client.
// Addresses are returned in canonical form (CanonicalAddress), `peer` as given.
std::string ClientAddress(std::string_view peer,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const TrustedProxies& trusted);

}  // namespace cl::http
