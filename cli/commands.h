// The CLI's commands, one function each. main.cc maps command lines onto them; tests call them
// directly against a fake control plane. Each returns OK or the Error to report (exit 1).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/context.h"
#include "common/clock.h"
#include "common/result.h"

namespace cl::cli {

// --limit of the list commands: how many items to show, 1..kMaxListLimit (cli/list_pages.h),
// checked by the command line; nullopt: the first kDefaultListCap, with a note on stderr when
// there are more. Every list command follows the API's pages (FetchList).
using ListLimit = std::optional<int>;

// auth
struct AuthLoginOptions {
  bool skip_browser = false;
};
Status AuthLogin(CliContext& ctx, const AuthLoginOptions& options);
Status AuthLogout(CliContext& ctx);
Status AuthStatus(CliContext& ctx);

// version: the CLI's, and the control plane's when it answers (anonymous GET /v1/version).
Status VersionCommand(CliContext& ctx);

// organization
Status OrganizationCreate(CliContext& ctx, const std::string& name);
Status OrganizationList(CliContext& ctx, ListLimit limit);
Status OrganizationDescribe(CliContext& ctx);
Status OrganizationSet(CliContext& ctx, const std::string& name);
Status MemberList(CliContext& ctx, ListLimit limit);
Status InvitationCreate(CliContext& ctx, const std::string& receiver, const std::string& role);
Status InvitationList(CliContext& ctx, ListLimit limit);
// organization member update|delete: the member is named by email, resolved to its user id
// through the members list. Delete and invitation revoke ask for confirmation
// (CliContext::Confirm).
Status MemberUpdate(CliContext& ctx, const std::string& email, const std::string& role);
Status MemberDelete(CliContext& ctx, const std::string& email);
Status InvitationRevoke(CliContext& ctx, const std::string& id);

// organization update: `org_name` empty means the current organization; `max_days_inactive` is
// the flag's raw text (validated here: 0..365), nullopt when the flag was not given.
Status OrganizationUpdate(CliContext& ctx, const std::string& org_name,
                          const std::optional<std::string>& max_days_inactive);

// organization audit list: filters as given on the command line (empty: not given).
struct AuditListOptions {
  ListLimit limit;
  std::string action;  // a wire name of AuditActionNames()
  std::string actor;   // actor id or name, exactly
  std::string target;  // target id
  std::string since;   // RFC 3339, or an age ("90m", "24h", "7d") before the context's clock
  std::string until;   // same forms
};
Status AuditList(CliContext& ctx, const AuditListOptions& options);

// The audit actions' wire names, as the server names them (domain/audit_events.h; a test
// compares the two): what `--action` accepts and completes.
const std::vector<std::string>& AuditActionNames();

// A --since/--until value as the API takes it: RFC 3339 text is sent as given; an age (a
// duration as ParseDurationSeconds reads it) becomes the RFC 3339 UTC time that long before
// `now`. InvalidArgument naming `flag` and both forms otherwise.
Result<std::string> AuditTimeBound(const std::string& text, std::string_view flag, UnixMillis now);

// organization api-token (alias token)
struct ApiTokenCreateOptions {
  std::string name;
  std::string description;
  std::string expiration;                // e.g. "24h", "90d"; empty: no expiry
  std::string project;                   // empty: organization-scoped
  std::vector<std::string> permissions;  // empty: the server's default attestation set
};
Status ApiTokenCreate(CliContext& ctx, const ApiTokenCreateOptions& options);

struct ApiTokenListOptions {
  std::string status;  // active, expired, revoked, all; empty: server default (active)
  bool all = false;    // --all: every state (as --status all)
  std::string project;
  std::string scope;  // project, global; empty: both
  ListLimit limit;
  bool wide = false;  // --wide: also where each token was last used from
};
Status ApiTokenList(CliContext& ctx, const ApiTokenListOptions& options);
Status ApiTokenRevoke(CliContext& ctx, const std::string& id);
struct ApiTokenRotateOptions {
  std::string id;
  std::string grace;  // e.g. "1h" (at most 24h); empty: the old token stops at once
};
Status ApiTokenRotate(CliContext& ctx, const ApiTokenRotateOptions& options);

// Live tokens whose auto_revoke_at or expires_at is at most this far away get a " (!)" mark in
// `api-token list`.
inline constexpr int64_t kAutoRevokeWarningMillis = int64_t{7} * 24 * 3600 * 1000;

// organization federation: trust policies for keyless CI authentication.
struct FederationCreateOptions {
  std::string name;
  std::string issuer;
  std::string provider;                   // gitlab or github; empty: inferred from the issuer
  std::string audience;                   // empty: the server's default (its external URL)
  std::vector<std::string> bound_claims;  // KEY=PATTERN, at least one
  std::string project;                    // empty: organization-wide
  std::vector<std::string> permissions;   // empty: the server's default attestation set
  std::string max_token_age;              // DURATION, 1m..24h; empty: the server's default (1h)
};
Status FederationCreate(CliContext& ctx, const FederationCreateOptions& options);
Status FederationList(CliContext& ctx, ListLimit limit);
Status FederationDelete(CliContext& ctx, const std::string& id);

// The provider a policy is for: `provider` when given, else "github" for GitHub Actions'
// issuer and "gitlab" for any other.
std::string InferFederationProvider(const std::string& provider, const std::string& issuer);

// Claims that identify a repository or project, per provider: a policy must bind at least one
// (mirrors the server, so no policy trusts every job on a public issuer).
const std::vector<std::string>& IdentifyingClaims(const std::string& provider);

inline constexpr char kGitHubActionsIssuer[] = "https://token.actions.githubusercontent.com";

// organization webhook (alias webhooks): signed event webhooks.
struct WebhookCreateOptions {
  std::string url;
  std::vector<std::string> events;  // event names (WebhookEventNames), at least one
  std::string description;
};
Status WebhookCreate(CliContext& ctx, const WebhookCreateOptions& options);
Status WebhookList(CliContext& ctx, ListLimit limit);
Status WebhookDescribe(CliContext& ctx, const std::string& id);
// Asks for confirmation (CliContext::Confirm).
Status WebhookDelete(CliContext& ctx, const std::string& id);
Status WebhookDeliveries(CliContext& ctx, const std::string& id, ListLimit limit);
Status WebhookPing(CliContext& ctx, const std::string& id);

// The events a webhook may subscribe to, as the server's catalogue names and describes them
// (store/webhook_events.h; a test compares the two): what `--event` lists in its help.
struct WebhookEventName {
  std::string name;
  std::string description;
};
const std::vector<WebhookEventName>& WebhookEventNames();

// project
Status ProjectCreate(CliContext& ctx, const std::string& name);
Status ProjectList(CliContext& ctx, ListLimit limit);

// attestation and workflows
Status AttestationInit(CliContext& ctx, const std::string& workflow, const std::string& project);
Status AttestationPush(CliContext& ctx, const std::string& statement_file,
                       const std::string& attestation_id);
Status WorkflowList(CliContext& ctx, ListLimit limit);
Status WorkflowRunList(CliContext& ctx, const std::string& project, ListLimit limit);
Status WorkflowRunDescribe(CliContext& ctx, const std::string& id);

// Largest statement file `attestation push` accepts.
inline constexpr size_t kMaxStatementBytes = 1 << 20;

}  // namespace cl::cli
