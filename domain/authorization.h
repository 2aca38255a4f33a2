// Authorization: the one place that decides whether a principal may do something.
//
// Permissions are "resource:action" strings. Organization roles (owner, admin, member,
// viewer) and project roles (admin, viewer) map to permission sets in one table
// (authorization.cc). Members read the whole organization but act (write) only in projects
// where they hold a project role; viewers only read.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "domain/principal.h"
#include "store/store.h"

namespace cl::domain {

namespace perm {
inline constexpr std::string_view kOrganizationRead = "organization:read";
inline constexpr std::string_view kOrganizationUpdate = "organization:update";
inline constexpr std::string_view kMemberRead = "member:read";
// Changing a member's role and removing a member (OrganizationService adds: never an owner by an
// admin, never the last owner).
inline constexpr std::string_view kMemberUpdate = "member:update";
inline constexpr std::string_view kMemberRemove = "member:remove";
inline constexpr std::string_view kInvitationCreate = "invitation:create";
inline constexpr std::string_view kInvitationRead = "invitation:read";
inline constexpr std::string_view kInvitationRevoke = "invitation:revoke";
inline constexpr std::string_view kAuditRead = "audit:read";
inline constexpr std::string_view kProjectCreate = "project:create";
inline constexpr std::string_view kProjectRead = "project:read";
inline constexpr std::string_view kWorkflowRead = "workflow:read";
inline constexpr std::string_view kWorkflowCreate = "workflow:create";
inline constexpr std::string_view kWorkflowRunCreate = "workflow_run:create";
inline constexpr std::string_view kWorkflowRunRead = "workflow_run:read";
inline constexpr std::string_view kApiTokenCreate = "api_token:create";
inline constexpr std::string_view kApiTokenRead = "api_token:read";
inline constexpr std::string_view kApiTokenRevoke = "api_token:revoke";
// Keyless CI trust policies: people only (never token-grantable).
inline constexpr std::string_view kTrustPolicyManage = "trust_policy:manage";
// Event webhooks (create, list, describe, delete, deliveries, ping): people only (never
// token-grantable): a webhook receives every subscribed event of the organization.
inline constexpr std::string_view kWebhookManage = "webhook:manage";
}  // namespace perm

// Permissions an organization role grants across the whole organization.
const std::set<std::string, std::less<>>& OrgRolePermissions(store::OrgRole role);
// Permissions a project role grants within that project.
const std::set<std::string, std::less<>>& ProjectRolePermissions(store::ProjectRole role);
// Every permission the table grants (for tests generated from the table; the roles themselves
// are store::AllOrgRoles() and store::AllProjectRoles()).
const std::set<std::string, std::less<>>& AllRolePermissions();

// What is being acted on.
struct Resource {
  std::string org_id;
  std::optional<std::string> project_id;  // set for project-level operations
};

// What a principal may do in one organization, as Authorize decides it: what the web UI shows
// controls from.
struct ProjectPermissions {
  std::string project_id;
  std::string project_name;
  // Everything granted in this project: the organization-wide set plus what is granted here.
  std::set<std::string, std::less<>> permissions;
};

struct EffectivePermissions {
  // Granted on the organization itself and in every one of its projects.
  std::set<std::string, std::less<>> organization;
  // The projects where more than `organization` is granted, ordered by name.
  std::vector<ProjectPermissions> projects;

  // Whether `permission` is granted on the organization (no `project_id`) or in that project.
  bool Allows(std::string_view permission, const std::optional<std::string>& project_id) const;
};

class Authorizer {
 public:
  // REQUIRES: both stores outlive the Authorizer.
  Authorizer(store::OrganizationStore& orgs, store::ProjectStore& projects)
      : orgs_(orgs), projects_(projects) {}

  // OK, or PermissionDenied("permission_denied") with a message naming the permission.
  // A user that is not a member of the organization gets NotFound, so names of other
  // organizations are not revealed.
  Status Authorize(const Principal& p, std::string_view permission, const Resource& r);

  // The permissions `p` holds in organization `org_id`, from the same table and memberships
  // Authorize reads: Authorize(p, perm, {org_id, project}) succeeds iff Allows(perm, project).
  // Users: the organization role's set, and per project where they hold a project role, that
  // role's set on top. API and CI tokens: their explicit list, org-wide or in their one project.
  // System principals: every permission of the table. NotFound as Authorize answers it
  // (non-members, tokens of another organization).
  Result<EffectivePermissions> Permissions(const Principal& p, const std::string& org_id);

  // The caller's organization role, or NotFound when not a member.
  Result<store::OrgRole> OrgRole(const Principal& p, const std::string& org_id);

 private:
  store::OrganizationStore& orgs_;  // memberships (organization roles)
  store::ProjectStore& projects_;   // project roles
};

}  // namespace cl::domain
