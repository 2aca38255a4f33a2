// SqlDatabase's WorkflowStore: workflows and their runs.
#include <optional>
#include <string>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

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
Result<WorkflowRun> ToRun(const SqlRow& r) {
  WorkflowRun w;
  w.id = r.Str(0);
  w.org_id = r.Str(1);
  w.project_id = r.Str(2);
  w.workflow_id = r.Str(3);
  CL_ASSIGN_OR_RETURN(w.state, DecodeRunState(r.Str(4)));
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

// Workflows joined with their project's name, for listings.
constexpr const char* kWorkflowListSelect =
    "SELECT w.id, w.org_id, w.project_id, w.name, w.created_at, p.name "
    "FROM workflows w JOIN projects p ON p.id = w.project_id ";
Workflow ToListedWorkflow(const SqlRow& r) {
  Workflow w = ToWorkflow(r);
  w.project_name = r.Str(5);
  return w;
}
const ListOrder kWorkflowsByName{{"p.name", "w.name", "w.id"}};
const ListOrder kRunsNewestFirst{{"r.created_at", "r.id"}, /*descending=*/true};

}  // namespace

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
    return QueryOrdered<Workflow>(c, std::string(kWorkflowListSelect) + "WHERE w.org_id = $1",
                                  {org_id}, kWorkflowsByName, ToListedWorkflow);
  });
}

Result<Page<Workflow, WorkflowKey>> SqlDatabase::ListWorkflows(
    const std::string& org_id, const std::optional<std::string>& project_id,
    const PageRequest<WorkflowKey>& page) {
  std::string sql = std::string(kWorkflowListSelect) + "WHERE w.org_id = $1";
  std::vector<SqlParam> params = {org_id};
  if (project_id) {
    params.emplace_back(*project_id);
    sql += " AND w.project_id = $2";
  }
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<Workflow>(c, sql, params, kWorkflowsByName, page, ToListedWorkflow,
                               [](const Workflow& w) {
                                 return WorkflowKey{w.project_name, w.name, w.id};
                               });
  });
}

Status SqlDatabase::CreateRun(const WorkflowRun& run) {
  return Run([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO workflow_runs (id, org_id, project_id, workflow_id, state, created_at, "
        "finished_at, actor_kind, actor_id, actor_name, statement, predicate_type, "
        "statement_digest, actor_claims) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        {run.id, run.org_id, run.project_id, run.workflow_id, std::string(RunStateName(run.state)),
         run.created_at, run.finished_at, run.actor_kind, run.actor_id, run.actor_name,
         run.statement, run.predicate_type, run.statement_digest,
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
        c.Query("UPDATE workflow_runs SET state = " + SqlLiteral(RunState::kSucceeded) +
                    ", finished_at = $3, "
                    "statement = $4, predicate_type = $5, statement_digest = $6, "
                    "actor_kind = COALESCE(NULLIF($7, ''), actor_kind), "
                    "actor_id = COALESCE(NULLIF($8, ''), actor_id), "
                    "actor_name = COALESCE(NULLIF($9, ''), actor_name), "
                    "actor_claims = CASE WHEN $7 = '' THEN actor_claims ELSE $10 END "
                    "WHERE org_id = $1 AND id = $2 AND state = " +
                    SqlLiteral(RunState::kInitialized),
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

Result<Page<WorkflowRun, TimeKey>> SqlDatabase::ListRuns(
    const std::string& org_id, const std::optional<std::string>& project_id,
    const PageRequest<TimeKey>& page) {
  std::string sql = RunSelect("''") + "WHERE r.org_id = $1";
  std::vector<SqlParam> params = {org_id};
  if (project_id) {
    params.emplace_back(*project_id);
    sql += " AND r.project_id = $2";
  }
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<WorkflowRun>(c, sql, params, kRunsNewestFirst, page, ToRun,
                                  [](const WorkflowRun& r) {
                                    return TimeKey{r.created_at, r.id};
                                  });
  });
}

}  // namespace cl::store
