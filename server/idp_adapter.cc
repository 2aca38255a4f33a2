#include "server/idp_adapter.h"

#include "oidc/upstream.h"

namespace cl::server {
namespace {

domain::VerifiedIdentity ToIdentity(const oidc::IdTokenClaims& c) {
  return domain::VerifiedIdentity{c.issuer, c.subject, c.email, c.email_verified, c.name};
}

class UpstreamIdentityProvider final : public domain::IdentityProvider {
 public:
  UpstreamIdentityProvider(oidc::UpstreamConfig config, const Clock& clock)
      : idp_(std::move(config), clock) {}

  Result<std::string> AuthorizationUrl(const std::string& state, const std::string& nonce,
                                       const std::string& code_challenge) override {
    return idp_.AuthorizationUrl(state, nonce, code_challenge);
  }

  Result<domain::VerifiedIdentity> ExchangeCode(const std::string& code,
                                                const std::string& code_verifier,
                                                const std::string& nonce) override {
    CL_ASSIGN_OR_RETURN(auto claims, idp_.ExchangeCode(code, code_verifier, nonce));
    return ToIdentity(claims);
  }

  Result<domain::DeviceAuthorizationStart> StartDeviceAuthorization() override {
    CL_ASSIGN_OR_RETURN(auto d, idp_.StartDeviceAuthorization());
    domain::DeviceAuthorizationStart out;
    out.device_code = d.device_code;
    out.user_code = d.user_code;
    out.verification_uri = d.verification_uri;
    out.verification_uri_complete =
        d.verification_uri_complete.empty() ? d.verification_uri : d.verification_uri_complete;
    out.expires_in = static_cast<int>(d.expires_in);
    out.interval = static_cast<int>(d.interval);
    return out;
  }

  Result<domain::DevicePollOutcome> PollDevice(const std::string& device_code) override {
    CL_ASSIGN_OR_RETURN(auto poll, idp_.PollDeviceToken(device_code));
    domain::DevicePollOutcome out;
    switch (poll.state) {
      case oidc::DevicePoll::State::kPending:
        out.state = domain::DevicePollOutcome::State::kPending;
        break;
      case oidc::DevicePoll::State::kSlowDown:
        out.state = domain::DevicePollOutcome::State::kSlowDown;
        break;
      case oidc::DevicePoll::State::kExpired:
        out.state = domain::DevicePollOutcome::State::kExpired;
        break;
      case oidc::DevicePoll::State::kDenied:
        out.state = domain::DevicePollOutcome::State::kDenied;
        break;
      case oidc::DevicePoll::State::kSuccess:
        out.state = domain::DevicePollOutcome::State::kApproved;
        if (poll.claims) out.identity = ToIdentity(*poll.claims);
        break;
    }
    return out;
  }

 private:
  oidc::UpstreamIdp idp_;
};

}  // namespace

std::unique_ptr<domain::IdentityProvider> NewIdentityProvider(const ServerConfig& c,
                                                              const Clock& clock,
                                                              domain::IdpCallGate& gate) {
  oidc::UpstreamConfig config;
  config.issuer = c.oidc_issuer;
  config.client_id = c.oidc_client_id;
  config.client_secret = c.oidc_client_secret;
  config.redirect_uri = c.external_url + "/auth/callback";
  config.id_token_max_age = c.oidc_id_token_max_age;
  config.fetch.timeout_ms = static_cast<long>(c.idp_timeout);
  return std::make_unique<domain::GatedIdentityProvider>(
      std::make_unique<UpstreamIdentityProvider>(std::move(config), clock), gate);
}

}  // namespace cl::server
