#include "domain/organizations.h"

#include <tuple>

#include "domain/names.h"
#include "domain/token_inactivity.h"

namespace cl::domain {

Result<store::Project> FindProject(store::ProjectStore& projects, const std::string& org_id,
                                   const std::string& name) {
  auto project = projects.GetProjectByName(org_id, name);
  if (!project && project.error().IsNotFound()) {
    return Fail(Error::NotFound("project '" + name + "' not found"));
  }
  return project;
}

store::AuditEvent OrganizationService::NewEvent(const Principal& p, const std::string& org_id,
                                                AuditAction action, AuditTarget target,
                                                std::string target_id, std::string message) {
  return NewAuditEvent(AuditActor::Of(p),
                       {org_id, action, target, std::move(target_id), std::move(message)},
                       clock_.Now(), random_);
}

Result<store::Organization> OrganizationService::Create(const Principal& p,
                                                        const std::string& name) {
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("organizations are created by people, not tokens"));
  }
  CL_RETURN_IF_ERROR(ValidateDnsLabel(name, "organization name"));
  store::Organization org;
  org.id = NewUuid(random_);
  org.name = name;
  org.created_at = clock_.Now();
  store::Membership owner{org.id, p.id, store::OrgRole::kOwner, org.created_at, "", "", ""};
  auto st = orgs_.CreateOrganization(
      org, owner,
      NewEvent(p, org.id, AuditAction::kOrganizationCreated, AuditTarget::kOrganization, org.id,
               p.display_name + " created the organization " + name));
  if (!st) {
    if (st.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("the organization name '" + name + "' is taken"));
    }
    return Fail(st.error());
  }
  return org;
}

Result<store::Page<OrgWithRole, store::NameKey>> OrganizationService::ListMine(
    const Principal& p, const store::PageRequest<store::NameKey>& page) {
  store::Page<OrgWithRole, store::NameKey> out;
  if (p.kind != Principal::Kind::kUser) {
    // A token's one organization: on the first page only (it sorts after no key of its own).
    if (p.org_id) {
      CL_ASSIGN_OR_RETURN(auto org, orgs_.GetOrganization(*p.org_id));
      const auto& after = page.after;
      if (!after || std::tie(org.name, org.id) > std::tie(after->name, after->id)) {
        out.items.push_back({std::move(org), std::nullopt});
      }
    }
    return out;
  }
  CL_ASSIGN_OR_RETURN(auto memberships, orgs_.ListMembershipsForUser(p.id, page));
  for (const auto& m : memberships.items) {
    CL_ASSIGN_OR_RETURN(auto org, orgs_.GetOrganization(m.org_id));
    out.items.push_back({std::move(org), m.role});
  }
  out.next = std::move(memberships.next);
  return out;
}

Result<store::Organization> OrganizationService::Resolve(const Principal& p,
                                                         const std::string& name) {
  auto org = orgs_.GetOrganizationByName(name);
  if (!org) {
    if (org.error().IsNotFound()) {
      return Fail(Error::NotFound("organization '" + name + "' not found"));
    }
    return Fail(org.error());
  }
  // Tokens are bound to one organization; each operation then checks its own permission.
  if (p.kind != Principal::Kind::kUser) {
    if (!p.org_id || *p.org_id != org->id) {
      return Fail(Error::NotFound("organization '" + name + "' not found"));
    }
    return org;
  }
  auto st = authz_.Authorize(p, perm::kOrganizationRead, Resource{org->id, std::nullopt});
  if (!st) {
    if (st.error().IsNotFound()) {
      return Fail(Error::NotFound("organization '" + name + "' not found"));
    }
    return Fail(st.error());
  }
  return org;
}

Result<OrgDescription> OrganizationService::Describe(const Principal& p, const std::string& name) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kOrganizationRead, Resource{org.id, p.project_id}));
  std::optional<store::OrgRole> role;
  if (p.kind == Principal::Kind::kUser) {
    CL_ASSIGN_OR_RETURN(role, authz_.OrgRole(p, org.id));
  }
  CL_ASSIGN_OR_RETURN(auto permissions, authz_.Permissions(p, org.id));
  return OrgDescription{std::move(org), role, std::move(permissions)};
}

Result<store::Organization> OrganizationService::SetApiTokenMaxDaysInactive(
    const Principal& p, const std::string& name, std::optional<int64_t> days) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("organization settings are changed by people, not tokens"));
  }
  CL_RETURN_IF_ERROR(
      authz_.Authorize(p, perm::kOrganizationUpdate, Resource{org.id, std::nullopt}));
  CL_ASSIGN_OR_RETURN(std::optional<int> threshold, InactivityThreshold(days));
  std::string message = threshold ? p.display_name + " set API token auto-revocation to " +
                                        std::to_string(*threshold) + " days of inactivity"
                                  : p.display_name + " turned API token auto-revocation off";
  CL_RETURN_IF_ERROR(
      orgs_.SetApiTokenMaxDaysInactive(org.id, threshold,
                                       NewEvent(p, org.id, AuditAction::kOrganizationUpdated,
                                                AuditTarget::kOrganization, org.id, message)));
  return orgs_.GetOrganization(org.id);
}

Result<store::Page<store::Membership, store::NameKey>> OrganizationService::ListMembers(
    const Principal& p, const std::string& name, const store::PageRequest<store::NameKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kMemberRead, Resource{org.id, std::nullopt}));
  return orgs_.ListMembers(org.id, page);
}

Result<store::Invitation> OrganizationService::Invite(const Principal& p, const std::string& name,
                                                      const std::string& email,
                                                      std::optional<store::OrgRole> role) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kInvitationCreate, Resource{org.id, std::nullopt}));
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("membership is managed by people, not tokens"));
  }
  CL_ASSIGN_OR_RETURN(std::string normalized, NormalizeEmail(email));
  if (!role) {
    return Fail(Error::InvalidArgument("role must be one of owner, admin, member, viewer"));
  }
  // Only an owner may hand out ownership.
  CL_ASSIGN_OR_RETURN(store::OrgRole my_role, authz_.OrgRole(p, org.id));
  if (*role == store::OrgRole::kOwner && my_role != store::OrgRole::kOwner) {
    return Fail(Error::PermissionDenied("only owners can invite owners"));
  }
  store::Invitation inv;
  inv.id = NewUuid(random_);
  inv.org_id = org.id;
  inv.email = normalized;
  inv.role = *role;
  inv.inviter_user_id = p.id;
  inv.status = store::InvitationStatus::kPending;
  inv.created_at = clock_.Now();
  inv.org_name = org.name;
  auto st = invitations_.CreateInvitation(
      inv, NewEvent(p, org.id, AuditAction::kInvitationCreated, AuditTarget::kInvitation, inv.id,
                    p.display_name + " invited " + normalized + " as " +
                        std::string(store::OrgRoleName(*role))));
  if (!st) {
    if (st.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists(normalized + " already has a pending invitation"));
    }
    return Fail(st.error());
  }
  return inv;
}

Result<store::Page<store::Invitation, store::TimeKey>> OrganizationService::ListInvitations(
    const Principal& p, const std::string& name, const store::PageRequest<store::TimeKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kInvitationRead, Resource{org.id, std::nullopt}));
  return invitations_.ListPendingInvitations(org.id, page);
}

namespace {

// The member as audit messages name them: email, else name, else user id.
std::string MemberName(const store::Membership& m) {
  if (!m.user_email.empty()) return m.user_email;
  if (!m.user_name.empty()) return m.user_name;
  return m.user_id;
}

Status NoTokens(const Principal& p) {
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("membership is managed by people, not tokens"));
  }
  return Ok();
}

}  // namespace

Result<OrganizationService::MemberChange> OrganizationService::PrepareMemberChange(
    const Principal& p, const std::string& name, std::string_view permission,
    const std::string& user_id) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, permission, Resource{org.id, std::nullopt}));
  CL_RETURN_IF_ERROR(NoTokens(p));
  CL_ASSIGN_OR_RETURN(store::OrgRole caller_role, authz_.OrgRole(p, org.id));
  auto target = orgs_.GetMembership(org.id, user_id);
  if (!target) {
    if (target.error().IsNotFound()) {
      return Fail(Error::NotFound("no member with user id '" + user_id + "' in " + org.name));
    }
    return Fail(target.error());
  }
  if (target->role == store::OrgRole::kOwner && caller_role != store::OrgRole::kOwner) {
    return Fail(Error::PermissionDenied("only owners can change or remove an owner"));
  }
  return MemberChange{std::move(org), caller_role, std::move(*target)};
}

Result<store::Membership> OrganizationService::UpdateMemberRole(
    const Principal& p, const std::string& name, const std::string& user_id,
    std::optional<store::OrgRole> role) {
  CL_ASSIGN_OR_RETURN(auto change, PrepareMemberChange(p, name, perm::kMemberUpdate, user_id));
  if (!role) {
    return Fail(Error::InvalidArgument("role must be one of owner, admin, member, viewer"));
  }
  if (*role == store::OrgRole::kOwner && change.caller_role != store::OrgRole::kOwner) {
    return Fail(Error::PermissionDenied("only owners can make someone owner"));
  }
  store::Membership updated = change.target;
  if (updated.role == *role) return updated;
  const std::string from(store::OrgRoleName(updated.role));
  updated.role = *role;
  auto st = orgs_.UpdateMemberRole(
      change.org.id, user_id, *role,
      NewEvent(p, change.org.id, AuditAction::kMemberRoleChanged, AuditTarget::kMember, user_id,
               p.display_name + " changed the role of " + MemberName(updated) + " from " + from +
                   " to " + std::string(store::OrgRoleName(*role))));
  if (!st) return Fail(st.error());
  return updated;
}

Result<store::Membership> OrganizationService::RemoveMember(const Principal& p,
                                                            const std::string& name,
                                                            const std::string& user_id) {
  CL_ASSIGN_OR_RETURN(auto change, PrepareMemberChange(p, name, perm::kMemberRemove, user_id));
  const std::string who = MemberName(change.target);
  const std::string message = user_id == p.id
                                  ? p.display_name + " left the organization"
                                  : p.display_name + " removed " + who + " from the organization";
  CL_RETURN_IF_ERROR(orgs_.RemoveMember(change.org.id, user_id,
                                        NewEvent(p, change.org.id, AuditAction::kMemberRemoved,
                                                 AuditTarget::kMember, user_id, message)));
  return change.target;
}

Result<store::Invitation> OrganizationService::RevokeInvitation(const Principal& p,
                                                                const std::string& name,
                                                                const std::string& id) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kInvitationRevoke, Resource{org.id, std::nullopt}));
  CL_RETURN_IF_ERROR(NoTokens(p));
  auto not_found = [&] {
    return Fail(Error::NotFound("no pending invitation with id '" + id + "' in " + org.name));
  };
  if (!IsUuid(id)) return not_found();
  auto inv = invitations_.GetInvitation(org.id, id);
  if (!inv) {
    if (inv.error().IsNotFound()) return not_found();
    return Fail(inv.error());
  }
  if (inv->status != store::InvitationStatus::kPending) return not_found();
  CL_ASSIGN_OR_RETURN(store::OrgRole my_role, authz_.OrgRole(p, org.id));
  if (inv->role == store::OrgRole::kOwner && my_role != store::OrgRole::kOwner) {
    return Fail(Error::PermissionDenied("only owners can cancel an invitation to become owner"));
  }
  auto st = invitations_.RevokeInvitation(
      org.id, id,
      NewEvent(p, org.id, AuditAction::kInvitationRevoked, AuditTarget::kInvitation, id,
               p.display_name + " cancelled the invitation of " + inv->email + " as " +
                   std::string(store::OrgRoleName(inv->role))));
  if (!st) {
    if (st.error().IsNotFound()) return not_found();  // accepted or cancelled meanwhile
    return Fail(st.error());
  }
  return *inv;
}

Result<store::Page<store::AuditEvent, store::TimeKey>> OrganizationService::ListAuditEvents(
    const Principal& p, const std::string& name, const AuditEventQuery& query,
    const store::PageRequest<store::TimeKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kAuditRead, Resource{org.id, std::nullopt}));
  CL_ASSIGN_OR_RETURN(store::AuditEventFilter filter, AuditEventFilterOf(org.id, query));
  return audit_.ListAuditEvents(filter, page);
}

Result<store::Project> OrganizationService::CreateProject(const Principal& p,
                                                          const std::string& name,
                                                          const std::string& project_name) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kProjectCreate, Resource{org.id, std::nullopt}));
  CL_RETURN_IF_ERROR(ValidateDnsLabel(project_name, "project name"));
  store::Project project;
  project.id = NewUuid(random_);
  project.org_id = org.id;
  project.name = project_name;
  project.created_at = clock_.Now();
  std::optional<store::ProjectMembership> creator;
  if (p.kind == Principal::Kind::kUser) {
    creator =
        store::ProjectMembership{project.id, p.id, store::ProjectRole::kAdmin, project.created_at};
  }
  auto st = projects_.CreateProject(
      project, creator,
      NewEvent(p, org.id, AuditAction::kProjectCreated, AuditTarget::kProject, project.id,
               p.display_name + " created the project " + project_name));
  if (!st) {
    if (st.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("the project '" + project_name + "' already exists"));
    }
    return Fail(st.error());
  }
  return project;
}

Result<store::Page<store::Project, store::NameKey>> OrganizationService::ListProjects(
    const Principal& p, const std::string& name, const store::PageRequest<store::NameKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, Resolve(p, name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kProjectRead, Resource{org.id, p.project_id}));
  return projects_.ListProjects(org.id, p.project_id, page);
}

}  // namespace cl::domain
