#include "domain/attestations.h"

#include "common/json.h"
#include "crypto/hash.h"
#include "domain/names.h"

namespace cl::domain {
namespace {

Error Invalid(std::string msg) {
  return Error::InvalidArgument("invalid in-toto statement: " + std::move(msg),
                                Reason::kInvalidStatement);
}

bool IsLowerHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Status ValidateInTotoStatement(const boost::json::value& statement) {
  if (!statement.is_object()) return Fail(Invalid("it must be a JSON object"));
  const auto& obj = statement.as_object();
  auto type = obj.find("_type");
  if (type == obj.end() || !type->value().is_string()) {
    return Fail(Invalid("'_type' is missing"));
  }
  std::string_view t = type->value().as_string();
  if (t != "https://in-toto.io/Statement/v1" && t != "https://in-toto.io/Statement/v0.1") {
    return Fail(Invalid("'_type' must be https://in-toto.io/Statement/v1 (or v0.1)"));
  }
  auto subject = obj.find("subject");
  if (subject == obj.end() || !subject->value().is_array() || subject->value().as_array().empty()) {
    return Fail(Invalid("'subject' must be a non-empty array"));
  }
  size_t i = 0;
  for (const auto& s : subject->value().as_array()) {
    std::string where = "subject[" + std::to_string(i++) + "]";
    if (!s.is_object()) return Fail(Invalid(where + " must be an object"));
    const auto& so = s.as_object();
    if (auto name = so.find("name"); name != so.end() && !name->value().is_string()) {
      return Fail(Invalid(where + ".name must be a string"));
    }
    auto digest = so.find("digest");
    if (digest == so.end() || !digest->value().is_object() || digest->value().as_object().empty()) {
      return Fail(Invalid(where + ".digest must be a non-empty object"));
    }
    for (const auto& kv : digest->value().as_object()) {
      if (!kv.value().is_string() || !IsLowerHex(kv.value().as_string())) {
        return Fail(Invalid(where + ".digest." + std::string(kv.key()) +
                            " must be a lower-case hex string"));
      }
    }
  }
  auto pt = obj.find("predicateType");
  if (pt == obj.end() || !pt->value().is_string() || pt->value().as_string().empty()) {
    return Fail(Invalid("'predicateType' must be a non-empty string"));
  }
  if (auto pred = obj.find("predicate"); pred != obj.end() && !pred->value().is_object()) {
    return Fail(Invalid("'predicate' must be an object"));
  }
  return Ok();
}

Result<store::WorkflowRun> AttestationService::Init(const Principal& p, const std::string& org_name,
                                                    const std::string& workflow,
                                                    const std::string& project_name) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  CL_RETURN_IF_ERROR(ValidateDnsLabel(workflow, "workflow name"));
  CL_RETURN_IF_ERROR(ValidateDnsLabel(project_name, "project name"));
  CL_ASSIGN_OR_RETURN(auto project, FindProject(projects_, org.id, project_name));
  Resource in_project{org.id, project.id};
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kWorkflowRunCreate, in_project));
  UnixMillis now = clock_.Now();
  // Naming a workflow that does not exist yet creates it, which needs workflow:create. Only a
  // caller that holds it ever reaches GetOrCreateWorkflow, so a concurrent creation by someone
  // else can only turn a refusal into use of an existing workflow, never the other way round.
  auto existing = workflows_.GetWorkflow(project.id, workflow);
  if (!existing && !existing.error().IsNotFound()) return Fail(existing.error());
  store::Workflow wf;
  if (existing) {
    wf = std::move(*existing);
  } else {
    CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kWorkflowCreate, in_project));
    CL_ASSIGN_OR_RETURN(
        wf, workflows_.GetOrCreateWorkflow({NewUuid(random_), org.id, project.id, workflow, now}));
  }
  store::WorkflowRun run;
  run.id = NewUuid(random_);
  run.org_id = org.id;
  run.project_id = project.id;
  run.workflow_id = wf.id;
  run.state = store::RunState::kInitialized;
  run.created_at = now;
  run.actor_kind = PrincipalKindName(p.kind);
  run.actor_id = p.id;
  run.actor_name = p.display_name;
  if (!p.claims_json.empty()) run.actor_claims = p.claims_json;
  CL_RETURN_IF_ERROR(workflows_.CreateRun(run));
  return workflows_.GetRun(org.id, run.id);
}

Result<store::WorkflowRun> AttestationService::Push(const Principal& p, const std::string& org_name,
                                                    const std::string& run_id,
                                                    const boost::json::value& statement) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  if (!IsUuid(run_id)) return Fail(Error::NotFound("workflow run not found"));
  CL_ASSIGN_OR_RETURN(auto run, workflows_.GetRun(org.id, run_id));
  CL_RETURN_IF_ERROR(
      authz_.Authorize(p, perm::kWorkflowRunCreate, Resource{org.id, run.project_id}));
  if (run.state != store::RunState::kInitialized) {
    return Fail(Error::FailedPrecondition("this attestation was already pushed"));
  }
  // Only the identity that started a run completes it: the same user, API token or CI
  // identity (issuer and subject for a raw ID token; trust policy for an exchanged one).
  // Holding workflow_run:create in the project is not enough to finish someone else's run.
  if (run.actor_kind != PrincipalKindName(p.kind) || run.actor_id != p.id) {
    return Fail(Error::PermissionDenied(
        "this attestation was started by another identity; push it with the credential that "
        "ran `chainloop attestation init`",
        Reason::kNotRunInitiator));
  }
  CL_RETURN_IF_ERROR(ValidateInTotoStatement(statement));
  std::string text = SerializeJson(statement);
  run.statement = text;
  run.predicate_type = std::string(statement.as_object().at("predicateType").as_string());
  run.statement_digest = "sha256:" + crypto::HexEncode(crypto::Sha256(text));
  run.actor_kind = PrincipalKindName(p.kind);
  run.actor_id = p.id;
  run.actor_name = p.display_name;
  run.actor_claims = p.claims_json.empty() ? "{}" : p.claims_json;
  run.finished_at = clock_.Now();
  run.state = store::RunState::kSucceeded;
  auto st = workflows_.CompleteRun(run);
  if (!st) return Fail(st.error());
  return workflows_.GetRun(org.id, run_id);
}

Result<store::Page<store::WorkflowRun, store::TimeKey>> AttestationService::ListRuns(
    const Principal& p, const std::string& org_name, const std::optional<std::string>& project,
    const store::PageRequest<store::TimeKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  std::optional<std::string> project_id;
  if (project) {
    CL_ASSIGN_OR_RETURN(auto pr, FindProject(projects_, org.id, *project));
    project_id = pr.id;
  } else if (p.project_id) {
    project_id = p.project_id;
  }
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kWorkflowRunRead, Resource{org.id, project_id}));
  return workflows_.ListRuns(org.id, project_id, page);
}

Result<store::WorkflowRun> AttestationService::GetRun(const Principal& p,
                                                      const std::string& org_name,
                                                      const std::string& run_id) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  if (!IsUuid(run_id)) return Fail(Error::NotFound("workflow run not found"));
  CL_ASSIGN_OR_RETURN(auto run, workflows_.GetRun(org.id, run_id));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kWorkflowRunRead, Resource{org.id, run.project_id}));
  return run;
}

Result<store::Page<store::Workflow, store::WorkflowKey>> AttestationService::ListWorkflows(
    const Principal& p, const std::string& org_name,
    const store::PageRequest<store::WorkflowKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kWorkflowRead, Resource{org.id, p.project_id}));
  // Each workflow carries its project's name: listing them reads projects too.
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kProjectRead, Resource{org.id, p.project_id}));
  return workflows_.ListWorkflows(org.id, p.project_id, page);
}

}  // namespace cl::domain
