// `chainloop`: the command-line client of the control plane. The only translation unit that
// includes CLI11 (it is slow to compile): it maps command lines onto cli/commands.h.
#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/context.h"

namespace {

using cl::Status;
using cl::cli::CliContext;
using Action = std::function<Status(CliContext&)>;

// Registers `sub` to run `fn` when it is the command the user chose.
void On(CLI::App* sub, Action& slot, Action fn) {
  sub->callback([&slot, fn = std::move(fn)] { slot = fn; });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chainloop: software supply-chain attestation control plane CLI", "chainloop"};
  app.fallthrough();  // global flags are accepted after the subcommand too
  app.require_subcommand(1);

  cl::cli::GlobalOptions g;
  app.add_option("--control-plane", g.control_plane,
                 "Control plane URL (env CHAINLOOP_CONTROL_PLANE_API; default from config, else "
                 "http://127.0.0.1:8000)");
  app.add_option("-t,--token", g.token, "API token or session (env CHAINLOOP_TOKEN)");
  app.add_option("-n,--org", g.org, "Organization name (default: current organization)");
  app.add_option("-o,--output", g.output, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("-c,--config", g.config_path,
                 "Config file (default $XDG_CONFIG_HOME/chainloop/config.toml)");
  app.add_flag("--debug", g.debug, "Log requests to stderr (never credentials)");
  app.add_flag("--insecure", g.insecure,
               "Allow plain http:// to a non-loopback control plane and skip TLS verification");
  app.add_option("--control-plane-ca", g.control_plane_ca,
                 "PEM file with the CA that signed the control plane's TLS certificate");

  Action action;

  // auth
  auto* auth = app.add_subcommand("auth", "Log in and out, show the current identity");
  auth->require_subcommand(1);
  cl::cli::AuthLoginOptions login_opts;
  auto* login = auth->add_subcommand("login", "Log in through your browser (or a device code)");
  login->add_flag("--skip-browser", login_opts.skip_browser,
                  "Do not open a browser here: log in on any device with a code");
  On(login, action, [&](CliContext& c) { return cl::cli::AuthLogin(c, login_opts); });
  On(auth->add_subcommand("logout", "End your login session"), action, cl::cli::AuthLogout);
  On(auth->add_subcommand("status", "Show who you are logged in as"), action, cl::cli::AuthStatus);

  // organization
  auto* org = app.add_subcommand("organization", "Manage organizations");
  org->alias("org");
  org->require_subcommand(1);
  std::string org_name;
  auto* org_create = org->add_subcommand("create", "Create an organization");
  org_create->add_option("--name", org_name, "Organization name")->required();
  On(org_create, action, [&](CliContext& c) { return cl::cli::OrganizationCreate(c, org_name); });
  On(org->add_subcommand("list", "List your organizations")->alias("ls"), action,
     cl::cli::OrganizationList);
  On(org->add_subcommand("describe", "Describe the current organization")->alias("current-context"),
     action, cl::cli::OrganizationDescribe);
  auto* org_set = org->add_subcommand("set", "Set the current organization");
  org_set->add_option("--name", org_name, "Organization name")->required();
  On(org_set, action, [&](CliContext& c) { return cl::cli::OrganizationSet(c, org_name); });

  auto* member = org->add_subcommand("member", "Organization members");
  member->require_subcommand(1);
  On(member->add_subcommand("list", "List members")->alias("ls"), action, cl::cli::MemberList);

  auto* invitation = org->add_subcommand("invitation", "Invitations to the organization");
  invitation->require_subcommand(1);
  std::string receiver, role;
  auto* inv_create = invitation->add_subcommand("create", "Invite someone by email");
  inv_create->add_option("--receiver", receiver, "Email address to invite")->required();
  inv_create->add_option("--role", role, "owner, admin, member or viewer")
      ->required()
      ->check(CLI::IsMember({"owner", "admin", "member", "viewer"}));
  On(inv_create, action,
     [&](CliContext& c) { return cl::cli::InvitationCreate(c, receiver, role); });
  On(invitation->add_subcommand("list", "List pending invitations")->alias("ls"), action,
     cl::cli::InvitationList);

  // project
  auto* project = app.add_subcommand("project", "Manage projects");
  project->require_subcommand(1);
  std::string project_name;
  auto* project_create = project->add_subcommand("create", "Create a project");
  project_create->add_option("--name", project_name, "Project name")->required();
  On(project_create, action,
     [&](CliContext& c) { return cl::cli::ProjectCreate(c, project_name); });
  On(project->add_subcommand("list", "List projects")->alias("ls"), action, cl::cli::ProjectList);

  // attestation
  auto* att = app.add_subcommand("attestation", "Craft and push attestations");
  att->alias("att");
  att->require_subcommand(1);
  std::string workflow, att_project, statement, attestation_id;
  auto* att_init = att->add_subcommand("init", "Start an attestation (a workflow run)");
  att_init->add_option("--workflow", workflow, "Workflow name")->required();
  att_init->add_option("--project", att_project, "Project name")->required();
  On(att_init, action,
     [&](CliContext& c) { return cl::cli::AttestationInit(c, workflow, att_project); });
  auto* att_push = att->add_subcommand("push", "Push an in-toto statement for the attestation");
  att_push->add_option("--statement", statement, "in-toto Statement JSON file (max 1 MiB)")
      ->required();
  att_push->add_option("--attestation-id", attestation_id,
                       "Run id (default: the one from `attestation init`)");
  On(att_push, action,
     [&](CliContext& c) { return cl::cli::AttestationPush(c, statement, attestation_id); });

  // workflow
  auto* wf = app.add_subcommand("workflow", "Workflows and their runs");
  wf->alias("wf");
  wf->require_subcommand(1);
  On(wf->add_subcommand("list", "List workflows")->alias("ls"), action, cl::cli::WorkflowList);
  auto* run = wf->add_subcommand("run", "Workflow runs");
  run->require_subcommand(1);
  std::string run_project, run_id;
  std::optional<int> limit;
  auto* run_list = run->add_subcommand("list", "List workflow runs")->alias("ls");
  run_list->add_option("--project", run_project, "Only runs of this project");
  run_list->add_option("--limit", limit, "At most this many runs")->check(CLI::Range(1, 1000));
  On(run_list, action,
     [&](CliContext& c) { return cl::cli::WorkflowRunList(c, run_project, limit); });
  auto* run_describe = run->add_subcommand("describe", "Describe a workflow run");
  run_describe->add_option("--id", run_id, "Run id")->required();
  On(run_describe, action, [&](CliContext& c) { return cl::cli::WorkflowRunDescribe(c, run_id); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version exit 0; usage errors exit 2, as is conventional for command lines.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!action) {
    std::cerr << app.help();
    return 1;
  }

  try {
    CliContext ctx(std::move(g), cl::cli::CliEnvironment::FromProcess(), std::cout, std::cerr);
    if (auto st = ctx.Init(); !st) return ctx.ReportError(st.error());
    if (auto st = action(ctx); !st) return ctx.ReportError(st.error());
    std::cout.flush();
    return 0;
  } catch (const std::exception& e) {
    // Library exceptions are caught at their boundaries; this is the last line of defence.
    std::cerr << "Error: internal error: " << e.what() << std::endl;
    return 1;
  }
}
