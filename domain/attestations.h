// AttestationService: workflow runs (attestation init / push / list / describe) and the
// validation of in-toto Statements. Every pushed attestation records who made it.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "domain/authorization.h"
#include "domain/organizations.h"
#include "store/store.h"

namespace cl::domain {

// Checks an in-toto Statement: `_type` (in-toto Statement v0.1 or v1), a non-empty `subject`
// array whose entries have a non-empty `digest` object of lower-case hex strings, and a
// non-empty `predicateType`. Errors are InvalidArgument("invalid_statement") naming the problem.
Status ValidateInTotoStatement(const boost::json::value& statement);

class AttestationService {
 public:
  // The stores it reads and writes. REQUIRES: each outlives the service.
  struct Stores {
    store::WorkflowStore& workflows;
    store::ProjectStore& projects;
  };

  AttestationService(Stores stores, Authorizer& authz, OrganizationService& orgs,
                     const Clock& clock, Random& random)
      : workflows_(stores.workflows),
        projects_(stores.projects),
        authz_(authz),
        orgs_(orgs),
        clock_(clock),
        random_(random) {}

  // attestation init: opens a run of workflow `workflow` in project `project`.
  Result<store::WorkflowRun> Init(const Principal& p, const std::string& org,
                                  const std::string& workflow, const std::string& project);
  // attestation push: stores the statement on the run and records the actor.
  Result<store::WorkflowRun> Push(const Principal& p, const std::string& org,
                                  const std::string& run_id, const boost::json::value& statement);
  // One page of the runs, newest first; of `project` when set, else of the caller's project
  // when it is project-scoped, else of the whole organization.
  Result<store::Page<store::WorkflowRun, store::TimeKey>> ListRuns(
      const Principal& p, const std::string& org, const std::optional<std::string>& project,
      const store::PageRequest<store::TimeKey>& page);
  Result<store::WorkflowRun> GetRun(const Principal& p, const std::string& org,
                                    const std::string& run_id);
  // One page of the workflows (project_name filled); a project-scoped principal's only.
  Result<store::Page<store::Workflow, store::WorkflowKey>> ListWorkflows(
      const Principal& p, const std::string& org,
      const store::PageRequest<store::WorkflowKey>& page);

 private:
  store::WorkflowStore& workflows_;
  store::ProjectStore& projects_;
  Authorizer& authz_;
  OrganizationService& orgs_;
  const Clock& clock_;
  Random& random_;
};

}  // namespace cl::domain
