// `chainloop attestation init|push` and `chainloop workflow list|run list|run describe`.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/list_pages.h"
#include "cli/output.h"
#include "cli/table.h"
#include "common/json.h"

namespace cl::cli {
namespace {

std::string RunsPath(const std::string& org) {
  return "/v1/organizations/" + PathSegment(org) + "/workflow-runs";
}

void PrintRunSummary(std::ostream& out, const boost::json::object& run) {
  out << "Attestation ID: " << Field(run, "id") << "\n";
  out << "Workflow: " << Field(run, "workflow") << "\n";
  out << "Project: " << Field(run, "project") << "\n";
  out << "State: " << Field(run, "state") << "\n";
}

Result<boost::json::value> ReadStatement(const std::string& path) {
  auto text = ReadSmallFile(path, kMaxStatementBytes);
  if (!text) {
    const Error& e = text.error();
    if (e.IsNotFound()) {
      return Fail(Error::InvalidArgument("statement file " + path + " does not exist"));
    }
    if (e.code() == Error::Code::kPayloadTooLarge) {
      return Fail(
          Error::InvalidArgument("statement file " + path + " is larger than the 1 MiB limit"));
    }
    return Fail(Error::InvalidArgument("cannot read statement file " + path + ": " + e.message()));
  }
  auto parsed = ParseJson(*text);
  if (!parsed) {
    return Fail(Error::InvalidArgument("statement file " + path + " is not valid JSON"));
  }
  if (!parsed->is_object()) {
    return Fail(Error::InvalidArgument("statement file " + path +
                                       " must hold a JSON object (an in-toto Statement)"));
  }
  return std::move(*parsed);
}

}  // namespace

Status AttestationInit(CliContext& ctx, const std::string& workflow, const std::string& project) {
  if (workflow.empty() || project.empty()) {
    return Fail(Error::InvalidArgument("--workflow and --project are required"));
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient(/*raw_ci_token=*/true));
  CL_ASSIGN_OR_RETURN(
      auto resp, client->Post(RunsPath(org),
                              boost::json::object{{"workflow", workflow}, {"project", project}}));
  CL_ASSIGN_OR_RETURN(const auto* run, ObjectField(resp, "workflow_run", "workflow run"));
  std::string id = RawString(*run, "id");
  if (id.empty()) {
    return Fail(Error::Internal("the control plane's answer has no run id", Reason::kBadResponse));
  }
  // Per identity: a run started with $CHAINLOOP_TOKEN must not replace the user's own.
  CL_RETURN_IF_ERROR(SaveAttestationState(
      AttestationStatePath(ctx.config_path(), ctx.control_plane_key(), ctx.identity_key()),
      {id, org}));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  ctx.out() << "Attestation initialized\n";
  PrintRunSummary(ctx.out(), *run);
  return Ok();
}

Status AttestationPush(CliContext& ctx, const std::string& statement_file,
                       const std::string& attestation_id) {
  if (statement_file.empty()) return Fail(Error::InvalidArgument("--statement is required"));
  // Validate the local file before any network traffic.
  CL_ASSIGN_OR_RETURN(auto statement, ReadStatement(statement_file));
  std::string id = attestation_id;
  std::string org;
  // The credential decides which pending run is ours, so resolve it first (offline checks only;
  // a keyless CI token is sent as is, not exchanged).
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient(/*raw_ci_token=*/true));
  std::string state_path =
      AttestationStatePath(ctx.config_path(), ctx.control_plane_key(), ctx.identity_key());
  bool from_state = false;
  if (id.empty()) {
    CL_ASSIGN_OR_RETURN(auto state, LoadAttestationState(state_path));
    if (!state) {
      return Fail(Error::FailedPrecondition(
          "no attestation in progress for this credential on " + ctx.control_plane() +
          ": run `chainloop attestation init` first (with the same credential), or pass "
          "--attestation-id"));
    }
    id = state->attestation_id;
    from_state = true;
    // The run belongs to the organization it was started in, unless --org says otherwise.
    if (ctx.options().org.empty()) org = state->organization;
  }
  if (org.empty()) {
    CL_ASSIGN_OR_RETURN(org, ctx.Organization());
  }
  CL_ASSIGN_OR_RETURN(auto resp,
                      client->Post(RunsPath(org) + "/" + PathSegment(id) + "/attestation",
                                   boost::json::object{{"statement", std::move(statement)}}));
  CL_ASSIGN_OR_RETURN(const auto* run, ObjectField(resp, "workflow_run", "workflow run"));
  if (from_state) CL_RETURN_IF_ERROR(RemoveAttestationState(state_path));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  auto& out = ctx.out();
  out << "Attestation pushed\n";
  out << "Attestation ID: " << Field(*run, "id") << "\n";
  out << "State: " << Field(*run, "state") << "\n";
  out << "Digest: " << Field(*run, "statement_digest") << "\n";
  out << "Attested by: " << DescribeActor(*run, "attested_by") << "\n";
  return Ok();
}

Status WorkflowList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(
          *client,
          {"/v1/organizations/" + PathSegment(org) + "/workflows", {}, "workflows", "workflows"},
          limit));
  PrintList(ctx, list, [&] {
    TextTable table({"NAME", "PROJECT", "ID", "CREATED AT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& w = v.as_object();
      table.AddRow({Field(w, "name"), Field(w, "project"), Field(w, "id"), Field(w, "created_at")});
    }
    if (table.empty()) {
      ctx.out() << "No workflows found.\n";
    } else {
      ctx.out() << table.Render();
    }
  });
  return Ok();
}

Status WorkflowRunList(CliContext& ctx, const std::string& project, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  ListQuery query{RunsPath(org), {}, "workflow_runs", "workflow runs"};
  if (!project.empty()) query.filters.emplace_back("project", project);
  CL_ASSIGN_OR_RETURN(auto list, FetchList(*client, query, limit));
  PrintList(ctx, list, [&] {
    TextTable table({"ID", "WORKFLOW", "PROJECT", "STATE", "ATTESTED BY", "CREATED AT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& r = v.as_object();
      table.AddRow({Field(r, "id"), Field(r, "workflow"), Field(r, "project"), Field(r, "state"),
                    DescribeActor(r, "attested_by"), Field(r, "created_at")});
    }
    if (table.empty()) {
      ctx.out() << "No workflow runs found.\n";
    } else {
      ctx.out() << table.Render();
    }
  });
  return Ok();
}

Status WorkflowRunDescribe(CliContext& ctx, const std::string& id) {
  if (id.empty()) return Fail(Error::InvalidArgument("--id is required"));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp, client->Get(RunsPath(org) + "/" + PathSegment(id)));
  CL_ASSIGN_OR_RETURN(const auto* run, ObjectField(resp, "workflow_run", "workflow run"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  auto& out = ctx.out();
  out << "ID: " << Field(*run, "id") << "\n";
  out << "Workflow: " << Field(*run, "workflow") << "\n";
  out << "Project: " << Field(*run, "project") << "\n";
  out << "State: " << Field(*run, "state") << "\n";
  out << "Created at: " << Field(*run, "created_at") << "\n";
  out << "Finished at: " << Field(*run, "finished_at") << "\n";
  out << "Attested by: " << DescribeActor(*run, "attested_by") << "\n";
  out << "Predicate type: " << Field(*run, "predicate_type") << "\n";
  out << "Statement digest: " << Field(*run, "statement_digest") << "\n";
  return Ok();
}

}  // namespace cl::cli
