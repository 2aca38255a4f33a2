#include "domain/authorization.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

namespace cl::domain {
namespace {

using PermSet = std::set<std::string, std::less<>>;

// The role table: the permission sets below, and which role holds which (the switches in
// OrgRolePermissions and ProjectRolePermissions, which the compiler checks name every role).
// Changing access means changing these, nothing else.
struct RoleTable {
  PermSet org_read;  // what every organization role grants
  PermSet org_member;
  PermSet org_admin;
  PermSet project_viewer;
  PermSet project_admin;
};

const RoleTable& Roles() {
  static const auto* table = [] {
    auto* t = new RoleTable;
    t->org_read = {std::string(perm::kOrganizationRead), std::string(perm::kMemberRead),
                   std::string(perm::kProjectRead), std::string(perm::kWorkflowRead),
                   std::string(perm::kWorkflowRunRead)};
    t->org_member = t->org_read;
    t->org_member.insert(std::string(perm::kProjectCreate));
    t->org_admin = t->org_read;
    for (auto p : {perm::kOrganizationUpdate, perm::kMemberUpdate, perm::kMemberRemove,
                   perm::kInvitationCreate, perm::kInvitationRead, perm::kInvitationRevoke,
                   perm::kAuditRead, perm::kProjectCreate, perm::kWorkflowCreate,
                   perm::kWorkflowRunCreate, perm::kApiTokenCreate, perm::kApiTokenRead,
                   perm::kApiTokenRevoke, perm::kTrustPolicyManage, perm::kWebhookManage}) {
      t->org_admin.insert(std::string(p));
    }
    t->project_viewer = {std::string(perm::kProjectRead), std::string(perm::kWorkflowRead),
                         std::string(perm::kWorkflowRunRead)};
    t->project_admin = t->project_viewer;
    for (auto p : {perm::kWorkflowCreate, perm::kWorkflowRunCreate, perm::kApiTokenCreate,
                   perm::kApiTokenRead, perm::kApiTokenRevoke}) {
      t->project_admin.insert(std::string(p));
    }
    return t;
  }();
  return *table;
}

const PermSet& Empty() {
  static const PermSet empty;
  return empty;
}

}  // namespace

PermissionList::PermissionList(std::vector<std::string> list)
    : list_(std::make_shared<const std::vector<std::string>>(std::move(list))) {}

PermissionList::PermissionList(std::initializer_list<std::string> list)
    : list_(std::make_shared<const std::vector<std::string>>(list)) {}

PermissionList PermissionList::Intern(const std::vector<std::string>& list) {
  // Keyed by the joined list (permissions contain no spaces); entries die with their last user
  // and are swept when the table has doubled since the last sweep.
  static std::mutex mu;
  static std::unordered_map<std::string, std::weak_ptr<const std::vector<std::string>>> table;
  static size_t sweep_at = 64;
  std::string key;
  for (const auto& p : list) {
    key += p;
    key += ' ';
  }
  std::lock_guard<std::mutex> lock(mu);
  PermissionList out;
  auto& slot = table[key];
  out.list_ = slot.lock();
  if (!out.list_) {
    out.list_ = std::make_shared<const std::vector<std::string>>(list);
    slot = out.list_;
  }
  if (table.size() >= sweep_at) {
    std::erase_if(table, [](const auto& kv) { return kv.second.expired(); });
    sweep_at = std::max<size_t>(64, table.size() * 2);
  }
  return out;
}

bool PermissionList::Contains(std::string_view permission) const {
  return std::find(begin(), end(), permission) != end();
}

const char* PrincipalKindName(Principal::Kind kind) {
  switch (kind) {
    case Principal::Kind::kUser:
      return "user";
    case Principal::Kind::kApiToken:
      return "api_token";
    case Principal::Kind::kFederated:
      return "federated";
    case Principal::Kind::kSystem:
      return "system";
  }
  return "unknown";
}

const PermSet& OrgRolePermissions(store::OrgRole role) {
  switch (role) {
    case store::OrgRole::kOwner:
    case store::OrgRole::kAdmin:
      return Roles().org_admin;
    case store::OrgRole::kMember:
      return Roles().org_member;
    case store::OrgRole::kViewer:
      return Roles().org_read;
  }
  return Empty();
}

const PermSet& ProjectRolePermissions(store::ProjectRole role) {
  switch (role) {
    case store::ProjectRole::kAdmin:
      return Roles().project_admin;
    case store::ProjectRole::kViewer:
      return Roles().project_viewer;
  }
  return Empty();
}

const PermSet& AllRolePermissions() {
  static const auto* all = [] {
    auto* out = new PermSet;
    for (store::OrgRole role : store::AllOrgRoles()) {
      const PermSet& perms = OrgRolePermissions(role);
      out->insert(perms.begin(), perms.end());
    }
    for (store::ProjectRole role : store::AllProjectRoles()) {
      const PermSet& perms = ProjectRolePermissions(role);
      out->insert(perms.begin(), perms.end());
    }
    return out;
  }();
  return *all;
}

bool EffectivePermissions::Allows(std::string_view permission,
                                  const std::optional<std::string>& project_id) const {
  if (organization.count(permission)) return true;
  if (!project_id) return false;
  for (const auto& project : projects) {
    if (project.project_id == *project_id) return project.permissions.count(permission) > 0;
  }
  return false;
}

Result<EffectivePermissions> Authorizer::Permissions(const Principal& p,
                                                     const std::string& org_id) {
  EffectivePermissions out;
  switch (p.kind) {
    case Principal::Kind::kUser: {
      CL_ASSIGN_OR_RETURN(store::OrgRole role, OrgRole(p, org_id));
      out.organization = OrgRolePermissions(role);
      CL_ASSIGN_OR_RETURN(auto memberships, projects_.ListProjectMembershipsForUser(org_id, p.id));
      if (memberships.empty()) return out;
      std::map<std::string, store::ProjectRole, std::less<>> role_in;  // project id -> role
      for (const auto& m : memberships) role_in[m.project_id] = m.role;
      CL_ASSIGN_OR_RETURN(auto projects, projects_.ListProjects(org_id));
      std::sort(projects.begin(), projects.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
      for (const auto& project : projects) {
        auto it = role_in.find(project.id);
        if (it == role_in.end()) continue;
        PermSet here = out.organization;
        const auto& extra = ProjectRolePermissions(it->second);
        here.insert(extra.begin(), extra.end());
        if (here.size() == out.organization.size()) continue;  // nothing beyond the org role
        out.projects.push_back({project.id, project.name, std::move(here)});
      }
      return out;
    }
    case Principal::Kind::kApiToken:
    case Principal::Kind::kFederated: {
      if (!p.org_id || *p.org_id != org_id) return Fail(Error::NotFound("organization not found"));
      PermSet list(p.permissions.begin(), p.permissions.end());
      if (!p.project_id) {
        out.organization = std::move(list);
        return out;
      }
      if (list.empty()) return out;
      CL_ASSIGN_OR_RETURN(auto project, projects_.GetProject(*p.project_id));
      out.projects.push_back({project.id, project.name, std::move(list)});
      return out;
    }
    case Principal::Kind::kSystem:
      out.organization = AllRolePermissions();
      return out;
  }
  return out;
}

Result<store::OrgRole> Authorizer::OrgRole(const Principal& p, const std::string& org_id) {
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::NotFound("organization not found"));
  }
  auto m = orgs_.GetMembership(org_id, p.id);
  if (!m) {
    if (m.error().IsNotFound()) return Fail(Error::NotFound("organization not found"));
    return Fail(m.error());
  }
  return m->role;
}

Status Authorizer::Authorize(const Principal& p, std::string_view permission, const Resource& r) {
  auto denied = [&] {
    return Fail(Error::PermissionDenied("you do not have the permission " +
                                        std::string(permission) + " here"));
  };
  switch (p.kind) {
    case Principal::Kind::kUser: {
      CL_ASSIGN_OR_RETURN(store::OrgRole role, OrgRole(p, r.org_id));
      if (OrgRolePermissions(role).count(permission)) return Ok();
      if (r.project_id) {
        auto pm = projects_.GetProjectMembership(*r.project_id, p.id);
        if (pm && ProjectRolePermissions(pm->role).count(permission)) return Ok();
        if (!pm && !pm.error().IsNotFound()) return Fail(pm.error());
      }
      return Fail(Error::PermissionDenied("your role '" + std::string(store::OrgRoleName(role)) +
                                          "' does not grant " + std::string(permission) + " here"));
    }
    case Principal::Kind::kApiToken:
    case Principal::Kind::kFederated: {
      if (!p.org_id || *p.org_id != r.org_id)
        return Fail(Error::NotFound("organization not found"));
      if (p.project_id && (!r.project_id || *r.project_id != *p.project_id)) return denied();
      if (!p.permissions.Contains(permission)) return denied();
      return Ok();
    }
    case Principal::Kind::kSystem:
      return Ok();
  }
  return denied();
}

}  // namespace cl::domain
