// IdpCallGate: the one bound on calls to the people's identity provider in flight at once (a
// common/call_gate.h CallGate answering Unavailable("idp_unavailable")). Login legs are
// anonymous; without it a slow IdP lets them hold every server worker.
//
// Every IdP call goes through GatedIdentityProvider, the only IdentityProvider the server hands
// to LoginService: discovery, the JWKS fetch and the userinfo call happen inside the gated
// calls (oidc::UpstreamIdp), so a new login route cannot reach the IdP around the gate.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/call_gate.h"
#include "common/result.h"
#include "domain/identity_provider.h"

namespace cl::domain {

// The gate of the people's identity provider: a CallGate whose refusal is
// Unavailable("idp_unavailable").
class IdpCallGate : public CallGate {
 public:
  // REQUIRES: max_in_flight >= 1. See CallGate for `on_refused`.
  explicit IdpCallGate(int max_in_flight, std::function<void()> on_refused = {})
      : CallGate(max_in_flight, Busy(), std::move(on_refused)) {}

  // The error of a refused call (exposed for tests).
  static Error Busy();
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
