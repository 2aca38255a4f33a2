// IdentityProvider: what the login flows need from the upstream OpenID Provider. The server
// adapts oidc::UpstreamIdp to it; domain tests use a fake.
#pragma once

#include <string>

#include "common/result.h"

namespace cl::domain {

struct VerifiedIdentity {
  std::string issuer;
  std::string subject;
  std::string email;
  bool email_verified = false;
  std::string name;
};

struct DeviceAuthorizationStart {
  std::string device_code;  // upstream secret; stays on the server
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;
  int expires_in = 600;
  int interval = 5;
};

struct DevicePollOutcome {
  enum class State { kPending, kSlowDown, kExpired, kDenied, kApproved };
  State state = State::kPending;
  VerifiedIdentity identity;  // kApproved only
};

class IdentityProvider {
 public:
  virtual ~IdentityProvider() = default;
  // Errors: Unavailable("idp_unavailable") when the IdP cannot be reached.
  virtual Result<std::string> AuthorizationUrl(const std::string& state, const std::string& nonce,
                                               const std::string& code_challenge) = 0;
  // Exchanges the code and verifies the ID token (signature, iss, aud, exp, nonce).
  virtual Result<VerifiedIdentity> ExchangeCode(const std::string& code,
                                                const std::string& code_verifier,
                                                const std::string& nonce) = 0;
  virtual Result<DeviceAuthorizationStart> StartDeviceAuthorization() = 0;
  virtual Result<DevicePollOutcome> PollDevice(const std::string& device_code) = 0;
};

}  // namespace cl::domain
