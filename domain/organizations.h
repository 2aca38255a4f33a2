// OrganizationService: organizations, membership, invitations, projects and the audit log,
// each operation authorized through Authorizer and audited where it changes something.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "domain/audit_events.h"
#include "domain/authorization.h"
#include "domain/principal.h"
#include "store/store.h"

namespace cl::domain {

// The project called `name` in organization `org_id`: NotFound naming it when there is none,
// other store errors as they are.
Result<store::Project> FindProject(store::ProjectStore& projects, const std::string& org_id,
                                   const std::string& name);

struct OrgWithRole {
  store::Organization org;
  std::optional<store::OrgRole> role;  // empty for tokens
};

// One organization as its caller sees it: the role (empty for tokens) and what they may do.
struct OrgDescription {
  store::Organization org;
  std::optional<store::OrgRole> role;
  EffectivePermissions permissions;
};

class OrganizationService {
 public:
  // The stores it reads and writes. REQUIRES: each outlives the service.
  struct Stores {
    store::OrganizationStore& orgs;
    store::ProjectStore& projects;
    store::InvitationStore& invitations;
    store::AuditStore& audit;
  };

  OrganizationService(Stores stores, Authorizer& authz, const Clock& clock, Random& random)
      : orgs_(stores.orgs),
        projects_(stores.projects),
        invitations_(stores.invitations),
        audit_(stores.audit),
        authz_(authz),
        clock_(clock),
        random_(random) {}

  // People only; the creator becomes owner.
  Result<store::Organization> Create(const Principal& p, const std::string& name);
  Result<std::vector<OrgWithRole>> ListMine(const Principal& p);
  // Resolves an organization by name for `p` (NotFound when `p` cannot see it), with the
  // caller's role and effective permissions in it.
  Result<OrgDescription> Describe(const Principal& p, const std::string& name);
  Result<store::Organization> Resolve(const Principal& p, const std::string& name);

  // Sets the API token inactivity threshold: 1..365 days, 0 or nullopt turns it off.
  // Owners/admins only; never API tokens. Audited.
  Result<store::Organization> SetApiTokenMaxDaysInactive(const Principal& p, const std::string& org,
                                                         std::optional<int64_t> days);

  Result<std::vector<store::Membership>> ListMembers(const Principal& p, const std::string& org);
  // `role` is the decoded request's role, empty when it named none of the organization roles:
  // that is InvalidArgument, answered after the organization, permission and email checks (as
  // any other invalid invitation). Only owners may invite owners.
  Result<store::Invitation> Invite(const Principal& p, const std::string& org,
                                   const std::string& email, std::optional<store::OrgRole> role);
  Result<std::vector<store::Invitation>> ListInvitations(const Principal& p,
                                                         const std::string& org);
  Result<std::vector<store::AuditEvent>> ListAuditEvents(const Principal& p, const std::string& org,
                                                         int limit);

  Result<store::Project> CreateProject(const Principal& p, const std::string& org,
                                       const std::string& name);
  Result<std::vector<store::Project>> ListProjects(const Principal& p, const std::string& org);

  // The audit event of `p` doing `action` on `target` now (NewAuditEvent with this service's
  // clock and random source).
  store::AuditEvent NewEvent(const Principal& p, const std::string& org_id, AuditAction action,
                             AuditTarget target, std::string target_id, std::string message);

 private:
  store::OrganizationStore& orgs_;
  store::ProjectStore& projects_;
  store::InvitationStore& invitations_;
  store::AuditStore& audit_;
  Authorizer& authz_;
  const Clock& clock_;
  Random& random_;
};

}  // namespace cl::domain
