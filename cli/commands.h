// The CLI's commands, one function each. main.cc maps command lines onto them; tests call them
// directly against a fake control plane. Each returns OK or the Error to report (exit 1).
#pragma once

#include <optional>
#include <string>

#include "cli/context.h"
#include "common/result.h"

namespace cl::cli {

// auth
struct AuthLoginOptions {
  bool skip_browser = false;
};
Status AuthLogin(CliContext& ctx, const AuthLoginOptions& options);
Status AuthLogout(CliContext& ctx);
Status AuthStatus(CliContext& ctx);

// organization
Status OrganizationCreate(CliContext& ctx, const std::string& name);
Status OrganizationList(CliContext& ctx);
Status OrganizationDescribe(CliContext& ctx);
Status OrganizationSet(CliContext& ctx, const std::string& name);
Status MemberList(CliContext& ctx);
Status InvitationCreate(CliContext& ctx, const std::string& receiver, const std::string& role);
Status InvitationList(CliContext& ctx);

// project
Status ProjectCreate(CliContext& ctx, const std::string& name);
Status ProjectList(CliContext& ctx);

// attestation and workflows
Status AttestationInit(CliContext& ctx, const std::string& workflow, const std::string& project);
Status AttestationPush(CliContext& ctx, const std::string& statement_file,
                       const std::string& attestation_id);
Status WorkflowList(CliContext& ctx);
Status WorkflowRunList(CliContext& ctx, const std::string& project, std::optional<int> limit);
Status WorkflowRunDescribe(CliContext& ctx, const std::string& id);

// Largest statement file `attestation push` accepts.
inline constexpr size_t kMaxStatementBytes = 1 << 20;

}  // namespace cl::cli
