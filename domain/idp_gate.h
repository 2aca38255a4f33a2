// IdpCallGate: the one bound on calls to the people's identity provider in flight at once.
//
// Login legs are anonymous, and each call to the IdP holds a shared server worker for as long as
// the IdP takes to answer (up to the outbound timeout). Without a bound, a few hundred anonymous
// requests against a slow IdP hold every worker, and authenticated API calls and /readyz queue
// behind them. The gate admits at most `max_in_flight` calls and refuses the rest AT ONCE with
// Unavailable("idp_unavailable"): nothing ever waits for a slot, so a refused request costs
// microseconds of a worker. The server sizes `max_in_flight` strictly below its worker count,
// so workers always remain for everything else.
//
// Every IdP call goes through GatedIdentityProvider, the only IdentityProvider the server hands
// to LoginService: discovery, the JWKS fetch and the userinfo call happen inside the gated
// calls (oidc::UpstreamIdp), so a new login route cannot reach the IdP around the gate.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "domain/identity_provider.h"

namespace cl::domain {

class IdpCallGate {
 public:
  // REQUIRES: max_in_flight >= 1. `on_refused` (optional) runs once per refused call, e.g. to
  // count it in /metrics; it must not block.
  explicit IdpCallGate(int max_in_flight, std::function<void()> on_refused = {});
  IdpCallGate(const IdpCallGate&) = delete;
  IdpCallGate& operator=(const IdpCallGate&) = delete;

  // Runs `fn` (returning Result<T>) when fewer than max_in_flight calls are running, and
  // returns its result; otherwise returns Unavailable("idp_unavailable") without running it or
  // waiting. Thread-safe.
  template <typename Fn>
  auto Call(Fn&& fn) -> decltype(fn()) {
    if (!TryEnter()) return Fail(Busy());
    struct Exit {
      IdpCallGate* gate;
      ~Exit() { gate->Leave(); }
    } exit{this};
    return fn();
  }

  int max_in_flight() const { return max_in_flight_; }
  int in_flight() const { return in_flight_.load(); }
  // Calls refused since construction.
  int64_t refused() const { return refused_.load(); }

  // The error of a refused call (exposed for tests).
  static Error Busy();

 private:
  bool TryEnter();
  void Leave();

  const int max_in_flight_;
  const std::function<void()> on_refused_;
  std::atomic<int> in_flight_{0};
  std::atomic<int64_t> refused_{0};
};

// An IdentityProvider whose every call passes through `gate`. It owns `inner`, so whoever holds
// it has no ungated way to the IdP. REQUIRES: `gate` outlives it.
class GatedIdentityProvider final : public IdentityProvider {
 public:
  GatedIdentityProvider(std::unique_ptr<IdentityProvider> inner, IdpCallGate& gate)
      : inner_(std::move(inner)), gate_(gate) {}

  Result<std::string> AuthorizationUrl(const std::string& state, const std::string& nonce,
                                       const std::string& code_challenge) override;
  Result<VerifiedIdentity> ExchangeCode(const std::string& code, const std::string& code_verifier,
                                        const std::string& nonce) override;
  Result<DeviceAuthorizationStart> StartDeviceAuthorization() override;
  Result<DevicePollOutcome> PollDevice(const std::string& device_code) override;

 private:
  const std::unique_ptr<IdentityProvider> inner_;
  IdpCallGate& gate_;
};

}  // namespace cl::domain
