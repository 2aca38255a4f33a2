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
  // One page of the organizations `p` belongs to, by name then id (a token: its own one).
  Result<store::Page<OrgWithRole, store::NameKey>> ListMine(
      const Principal& p, const store::PageRequest<store::NameKey>& page);
  // Resolves an organization by name for `p` (NotFound when `p` cannot see it), with the
  // caller's role and effective permissions in it.
  Result<OrgDescription> Describe(const Principal& p, const std::string& name);
  Result<store::Organization> Resolve(const Principal& p, const std::string& name);

  // Sets the API token inactivity threshold: 1..365 days, 0 or nullopt turns it off.
  // Owners/admins only; never API tokens. Audited.
  Result<store::Organization> SetApiTokenMaxDaysInactive(const Principal& p, const std::string& org,
                                                         std::optional<int64_t> days);

  Result<store::Page<store::Membership, store::NameKey>> ListMembers(
      const Principal& p, const std::string& org, const store::PageRequest<store::NameKey>& page);
  // `role` is the decoded request's role, empty when it named none of the organization roles:
  // that is InvalidArgument, answered after the organization, permission and email checks (as
  // any other invalid invitation). Only owners may invite owners.
  Result<store::Invitation> Invite(const Principal& p, const std::string& org,
                                   const std::string& email, std::optional<store::OrgRole> role);
  Result<store::Page<store::Invitation, store::TimeKey>> ListInvitations(
      const Principal& p, const std::string& org, const store::PageRequest<store::TimeKey>& page);

  // Membership changes: people only (PermissionDenied for tokens), with member:update /
  // member:remove / invitation:revoke (owners and admins). An admin never changes or removes an
  // owner, never makes anyone owner and never cancels an invitation to become owner
  // (PermissionDenied). The organization's only owner can neither be demoted nor removed, by
  // themselves included (FailedPrecondition "last_owner", checked again by the store inside the
  // write). Every change is audited. Authorization reads memberships from the store on every
  // request, so a removed member is refused at once on every instance.

  // Sets member `user_id`'s role. `role` is the decoded request's role, empty when it named
  // none of the organization roles (InvalidArgument, after the permission check). NotFound when
  // `user_id` is not a member. Setting the role a member already has changes nothing and is
  // not audited.
  Result<store::Membership> UpdateMemberRole(const Principal& p, const std::string& org,
                                             const std::string& user_id,
                                             std::optional<store::OrgRole> role);
  // Removes member `user_id` (oneself included) and their project roles in the organization;
  // returns the membership as it was. NotFound when `user_id` is not a member.
  Result<store::Membership> RemoveMember(const Principal& p, const std::string& org,
                                         const std::string& user_id);
  // Cancels the pending invitation `id`; returns it as it was. NotFound when there is no pending
  // invitation with that id in the organization.
  Result<store::Invitation> RevokeInvitation(const Principal& p, const std::string& org,
                                             const std::string& id);
  // One page of the events matching `query` (AuditEventFilterOf: InvalidArgument when invalid).
  Result<store::Page<store::AuditEvent, store::TimeKey>> ListAuditEvents(
      const Principal& p, const std::string& org, const AuditEventQuery& query,
      const store::PageRequest<store::TimeKey>& page);

  Result<store::Project> CreateProject(const Principal& p, const std::string& org,
                                       const std::string& name);
  // One page of the projects `p` may see: a project-scoped principal sees only its project.
  Result<store::Page<store::Project, store::NameKey>> ListProjects(
      const Principal& p, const std::string& org, const store::PageRequest<store::NameKey>& page);

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

  // The organization `name` and the target membership, after the checks every membership change
  // shares: people only, `permission`, the target exists, and admins never touch owners.
  struct MemberChange {
    store::Organization org;
    store::OrgRole caller_role;
    store::Membership target;
  };
  Result<MemberChange> PrepareMemberChange(const Principal& p, const std::string& name,
                                           std::string_view permission, const std::string& user_id);
  const Clock& clock_;
  Random& random_;
};

}  // namespace cl::domain
