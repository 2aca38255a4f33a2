// Attestation routes: the workflows of an organization and their runs (init, push of the
// in-toto statement, list, describe). Init and push also accept a CI ID token (keyless).
#include <boost/json/array.hpp>

#include "api/encoders.h"
#include "api/routes.h"
#include "common/json.h"

namespace cl::api {

namespace json = boost::json;
using http::Request;
using http::Response;

void RegisterAttestationRoutes(http::Router& r, const RouteContext& ctx) {
  Add(r, "GET", "/v1/organizations/{org}/workflows",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::WorkflowKey>(req, ListKind::kWorkflows));
        CL_ASSIGN_OR_RETURN(auto wfs,
                            ctx.deps.attestations->ListWorkflows(p, req.PathParam("org"), page));
        json::array arr;
        for (const auto& w : wfs.items) arr.push_back(EncodeWorkflow(w, w.project_name));
        json::object j;
        j["workflows"] = std::move(arr);
        SetNextCursor(j, ListKind::kWorkflows, wfs.next);
        return JsonOk(200, j);
      }));

  // Attestations (workflow runs).
  Add(r, "POST", "/v1/organizations/{org}/workflow-runs",
      ctx.mw.AttestAuthed(
          "init", [&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
            CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
            CL_ASSIGN_OR_RETURN(auto workflow, body.RequiredString("workflow"));
            CL_ASSIGN_OR_RETURN(auto project, body.RequiredString("project"));
            CL_RETURN_IF_ERROR(body.Finish());
            CL_ASSIGN_OR_RETURN(
                auto run, ctx.deps.attestations->Init(p, req.PathParam("org"), workflow, project));
            json::object j;
            j["workflow_run"] = EncodeRun(run, false);
            return JsonOk(201, j);
          }));
  Add(r, "POST", "/v1/organizations/{org}/workflow-runs/{id}/attestation",
      ctx.mw.AttestAuthed(
          "push", [&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
            CL_ASSIGN_OR_RETURN(auto body, JsonObjectReader::Parse(req.body));
            CL_ASSIGN_OR_RETURN(auto statement, body.OptionalValue("statement"));
            CL_RETURN_IF_ERROR(body.Finish());
            if (!statement) {
              return Fail(
                  Error::InvalidArgument("field 'statement' is required", Reason::kMissingField));
            }
            CL_ASSIGN_OR_RETURN(
                auto run, ctx.deps.attestations->Push(p, req.PathParam("org"), req.PathParam("id"),
                                                      *statement));
            json::object j;
            j["workflow_run"] = EncodeRun(run, false);
            return JsonOk(200, j);
          }));
  r.SetMaxBodyBytes("POST", "/v1/organizations/{org}/workflow-runs/{id}/attestation",
                    http::kLargeBody);  // in-toto statements
  Add(r, "GET", "/v1/organizations/{org}/workflow-runs",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(auto page, ReadPage<store::TimeKey>(req, ListKind::kWorkflowRuns));
        CL_ASSIGN_OR_RETURN(auto runs,
                            ctx.deps.attestations->ListRuns(p, req.PathParam("org"),
                                                            req.QueryParam("project"), page));
        json::array arr;
        for (const auto& x : runs.items) arr.push_back(EncodeRun(x, false));
        json::object j;
        j["workflow_runs"] = std::move(arr);
        SetNextCursor(j, ListKind::kWorkflowRuns, runs.next);
        return JsonOk(200, j);
      }));
  Add(r, "GET", "/v1/organizations/{org}/workflow-runs/{id}",
      ctx.mw.Authed([&ctx](Request& req, const domain::Principal& p) -> Result<Response> {
        CL_ASSIGN_OR_RETURN(
            auto run, ctx.deps.attestations->GetRun(p, req.PathParam("org"), req.PathParam("id")));
        json::object j;
        j["workflow_run"] = EncodeRun(run, true);
        return JsonOk(200, j);
      }));
}

}  // namespace cl::api
