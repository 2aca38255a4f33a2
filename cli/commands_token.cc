// `chainloop organization api-token create|list|revoke|rotate` (alias `token`): API tokens for
// automation. The secret is printed once, at creation or rotation, and never logged.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "cli/commands.h"
#include "cli/list_pages.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/terminal.h"
#include "cli/validation.h"

namespace cl::cli {
namespace {

std::string TokensPath(const std::string& org) {
  return "/v1/organizations/" + PathSegment(org) + "/api-tokens";
}

// "global" or "project/NAME".
std::string ScopeText(const boost::json::object& t) {
  std::string project = FieldOrEmpty(t, "project");
  if (FieldOrEmpty(t, "scope") == "project" || !project.empty()) {
    return "project/" + (project.empty() ? std::string("?") : project);
  }
  return "global";
}

std::string PermissionsText(const boost::json::object& t) {
  const auto* v = t.if_contains("permissions");
  if (v == nullptr || !v->is_array()) return "";
  std::string out;
  for (const auto& p : v->as_array()) {
    if (!p.is_string()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(p.as_string());
  }
  return TerminalSafe(out);
}

Status ValidateCreate(const ApiTokenCreateOptions& o) {
  if (o.name.empty()) return Fail(Error::InvalidArgument("--name is required"));
  if (!IsDns1123Label(o.name)) {
    return Fail(Error::InvalidArgument(
        "--name '" + o.name +
        "' is not a valid token name: use at most 63 lowercase letters, digits and '-', "
        "starting and ending with a letter or digit"));
  }
  for (const auto& p : o.permissions) {
    if (!IsPermissionShape(p)) {
      return Fail(Error::InvalidArgument("--permission '" + p +
                                         "' must look like resource:action, e.g. "
                                         "workflow_run:create"));
    }
  }
  return Ok();
}

// The `api-token list` table; `status` is the state asked for (its columns depend on it).
void PrintTokenTable(CliContext& ctx, const boost::json::array& tokens, const std::string& status,
                     bool wide) {
  std::vector<const boost::json::object*> rows;
  bool any_auto_revoke = false;
  for (const auto& v : tokens) {
    if (!v.is_object()) continue;
    rows.push_back(&v.as_object());
    if (!FieldOrEmpty(v.as_object(), "auto_revoke_at").empty()) any_auto_revoke = true;
  }
  if (rows.empty()) {
    ctx.out() << "No API tokens found.\n";
    return;
  }
  const bool show_state = status == "all";
  const bool show_reason = status == "revoked" || status == "all";
  std::vector<std::string> headers = {"ID", "NAME"};
  if (show_state) headers.push_back("STATE");
  for (const char* h :
       {"SCOPE", "DESCRIPTION", "CREATED AT", "EXPIRES AT", "REVOKED AT", "LAST USED AT"}) {
    headers.emplace_back(h);
  }
  if (show_reason) headers.push_back("REASON");
  if (any_auto_revoke) headers.push_back("AUTO REVOKE AT");
  if (wide) {
    headers.emplace_back("LAST USED FROM");
    headers.emplace_back("USER AGENT");
  }
  TextTable table(std::move(headers));
  const UnixMillis now = ctx.clock().Now();
  // A time at most 7 days ahead (or already past, for a server clock ahead of ours) is marked.
  auto soon = [&](const std::string& at) {
    auto when = ParseRfc3339(at);
    return when && *when - now <= kAutoRevokeWarningMillis;
  };
  bool any_revoke_marked = false;
  bool any_expiry_marked = false;
  for (const auto* t : rows) {
    std::string last_used = FieldOrEmpty(*t, "last_used_at");
    std::string state = FieldOrEmpty(*t, "state");
    std::string expires = FieldOrEmpty(*t, "expires_at");
    // Only a live token can be about to expire; servers before token states send no state.
    const bool live =
        FieldOrEmpty(*t, "revoked_at").empty() && (state.empty() || state == "active");
    if (live && soon(expires)) {
      expires += " (!)";
      any_expiry_marked = true;
    }
    std::vector<std::string> cells = {FieldOrEmpty(*t, "id"), FieldOrEmpty(*t, "name")};
    if (show_state) cells.push_back(state);
    for (std::string cell :
         {ScopeText(*t), FieldOrEmpty(*t, "description"), FieldOrEmpty(*t, "created_at"), expires,
          FieldOrEmpty(*t, "revoked_at"), last_used.empty() ? std::string("never") : last_used}) {
      cells.push_back(std::move(cell));
    }
    if (show_reason) cells.push_back(FieldOrEmpty(*t, "revocation_reason"));
    if (any_auto_revoke) {
      std::string at = FieldOrEmpty(*t, "auto_revoke_at");
      if (soon(at)) {
        at += " (!)";
        any_revoke_marked = true;
      }
      cells.push_back(std::move(at));
    }
    if (wide) {
      // Both as the client sent them: the table escapes what a terminal would interpret.
      const auto* from = t->if_contains("last_used_from");
      const bool known = from != nullptr && from->is_object();
      cells.push_back(known ? FieldOrEmpty(from->as_object(), "address") : "");
      cells.push_back(known ? FieldOrEmpty(from->as_object(), "user_agent") : "");
    }
    table.AddRow(std::move(cells));
  }
  ctx.out() << table.Render();
  if (any_revoke_marked) {
    ctx.out() << "(!) will be revoked for inactivity within 7 days unless it is used\n";
  }
  if (any_expiry_marked) {
    ctx.out() << "(!) expires within 7 days\n";
  }
}

// The details of a token the server just answered with its secret (create, rotate).
void PrintNewToken(std::ostream& out, const boost::json::object& token, const std::string& secret) {
  out << "ID: " << Field(token, "id") << "\n";
  out << "Name: " << Field(token, "name") << "\n";
  out << "Scope: " << ScopeText(token) << "\n";
  if (!FieldOrEmpty(token, "description").empty()) {
    out << "Description: " << Field(token, "description") << "\n";
  }
  std::string perms = PermissionsText(token);
  out << "Permissions: " << (perms.empty() ? "-" : perms) << "\n";
  out << "Created at: " << Field(token, "created_at") << "\n";
  std::string expires = FieldOrEmpty(token, "expires_at");
  out << "Expires at: " << (expires.empty() ? "never" : expires) << "\n";
  out << "Token:\n" << secret << "\n";
  out << "Save this token now: it will not be shown again.\n";
}

// The secret of a create or rotate answer; an error when the server sent none.
Result<std::string> SecretOf(const boost::json::value& resp, std::string_view what) {
  std::string secret = FieldOrEmpty(resp.as_object(), "token");
  if (secret.empty()) {
    return Fail(Error::Internal(
        "the control plane " + std::string(what) + " the API token but returned no token value",
        Reason::kBadResponse));
  }
  return secret;
}

// A create or rotate answer: the new token's record and secret. With `-o token` the secret alone
// is printed (so `$(chainloop org api-token create ... -o token)` captures it exactly), with
// `-o json` the whole answer; `printed` then says the caller has nothing left to print.
struct IssuedToken {
  const boost::json::object* token = nullptr;
  std::string secret;
  bool printed = false;
};

Result<IssuedToken> TakeIssuedToken(CliContext& ctx, const boost::json::value& resp,
                                    std::string_view verb) {
  IssuedToken issued;
  CL_ASSIGN_OR_RETURN(issued.token, ObjectField(resp, "api_token", "API token"));
  CL_ASSIGN_OR_RETURN(issued.secret, SecretOf(resp, verb));
  if (ctx.token_output()) {
    ctx.out() << issued.secret << "\n";
    issued.printed = true;
  } else if (ctx.json_output()) {
    ctx.PrintJson(resp);
    issued.printed = true;
  }
  return issued;
}

// Longest --grace of `api-token rotate`: the server's bound.
constexpr int64_t kMaxGraceSeconds = 24 * 3600;

}  // namespace

Status ApiTokenCreate(CliContext& ctx, const ApiTokenCreateOptions& options) {
  CL_RETURN_IF_ERROR(ValidateCreate(options));
  boost::json::object body{{"name", options.name}};
  if (!options.description.empty()) body["description"] = options.description;
  if (!options.expiration.empty()) {
    CL_ASSIGN_OR_RETURN(int64_t seconds, ParseDurationSeconds(options.expiration, "--expiration"));
    body["expires_in_seconds"] = seconds;
  }
  if (!options.project.empty()) body["project"] = options.project;
  if (!options.permissions.empty()) {
    boost::json::array perms;
    for (const auto& p : options.permissions) perms.emplace_back(p);
    body["permissions"] = std::move(perms);
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp, client->Post(TokensPath(org), body));
  CL_ASSIGN_OR_RETURN(IssuedToken issued, TakeIssuedToken(ctx, resp, "created"));
  if (issued.printed) return Ok();
  auto& out = ctx.out();
  out << "API token " << Field(*issued.token, "name") << " created\n";
  PrintNewToken(out, *issued.token, issued.secret);
  return Ok();
}

Status ApiTokenList(CliContext& ctx, const ApiTokenListOptions& options) {
  std::string status = options.status;
  if (options.all) {
    if (!status.empty() && status != "all") {
      return Fail(Error::InvalidArgument(
          "--all lists every state: do not combine it with --status " + status));
    }
    status = "all";
  }
  if (!status.empty() && status != "active" && status != "expired" && status != "revoked" &&
      status != "all") {
    return Fail(Error::InvalidArgument("--status must be active, expired, revoked or all, not '" +
                                       status + "'"));
  }
  if (!options.scope.empty() && options.scope != "project" && options.scope != "global") {
    return Fail(
        Error::InvalidArgument("--scope must be project or global, not '" + options.scope + "'"));
  }
  if (options.scope == "global" && !options.project.empty()) {
    return Fail(Error::InvalidArgument("--project cannot be combined with --scope global"));
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  ListQuery query{TokensPath(org), {}, "api_tokens", "API tokens"};
  if (!status.empty()) query.filters.emplace_back("status", status);
  if (!options.project.empty()) query.filters.emplace_back("project", options.project);
  if (!options.scope.empty()) query.filters.emplace_back("scope", options.scope);
  CL_ASSIGN_OR_RETURN(auto list, FetchList(*client, query, options.limit));
  PrintList(ctx, list, [&] { PrintTokenTable(ctx, list.items(), status, options.wide); });
  return Ok();
}

Status ApiTokenRevoke(CliContext& ctx, const std::string& id) {
  if (id.empty()) return Fail(Error::InvalidArgument("--id is required"));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_RETURN_IF_ERROR(ctx.Confirm("Revoke the API token " + id + " of " + org + "?"));
  CL_ASSIGN_OR_RETURN(auto resp, client->Post(TokensPath(org) + "/" + PathSegment(id) + "/revoke",
                                              boost::json::object{}));
  CL_ASSIGN_OR_RETURN(const auto* token, ObjectField(resp, "api_token", "API token"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  std::string name = FieldOrEmpty(*token, "name");
  ctx.out() << "API token " << (name.empty() ? id : name) << " revoked\n";
  return Ok();
}

Status ApiTokenRotate(CliContext& ctx, const ApiTokenRotateOptions& options) {
  if (options.id.empty()) return Fail(Error::InvalidArgument("--id is required"));
  int64_t grace = 0;
  if (!options.grace.empty()) {
    CL_ASSIGN_OR_RETURN(grace, ParseDurationSeconds(options.grace, "--grace"));
    if (grace > kMaxGraceSeconds) {
      return Fail(
          Error::InvalidArgument("--grace must be at most 24h, not '" + options.grace + "'"));
    }
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  std::string question = "Rotate the API token " + options.id + " of " + org + "? The old token ";
  question += grace == 0 ? "stops working at once." : "keeps working for " + options.grace + ".";
  CL_RETURN_IF_ERROR(ctx.Confirm(question));
  CL_ASSIGN_OR_RETURN(auto resp,
                      client->Post(TokensPath(org) + "/" + PathSegment(options.id) + "/rotate",
                                   boost::json::object{{"grace_seconds", grace}}));
  CL_ASSIGN_OR_RETURN(IssuedToken issued, TakeIssuedToken(ctx, resp, "rotated"));
  if (issued.printed) return Ok();
  auto& out = ctx.out();
  out << "API token " << Field(*issued.token, "name") << " rotated\n";
  std::string old_until;
  if (const auto* old = resp.as_object().if_contains("rotated"); old && old->is_object()) {
    old_until = FieldOrEmpty(old->as_object(), "rotation_deadline");
  }
  out << "Old token " << options.id << " "
      << (grace == 0 || old_until.empty() ? std::string("revoked") : "works until " + old_until)
      << "\n";
  PrintNewToken(out, *issued.token, issued.secret);
  return Ok();
}

}  // namespace cl::cli
