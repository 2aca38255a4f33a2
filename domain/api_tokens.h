// ApiTokenService: API tokens for automation — creation with an explicit permission list,
// listing, revocation — and the rules of who may do what with them.
//
// Rules (issue "API tokens"):
// - Owners/admins create any token; members create project-scoped tokens for projects where
//   they are project admin; viewers none. A token never exceeds its creator's permissions at
//   creation. An organization-scoped token holding api_token:create creates only
//   project-scoped tokens within its own permissions.
// - Only "token-grantable" permissions can be given: membership, invitations, organization
//   settings and the audit log are for people only.
// - Owners/admins revoke any token, project admins their project's tokens, a token itself.
// - Rotation replaces a token by a new one with the same name, scope, description, permissions
//   and expiry length; it needs api_token:create AND api_token:revoke in the token's scope (a
//   token may rotate itself when it holds both), and the caller must hold every permission of
//   the token (the new secret is handed to the caller). The old token keeps working for a grace
//   period of up to kMaxRotationGraceSeconds, then stops (store::ApiToken::rotation_deadline).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "crypto/hash.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/organizations.h"
#include "store/store.h"

namespace cl::domain {

// The default permission list: what CI needs to attest.
const std::vector<std::string>& DefaultApiTokenPermissions();
// Permissions a token may hold at all.
const std::set<std::string, std::less<>>& TokenGrantablePermissions();

struct CreateApiTokenRequest {
  std::string name;
  std::string description;
  std::optional<int64_t> expires_in_seconds;
  std::optional<std::string> project;  // project name; empty: organization-scoped
  std::optional<std::vector<std::string>> permissions;
};

// A listing, with the clock reading it was decided at: encode the tokens' states and
// auto-revoke dates at `now` so they agree with the filter.
struct ApiTokenListing {
  std::vector<store::ApiToken> tokens;
  UnixMillis now = 0;
  std::optional<store::TimeKey> next;  // the next page's key, empty on the last page
};

struct CreatedApiToken {
  store::ApiToken record;
  std::string token;  // shown once
};

// The longest grace period a rotation may leave the old token: one day.
inline constexpr int64_t kMaxRotationGraceSeconds = 86400;

struct RotatedApiToken {
  store::ApiToken record;   // the new token
  std::string token;        // its secret, shown once
  store::ApiToken rotated;  // the old token, as stored after the rotation
};

class ApiTokenService {
 public:
  // The stores it reads and writes (audit events go with the token writes). REQUIRES: each
  // outlives the service.
  struct Stores {
    store::ApiTokenStore& tokens;
    store::ProjectStore& projects;
  };

  ApiTokenService(Stores stores, Authorizer& authz, OrganizationService& orgs,
                  Authenticator& authenticator, const crypto::CredentialHasher& hasher,
                  const Clock& clock, Random& random)
      : tokens_(stores.tokens),
        projects_(stores.projects),
        authz_(authz),
        orgs_(orgs),
        authenticator_(authenticator),
        hasher_(hasher),
        clock_(clock),
        random_(random) {}

  // When `p` is an API token, the store re-checks it in the insert's transaction: a token
  // revoked (or expired) after it authenticated this request gets Unauthenticated
  // "token_revoked" ("token_expired") and nothing is created.
  Result<CreatedApiToken> Create(const Principal& p, const std::string& org,
                                 const CreateApiTokenRequest& req);
  // `status`: "active" (default: not revoked, not expired), "expired", "revoked", "all";
  // `scope`: "project", "global" or empty. Expiry is decided at this service's clock.
  Result<ApiTokenListing> List(const Principal& p, const std::string& org,
                               const std::string& status, const std::optional<std::string>& project,
                               const std::string& scope,
                               const store::PageRequest<store::TimeKey>& page);
  Result<store::ApiToken> Revoke(const Principal& p, const std::string& org, const std::string& id);
  // Replaces the token `id` by a new one (see the rules above). `grace_seconds` (0..86400): how
  // long the old token keeps working; 0 revokes it in the same transaction. FailedPrecondition
  // when the token is revoked, expired or already rotated; PermissionDenied as described above.
  Result<RotatedApiToken> Rotate(const Principal& p, const std::string& org, const std::string& id,
                                 int64_t grace_seconds);
  // One token of the organization, with api_token:read in its scope (a token may read itself).
  // NotFound for an unknown id or one of another organization.
  Result<store::ApiToken> Get(const Principal& p, const std::string& org, const std::string& id);

  Result<store::Organization> Organization(const Principal& p, const std::string& org) {
    return orgs_.Resolve(p, org);
  }

  // This service's clock reading (the time a created or revoked token's state is shown at).
  UnixMillis Now() const { return clock_.Now(); }

 private:
  struct OrgToken {
    store::Organization org;
    store::ApiToken token;
  };
  // The token `id` of organization `org_name` when `p` holds `permission` in its scope or is
  // that token itself; NotFound for an unknown id.
  Result<OrgToken> Find(const Principal& p, const std::string& org_name, const std::string& id,
                        std::string_view permission);

  store::ApiTokenStore& tokens_;
  store::ProjectStore& projects_;
  Authorizer& authz_;
  OrganizationService& orgs_;
  Authenticator& authenticator_;
  const crypto::CredentialHasher& hasher_;
  const Clock& clock_;
  Random& random_;
};

}  // namespace cl::domain
