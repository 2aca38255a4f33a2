// Portable SQL behind every store::Database method; see sql_database.h.
#include "store/sql_database.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <charconv>
#include <chrono>
#include <climits>
#include <map>
#include <tuple>
#include <unordered_map>

#include "common/json.h"
#include "store/migrations.h"

namespace cl::store {
namespace {

const std::string kEmpty;

// Empty text as SQL NULL (columns where NULL means "unknown").
SqlParam OptText(const std::string& v) { return v.empty() ? SqlParam() : SqlParam(v); }

UnixMillis WallClockNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
Membership ToMembership(const SqlRow& r) {
  Membership m;
  m.org_id = r.Str(0);
  m.user_id = r.Str(1);
  m.role = r.Str(2);
  m.created_at = r.Int(3);
  m.org_name = r.Str(4);
  m.user_email = r.Str(5);
  m.user_name = r.Str(6);
  return m;
}

constexpr const char* kProjectCols = "id, org_id, name, created_at";
Project ToProject(const SqlRow& r) { return Project{r.Str(0), r.Str(1), r.Str(2), r.Int(3)}; }

constexpr const char* kProjectMembershipCols = "project_id, user_id, role, created_at";
ProjectMembership ToProjectMembership(const SqlRow& r) {
  return ProjectMembership{r.Str(0), r.Str(1), r.Str(2), r.Int(3)};
}

constexpr const char* kInvitationSelect =
    "SELECT i.id, i.org_id, i.email, i.role, i.inviter_user_id, i.status, i.created_at, "
    "i.accepted_at, o.name FROM invitations i JOIN organizations o ON o.id = i.org_id ";
Invitation ToInvitation(const SqlRow& r) {
  Invitation i;
  i.id = r.Str(0);
  i.org_id = r.Str(1);
  i.email = r.Str(2);
  i.role = r.Str(3);
  i.inviter_user_id = r.Str(4);
  i.status = r.Str(5);
  i.created_at = r.Int(6);
  i.accepted_at = r.OptInt(7);
  i.org_name = r.Str(8);
  return i;
}

constexpr const char* kWorkflowCols = "id, org_id, project_id, name, created_at";
Workflow ToWorkflow(const SqlRow& r) {
  return Workflow{r.Str(0), r.Str(1), r.Str(2), r.Str(3), r.Int(4)};
}

// `statement_expr` lets listings leave the (large) statement out.
std::string RunSelect(const char* statement_expr) {
  return std::string(
             "SELECT r.id, r.org_id, r.project_id, r.workflow_id, r.state, r.created_at, "
             "r.finished_at, r.actor_kind, r.actor_id, r.actor_name, ") +
         statement_expr +
         ", r.predicate_type, r.statement_digest, w.name, p.name, r.actor_claims "
         "FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id "
         "JOIN projects p ON p.id = r.project_id ";
}
WorkflowRun ToRun(const SqlRow& r) {
  WorkflowRun w;
  w.id = r.Str(0);
  w.org_id = r.Str(1);
  w.project_id = r.Str(2);
  w.workflow_id = r.Str(3);
  w.state = r.Str(4);
  w.created_at = r.Int(5);
  w.finished_at = r.OptInt(6);
  w.actor_kind = r.Str(7);
  w.actor_id = r.Str(8);
  w.actor_name = r.Str(9);
  w.statement = r.Str(10);
  w.predicate_type = r.Str(11);
  w.statement_digest = r.Str(12);
  w.workflow_name = r.Str(13);
  w.project_name = r.Str(14);
  w.actor_claims = r.Str(15);
  return w;
}

constexpr const char* kSessionCols =
    "id, user_id, token_hash, created_at, expires_at, revoked_at, pepper_id";
Session ToSession(const SqlRow& r) {
  Session s;
  s.id = r.Str(0);
  s.user_id = r.Str(1);
  s.token_hash = r.Str(2);
  s.created_at = r.Int(3);
  s.expires_at = r.Int(4);
  s.revoked_at = r.OptInt(5);
  s.pepper_id = r.Str(6);
  return s;
}

constexpr const char* kAuditCols =
    "id, org_id, actor_kind, actor_id, actor_name, action, target_kind, target_id, message, "
    "created_at";
AuditEvent ToAudit(const SqlRow& r) {
  AuditEvent e;
  e.id = r.Str(0);
  e.org_id = r.Str(1);
  e.actor_kind = r.Str(2);
  e.actor_id = r.Str(3);
  e.actor_name = r.Str(4);
  e.action = r.Str(5);
  e.target_kind = r.Str(6);
  e.target_id = r.Str(7);
  e.message = r.Str(8);
  e.created_at = r.Int(9);
  return e;
}

Status InsertAudit(SqlConnection& c, const AuditEvent& e) {
  auto r = c.Query(
      "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, action, "
      "target_kind, target_id, message, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      {e.id, e.org_id, e.actor_kind, e.actor_id, e.actor_name, e.action, e.target_kind, e.target_id,
       e.message, e.created_at});
  if (!r) return Fail(r.error());
  return Ok();
}

// Runs a query expected to return at most one row; NotFound (with `what`) when it returns none.
template <typename T, typename Decode>
Result<T> QueryOne(SqlConnection& c, std::string_view sql, const std::vector<SqlParam>& params,
                   const char* what, Decode decode) {
  auto r = c.Query(sql, params);
  if (!r) return Fail(r.error());
  if (r->rows.empty()) return Fail(Error::NotFound(std::string(what) + " not found"));
  return decode(r->rows.front());
}

template <typename T, typename Decode>
Result<std::vector<T>> QueryAll(SqlConnection& c, std::string_view sql,
                                const std::vector<SqlParam>& params, Decode decode) {
  auto r = c.Query(sql, params);
  if (!r) return Fail(r.error());
  std::vector<T> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back(decode(row));
  return out;
}

}  // namespace

const std::string& SqlRow::Str(size_t i) const {
  const auto& c = cols_.at(i);
  return c ? *c : kEmpty;
}

std::optional<int64_t> SqlRow::OptInt(size_t i) const {
  const auto& c = cols_.at(i);
  if (!c) return std::nullopt;
  int64_t v = 0;
  std::from_chars(c->data(), c->data() + c->size(), v);
  return v;
}

int64_t SqlRow::Int(size_t i) const { return OptInt(i).value_or(0); }

bool SqlRow::Bool(size_t i) const {
  const std::string& s = Str(i);
  return s == "1" || s == "t" || s == "true";
}

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
        {org.id, owner.user_id, owner.role, owner.created_at});
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
    return QueryAll<Membership>(
        c, std::string(kMembershipSelect) + "WHERE m.user_id = $1 ORDER BY o.name, o.id", {user_id},
        ToMembership);
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
    return QueryAll<Membership>(
        c, std::string(kMembershipSelect) + "WHERE m.org_id = $1 ORDER BY u.email, u.id", {org_id},
        ToMembership);
  });
}

Status SqlDatabase::SetApiTokenMaxDaysInactive(const std::string& org_id, std::optional<int> days,
                                               const AuditEvent& event) {
  if (days && (*days < 1 || *days > 365)) {
    return Fail(Error::InvalidArgument("api_token_max_days_inactive must be 1..365 days"));
  }
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
          {project.id, creator->user_id, creator->role, creator->created_at});
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
    return QueryAll<Project>(
        c, std::string("SELECT ") + kProjectCols + " FROM projects WHERE org_id = $1 ORDER BY name",
        {org_id}, ToProject);
  });
}

Status SqlDatabase::SetProjectMembership(const ProjectMembership& m) {
  return Run([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO project_memberships (project_id, user_id, role, created_at) "
        "VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
        {m.project_id, m.user_id, m.role, m.created_at});
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
        "accepted_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, NULL)",
        {inv.id, inv.org_id, inv.email, inv.role, inv.inviter_user_id, inv.created_at});
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
    return QueryAll<Invitation>(c,
                                std::string(kInvitationSelect) +
                                    "WHERE i.org_id = $1 AND i.status = 'pending' "
                                    "ORDER BY i.created_at, i.id",
                                {org_id}, ToInvitation);
  });
}

Result<std::vector<Invitation>> SqlDatabase::ListPendingInvitationsForEmail(
    const std::string& email) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<Invitation>(c,
                                std::string(kInvitationSelect) +
                                    "WHERE i.email = $1 AND i.status = 'pending' "
                                    "ORDER BY o.name, i.id",
                                {email}, ToInvitation);
  });
}

Status SqlDatabase::AcceptInvitation(const std::string& invitation_id, const Membership& membership,
                                     UnixMillis now, const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(SqlResult r,
                        c.Query("UPDATE invitations SET status = 'accepted', accepted_at = $2 "
                                "WHERE id = $1 AND status = 'pending' RETURNING org_id",
                                {invitation_id, now}));
    if (r.rows.empty()) return Fail(Error::NotFound("pending invitation not found"));
    // The invitation decides the organization, whatever the caller filled in.
    const std::string org_id = r.rows.front().Str(0);
    auto m = c.Query(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (org_id, user_id) DO NOTHING",
        {org_id, membership.user_id, membership.role,
         membership.created_at != 0 ? membership.created_at : now});
    if (!m) return Fail(m.error());
    return InsertAudit(c, event);
  });
}

// ---- workflows and runs

Result<Workflow> SqlDatabase::GetWorkflow(const std::string& project_id, const std::string& name) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Workflow>(c,
                              std::string("SELECT ") + kWorkflowCols +
                                  " FROM workflows WHERE project_id = $1 AND name = $2",
                              {project_id, name}, "workflow", ToWorkflow);
  });
}

Result<Workflow> SqlDatabase::GetOrCreateWorkflow(const Workflow& wf) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<Workflow> {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO workflows (id, org_id, project_id, name, created_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project_id, name) DO NOTHING",
                {wf.id, wf.org_id, wf.project_id, wf.name, wf.created_at}));
    return QueryOne<Workflow>(c,
                              std::string("SELECT ") + kWorkflowCols +
                                  " FROM workflows WHERE project_id = $1 AND name = $2",
                              {wf.project_id, wf.name}, "workflow", ToWorkflow);
  });
}

Result<std::vector<Workflow>> SqlDatabase::ListWorkflows(const std::string& org_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<Workflow>(c,
                              "SELECT w.id, w.org_id, w.project_id, w.name, w.created_at "
                              "FROM workflows w JOIN projects p ON p.id = w.project_id "
                              "WHERE w.org_id = $1 ORDER BY p.name, w.name",
                              {org_id}, ToWorkflow);
  });
}

Status SqlDatabase::CreateRun(const WorkflowRun& run) {
  return Run([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO workflow_runs (id, org_id, project_id, workflow_id, state, created_at, "
        "finished_at, actor_kind, actor_id, actor_name, statement, predicate_type, "
        "statement_digest, actor_claims) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        {run.id, run.org_id, run.project_id, run.workflow_id,
         run.state.empty() ? std::string("initialized") : run.state, run.created_at,
         run.finished_at, run.actor_kind, run.actor_id, run.actor_name, run.statement,
         run.predicate_type, run.statement_digest,
         run.actor_claims.empty() ? std::string("{}") : run.actor_claims});
    if (!r) return Fail(r.error());
    return Ok();
  });
}

Result<WorkflowRun> SqlDatabase::GetRun(const std::string& org_id, const std::string& run_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<WorkflowRun>(c, RunSelect("r.statement") + "WHERE r.org_id = $1 AND r.id = $2",
                                 {org_id, run_id}, "workflow run", ToRun);
  });
}

Status SqlDatabase::CompleteRun(const WorkflowRun& run) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    // An empty actor field keeps the one recorded when the run was opened.
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE workflow_runs SET state = 'succeeded', finished_at = $3, "
                "statement = $4, predicate_type = $5, statement_digest = $6, "
                "actor_kind = COALESCE(NULLIF($7, ''), actor_kind), "
                "actor_id = COALESCE(NULLIF($8, ''), actor_id), "
                "actor_name = COALESCE(NULLIF($9, ''), actor_name), "
                "actor_claims = CASE WHEN $7 = '' THEN actor_claims ELSE $10 END "
                "WHERE org_id = $1 AND id = $2 AND state = 'initialized'",
                {run.org_id, run.id, run.finished_at.value_or(WallClockNow()), run.statement,
                 run.predicate_type, run.statement_digest, run.actor_kind, run.actor_id,
                 run.actor_name, run.actor_claims.empty() ? std::string("{}") : run.actor_claims}));
    if (r.affected > 0) return Ok();
    CL_ASSIGN_OR_RETURN(SqlResult exists,
                        c.Query("SELECT state FROM workflow_runs WHERE org_id = $1 AND id = $2",
                                {run.org_id, run.id}));
    if (exists.rows.empty()) return Fail(Error::NotFound("workflow run not found"));
    return Fail(Error::FailedPrecondition("workflow run is already " + exists.rows[0].Str(0)));
  });
}

Result<std::vector<WorkflowRun>> SqlDatabase::ListRuns(const std::string& org_id,
                                                       const std::optional<std::string>& project_id,
                                                       int limit) {
  if (limit <= 0) return std::vector<WorkflowRun>{};
  return RunReturning([&](SqlConnection& c) {
    if (project_id) {
      return QueryAll<WorkflowRun>(c,
                                   RunSelect("''") +
                                       "WHERE r.org_id = $1 AND r.project_id = $2 "
                                       "ORDER BY r.created_at DESC, r.id DESC LIMIT $3",
                                   {org_id, *project_id, limit}, ToRun);
    }
    return QueryAll<WorkflowRun>(
        c, RunSelect("''") + "WHERE r.org_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2",
        {org_id, limit}, ToRun);
  });
}

// ---- sessions

Status SqlDatabase::CreateSession(const Session& s) {
  return Run([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, revoked_at, "
        "pepper_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {s.id, s.user_id, s.token_hash, s.created_at, s.expires_at, s.revoked_at,
         OptText(s.pepper_id)});
    if (!r) return Fail(r.error());
    return Ok();
  });
}

Result<Session> SqlDatabase::GetSessionByHash(const std::string& token_hash) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Session>(
        c, std::string("SELECT ") + kSessionCols + " FROM sessions WHERE token_hash = $1",
        {token_hash}, "session", ToSession);
  });
}

Status SqlDatabase::RevokeSession(const std::string& id, UnixMillis now) {
  return Run([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                {id, now}));
    if (r.affected == 0) return Fail(Error::NotFound("session not found"));
    return Ok();
  });
}

// ---- login state

Status SqlDatabase::PutLoginRequest(const LoginRequest& r) {
  return Run([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO login_requests (state_hash, nonce, upstream_code_verifier, "
                "cli_redirect_uri, cli_state, cli_code_challenge, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {r.state_hash, r.nonce, r.upstream_code_verifier, r.cli_redirect_uri, r.cli_state,
                 r.cli_code_challenge, r.expires_at}));
    return Ok();
  });
}

Result<LoginRequest> SqlDatabase::TakeLoginRequest(const std::string& state_hash, UnixMillis now) {
  auto out = RunReturning([&](SqlConnection& c) {
    // DELETE ... RETURNING is atomic on both engines: two instances cannot both take the row.
    return QueryOne<LoginRequest>(
        c,
        "DELETE FROM login_requests WHERE state_hash = $1 RETURNING state_hash, nonce, "
        "upstream_code_verifier, cli_redirect_uri, cli_state, cli_code_challenge, expires_at",
        {state_hash}, "login request", [](const SqlRow& r) {
          return LoginRequest{r.Str(0), r.Str(1), r.Str(2), r.Str(3), r.Str(4), r.Str(5), r.Int(6)};
        });
  });
  if (out && out->expires_at <= now) return Fail(Error::NotFound("login request expired"));
  return out;
}

Status SqlDatabase::PutAuthCode(const AuthCode& a) {
  return Run([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO auth_codes (code_hash, user_id, cli_code_challenge, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                {a.code_hash, a.user_id, a.cli_code_challenge, a.expires_at}));
    return Ok();
  });
}

Result<AuthCode> SqlDatabase::TakeAuthCode(const std::string& code_hash, UnixMillis now) {
  auto out = RunReturning([&](SqlConnection& c) {
    return QueryOne<AuthCode>(c,
                              "DELETE FROM auth_codes WHERE code_hash = $1 "
                              "RETURNING code_hash, user_id, cli_code_challenge, expires_at",
                              {code_hash}, "authorization code", [](const SqlRow& r) {
                                return AuthCode{r.Str(0), r.Str(1), r.Str(2), r.Int(3)};
                              });
  });
  if (out && out->expires_at <= now) return Fail(Error::NotFound("authorization code expired"));
  return out;
}

Status SqlDatabase::PutDeviceRequest(const DeviceRequest& d) {
  return Run([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO device_requests (handle_hash, upstream_device_code, expires_at, "
                "interval_seconds) VALUES ($1, $2, $3, $4)",
                {d.handle_hash, d.upstream_device_code, d.expires_at, d.interval_seconds}));
    return Ok();
  });
}

Result<DeviceRequest> SqlDatabase::GetDeviceRequest(const std::string& handle_hash,
                                                    UnixMillis now) {
  auto out = RunReturning([&](SqlConnection& c) {
    return QueryOne<DeviceRequest>(
        c,
        "SELECT handle_hash, upstream_device_code, expires_at, interval_seconds "
        "FROM device_requests WHERE handle_hash = $1",
        {handle_hash}, "device request", [](const SqlRow& r) {
          return DeviceRequest{r.Str(0), r.Str(1), r.Int(2), static_cast<int>(r.Int(3))};
        });
  });
  if (out && out->expires_at <= now) return Fail(Error::NotFound("device request expired"));
  return out;
}

Status SqlDatabase::DeleteDeviceRequest(const std::string& handle_hash) {
  return Run([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r, c.Query("DELETE FROM device_requests WHERE handle_hash = $1", {handle_hash}));
    if (r.affected == 0) return Fail(Error::NotFound("device request not found"));
    return Ok();
  });
}

Status SqlDatabase::PurgeExpiredLoginState(UnixMillis now) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    for (const char* sql : {"DELETE FROM login_requests WHERE expires_at <= $1",
                            "DELETE FROM auth_codes WHERE expires_at <= $1",
                            "DELETE FROM device_requests WHERE expires_at <= $1"}) {
      CL_RETURN_IF_ERROR(c.Query(sql, {now}));
    }
    return Ok();
  });
}

Result<int64_t> SqlDatabase::CountPendingLogins() {
  return RunReturning([&](SqlConnection& c) -> Result<int64_t> {
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("SELECT (SELECT COUNT(*) FROM login_requests) + "
                                             "(SELECT COUNT(*) FROM device_requests)",
                                             {}));
    if (r.rows.empty()) return Fail(Error::Internal("COUNT returned no row"));
    return r.rows[0].Int(0);
  });
}

// ---- API tokens

namespace {

// Permissions are stored as one text column, joined by single spaces in the caller's order.
Result<std::string> EncodePermissions(const std::vector<std::string>& permissions) {
  std::string out;
  for (const std::string& p : permissions) {
    if (p.empty() || p.find_first_of(" \t\r\n\v\f") != std::string::npos) {
      return Fail(
          Error::InvalidArgument("permissions must be non-empty and contain no whitespace"));
    }
    if (!out.empty()) out.push_back(' ');
    out += p;
  }
  return out;
}

std::vector<std::string> DecodePermissions(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

constexpr const char* kApiTokenSelect =
    "SELECT t.id, t.org_id, t.project_id, t.name, t.description, t.token_hash, t.permissions, "
    "t.created_by_kind, t.created_by_id, t.created_by_name, t.created_at, t.expires_at, "
    "t.last_used_at, t.revoked_at, t.revocation_reason, t.revoked_by_name, p.name, t.pepper_id "
    "FROM api_tokens t LEFT JOIN projects p ON p.id = t.project_id ";
ApiToken ToApiToken(const SqlRow& r) {
  ApiToken t;
  t.id = r.Str(0);
  t.org_id = r.Str(1);
  if (!r.IsNull(2)) t.project_id = r.Str(2);
  t.name = r.Str(3);
  t.description = r.Str(4);
  t.token_hash = r.Str(5);
  t.permissions = DecodePermissions(r.Str(6));
  t.created_by_kind = r.Str(7);
  t.created_by_id = r.Str(8);
  t.created_by_name = r.Str(9);
  t.created_at = r.Int(10);
  t.expires_at = r.OptInt(11);
  t.last_used_at = r.OptInt(12);
  t.revoked_at = r.OptInt(13);
  t.revocation_reason = r.Str(14);
  t.revoked_by_name = r.Str(15);
  t.project_name = r.Str(16);
  t.pepper_id = r.Str(17);
  return t;
}

}  // namespace

Status SqlDatabase::CreateApiToken(const ApiToken& token, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(token.permissions));
  // The principal kind names of domain::Principal::Kind::kApiToken and kFederated (the store
  // does not see the enum).
  const bool by_token = token.created_by_kind == "api_token";
  const bool by_federated = token.created_by_kind == "federated";
  // PostgreSQL: the shared row lock conflicts with RevokeApiToken's UPDATE (and with
  // DeleteTrustPolicy's DELETE), so a revocation either commits first (and is seen here) or
  // waits for this creation. SQLite's BEGIN IMMEDIATE already serialises writers.
  const char* lock = SharedRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    if (by_federated) {
      // A federated principal's id is its trust policy's; deleting the policy ends its tokens
      // in one transaction (DeleteTrustPolicy), so the policy's row stands for them here.
      CL_ASSIGN_OR_RETURN(
          SqlResult policy,
          c.Query(std::string("SELECT 1 FROM trust_policies WHERE id = $1 AND org_id = $2") + lock,
                  {token.created_by_id, token.org_id}));
      if (policy.rows.empty()) {
        return Fail(Error::Unauthenticated(
            "the trust policy of this federated token was deleted, which revoked the token",
            "token_revoked"));
      }
    }
    if (by_token) {
      CL_ASSIGN_OR_RETURN(SqlResult creator,
                          c.Query(std::string("SELECT revoked_at, expires_at FROM api_tokens "
                                              "WHERE id = $1 AND org_id = $2") +
                                      lock,
                                  {token.created_by_id, token.org_id}));
      if (creator.rows.empty()) {
        return Fail(Error::Unauthenticated("the API token making this request no longer exists",
                                           "invalid_token"));
      }
      const SqlRow& row = creator.rows.front();
      if (!row.IsNull(0)) {
        return Fail(Error::Unauthenticated("this API token was revoked", "token_revoked"));
      }
      if (auto expires_at = row.OptInt(1); expires_at && token.created_at >= *expires_at) {
        return Fail(Error::Unauthenticated("this API token has expired", "token_expired"));
      }
    }
    auto r = c.Query(
        "INSERT INTO api_tokens (id, org_id, project_id, name, description, token_hash, "
        "permissions, created_by_kind, created_by_id, created_by_name, created_at, expires_at, "
        "last_used_at, revoked_at, revocation_reason, revoked_by_name, pepper_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        {token.id, token.org_id, token.project_id ? SqlParam(*token.project_id) : SqlParam(),
         token.name, token.description, token.token_hash, permissions, token.created_by_kind,
         token.created_by_id, token.created_by_name, token.created_at, token.expires_at,
         token.last_used_at, token.revoked_at, token.revocation_reason, token.revoked_by_name,
         OptText(token.pepper_id)});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        // Both engines name the violated index in the message (never the values).
        if (r.error().message().find("api_tokens_active_name") != std::string::npos) {
          return Fail(Error::AlreadyExists("an active API token named \"" + token.name +
                                           "\" already exists in this scope"));
        }
        return Fail(Error::AlreadyExists("API token already exists"));
      }
      if (r.error().IsNotFound()) {
        return Fail(Error::NotFound("organization or project of the API token not found"));
      }
      return Fail(r.error());
    }
    return InsertAudit(c, event);
  });
}

Result<ApiToken> SqlDatabase::GetApiTokenByHash(const std::string& token_hash) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<ApiToken>(c, std::string(kApiTokenSelect) + "WHERE t.token_hash = $1",
                              {token_hash}, "API token", ToApiToken);
  });
}

Result<ApiToken> SqlDatabase::GetApiToken(const std::string& org_id, const std::string& id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<ApiToken>(c, std::string(kApiTokenSelect) + "WHERE t.org_id = $1 AND t.id = $2",
                              {org_id, id}, "API token", ToApiToken);
  });
}

Result<std::vector<ApiToken>> SqlDatabase::ListApiTokens(const ApiTokenFilter& filter) {
  // A handful of fixed shapes, so SQLite's statement cache stays small.
  std::string sql = std::string(kApiTokenSelect) + "WHERE t.org_id = $1";
  std::vector<SqlParam> params = {filter.org_id};
  if (filter.project_id) {
    params.emplace_back(*filter.project_id);
    sql += " AND t.project_id = $2";
  }
  switch (filter.status) {
    case ApiTokenFilter::Status::kActive:
      sql += " AND t.revoked_at IS NULL";
      break;
    case ApiTokenFilter::Status::kRevoked:
      sql += " AND t.revoked_at IS NOT NULL";
      break;
    case ApiTokenFilter::Status::kAll:
      break;
  }
  switch (filter.scope) {
    case ApiTokenFilter::Scope::kGlobal:
      sql += " AND t.project_id IS NULL";
      break;
    case ApiTokenFilter::Scope::kProject:
      sql += " AND t.project_id IS NOT NULL";
      break;
    case ApiTokenFilter::Scope::kAny:
      break;
  }
  sql += " ORDER BY t.created_at DESC, t.id";
  return RunReturning(
      [&](SqlConnection& c) { return QueryAll<ApiToken>(c, sql, params, ToApiToken); });
}

Status SqlDatabase::RevokeApiToken(const std::string& org_id, const std::string& id, UnixMillis now,
                                   const std::string& reason, const std::string& revoked_by_name,
                                   const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE api_tokens SET revoked_at = $3, revocation_reason = $4, "
                "revoked_by_name = $5 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
                {org_id, id, now, reason, revoked_by_name}));
    if (r.affected == 0) {
      CL_ASSIGN_OR_RETURN(
          SqlResult exists,
          c.Query("SELECT 1 FROM api_tokens WHERE org_id = $1 AND id = $2", {org_id, id}));
      if (exists.rows.empty()) return Fail(Error::NotFound("API token not found"));
      return Fail(Error::FailedPrecondition("API token is already revoked", "already_revoked"));
    }
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::RecordApiTokenUsage(
    const std::vector<std::pair<std::string, UnixMillis>>& usage) {
  if (usage.empty()) return Ok();
  // Keep one (latest) time per token, so a batch never writes the same row twice.
  std::unordered_map<std::string, UnixMillis> latest;
  latest.reserve(usage.size());
  for (const auto& [id, at] : usage) {
    auto [it, inserted] = latest.emplace(id, at);
    if (!inserted && it->second < at) it->second = at;
  }
  return RunInTransaction([&](SqlConnection& c) -> Status {
    for (const auto& [id, at] : latest) {
      // CASE rather than GREATEST/MAX(a, b): the two engines spell "larger of two" differently.
      // Uses up to a token's revocation are kept (a flush may come after it); a later time can
      // only come from a request that overlapped the revocation, and never shows as a use.
      CL_RETURN_IF_ERROR(
          c.Query("UPDATE api_tokens SET last_used_at = CASE WHEN last_used_at IS NULL OR "
                  "last_used_at < $2 THEN $2 ELSE last_used_at END "
                  "WHERE id = $1 AND (revoked_at IS NULL OR revoked_at >= $2)",
                  {id, at}));
    }
    return Ok();
  });
}

// ---- inactivity sweep

namespace {

// Audit events of a sweep go in multi-row INSERTs of these sizes, largest first: a few fixed
// statement shapes (SQLite caches one prepared statement per shape), and 512 rows x 10
// parameters stays well below both engines' parameter limits (32766 and 65535).
constexpr size_t kAuditBatchRows[] = {512, 64, 8, 1};
constexpr size_t kAuditColumnCount = 10;

const std::string& AuditInsertSql(size_t rows) {
  static const auto* const kSql = [] {
    auto* m = new std::unordered_map<size_t, std::string>();
    for (size_t n : kAuditBatchRows) {
      std::string sql =
          "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, action, "
          "target_kind, target_id, message, created_at) VALUES ";
      for (size_t r = 0; r < n; ++r) {
        sql += r == 0 ? "(" : ", (";
        for (size_t c = 0; c < kAuditColumnCount; ++c) {
          if (c > 0) sql += ", ";
          sql += "$" + std::to_string(r * kAuditColumnCount + c + 1);
        }
        sql += ")";
      }
      m->emplace(n, std::move(sql));
    }
    return m;
  }();
  return kSql->at(rows);
}

}  // namespace

Status SqlDatabase::InsertAuditEventsInBulk(SqlConnection& c,
                                            const std::vector<AuditEvent>& events) {
  size_t i = 0;
  std::vector<SqlParam> params;
  while (i < events.size()) {
    const size_t left = events.size() - i;
    size_t rows = 1;
    for (size_t n : kAuditBatchRows) {
      if (n <= left) {
        rows = n;
        break;
      }
    }
    params.clear();
    params.reserve(rows * kAuditColumnCount);
    for (size_t r = 0; r < rows; ++r) {
      const AuditEvent& e = events[i + r];
      params.insert(params.end(), {e.id, e.org_id, e.actor_kind, e.actor_id, e.actor_name, e.action,
                                   e.target_kind, e.target_id, e.message, e.created_at});
    }
    CL_RETURN_IF_ERROR(c.Query(AuditInsertSql(rows), params));
    i += rows;
  }
  return Ok();
}

Result<InactiveTokenSweep> SqlDatabase::RevokeInactiveApiTokens(
    UnixMillis now, const std::function<AuditEvent(const RevokedToken&)>& make_event) {
  // One set-based UPDATE: the planner walks the organizations with a threshold
  // (organizations_auto_revoke) and range-scans each one's active tokens by last activity
  // (api_tokens_active_last_activity), which is why COALESCE(...) is spelled exactly as in the
  // index. The cut-off is computed in BIGINT: 365 days of milliseconds overflow an INTEGER.
  // RETURNING may name the joined organization only on PostgreSQL; SQLite reads the
  // organizations first instead, consistent with the UPDATE under BEGIN IMMEDIATE.
  const bool returning_sees_orgs = ReturningSeesJoinedTables();
  std::string update =
      "UPDATE api_tokens SET revoked_at = $1, revocation_reason = 'inactive', "
      "revoked_by_name = 'system' FROM organizations o "
      "WHERE o.id = api_tokens.org_id AND o.api_token_max_days_inactive IS NOT NULL "
      "AND api_tokens.revoked_at IS NULL "
      "AND COALESCE(api_tokens.last_used_at, api_tokens.created_at) < "
      "CAST($1 AS BIGINT) - CAST(o.api_token_max_days_inactive AS BIGINT) * 86400000 "
      "RETURNING api_tokens.id, api_tokens.org_id, api_tokens.name, api_tokens.token_hash";
  if (returning_sees_orgs) update += ", o.name, o.api_token_max_days_inactive";

  return RunInTransactionReturning([&](SqlConnection& c) -> Result<InactiveTokenSweep> {
    InactiveTokenSweep out;
    CL_ASSIGN_OR_RETURN(bool locked, TryLockTokenSweep(c));
    if (!locked) {
      out.skipped_locked = true;
      return out;
    }
    std::unordered_map<std::string, std::pair<std::string, int>> orgs;  // id -> (name, days)
    if (!returning_sees_orgs) {
      CL_ASSIGN_OR_RETURN(SqlResult r,
                          c.Query("SELECT id, name, api_token_max_days_inactive FROM organizations "
                                  "WHERE api_token_max_days_inactive IS NOT NULL",
                                  {}));
      for (const SqlRow& row : r.rows) {
        orgs.emplace(row.Str(0), std::make_pair(row.Str(1), static_cast<int>(row.Int(2))));
      }
    }
    CL_ASSIGN_OR_RETURN(SqlResult revoked, c.Query(update, {now}));
    out.revoked.reserve(revoked.rows.size());
    for (const SqlRow& row : revoked.rows) {
      RevokedToken t;
      t.id = row.Str(0);
      t.org_id = row.Str(1);
      t.name = row.Str(2);
      t.token_hash = row.Str(3);
      if (returning_sees_orgs) {
        t.org_name = row.Str(4);
        t.days = static_cast<int>(row.Int(5));
      } else if (auto it = orgs.find(t.org_id); it != orgs.end()) {
        t.org_name = it->second.first;
        t.days = it->second.second;
      }
      out.revoked.push_back(std::move(t));
    }
    std::sort(out.revoked.begin(), out.revoked.end(),
              [](const RevokedToken& a, const RevokedToken& b) {
                return std::tie(a.org_name, a.name, a.id) < std::tie(b.org_name, b.name, b.id);
              });
    std::vector<AuditEvent> events;
    events.reserve(out.revoked.size());
    for (const RevokedToken& t : out.revoked) events.push_back(make_event(t));
    CL_RETURN_IF_ERROR(InsertAuditEventsInBulk(c, events));
    return out;
  });
}

// ---- keyless CI federation

namespace {

std::string EncodeBoundClaims(const std::vector<std::pair<std::string, std::string>>& claims) {
  boost::json::object o;
  for (const auto& [k, v] : claims) o[k] = v;
  return SerializeJson(o);
}

std::vector<std::pair<std::string, std::string>> DecodeBoundClaims(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  auto v = ParseJson(text);
  if (!v || !v->is_object()) return out;
  for (const auto& kv : v->as_object()) {
    if (kv.value().is_string()) {
      out.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
    }
  }
  return out;
}

constexpr const char* kTrustPolicySelect =
    "SELECT t.id, t.org_id, t.name, t.issuer, t.provider, t.audience, t.bound_claims, "
    "t.project_id, t.permissions, t.created_by_kind, t.created_by_id, t.created_by_name, "
    "t.created_at, p.name FROM trust_policies t LEFT JOIN projects p ON p.id = t.project_id ";
TrustPolicyRecord ToTrustPolicy(const SqlRow& r) {
  TrustPolicyRecord t;
  t.id = r.Str(0);
  t.org_id = r.Str(1);
  t.name = r.Str(2);
  t.issuer = r.Str(3);
  t.provider = r.Str(4);
  t.audience = r.Str(5);
  t.bound_claims = DecodeBoundClaims(r.Str(6));
  if (!r.IsNull(7)) t.project_id = r.Str(7);
  t.permissions = DecodePermissions(r.Str(8));
  t.created_by_kind = r.Str(9);
  t.created_by_id = r.Str(10);
  t.created_by_name = r.Str(11);
  t.created_at = r.Int(12);
  t.project_name = r.Str(13);
  return t;
}

constexpr const char* kFederatedTokenCols =
    "id, org_id, project_id, policy_id, token_hash, permissions, issuer, subject, display_name, "
    "created_at, expires_at, claims, revoked_at";
FederatedToken ToFederatedToken(const SqlRow& r) {
  FederatedToken t;
  t.id = r.Str(0);
  t.org_id = r.Str(1);
  if (!r.IsNull(2)) t.project_id = r.Str(2);
  t.policy_id = r.Str(3);
  t.token_hash = r.Str(4);
  t.permissions = DecodePermissions(r.Str(5));
  t.issuer = r.Str(6);
  t.subject = r.Str(7);
  t.display_name = r.Str(8);
  t.created_at = r.Int(9);
  t.expires_at = r.Int(10);
  t.claims = r.Str(11);
  if (!r.IsNull(12)) t.revoked_at = r.Int(12);
  return t;
}

}  // namespace

Status SqlDatabase::CreateTrustPolicy(const TrustPolicyRecord& policy, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(policy.permissions));
  const std::string claims = EncodeBoundClaims(policy.bound_claims);
  return RunInTransaction([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO trust_policies (id, org_id, name, issuer, provider, audience, bound_claims, "
        "project_id, permissions, created_by_kind, created_by_id, created_by_name, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        {policy.id, policy.org_id, policy.name, policy.issuer, policy.provider, policy.audience,
         claims, policy.project_id ? SqlParam(*policy.project_id) : SqlParam(), permissions,
         policy.created_by_kind, policy.created_by_id, policy.created_by_name, policy.created_at});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("a trust policy named \"" + policy.name +
                                         "\" already exists in this organization"));
      }
      if (r.error().IsNotFound()) {
        return Fail(Error::NotFound("organization or project of the trust policy not found"));
      }
      return Fail(r.error());
    }
    return InsertAudit(c, event);
  });
}

Result<std::vector<TrustPolicyRecord>> SqlDatabase::ListTrustPolicies(const std::string& org_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<TrustPolicyRecord>(
        c, std::string(kTrustPolicySelect) + "WHERE t.org_id = $1 ORDER BY t.name, t.id", {org_id},
        ToTrustPolicy);
  });
}

Result<std::vector<TrustPolicyRecord>> SqlDatabase::ListTrustPoliciesByIssuer(
    const std::string& issuer) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<TrustPolicyRecord>(
        c, std::string(kTrustPolicySelect) + "WHERE t.issuer = $1 ORDER BY t.org_id, t.name, t.id",
        {issuer}, ToTrustPolicy);
  });
}

Result<std::vector<std::string>> SqlDatabase::DeleteTrustPolicy(const std::string& org_id,
                                                                const std::string& id,
                                                                const AuditEvent& event) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<std::vector<std::string>> {
    // The policy first: on PostgreSQL its row lock orders this delete against every
    // CreateFederatedToken holding FOR SHARE on it, and the token DELETE below (a new statement,
    // a new snapshot under READ COMMITTED) sees the tokens such a creation committed.
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("DELETE FROM trust_policies WHERE org_id = $1 AND id = $2", {org_id, id}));
    if (r.affected == 0) return Fail(Error::NotFound("trust policy not found"));
    CL_ASSIGN_OR_RETURN(SqlResult tokens,
                        c.Query("UPDATE federated_tokens SET revoked_at = $3 "
                                "WHERE org_id = $1 AND policy_id = $2 AND revoked_at IS NULL "
                                "RETURNING token_hash",
                                {org_id, id, event.created_at}));
    std::vector<std::string> hashes;
    hashes.reserve(tokens.rows.size());
    for (const auto& row : tokens.rows) hashes.push_back(row.Str(0));
    CL_RETURN_IF_ERROR(InsertAudit(c, event));
    return hashes;
  });
}

Status SqlDatabase::RecordCiTokenJti(const std::string& issuer,
                                     const std::vector<std::string>& jtis, UnixMillis expires_at,
                                     UnixMillis now) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(c.Query("DELETE FROM ci_token_jtis WHERE expires_at < $1", {now}));
    for (const std::string& jti : jtis) {
      auto r = c.Query("INSERT INTO ci_token_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)",
                       {issuer, jti, expires_at});
      if (!r) {
        if (r.error().IsAlreadyExists()) {
          return Fail(Error::AlreadyExists("this CI token was already used", "replayed_token"));
        }
        return Fail(r.error());
      }
    }
    return Ok();
  });
}

Status SqlDatabase::CreateFederatedToken(const FederatedToken& token, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(token.permissions));
  // See DeleteTrustPolicy: the shared lock makes a concurrent delete wait for this insert (and
  // then delete the new token) or commit first (and the policy is gone here).
  const char* lock = SharedRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult policy,
        c.Query(std::string("SELECT 1 FROM trust_policies WHERE id = $1 AND org_id = $2") + lock,
                {token.policy_id, token.org_id}));
    if (policy.rows.empty()) {
      return Fail(Error::FailedPrecondition("the trust policy of the federated token was deleted",
                                            "trust_policy_deleted"));
    }
    auto r = c.Query(
        std::string("INSERT INTO federated_tokens (") + kFederatedTokenCols +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        {token.id, token.org_id, token.project_id ? SqlParam(*token.project_id) : SqlParam(),
         token.policy_id, token.token_hash, permissions, token.issuer, token.subject,
         token.display_name, token.created_at, token.expires_at,
         token.claims.empty() ? std::string("{}") : token.claims, token.revoked_at});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("federated token already exists"));
      }
      if (r.error().IsNotFound()) {
        return Fail(Error::NotFound("organization or project of the federated token not found"));
      }
      return Fail(r.error());
    }
    return InsertAudit(c, event);
  });
}

Result<FederatedToken> SqlDatabase::GetFederatedTokenByHash(const std::string& token_hash) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<FederatedToken>(c,
                                    std::string("SELECT ") + kFederatedTokenCols +
                                        " FROM federated_tokens WHERE token_hash = $1",
                                    {token_hash}, "federated token", ToFederatedToken);
  });
}

// ---- pepper rotation

namespace {

// The statements differ only in the table: both tables name the columns alike.
Result<bool> Rehash(SqlConnection& c, const char* table, const std::string& id,
                    const std::string& old_hash, const std::string& new_hash,
                    const std::string& pepper_id) {
  // Conditional on the old hash, so concurrent re-hashes of one row (two instances, two
  // threads) leave it consistent: the first moves it, the others change nothing. Never on a
  // revoked row: its hash is frozen at revocation, which is the hash the revoker announces.
  CL_ASSIGN_OR_RETURN(SqlResult r,
                      c.Query(std::string("UPDATE ") + table +
                                  " SET token_hash = $3, pepper_id = $4 "
                                  "WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL",
                              {id, old_hash, new_hash, pepper_id}));
  return r.affected > 0;
}

}  // namespace

Result<bool> SqlDatabase::RehashApiToken(const std::string& id, const std::string& old_hash,
                                         const std::string& new_hash,
                                         const std::string& pepper_id) {
  return RunReturning([&](SqlConnection& c) -> Result<bool> {
    auto out = Rehash(c, "api_tokens", id, old_hash, new_hash, pepper_id);
    if (!out && out.error().IsAlreadyExists()) {
      // Another row holds new_hash: an HMAC collision, i.e. never; refuse without the hash.
      return Fail(Error::AlreadyExists("another API token already has that hash"));
    }
    return out;
  });
}

Result<bool> SqlDatabase::RehashSession(const std::string& id, const std::string& old_hash,
                                        const std::string& new_hash, const std::string& pepper_id) {
  return RunReturning([&](SqlConnection& c) -> Result<bool> {
    auto out = Rehash(c, "sessions", id, old_hash, new_hash, pepper_id);
    if (!out && out.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("another session already has that hash"));
    }
    return out;
  });
}

Result<std::vector<PepperUsage>> SqlDatabase::CountCredentialsByPepper(UnixMillis now) {
  // COALESCE folds "unknown" (NULL) into '' so both engines group and sort it alike.
  return RunReturning([&](SqlConnection& c) -> Result<std::vector<PepperUsage>> {
    std::map<std::string, PepperUsage> by_id;
    CL_ASSIGN_OR_RETURN(
        SqlResult tokens,
        c.Query("SELECT COALESCE(pepper_id, ''), COUNT(*) FROM api_tokens "
                "WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1) "
                "GROUP BY COALESCE(pepper_id, '')",
                {now}));
    for (const SqlRow& row : tokens.rows) {
      PepperUsage& u = by_id[row.Str(0)];
      u.pepper_id = row.Str(0);
      u.api_tokens = row.Int(1);
    }
    CL_ASSIGN_OR_RETURN(SqlResult sessions,
                        c.Query("SELECT COALESCE(pepper_id, ''), COUNT(*) FROM sessions "
                                "WHERE revoked_at IS NULL AND expires_at > $1 "
                                "GROUP BY COALESCE(pepper_id, '')",
                                {now}));
    for (const SqlRow& row : sessions.rows) {
      PepperUsage& u = by_id[row.Str(0)];
      u.pepper_id = row.Str(0);
      u.sessions = row.Int(1);
    }
    std::vector<PepperUsage> out;
    out.reserve(by_id.size());
    for (auto& [id, usage] : by_id) out.push_back(std::move(usage));
    return out;
  });
}

Result<int64_t> SqlDatabase::AttributeUnknownPepper(const std::string& pepper_id) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<int64_t> {
    int64_t changed = 0;
    for (const char* sql : {"UPDATE api_tokens SET pepper_id = $1 WHERE pepper_id IS NULL",
                            "UPDATE sessions SET pepper_id = $1 WHERE pepper_id IS NULL"}) {
      CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(sql, {pepper_id}));
      changed += r.affected;
    }
    return changed;
  });
}

// ---- audit

Status SqlDatabase::AppendAuditEvent(const AuditEvent& e) {
  return Run([&](SqlConnection& c) { return InsertAudit(c, e); });
}

Result<std::vector<AuditEvent>> SqlDatabase::ListAuditEvents(const std::string& org_id, int limit) {
  if (limit <= 0) return std::vector<AuditEvent>{};
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<AuditEvent>(c,
                                std::string("SELECT ") + kAuditCols +
                                    " FROM audit_events WHERE org_id = $1 "
                                    "ORDER BY created_at DESC, id DESC LIMIT $2",
                                {org_id, limit}, ToAudit);
  });
}

// ---- schema

Status SqlDatabase::Ping() {
  return Run([](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(c.Query("SELECT 1", {}));
    return Ok();
  });
}

Result<int> SqlDatabase::SchemaVersion() {
  return RunReturning([&](SqlConnection& c) -> Result<int> {
    CL_ASSIGN_OR_RETURN(bool has_table, HasMigrationsTable(c));
    if (!has_table) return 0;
    CL_ASSIGN_OR_RETURN(SqlResult r,
                        c.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
    return r.rows.empty() ? 0 : static_cast<int>(r.rows[0].Int(0));
  });
}

Status SqlDatabase::Migrate() { return MigrateTo(INT_MAX); }

Status SqlDatabase::MigrateTo(int target_version) {
  for (const Migration& m : Migrations(Dialect())) {
    if (m.version > target_version) break;
    Status st = RunInTransaction([&](SqlConnection& c) -> Status {
      CL_RETURN_IF_ERROR(LockForMigration(c));
      // Re-read under the lock: another instance may have applied it meanwhile.
      CL_ASSIGN_OR_RETURN(bool has_table, HasMigrationsTable(c));
      if (has_table) {
        CL_ASSIGN_OR_RETURN(
            SqlResult r,
            c.Query("SELECT 1 FROM schema_migrations WHERE version = $1", {m.version}));
        if (!r.rows.empty()) return Ok();
      }
      Status applied = c.ExecScript(m.sql);
      if (!applied) {
        return Fail(Error(applied.error().code(),
                          std::string("migration ") + m.name + ": " + applied.error().message()));
      }
      CL_RETURN_IF_ERROR(
          c.Query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                  {m.version, WallClockNow()}));
      return Ok();
    });
    if (!st) return st;
  }
  return Ok();
}

int SqlDatabase::LatestKnownSchemaVersion() const {
  const auto& all = Migrations(Dialect());
  return all.empty() ? 0 : all.back().version;
}

}  // namespace cl::store
