// Adapts the upstream OIDC client (oidc::UpstreamIdp) to the domain's IdentityProvider.
#pragma once

#include <memory>

#include "common/clock.h"
#include "domain/identity_provider.h"
#include "domain/idp_gate.h"
#include "server/config.h"

namespace cl::server {

// Discovery is lazy: the server starts while the IdP is down, and logins then fail with
// 503 idp_unavailable until it is back. Every call, with the discovery, JWKS and userinfo
// fetches it makes, passes through `gate` (the returned provider has no other way to the IdP),
// and each HTTP call is bounded by c.idp_timeout. REQUIRES: `gate` outlives the provider.
std::unique_ptr<domain::IdentityProvider> NewIdentityProvider(const ServerConfig& c,
                                                              const Clock& clock,
                                                              domain::IdpCallGate& gate);

}  // namespace cl::server
