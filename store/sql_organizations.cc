// SqlDatabase's users, organizations, memberships, projects (and project memberships) and
// invitations: UserStore, OrganizationStore, ProjectStore and InvitationStore.
#include <optional>
#include <string>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

// Column lists and row decoders, kept side by side so they cannot drift apart.
constexpr const char* kUserCols =
    "id, issuer, subject, email, email_verified, name, created_at, updated_at";
User ToUser(const SqlRow& r) {
  User u;
  u.id = r.Str(0);
  u.issuer = r.Str(1);
  u.subject = r.Str(2);
  u.email = r.Str(3);
  u.email_verified = r.Bool(4);
  u.name = r.Str(5);
  u.created_at = r.Int(6);
  u.updated_at = r.Int(7);
  return u;
}

constexpr const char* kOrgCols = "id, name, created_at, api_token_max_days_inactive";
Organization ToOrg(const SqlRow& r) {
  Organization o;
  o.id = r.Str(0);
  o.name = r.Str(1);
  o.created_at = r.Int(2);
  if (auto d = r.OptInt(3)) o.api_token_max_days_inactive = static_cast<int>(*d);
  return o;
}

// Membership joined with organization name and user email/name.
constexpr const char* kMembershipSelect =
    "SELECT m.org_id, m.user_id, m.role, m.created_at, o.name, u.email, u.name "
    "FROM memberships m JOIN organizations o ON o.id = m.org_id "
    "JOIN users u ON u.id = m.user_id ";
Result<Membership> ToMembership(const SqlRow& r) {
  Membership m;
  m.org_id = r.Str(0);
  m.user_id = r.Str(1);
  CL_ASSIGN_OR_RETURN(m.role, DecodeOrgRole("memberships.role", r.Str(2)));
  m.created_at = r.Int(3);
  m.org_name = r.Str(4);
  m.user_email = r.Str(5);
  m.user_name = r.Str(6);
  return m;
}

constexpr const char* kProjectCols = "id, org_id, name, created_at";
Project ToProject(const SqlRow& r) { return Project{r.Str(0), r.Str(1), r.Str(2), r.Int(3)}; }

constexpr const char* kProjectMembershipCols = "project_id, user_id, role, created_at";
Result<ProjectMembership> ToProjectMembership(const SqlRow& r) {
  CL_ASSIGN_OR_RETURN(ProjectRole role, DecodeProjectRole(r.Str(2)));
  return ProjectMembership{r.Str(0), r.Str(1), role, r.Int(3)};
}

constexpr const char* kInvitationSelect =
    "SELECT i.id, i.org_id, i.email, i.role, i.inviter_user_id, i.status, i.created_at, "
    "i.accepted_at, o.name FROM invitations i JOIN organizations o ON o.id = i.org_id ";
Result<Invitation> ToInvitation(const SqlRow& r) {
  Invitation i;
  i.id = r.Str(0);
  i.org_id = r.Str(1);
  i.email = r.Str(2);
  CL_ASSIGN_OR_RETURN(i.role, DecodeOrgRole("invitations.role", r.Str(3)));
  i.inviter_user_id = r.Str(4);
  CL_ASSIGN_OR_RETURN(i.status, DecodeInvitationStatus(r.Str(5)));
  i.created_at = r.Int(6);
  i.accepted_at = r.OptInt(7);
  i.org_name = r.Str(8);
  return i;
}

// The orderings of the listings (ListOrder, store/sql_internal.h).
const ListOrder kMembershipsByOrg{{"o.name", "o.id"}};
const ListOrder kMembersByEmail{{"u.email", "u.id"}};
const ListOrder kProjectsByName{{"name", "id"}};
const ListOrder kInvitationsByAge{{"i.created_at", "i.id"}};

NameKey OrgKey(const Membership& m) { return {m.org_name, m.org_id}; }
NameKey MemberKey(const Membership& m) { return {m.user_email, m.user_id}; }

}  // namespace

// ---- users

Result<User> SqlDatabase::UpsertUser(const User& user) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<User>(c,
                          std::string("INSERT INTO users (") + kUserCols +
                              ") VALUES ($1, $2, $3, $4, $5, $6, $7, $7) "
                              "ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email, "
                              "email_verified = excluded.email_verified, name = excluded.name, "
                              "updated_at = excluded.updated_at RETURNING " +
                              kUserCols,
                          {user.id, user.issuer, user.subject, user.email, user.email_verified,
                           user.name, user.updated_at != 0 ? user.updated_at : user.created_at},
                          "user", ToUser);
  });
}

Result<User> SqlDatabase::GetUser(const std::string& id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<User>(c, std::string("SELECT ") + kUserCols + " FROM users WHERE id = $1", {id},
                          "user", ToUser);
  });
}

// ---- organizations

Status SqlDatabase::CreateOrganization(const Organization& org, const Membership& owner,
                                       const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO organizations (id, name, created_at, api_token_max_days_inactive) "
        "VALUES ($1, $2, $3, $4)",
        {org.id, org.name, org.created_at, org.api_token_max_days_inactive});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("organization \"" + org.name + "\" already exists"));
      }
      return Fail(r.error());
    }
    auto m = c.Query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        {org.id, owner.user_id, WireText(owner.role), owner.created_at});
    if (!m) return Fail(m.error());
    return InsertAudit(c, event);
  });
}

Result<Organization> SqlDatabase::GetOrganization(const std::string& id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Organization>(
        c, std::string("SELECT ") + kOrgCols + " FROM organizations WHERE id = $1", {id},
        "organization", ToOrg);
  });
}

Result<Organization> SqlDatabase::GetOrganizationByName(const std::string& name) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Organization>(
        c, std::string("SELECT ") + kOrgCols + " FROM organizations WHERE name = $1", {name},
        "organization", ToOrg);
  });
}

Result<std::vector<Membership>> SqlDatabase::ListMembershipsForUser(const std::string& user_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOrdered<Membership>(c, std::string(kMembershipSelect) + "WHERE m.user_id = $1",
                                    {user_id}, kMembershipsByOrg, ToMembership);
  });
}

Result<Page<Membership, NameKey>> SqlDatabase::ListMembershipsForUser(
    const std::string& user_id, const PageRequest<NameKey>& page) {
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<Membership>(c, std::string(kMembershipSelect) + "WHERE m.user_id = $1",
                                 {user_id}, kMembershipsByOrg, page, ToMembership, OrgKey);
  });
}

Result<Membership> SqlDatabase::GetMembership(const std::string& org_id,
                                              const std::string& user_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Membership>(
        c, std::string(kMembershipSelect) + "WHERE m.org_id = $1 AND m.user_id = $2",
        {org_id, user_id}, "membership", ToMembership);
  });
}

Result<std::vector<Membership>> SqlDatabase::ListMembers(const std::string& org_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOrdered<Membership>(c, std::string(kMembershipSelect) + "WHERE m.org_id = $1",
                                    {org_id}, kMembersByEmail, ToMembership);
  });
}

Result<Page<Membership, NameKey>> SqlDatabase::ListMembers(const std::string& org_id,
                                                           const PageRequest<NameKey>& page) {
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<Membership>(c, std::string(kMembershipSelect) + "WHERE m.org_id = $1",
                                 {org_id}, kMembersByEmail, page, ToMembership, MemberKey);
  });
}

namespace {

// Within a membership change's transaction: locks the organization's row, then checks that
// `user_id` is a member and that changing them to `new_role` (nullopt: removing them) leaves an
// owner. `lock` is ExclusiveRowLockClause().
Status CheckMembershipChange(SqlConnection& c, const char* lock, const std::string& org_id,
                             const std::string& user_id, std::optional<OrgRole> new_role) {
  CL_ASSIGN_OR_RETURN(
      SqlResult org,
      c.Query(std::string("SELECT id FROM organizations WHERE id = $1") + lock, {org_id}));
  if (org.rows.empty()) return Fail(Error::NotFound("organization not found"));
  CL_ASSIGN_OR_RETURN(SqlResult member,
                      c.Query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2",
                              {org_id, user_id}));
  if (member.rows.empty()) return Fail(Error::NotFound("membership not found"));
  CL_ASSIGN_OR_RETURN(OrgRole current, DecodeOrgRole("memberships.role", member.rows[0].Str(0)));
  if (current != OrgRole::kOwner || new_role == OrgRole::kOwner) return Ok();
  CL_ASSIGN_OR_RETURN(SqlResult owners,
                      c.Query("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = " +
                                  SqlLiteral(OrgRole::kOwner),
                              {org_id}));
  if (owners.rows.empty() || owners.rows[0].Int(0) <= 1) {
    return Fail(Error::FailedPrecondition(
        "the organization's only owner cannot be removed or demoted: make someone else owner "
        "first",
        Reason::kLastOwner));
  }
  return Ok();
}

}  // namespace

Status SqlDatabase::UpdateMemberRole(const std::string& org_id, const std::string& user_id,
                                     OrgRole role, const AuditEvent& event) {
  const char* lock = ExclusiveRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(CheckMembershipChange(c, lock, org_id, user_id, role));
    CL_RETURN_IF_ERROR(
        c.Query("UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2",
                {org_id, user_id, WireText(role)}));
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::RemoveMember(const std::string& org_id, const std::string& user_id,
                                 const AuditEvent& event) {
  const char* lock = ExclusiveRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(CheckMembershipChange(c, lock, org_id, user_id, std::nullopt));
    CL_RETURN_IF_ERROR(
        c.Query("DELETE FROM project_memberships WHERE user_id = $2 AND project_id IN "
                "(SELECT id FROM projects WHERE org_id = $1)",
                {org_id, user_id}));
    CL_RETURN_IF_ERROR(
        c.Query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2", {org_id, user_id}));
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::SetApiTokenMaxDaysInactive(const std::string& org_id, std::optional<int> days,
                                               const AuditEvent& event) {
  // The range is the domain's (domain/token_inactivity.h); the schema's CHECK is the last line
  // of defence, not a second definition to keep in step.
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE organizations SET api_token_max_days_inactive = $2 WHERE id = $1",
                {org_id, days}));
    if (r.affected == 0) return Fail(Error::NotFound("organization not found"));
    return InsertAudit(c, event);
  });
}

// ---- projects

Status SqlDatabase::CreateProject(const Project& project,
                                  const std::optional<ProjectMembership>& creator,
                                  const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    auto r = c.Query("INSERT INTO projects (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)",
                     {project.id, project.org_id, project.name, project.created_at});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("project \"" + project.name + "\" already exists"));
      }
      return Fail(r.error());
    }
    if (creator) {
      auto m = c.Query(
          "INSERT INTO project_memberships (project_id, user_id, role, created_at) "
          "VALUES ($1, $2, $3, $4)",
          {project.id, creator->user_id, WireText(creator->role), creator->created_at});
      if (!m) return Fail(m.error());
    }
    return InsertAudit(c, event);
  });
}

Result<Project> SqlDatabase::GetProjectByName(const std::string& org_id, const std::string& name) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Project>(
        c, std::string("SELECT ") + kProjectCols + " FROM projects WHERE org_id = $1 AND name = $2",
        {org_id, name}, "project", ToProject);
  });
}

Result<Project> SqlDatabase::GetProject(const std::string& id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Project>(c,
                             std::string("SELECT ") + kProjectCols + " FROM projects WHERE id = $1",
                             {id}, "project", ToProject);
  });
}

Result<std::vector<Project>> SqlDatabase::ListProjects(const std::string& org_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOrdered<Project>(
        c, std::string("SELECT ") + kProjectCols + " FROM projects WHERE org_id = $1", {org_id},
        kProjectsByName, ToProject);
  });
}

Result<Page<Project, NameKey>> SqlDatabase::ListProjects(
    const std::string& org_id, const std::optional<std::string>& only_project_id,
    const PageRequest<NameKey>& page) {
  std::string sql = std::string("SELECT ") + kProjectCols + " FROM projects WHERE org_id = $1";
  std::vector<SqlParam> params = {org_id};
  if (only_project_id) {
    params.emplace_back(*only_project_id);
    sql += " AND id = $2";
  }
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<Project>(c, sql, params, kProjectsByName, page, ToProject,
                              [](const Project& p) {
                                return NameKey{p.name, p.id};
                              });
  });
}

Status SqlDatabase::SetProjectMembership(const ProjectMembership& m) {
  return Run([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO project_memberships (project_id, user_id, role, created_at) "
        "VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
        {m.project_id, m.user_id, WireText(m.role), m.created_at});
    if (!r) return Fail(r.error());
    return Ok();
  });
}

Result<ProjectMembership> SqlDatabase::GetProjectMembership(const std::string& project_id,
                                                            const std::string& user_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<ProjectMembership>(
        c,
        std::string("SELECT ") + kProjectMembershipCols +
            " FROM project_memberships WHERE project_id = $1 AND user_id = $2",
        {project_id, user_id}, "project membership", ToProjectMembership);
  });
}

Result<std::vector<ProjectMembership>> SqlDatabase::ListProjectMembershipsForUser(
    const std::string& org_id, const std::string& user_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<ProjectMembership>(
        c,
        "SELECT pm.project_id, pm.user_id, pm.role, pm.created_at FROM project_memberships pm "
        "JOIN projects p ON p.id = pm.project_id WHERE p.org_id = $1 AND pm.user_id = $2 "
        "ORDER BY p.name",
        {org_id, user_id}, ToProjectMembership);
  });
}

// ---- invitations

Status SqlDatabase::CreateInvitation(const Invitation& inv, const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO invitations (id, org_id, email, role, inviter_user_id, status, created_at, "
        "accepted_at) VALUES ($1, $2, $3, $4, $5, " +
            SqlLiteral(InvitationStatus::kPending) + ", $6, NULL)",
        {inv.id, inv.org_id, inv.email, WireText(inv.role), inv.inviter_user_id, inv.created_at});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("a pending invitation for this email already exists"));
      }
      return Fail(r.error());
    }
    return InsertAudit(c, event);
  });
}

Result<std::vector<Invitation>> SqlDatabase::ListPendingInvitations(const std::string& org_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOrdered<Invitation>(
        c,
        std::string(kInvitationSelect) +
            "WHERE i.org_id = $1 AND i.status = " + SqlLiteral(InvitationStatus::kPending),
        {org_id}, kInvitationsByAge, ToInvitation);
  });
}

Result<Page<Invitation, TimeKey>> SqlDatabase::ListPendingInvitations(
    const std::string& org_id, const PageRequest<TimeKey>& page) {
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<Invitation>(
        c,
        std::string(kInvitationSelect) +
            "WHERE i.org_id = $1 AND i.status = " + SqlLiteral(InvitationStatus::kPending),
        {org_id}, kInvitationsByAge, page, ToInvitation, [](const Invitation& i) {
          return TimeKey{i.created_at, i.id};
        });
  });
}

Result<std::vector<Invitation>> SqlDatabase::ListPendingInvitationsForEmail(
    const std::string& email) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<Invitation>(
        c,
        std::string(kInvitationSelect) + "WHERE i.email = $1 AND i.status = " +
            SqlLiteral(InvitationStatus::kPending) + " ORDER BY o.name, i.id",
        {email}, ToInvitation);
  });
}

Result<Invitation> SqlDatabase::GetInvitation(const std::string& org_id, const std::string& id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Invitation>(
        c, std::string(kInvitationSelect) + "WHERE i.org_id = $1 AND i.id = $2", {org_id, id},
        "invitation", ToInvitation);
  });
}

Status SqlDatabase::RevokeInvitation(const std::string& org_id, const std::string& id,
                                     const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r, c.Query("DELETE FROM invitations WHERE org_id = $1 AND id = $2 AND status = " +
                                 SqlLiteral(InvitationStatus::kPending),
                             {org_id, id}));
    if (r.affected == 0) return Fail(Error::NotFound("pending invitation not found"));
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::AcceptInvitation(const std::string& invitation_id, const Membership& membership,
                                     UnixMillis now, const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE invitations SET status = " + SqlLiteral(InvitationStatus::kAccepted) +
                    ", accepted_at = $2 WHERE id = $1 AND status = " +
                    SqlLiteral(InvitationStatus::kPending) + " RETURNING org_id",
                {invitation_id, now}));
    if (r.rows.empty()) return Fail(Error::NotFound("pending invitation not found"));
    // The invitation decides the organization, whatever the caller filled in.
    const std::string org_id = r.rows.front().Str(0);
    auto m = c.Query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (org_id, user_id) DO NOTHING",
        {org_id, membership.user_id, WireText(membership.role),
         membership.created_at != 0 ? membership.created_at : now});
    if (!m) return Fail(m.error());
    return InsertAudit(c, event);
  });
}

}  // namespace cl::store
