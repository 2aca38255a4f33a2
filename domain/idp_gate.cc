#include "domain/idp_gate.h"

#include <algorithm>

namespace cl::domain {

IdpCallGate::IdpCallGate(int max_in_flight, std::function<void()> on_refused)
    : max_in_flight_(std::max(1, max_in_flight)), on_refused_(std::move(on_refused)) {}

Error IdpCallGate::Busy() {
  return Error::Unavailable(
      "the identity provider is busy with other logins; retry in a few seconds", "idp_unavailable");
}

bool IdpCallGate::TryEnter() {
  int n = in_flight_.load();
  do {
    if (n >= max_in_flight_) {
      refused_.fetch_add(1);
      if (on_refused_) on_refused_();
      return false;
    }
  } while (!in_flight_.compare_exchange_weak(n, n + 1));
  return true;
}

void IdpCallGate::Leave() { in_flight_.fetch_sub(1); }

Result<std::string> GatedIdentityProvider::AuthorizationUrl(const std::string& state,
                                                            const std::string& nonce,
                                                            const std::string& code_challenge) {
  return gate_.Call([&] { return inner_->AuthorizationUrl(state, nonce, code_challenge); });
}

Result<VerifiedIdentity> GatedIdentityProvider::ExchangeCode(const std::string& code,
                                                             const std::string& code_verifier,
                                                             const std::string& nonce) {
  return gate_.Call([&] { return inner_->ExchangeCode(code, code_verifier, nonce); });
}

Result<DeviceAuthorizationStart> GatedIdentityProvider::StartDeviceAuthorization() {
  return gate_.Call([&] { return inner_->StartDeviceAuthorization(); });
}

Result<DevicePollOutcome> GatedIdentityProvider::PollDevice(const std::string& device_code) {
  return gate_.Call([&] { return inner_->PollDevice(device_code); });
}

}  // namespace cl::domain
