// RunCli: the CLI11 command tree of `chainloop` and a help layout like Chainloop's own CLI
// (description, Usage, Aliases, Available Commands, Flags, Global Flags, Examples).
#include "cli/app.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "cli/command_tree.h"
#include "cli/commands.h"
#include "cli/completion.h"
#include "cli/help_formatter.h"
#include "cli/list_pages.h"
#include "cli/terminal.h"
#include "cli/usage_error.h"
#include "common/version.h"

namespace cl::cli {
namespace {

// Whether the command line asks for `-o json` / `--output json` / `--output=json` (read from the
// words themselves: a line that failed to parse may not have set the option).
bool AsksForJson(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--output=json" || args[i] == "-ojson") return true;
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size() &&
        args[i + 1] == "json") {
      return true;
    }
  }
  return false;
}

}  // namespace

int RunCli(const std::vector<std::string>& args, CliEnvironment env, std::ostream& out,
           std::ostream& err, RunCliHooks hooks) {
  CLI::App app{"Chainloop: software supply-chain attestation control plane CLI", "chainloop"};
  auto help = std::make_shared<ChainloopHelpFormatter>();
  app.formatter(help);
  app.fallthrough();  // global flags are accepted after the subcommand too
  app.require_subcommand(1);
  app.set_version_flag("--version", "chainloop " + std::string(Version()) + " (commit " +
                                        std::string(Commit()) + ")");
  OptionChoices choices;  // every enumerated option's values: validated and completed
  const std::vector<std::string> roles = {"owner", "admin", "member", "viewer"};
  const std::string kId = "0b3f6c2e-5a1d-4e8f-9c7b-2d4a6e8f1a3c";

  GlobalOptions g;
  app.add_option("--control-plane", g.control_plane,
                 "Control plane URL (env CHAINLOOP_CONTROL_PLANE_API; default from config, else "
                 "http://127.0.0.1:8000)")
      ->type_name("URL");
  app.add_option("-t,--token", g.token,
                 "API token, session, or CI ID token (env CHAINLOOP_TOKEN; in CI, keyless via "
                 "CHAINLOOP_OIDC_TOKEN or GitHub Actions)")
      ->type_name("TOKEN");
  app.add_option("-n,--org", g.org,
                 "Organization name (default: current organization; required with a CI ID token)")
      ->type_name("NAME");
  choices.Restrict(
      app.add_option("-o,--output", g.output,
                     "Output format (default table; token: `organization api-token create` and "
                     "`rotate` only)"),
      {"table", "json", "token"});
  app.add_option("-c,--config", g.config_path,
                 "Config file (default $XDG_CONFIG_HOME/chainloop/config.toml)")
      ->type_name("FILE");
  app.add_flag("--debug", g.debug, "Log requests to stderr (never credentials)");
  app.add_flag("-y,--yes", g.yes,
               "Skip confirmation prompts (destructive commands ask when run on a terminal)");
  app.add_flag("--insecure", g.insecure,
               "Allow plain http:// to a non-loopback control plane and skip TLS verification");
  app.add_option("--control-plane-ca", g.control_plane_ca,
                 "PEM file with the CA that signed the control plane's TLS certificate")
      ->type_name("FILE");

  Chosen chosen;

  auto* version = app.add_subcommand("version", "Show the CLI's version and the control plane's");
  help->Document(version, {"",
                           "chainloop version\n"
                           "chainloop version --control-plane https://cp.example.com"});
  On(version, chosen, VersionCommand);

  std::string shell_name;
  auto* completion = app.add_subcommand("completion", "Print a shell completion script");
  choices.Restrict(completion->add_option("shell", shell_name, "bash, zsh or fish")->required(),
                   ShellNames());
  help->Document(
      completion,
      {"Print a script that completes chainloop's commands, flags and flag values in bash, zsh\n"
       "or fish. Load it in the current shell, or install it for every new one.",
       "# bash: this shell, then every new one\n"
       "source <(chainloop completion bash)\n"
       "chainloop completion bash > ~/.local/share/bash-completion/completions/chainloop\n"
       "# zsh (compinit enabled): any directory in $fpath\n"
       "chainloop completion zsh > \"${fpath[1]}/_chainloop\"\n"
       "# fish\n"
       "chainloop completion fish > ~/.config/fish/completions/chainloop.fish"});

  // auth
  auto* auth = app.add_subcommand("auth", "Log in and out, show the current identity");
  auth->require_subcommand(1);
  AuthLoginOptions login_opts;
  auto* login = auth->add_subcommand("login", "Log in through your browser (or a device code)");
  login->add_flag("--skip-browser", login_opts.skip_browser,
                  "Do not open a browser here: log in on any device with a code");
  help->Document(login,
                 {"Log in with your identity provider. The session is kept in the config file,\n"
                  "per control plane; `auth logout` ends it.",
                  "chainloop auth login\n"
                  "# on a machine without a browser (SSH, container): a code to enter elsewhere\n"
                  "chainloop auth login --skip-browser\n"
                  "chainloop --control-plane https://cp.example.com auth login"});
  On(login, chosen, [&](CliContext& c) { return AuthLogin(c, login_opts); });
  auto* logout = auth->add_subcommand("logout", "End your login session");
  help->Document(logout, {"", "chainloop auth logout"});
  On(logout, chosen, AuthLogout);
  auto* status = auth->add_subcommand("status", "Show who you are logged in as");
  help->Document(status, {"", "chainloop auth status\nchainloop auth status -o json"});
  On(status, chosen, AuthStatus);

  // organization
  auto* org = app.add_subcommand("organization", "Manage organizations");
  org->alias("org");
  org->require_subcommand(1);
  std::string org_name;
  auto* org_create = org->add_subcommand("create", "Create an organization");
  org_create->add_option("--name", org_name, "Organization name")->required()->type_name("NAME");
  help->Document(org_create,
                 {"You become its owner.", "chainloop organization create --name acme"});
  On(org_create, chosen, [&](CliContext& c) { return OrganizationCreate(c, org_name); });
  auto* org_list = org->add_subcommand("list", "List your organizations")->alias("ls");
  ListLimit org_limit;
  AddLimit(org_list, org_limit, "organizations");
  help->Document(org_list, {"",
                            "chainloop organization list\n"
                            "chainloop org ls -o json\n"
                            "chainloop organization list --limit 5000"});
  On(org_list, chosen, [&](CliContext& c) { return OrganizationList(c, org_limit); });
  auto* org_describe = org->add_subcommand("describe", "Describe the current organization")
                           ->alias("current-context");
  help->Document(org_describe,
                 {"", "chainloop organization describe\nchainloop organization describe -n acme"});
  On(org_describe, chosen, OrganizationDescribe);
  auto* org_set = org->add_subcommand("set", "Set the current organization");
  org_set->add_option("--name", org_name, "Organization name")->required()->type_name("NAME");
  help->Document(org_set, {"The organization commands use when -n/--org is not given.",
                           "chainloop organization set --name acme"});
  On(org_set, chosen, [&](CliContext& c) { return OrganizationSet(c, org_name); });

  std::optional<std::string> max_days_inactive;
  auto* org_update = org->add_subcommand("update", "Update organization settings");
  org_update
      ->add_option("--name", org_name,
                   "Organization name (default: current organization; required with a CI ID "
                   "token)")
      ->type_name("NAME");
  org_update
      ->add_option("--api-token-max-days-inactive", max_days_inactive,
                   "Revoke API tokens unused for this many days (1-365, 0 to disable)")
      ->type_name("DAYS");
  help->Document(org_update,
                 {"",
                  "# revoke API tokens nobody has used for 90 days\n"
                  "chainloop organization update --api-token-max-days-inactive 90\n"
                  "# never revoke unused tokens in organization acme\n"
                  "chainloop organization update --name acme --api-token-max-days-inactive 0"});
  On(org_update, chosen,
     [&](CliContext& c) { return OrganizationUpdate(c, org_name, max_days_inactive); });

  auto* member = org->add_subcommand("member", "Organization members");
  member->require_subcommand(1);
  auto* member_list = member->add_subcommand("list", "List members")->alias("ls");
  ListLimit member_limit;
  AddLimit(member_list, member_limit, "members");
  help->Document(member_list, {"",
                               "chainloop organization member list\n"
                               "chainloop organization member list -n acme -o json\n"
                               "chainloop organization member list --limit 20"});
  On(member_list, chosen, [&](CliContext& c) { return MemberList(c, member_limit); });
  std::string member_email, member_role;
  auto* member_update = member->add_subcommand("update", "Change a member's role");
  member_update->add_option("--email", member_email, "The member's email address")
      ->required()
      ->type_name("EMAIL");
  choices.Restrict(member_update->add_option("--role", member_role, "The new role")->required(),
                   roles);
  help->Document(member_update,
                 {"Owners and admins change roles; admins cannot change owners, and the last\n"
                  "owner cannot be demoted.",
                  "chainloop organization member update --email jane@example.com --role admin"});
  On(member_update, chosen,
     [&](CliContext& c) { return MemberUpdate(c, member_email, member_role); });
  auto* member_delete = member->add_subcommand("delete", "Remove a member from the organization");
  member_delete->alias("remove");
  member_delete->add_option("--email", member_email, "The member's email address")
      ->required()
      ->type_name("EMAIL");
  help->Document(member_delete,
                 {"Asks for confirmation on a terminal; -y/--yes skips it. The last owner\n"
                  "cannot be removed.",
                  "chainloop organization member delete --email jane@example.com\n"
                  "chainloop organization member delete --email jane@example.com -y"});
  On(member_delete, chosen, [&](CliContext& c) { return MemberDelete(c, member_email); });

  auto* invitation = org->add_subcommand("invitation", "Invitations to the organization");
  invitation->require_subcommand(1);
  std::string receiver, role;
  auto* inv_create = invitation->add_subcommand("create", "Invite someone by email");
  inv_create->add_option("--receiver", receiver, "Email address to invite")
      ->required()
      ->type_name("EMAIL");
  choices.Restrict(inv_create->add_option("--role", role, "The role they get")->required(), roles);
  help->Document(inv_create,
                 {"",
                  "chainloop organization invitation create --receiver jane@example.com "
                  "--role member"});
  On(inv_create, chosen, [&](CliContext& c) { return InvitationCreate(c, receiver, role); });
  auto* inv_list = invitation->add_subcommand("list", "List pending invitations")->alias("ls");
  ListLimit inv_limit;
  AddLimit(inv_list, inv_limit, "invitations");
  help->Document(inv_list, {"",
                            "chainloop organization invitation list\n"
                            "chainloop organization invitation list --limit 10 -o json"});
  On(inv_list, chosen, [&](CliContext& c) { return InvitationList(c, inv_limit); });
  std::string invitation_id;
  auto* inv_revoke = invitation->add_subcommand("revoke", "Cancel a pending invitation");
  inv_revoke->add_option("--id", invitation_id, "Invitation ID (see `invitation list`)")
      ->required()
      ->type_name("ID");
  help->Document(inv_revoke, {"", "chainloop organization invitation revoke --id " + kId});
  On(inv_revoke, chosen, [&](CliContext& c) { return InvitationRevoke(c, invitation_id); });

  auto* audit = org->add_subcommand("audit", "The organization's audit log");
  audit->require_subcommand(1);
  AuditListOptions audit_opts;
  auto* audit_list = audit->add_subcommand("list", "List audit events, newest first")->alias("ls");
  AddLimit(audit_list, audit_opts.limit, "events");
  choices
      .Restrict(audit_list->add_option("--action", audit_opts.action,
                                       "Only events of this action, e.g. api_token.revoked "
                                       "(completed by the shell)"),
                AuditActionNames())
      ->type_name("ACTION");
  audit_list
      ->add_option("--actor", audit_opts.actor,
                   "Only events by this actor: a user's email, a token's name or id, a CI "
                   "identity (exact match)")
      ->type_name("ACTOR");
  audit_list
      ->add_option("--target", audit_opts.target,
                   "Only events about the object with this id (e.g. an API token's)")
      ->type_name("ID");
  audit_list
      ->add_option("--since", audit_opts.since,
                   "Only events at or after TIME: RFC 3339 (2026-12-07T10:00:00Z) or an age "
                   "(90m, 24h, 7d ago)")
      ->type_name("TIME");
  audit_list->add_option("--until", audit_opts.until, "Only events before TIME (same forms)")
      ->type_name("TIME");
  help->Document(audit_list,
                 {"Filters combine: an event is listed when it matches all of them.",
                  "chainloop organization audit list\n"
                  "chainloop organization audit list --limit 50 -o json\n"
                  "# who revoked API tokens in the last week\n"
                  "chainloop organization audit list --action api_token.revoked --since 7d\n"
                  "# everything one person did on one day\n"
                  "chainloop organization audit list --actor jane@example.com \\\n"
                  "  --since 2026-12-07T00:00:00Z --until 2026-12-08T00:00:00Z\n"
                  "# the history of one API token\n"
                  "chainloop organization audit list --target " +
                      kId});
  On(audit_list, chosen, [&](CliContext& c) { return AuditList(c, audit_opts); });

  auto* api_token = org->add_subcommand("api-token", "API token management");
  api_token->alias("token");
  api_token->require_subcommand(1);
  ApiTokenCreateOptions token_create;
  auto* tc = api_token->add_subcommand("create", "Create an API token");
  tc->add_option("--name", token_create.name, "Token name (lowercase letters, digits, '-')")
      ->required()
      ->type_name("NAME");
  tc->add_option("--description", token_create.description, "What the token is for")
      ->type_name("DESCRIPTION");
  tc->add_option("--expiration", token_create.expiration,
                 "Lifetime, e.g. 30m, 24h, 720h, 90d (default: no expiry)")
      ->type_name("DURATION");
  tc->add_option("--project", token_create.project,
                 "Restrict the token to this project (default: organization-wide)")
      ->type_name("PROJECT");
  tc->add_option("--permission", token_create.permissions,
                 "resource:action permission; repeat or comma-separate (default: what CI needs "
                 "to attest)")
      ->delimiter(',')
      ->type_name("PERMISSION");
  help->Document(
      tc, {"The token is shown once. -o token prints only the token, for scripts.",
           "chainloop organization api-token create --name ci-release --expiration 90d\n"
           "# a token for one project's CI, kept in a variable\n"
           "export CHAINLOOP_TOKEN=\"$(chainloop organization api-token create --name ci-app \\\n"
           "  --project app --expiration 720h -o token)\""});
  On(
      tc, chosen, [&](CliContext& c) { return ApiTokenCreate(c, token_create); },
      /*token_output=*/true);
  ApiTokenListOptions token_list;
  auto* tl = api_token->add_subcommand("list", "List API tokens")->alias("ls");
  choices.Restrict(
      tl->add_option("--status", token_list.status, "Tokens in this state (default active)"),
      {"active", "expired", "revoked", "all"});
  tl->add_flag("--all", token_list.all, "List tokens in every state (same as --status all)");
  AddLimit(tl, token_list.limit, "tokens");
  tl->add_option("--project", token_list.project, "Only tokens of this project")
      ->type_name("PROJECT");
  choices.Restrict(tl->add_option("--scope", token_list.scope,
                                  "Only project-scoped or organization-wide tokens"),
                   {"project", "global"});
  tl->add_flag("--wide", token_list.wide,
               "Also show the address and User-Agent each token was last used from");
  help->Document(tl, {"",
                      "chainloop organization api-token list\n"
                      "chainloop organization api-token list --status revoked\n"
                      "chainloop organization api-token list --all -o json\n"
                      "chainloop organization api-token list --project app --scope project\n"
                      "chainloop organization api-token list --all --limit 5000 -o json"});
  On(tl, chosen, [&](CliContext& c) { return ApiTokenList(c, token_list); });
  std::string token_id;
  auto* tr = api_token->add_subcommand("revoke", "Revoke an API token");
  tr->add_option("--id", token_id, "Token ID (see `api-token list`)")->required()->type_name("ID");
  help->Document(tr, {"Asks for confirmation on a terminal; -y/--yes skips it.",
                      "chainloop organization api-token revoke --id " + kId + "\n" +
                          "chainloop organization api-token revoke --id " + kId + " -y"});
  On(tr, chosen, [&](CliContext& c) { return ApiTokenRevoke(c, token_id); });
  ApiTokenRotateOptions token_rotate;
  auto* trot = api_token->add_subcommand(
      "rotate", "Replace an API token by a new one with the same name, scope and permissions");
  trot->add_option("--id", token_rotate.id, "Token ID (see `api-token list`)")
      ->required()
      ->type_name("ID");
  trot->add_option("--grace", token_rotate.grace,
                   "How long the old token keeps working, at most 24h (default: it stops at once)")
      ->type_name("DURATION");
  help->Document(
      trot, {"The new token is shown once; -o token prints only the token. Asks for confirmation "
             "on a terminal; -y/--yes skips it.",
             "chainloop organization api-token rotate --id " + kId + " --grace 1h\n" +
                 "# in CI, a token that replaces itself\n" +
                 "export CHAINLOOP_TOKEN=\"$(chainloop organization api-token rotate --id " + kId +
                 " -y -o token)\""});
  On(
      trot, chosen, [&](CliContext& c) { return ApiTokenRotate(c, token_rotate); },
      /*token_output=*/true);

  auto* federation = org->add_subcommand(
      "federation", "Trust policies for keyless CI authentication (GitLab CI, GitHub Actions)");
  federation->require_subcommand(1);
  FederationCreateOptions fed_create;
  auto* fc = federation->add_subcommand("create", "Trust CI ID tokens that match bound claims");
  fc->add_option("--name", fed_create.name, "Policy name")->required()->type_name("NAME");
  fc->add_option("--issuer", fed_create.issuer,
                 "Issuer URL, e.g. https://gitlab.com or "
                 "https://token.actions.githubusercontent.com")
      ->required()
      ->type_name("URL");
  choices.Restrict(
      fc->add_option("--provider", fed_create.provider,
                     "CI provider (default: github for GitHub Actions' issuer, else gitlab)"),
      {"gitlab", "github"});
  fc->add_option("--audience", fed_create.audience,
                 "Audience the ID token must carry (default: the control plane's URL)")
      ->type_name("AUDIENCE");
  fc->add_option("--bound-claim", fed_create.bound_claims,
                 "A claim must match PATTERN (exact or glob); repeat for more (at least one "
                 "identifying the project or repository)")
      ->type_name("KEY=PATTERN");
  fc->add_option("--project", fed_create.project,
                 "Restrict exchanged tokens to this project (default: organization-wide)")
      ->type_name("PROJECT");
  fc->add_option("--permission", fed_create.permissions,
                 "resource:action permission; repeat or comma-separate (default: what CI needs "
                 "to attest)")
      ->delimiter(',')
      ->type_name("PERMISSION");
  fc->add_option("--max-token-age", fed_create.max_token_age,
                 "Refuse ID tokens issued longer ago than this, 1m..24h (default 1h); GitLab "
                 "issues them when the job starts, so set at least the job's timeout")
      ->type_name("DURATION");
  help->Document(
      fc, {"",
           "# GitLab: protected branches of project 4242 only, jobs up to 2 hours\n"
           "chainloop organization federation create --name gitlab-release \\\n"
           "  --issuer https://gitlab.com --bound-claim project_id=4242 \\\n"
           "  --bound-claim ref_type=branch --bound-claim ref_protected=true \\\n"
           "  --bound-claim ref=main --max-token-age 2h --project app\n"
           "# GitHub Actions: pushes to main of repository 123456\n"
           "chainloop organization federation create --name gh-main \\\n"
           "  --issuer https://token.actions.githubusercontent.com \\\n"
           "  --bound-claim repository_id=123456 --bound-claim ref=refs/heads/main \\\n"
           "  --bound-claim event_name=push --project app\n"
           "# Accept ID tokens requested for Chainloop's own audience (its .gitlab-ci.yml)\n"
           "chainloop organization federation create --name gitlab-upstream-aud \\\n"
           "  --issuer https://gitlab.com --audience chainloop --bound-claim project_id=4242 \\\n"
           "  --bound-claim ref_protected=true"});
  On(fc, chosen, [&](CliContext& c) { return FederationCreate(c, fed_create); });
  auto* fl = federation->add_subcommand("list", "List trust policies")->alias("ls");
  ListLimit fed_limit;
  AddLimit(fl, fed_limit, "policies");
  help->Document(fl, {"",
                      "chainloop organization federation list\n"
                      "chainloop organization federation list --limit 10"});
  On(fl, chosen, [&](CliContext& c) { return FederationList(c, fed_limit); });
  std::string policy_id;
  auto* fd = federation->add_subcommand("delete", "Delete a trust policy");
  fd->add_option("--id", policy_id, "Policy ID (see `federation list`)")
      ->required()
      ->type_name("ID");
  help->Document(fd, {"Asks for confirmation on a terminal; -y/--yes skips it.",
                      "chainloop organization federation delete --id " + kId});
  On(fd, chosen, [&](CliContext& c) { return FederationDelete(c, policy_id); });

  WebhookArgs webhook_args;
  AddWebhookCommands(org, *help, chosen, webhook_args, kId);

  // project
  auto* project = app.add_subcommand("project", "Manage projects");
  project->require_subcommand(1);
  std::string project_name;
  auto* project_create = project->add_subcommand("create", "Create a project");
  project_create->add_option("--name", project_name, "Project name")->required()->type_name("NAME");
  help->Document(project_create, {"", "chainloop project create --name app"});
  On(project_create, chosen, [&](CliContext& c) { return ProjectCreate(c, project_name); });
  auto* project_list = project->add_subcommand("list", "List projects")->alias("ls");
  ListLimit project_limit;
  AddLimit(project_list, project_limit, "projects");
  help->Document(project_list, {"",
                                "chainloop project list\n"
                                "chainloop project ls -o json\n"
                                "chainloop project list --limit 2000"});
  On(project_list, chosen, [&](CliContext& c) { return ProjectList(c, project_limit); });

  // attestation
  auto* att = app.add_subcommand("attestation", "Craft and push attestations");
  att->alias("att");
  att->require_subcommand(1);
  std::string workflow, att_project, statement, attestation_id;
  auto* att_init = att->add_subcommand("init", "Start an attestation (a workflow run)");
  att_init->add_option("--workflow", workflow, "Workflow name")->required()->type_name("NAME");
  att_init->add_option("--project", att_project, "Project name")->required()->type_name("PROJECT");
  help->Document(att_init,
                 {"Starts a run of the workflow (created on first use) and remembers its id\n"
                  "for `attestation push`.",
                  "chainloop attestation init --workflow build --project app"});
  On(att_init, chosen, [&](CliContext& c) { return AttestationInit(c, workflow, att_project); });
  auto* att_push = att->add_subcommand("push", "Push an in-toto statement for the attestation");
  att_push->add_option("--statement", statement, "in-toto Statement JSON file (max 1 MiB)")
      ->required()
      ->type_name("FILE");
  att_push
      ->add_option("--attestation-id", attestation_id,
                   "Run id (default: the one from `attestation init`)")
      ->type_name("ID");
  help->Document(att_push, {"",
                            "chainloop attestation push --statement statement.json\n"
                            "chainloop attestation push --statement statement.json "
                            "--attestation-id " +
                                kId});
  On(att_push, chosen,
     [&](CliContext& c) { return AttestationPush(c, statement, attestation_id); });

  // workflow
  auto* wf = app.add_subcommand("workflow", "Workflows and their runs");
  wf->alias("wf");
  wf->require_subcommand(1);
  auto* wf_list = wf->add_subcommand("list", "List workflows")->alias("ls");
  ListLimit wf_limit;
  AddLimit(wf_list, wf_limit, "workflows");
  help->Document(wf_list, {"",
                           "chainloop workflow list\n"
                           "chainloop wf ls -o json\n"
                           "chainloop workflow list --limit 50"});
  On(wf_list, chosen, [&](CliContext& c) { return WorkflowList(c, wf_limit); });
  auto* run = wf->add_subcommand("run", "Workflow runs");
  run->require_subcommand(1);
  std::string run_project, run_id;
  ListLimit run_limit;
  auto* run_list = run->add_subcommand("list", "List workflow runs")->alias("ls");
  run_list->add_option("--project", run_project, "Only runs of this project")->type_name("PROJECT");
  AddLimit(run_list, run_limit, "runs");
  help->Document(run_list, {"",
                            "chainloop workflow run list\n"
                            "chainloop workflow run list --project app --limit 20"});
  On(run_list, chosen, [&](CliContext& c) { return WorkflowRunList(c, run_project, run_limit); });
  auto* run_describe = run->add_subcommand("describe", "Describe a workflow run");
  run_describe->add_option("--id", run_id, "Run id")->required()->type_name("ID");
  help->Document(run_describe, {"", "chainloop workflow run describe --id " + kId});
  On(run_describe, chosen, [&](CliContext& c) { return WorkflowRunDescribe(c, run_id); });

  if (args.empty()) {  // a bare `chainloop`: what it can do
    TerminalSafeStream(out) << app.help();
    return 0;
  }
  try {
    // CLI11 consumes a vector of arguments from the back.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    // Usage errors quote the arguments, which may come from a script or .envrc.
    TerminalSafeStream safe_out(out), safe_err(err);
    // Help and version exit 0.
    if (e.get_exit_code() == 0) return app.exit(e, safe_out, safe_err);
    // A command group without its subcommand (`chainloop organization`): the group's help.
    const CLI::App& named = DeepestCommand(app, args);
    if (e.get_name() == "RequiredError" && &named != &app &&
        UnknownWordMessage(app, args).empty() &&
        !named.get_subcommands([](const CLI::App*) { return true; }).empty() &&
        std::string_view(e.what()).find("subcommand") != std::string_view::npos) {
      safe_out << named.help();
      return 0;
    }
    // Usage errors exit 2, as is conventional for command lines; with `-o json`, in the same
    // one-line shape as every other error (docs/cli.md).
    if (AsksForJson(args)) {
      err << TerminalSafeJson(boost::json::object{
                 {"error", boost::json::object{{"code", "usage"},
                                               {"message", UsageErrorMessage(app, args, e)}}}})
          << std::endl;
    } else {
      safe_err << UsageErrorMessage(app, args, e) << "\n";
    }
    return 2;
  }
  if (completion->parsed()) {  // needs neither a config nor a control plane
    out << CompletionScript(app, choices, *ParseShell(shell_name));
    out.flush();
    return 0;
  }
  if (!chosen.action) {
    TerminalSafeStream(err) << app.help();
    return 1;
  }

  try {
    CliContext ctx(std::move(g), std::move(env), out, err);
    if (hooks.clock) ctx.set_clock_for_test(std::move(hooks.clock));
    if (hooks.input != nullptr) ctx.set_input_for_test(*hooks.input);
    if (chosen.token_output) ctx.AllowTokenOutput();
    if (auto st = ctx.Init(); !st) return ctx.ReportError(st.error());
    if (auto st = chosen.action(ctx); !st) return ctx.ReportError(st.error());
    out.flush();
    return 0;
  } catch (const std::exception& e) {
    // Library exceptions are caught at their boundaries; this is the last line of defence.
    TerminalSafeStream(err) << "Error: internal error: " << TerminalSafe(e.what()) << std::endl;
    return 1;
  }
}

}  // namespace cl::cli
