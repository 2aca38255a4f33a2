// In-memory fakes of the narrow store interfaces, for domain tests whose point is a rule, not the
// SQL: FakeMembershipStore (the OrganizationStore and ProjectStore reads the Authorizer makes).
// Only what the rules under test read is implemented; every other method fails with Internal,
// so a test that starts depending on more notices at once. Not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace cl::domain::testing {

inline Error NotFaked(const char* method) {
  return Error::Internal(std::string("FakeMembershipStore does not implement ") + method);
}

// Organization and project memberships held in maps; an unavailable store when `down` is set.
class FakeMembershipStore final : public store::OrganizationStore, public store::ProjectStore {
 public:
  void SetOrgRole(const std::string& org_id, const std::string& user_id, store::OrgRole role) {
    org_roles_[{org_id, user_id}] = role;
  }
  void SetProjectRole(const std::string& project_id, const std::string& user_id,
                      store::ProjectRole role) {
    project_roles_[{project_id, user_id}] = role;
  }
  // A project of the organization (what ListProjects and GetProject answer).
  void AddProject(const std::string& org_id, const std::string& project_id, std::string name) {
    projects_[project_id] = store::Project{project_id, org_id, std::move(name), 0};
  }
  bool down = false;  // every read fails with Unavailable

  Result<store::Membership> GetMembership(const std::string& org_id,
                                          const std::string& user_id) override {
    if (down) return Fail(Error::Unavailable("database down"));
    auto it = org_roles_.find({org_id, user_id});
    if (it == org_roles_.end()) return Fail(Error::NotFound("no membership"));
    return store::Membership{org_id, user_id, it->second, 0, "", "", ""};
  }
  Result<store::ProjectMembership> GetProjectMembership(const std::string& project_id,
                                                        const std::string& user_id) override {
    if (down) return Fail(Error::Unavailable("database down"));
    auto it = project_roles_.find({project_id, user_id});
    if (it == project_roles_.end()) return Fail(Error::NotFound("no project membership"));
    return store::ProjectMembership{project_id, user_id, it->second, 0};
  }
  Result<store::Project> GetProject(const std::string& id) override {
    if (down) return Fail(Error::Unavailable("database down"));
    auto it = projects_.find(id);
    if (it == projects_.end()) return Fail(Error::NotFound("no project"));
    return it->second;
  }
  Result<std::vector<store::Project>> ListProjects(const std::string& org_id) override {
    if (down) return Fail(Error::Unavailable("database down"));
    std::vector<store::Project> out;
    for (const auto& [id, project] : projects_) {
      if (project.org_id == org_id) out.push_back(project);
    }
    return out;
  }
  Result<std::vector<store::ProjectMembership>> ListProjectMembershipsForUser(
      const std::string& org_id, const std::string& user_id) override {
    if (down) return Fail(Error::Unavailable("database down"));
    std::vector<store::ProjectMembership> out;
    for (const auto& [key, role] : project_roles_) {
      auto project = projects_.find(key.first);
      if (key.second == user_id && project != projects_.end() && project->second.org_id == org_id) {
        out.push_back(store::ProjectMembership{key.first, user_id, role, 0});
      }
    }
    return out;
  }

  // OrganizationStore, not faked.
  Status CreateOrganization(const store::Organization&, const store::Membership&,
                            const store::AuditEvent&) override {
    return Fail(NotFaked("CreateOrganization"));
  }
  Result<store::Organization> GetOrganization(const std::string&) override {
    return Fail(NotFaked("GetOrganization"));
  }
  Result<store::Organization> GetOrganizationByName(const std::string&) override {
    return Fail(NotFaked("GetOrganizationByName"));
  }
  Result<std::vector<store::Membership>> ListMembershipsForUser(const std::string&) override {
    return Fail(NotFaked("ListMembershipsForUser"));
  }
  Result<std::vector<store::Membership>> ListMembers(const std::string&) override {
    return Fail(NotFaked("ListMembers"));
  }
  Result<store::Page<store::Membership, store::NameKey>> ListMembershipsForUser(
      const std::string&, const store::PageRequest<store::NameKey>&) override {
    return Fail(NotFaked("ListMembershipsForUser"));
  }
  Result<store::Page<store::Membership, store::NameKey>> ListMembers(
      const std::string&, const store::PageRequest<store::NameKey>&) override {
    return Fail(NotFaked("ListMembers"));
  }
  Result<store::Page<store::Project, store::NameKey>> ListProjects(
      const std::string&, const std::optional<std::string>&,
      const store::PageRequest<store::NameKey>&) override {
    return Fail(NotFaked("ListProjects"));
  }
  Status SetApiTokenMaxDaysInactive(const std::string&, std::optional<int>,
                                    const store::AuditEvent&) override {
    return Fail(NotFaked("SetApiTokenMaxDaysInactive"));
  }
  Status UpdateMemberRole(const std::string&, const std::string&, store::OrgRole,
                          const store::AuditEvent&) override {
    return Fail(NotFaked("UpdateMemberRole"));
  }
  Status RemoveMember(const std::string&, const std::string&, const store::AuditEvent&) override {
    return Fail(NotFaked("RemoveMember"));
  }
  // ProjectStore, not faked.
  Status CreateProject(const store::Project&, const std::optional<store::ProjectMembership>&,
                       const store::AuditEvent&) override {
    return Fail(NotFaked("CreateProject"));
  }
  Result<store::Project> GetProjectByName(const std::string&, const std::string&) override {
    return Fail(NotFaked("GetProjectByName"));
  }
  Status SetProjectMembership(const store::ProjectMembership&) override {
    return Fail(NotFaked("SetProjectMembership"));
  }

 private:
  std::map<std::pair<std::string, std::string>, store::OrgRole> org_roles_;
  std::map<std::pair<std::string, std::string>, store::ProjectRole> project_roles_;
  std::map<std::string, store::Project> projects_;  // by id
};

}  // namespace cl::domain::testing
