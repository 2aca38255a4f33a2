// Accepting connections: the accept loop (with backoff when descriptors run out), the global
// and per-address connection limits (refused with a reset; trusted proxies are exempt from the
// per-address one), and the open-connections gauge.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "common/address.h"
#include "common/log.h"
#include "http/server_impl.h"

namespace cl::http {
namespace {

constexpr std::string_view kActiveGauge = "chainloop_http_connections_active";
constexpr std::string_view kActiveGaugeHelp = "Open HTTP connections.";

// The per-address connection limit counts clients as the abuse limits do (common/address.h):
// IPv4 by address, IPv6 by /64, IPv4-mapped IPv6 as IPv4. Without the scope id, which would
// otherwise make each link-local address its own client.
std::string AddressKey(const asio::ip::address& address) {
  if (address.is_v6()) {
    auto v6 = address.to_v6();
    v6.scope_id(0);
    return ClientAddressKey(v6.to_string());
  }
  return ClientAddressKey(address.to_string());
}

}  // namespace

bool Server::Impl::IsTrustedProxy(const asio::ip::address& address) const {
  if (opts.trusted_proxies.empty()) return false;
  if (address.is_v6()) {
    auto v6 = address.to_v6();
    v6.scope_id(0);
    return opts.trusted_proxies.Contains(v6.to_string());
  }
  return opts.trusted_proxies.Contains(address.to_string());
}

bool Server::Impl::AdmitAddress(const std::string& key) {
  if (opts.max_connections_per_ip == 0 || key.empty()) return true;
  std::lock_guard<std::mutex> lock(per_ip_mu);
  size_t& n = per_ip[key];
  if (n >= opts.max_connections_per_ip) {
    if (n == 0) per_ip.erase(key);
    return false;
  }
  ++n;
  return true;
}

void Server::Impl::ReleaseAddress(const std::string& key) {
  if (opts.max_connections_per_ip == 0 || key.empty()) return;
  std::lock_guard<std::mutex> lock(per_ip_mu);
  auto it = per_ip.find(key);
  if (it != per_ip.end() && --it->second == 0) per_ip.erase(it);
}

void Server::Impl::ConnectionOpened() {
  ++active;
  if (metrics) metrics->AddGauge(kActiveGauge, kActiveGaugeHelp, 1);
}

void Server::Impl::ConnectionClosed() {
  --active;
  if (metrics) metrics->AddGauge(kActiveGauge, kActiveGaugeHelp, -1);
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  constexpr auto kMinBackoff = std::chrono::milliseconds(10);
  constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
  auto backoff = kMinBackoff;
  asio::steady_timer timer(slots[0]->ioc);
  while (!stopping.load()) {
    IoSlot& slot = *slots[next_slot];
    next_slot = (next_slot + 1) % slots.size();
    auto [ec, peer] = co_await acceptor->async_accept(slot.ioc, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping.load() || !acceptor->is_open()) break;
      // EMFILE/ENFILE/ENOBUFS: retrying at once would spin; wait for descriptors to free up.
      Log(LogLevel::kWarn, "accept failed",
          {{"error", ec.message()}, {"backoff_ms", static_cast<int64_t>(backoff.count())}});
      timer.expires_after(backoff);
      co_await timer.async_wait(kNoThrow);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    backoff = kMinBackoff;
    std::string address_key;  // empty: not subject to the per-address limit
    {
      beast::error_code peer_ec;
      auto ep = peer.remote_endpoint(peer_ec);
      if (peer_ec) {  // already gone
        peer.close(peer_ec);
        continue;
      }
      if (!IsTrustedProxy(ep.address())) address_key = AddressKey(ep.address());
    }
    std::string_view rejected;
    if (active.load() >= opts.max_connections) {
      rejected = "max_connections";
    } else if (!AdmitAddress(address_key)) {
      rejected = "max_connections_per_ip";
    }
    if (!rejected.empty()) {
      if (metrics) {
        metrics->IncCounter("chainloop_http_connections_rejected_total",
                            "Connections closed at once because a connection limit was reached.",
                            {{"limit", rejected}});
      }
      // RST rather than FIN: the refused client learns at once and no TIME_WAIT is kept here.
      beast::error_code ignored;
      peer.set_option(asio::socket_base::linger(true, 0), ignored);
      peer.close(ignored);
      continue;
    }
    ConnectionOpened();
    asio::co_spawn(slot.ioc, Session(slot, tcp::socket(std::move(peer)), std::move(address_key)),
                   [this](const std::exception_ptr& e) { OnSpawnDone(e); });
  }
}

}  // namespace cl::http
