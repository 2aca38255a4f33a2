// The HTTP API: registers every route on a Router. Each handler decodes the request strictly,
// authenticates, calls the domain (which authorizes), and encodes the result or the error.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/random.h"
#include "domain/api_tokens.h"
#include "domain/attestations.h"
#include "domain/authenticator.h"
#include "domain/federation.h"
#include "domain/login.h"
#include "domain/organizations.h"
#include "domain/secret_scanning.h"
#include "domain/throttle.h"
#include "domain/webhooks.h"
#include "http/http.h"
#include "http/metrics.h"
#include "store/store.h"

namespace cl::store {
class RevocationNotifier;
}  // namespace cl::store

namespace cl::api {

struct ApiDeps {
  store::Database* db = nullptr;
  domain::Authenticator* authenticator = nullptr;
  domain::LoginService* login = nullptr;
  domain::OrganizationService* orgs = nullptr;
  domain::AttestationService* attestations = nullptr;
  domain::ApiTokenService* api_tokens = nullptr;
  domain::FederationService* federation = nullptr;  // keyless CI (trust policies, exchange)
  // Leaked-credential reports from secret scanners (nullable: the routes are not registered).
  domain::SecretScanningService* secret_scanning = nullptr;
  domain::WebhookService* webhooks = nullptr;  // event webhooks (nullable: 503 unavailable)
  http::Metrics* metrics = nullptr;
  // True when /metrics is served by a separate admin listener (RegisterAdminRoutes): the public
  // router then answers it 404.
  bool metrics_on_admin_listener = false;
  // Whether this instance hears other instances' revocations: reported by /readyz and /metrics
  // (nullable: not reported).
  const store::RevocationNotifier* notifier = nullptr;
  // Abuse limits (nullable: none). Failed authentications are reported to `auth_throttle`,
  // which answers 429 too_many_failed_attempts for banned addresses and credentials; token
  // creation and keyless exchange are rate-limited per organization (429 rate_limited).
  domain::AuthFailureThrottle* auth_throttle = nullptr;
  domain::RateLimiter* token_create_limit = nullptr;
  domain::RateLimiter* exchange_limit = nullptr;
  // Anonymous login starts (GET /auth/login, GET /auth/web/login, POST /v1/auth/device) per
  // client address (429 rate_limited); addresses in `login_limit_exempt` are not limited.
  domain::RateLimiter* login_start_limit = nullptr;
  std::vector<domain::Cidr> login_limit_exempt;
  Random* random = nullptr;
  std::string external_url;  // e.g. "https://chainloop.example.com" (no trailing slash)
  std::string web_dir;       // built web UI; empty: no UI
  UnixMillis session_lifetime = 24 * kMillisPerHour;
};

// The returned object owns what the handlers refer to: keep it alive while the router serves.
std::shared_ptr<void> RegisterRoutes(http::Router& router, const ApiDeps& deps);
// The admin listener's router: /healthz, /readyz and /metrics, nothing else. Same ownership.
std::shared_ptr<void> RegisterAdminRoutes(http::Router& router, const ApiDeps& deps);

}  // namespace cl::api
