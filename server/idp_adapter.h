// Adapts the upstream OIDC client (oidc::UpstreamIdp) to the domain's IdentityProvider.
#pragma once

#include <memory>

#include "common/clock.h"
#include "domain/identity_provider.h"
#include "server/config.h"

namespace cl::server {

// Discovery is lazy: the server starts while the IdP is down, and logins then fail with
// 503 idp_unavailable until it is back.
std::unique_ptr<domain::IdentityProvider> NewIdentityProvider(const ServerConfig& c,
                                                              const Clock& clock);

}  // namespace cl::server
