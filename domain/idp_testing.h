// A scriptable IdentityProvider for tests of LoginService and what it wires together: it
// remembers the state, nonce and PKCE challenge of the last authorization URL, accepts the code
// "idp-code" only with the matching verifier and nonce, and answers device polls with
// `device_state` and `next`.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"
#include "crypto/hash.h"
#include "domain/login.h"

namespace cl::domain::testing {

class FakeIdp : public IdentityProvider {
 public:
  // Identity returned for the next code exchange / device approval.
  VerifiedIdentity next{"https://idp.test", "alice", "alice@example.com", true, "Alice"};
  std::string last_nonce, last_state, last_challenge;
  bool down = false;
  DevicePollOutcome::State device_state = DevicePollOutcome::State::kPending;
  int device_starts = 0;  // calls of StartDeviceAuthorization
  int device_polls = 0;   // calls of PollDevice
  // Runs inside StartDeviceAuthorization, e.g. to act as a concurrent request meanwhile.
  std::function<void()> during_device_start;

  Result<std::string> AuthorizationUrl(const std::string& state, const std::string& nonce,
                                       const std::string& challenge) override {
    if (down) return Fail(Error::Unavailable("idp down", Reason::kIdpUnavailable));
    last_state = state;
    last_nonce = nonce;
    last_challenge = challenge;
    return "https://idp.test/auth?state=" + state;
  }
  Result<VerifiedIdentity> ExchangeCode(const std::string& code, const std::string& verifier,
                                        const std::string& nonce) override {
    if (down) return Fail(Error::Unavailable("idp down", Reason::kIdpUnavailable));
    if (code != "idp-code" || nonce != last_nonce ||
        crypto::PkceS256Challenge(verifier) != last_challenge) {
      return Fail(Error::InvalidArgument("bad code", Reason::kInvalidGrant));
    }
    return next;
  }
  Result<DeviceAuthorizationStart> StartDeviceAuthorization() override {
    ++device_starts;
    if (during_device_start) during_device_start();
    return DeviceAuthorizationStart{"upstream-device-code",
                                    "ABCD-EFGH",
                                    "https://idp.test/device",
                                    "https://idp.test/device?user_code=ABCD-EFGH",
                                    600,
                                    5};
  }
  Result<DevicePollOutcome> PollDevice(const std::string& device_code) override {
    ++device_polls;
    if (device_code != "upstream-device-code") {
      return Fail(Error::InvalidArgument("unknown device code", Reason::kInvalidGrant));
    }
    DevicePollOutcome out;
    out.state = device_state;
    out.identity = next;
    return out;
  }
};

}  // namespace cl::domain::testing
