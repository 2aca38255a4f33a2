#include "domain/idp_gate.h"

namespace cl::domain {

Error IdpCallGate::Busy() {
  return Error::Unavailable(
      "the identity provider is busy with other logins; retry in a few seconds",
      Reason::kIdpUnavailable);
}

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
