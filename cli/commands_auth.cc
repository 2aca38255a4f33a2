// `chainloop auth login|logout|status`.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/login.h"
#include "cli/output.h"
#include "cli/terminal.h"

namespace cl::cli {
namespace {

std::chrono::milliseconds LoginTimeout(const CliEnvironment& env) {
  if (!env.login_timeout_seconds.empty()) {
    char* end = nullptr;
    long secs = std::strtol(env.login_timeout_seconds.c_str(), &end, 10);
    if (end != nullptr && *end == '\0' && secs > 0) return std::chrono::seconds(secs);
  }
  return std::chrono::minutes(5);
}

}  // namespace

Status AuthLogin(CliContext& ctx, const AuthLoginOptions& options) {
  // Login needs no credential: the flows themselves authenticate the user.
  ApiClient client = ctx.ClientWithToken("");
  Result<LoginResult> result = Fail(Error::Internal("login did not run"));
  if (options.skip_browser) {
    result = RunDeviceLogin(client, ctx.err(), DeviceLoginOptions{});
  } else {
    BrowserLoginOptions browser;
    browser.timeout = LoginTimeout(ctx.env());
    result = RunBrowserLogin(client, ctx.random(), ctx.err(), browser);
  }
  if (!result) return Fail(result.error());
  CliConfig& config = ctx.config();
  // Bound to the control plane that issued it; sessions for other control planes stay.
  config.SetSession({ctx.control_plane_key(), result->session_token, result->expires_at});
  config.control_plane = ctx.control_plane();
  CL_RETURN_IF_ERROR(ctx.SaveConfig());
  std::string who = result->email.empty() ? result->name : result->email;
  if (ctx.json_output()) {
    boost::json::object o;
    o["email"] = result->email;
    o["name"] = result->name;
    o["expires_at"] = result->expires_at;
    ctx.PrintJson(o);
  } else {
    ctx.out() << "Logged in as " << (who.empty() ? "unknown user" : TerminalSafe(who))
              << " (session expires at " << TerminalSafe(result->expires_at) << ")\n";
  }
  return Ok();
}

Status AuthLogout(CliContext& ctx) {
  CliConfig& config = ctx.config();
  // Only the session of the current control plane, and only sent to it.
  const StoredSession* session = config.SessionFor(ctx.control_plane_key());
  bool had_session = session != nullptr;
  if (session != nullptr) {
    // Revoke server-side when possible; a malformed stored value is simply dropped.
    if (PrecheckToken(session->token, "your login session")) {
      ApiClient client = ctx.ClientWithToken(session->token);
      auto resp = client.Call("POST", "/v1/auth/logout");
      if (!resp && !resp.error().IsUnauthenticated()) return Fail(resp.error());
    }
    config.RemoveSession(ctx.control_plane_key());
    CL_RETURN_IF_ERROR(ctx.SaveConfig());
  }
  if (ctx.json_output()) {
    ctx.PrintJson(boost::json::object{{"logged_out", true},
                                      {"control_plane", ctx.control_plane()},
                                      {"had_session", had_session}});
  } else if (had_session) {
    ctx.out() << "Logged out of " << ctx.control_plane() << "\n";
  } else {
    ctx.out() << "Not logged in to " << ctx.control_plane() << "\n";
  }
  return Ok();
}

namespace {

// whoami's "project" object, nullptr when the credential is not scoped to one.
const boost::json::object* ProjectOf(const boost::json::value& resp) {
  const auto* p = resp.as_object().if_contains("project");
  return p != nullptr && p->is_object() ? &p->as_object() : nullptr;
}

}  // namespace

Status AuthStatus(CliContext& ctx) {
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(auto resp, client->Get("/v1/auth/whoami"));
  CL_ASSIGN_OR_RETURN(const auto* principal, ObjectField(resp, "principal", "principal"));
  // A token belongs to one organization, named by whoami; a person has a current one.
  std::string org = ctx.CurrentOrganization();
  if (const auto* o = resp.as_object().if_contains("organization");
      ctx.options().org.empty() && o != nullptr && o->is_object() &&
      !RawString(o->as_object(), "name").empty()) {
    org = RawString(o->as_object(), "name");
  }
  if (ctx.json_output()) {
    boost::json::object o = resp.as_object();
    o["current_organization"] = org.empty() ? boost::json::value(nullptr) : boost::json::value(org);
    o["control_plane"] = ctx.control_plane();
    ctx.PrintJson(o);
    return Ok();
  }
  std::string kind = FieldOrEmpty(*principal, "kind");
  auto& out = ctx.out();
  out << "Control plane: " << ctx.control_plane() << "\n";
  if (kind == "user" || kind.empty()) {
    out << "Email: " << Field(*principal, "email") << "\n";
    out << "Name: " << Field(*principal, "name") << "\n";
  } else {
    out << "Principal: " << kind << " " << Field(*principal, "id") << "\n";
    if (!FieldOrEmpty(*principal, "name").empty()) {
      out << "Name: " << Field(*principal, "name") << "\n";
    }
  }
  out << "Current organization: " << (org.empty() ? "(none)" : TerminalSafe(org)) << "\n";
  if (kind == "api_token" || kind == "federated") {
    const auto* project = ProjectOf(resp);
    if (project != nullptr) out << "Project: " << Field(*project, "name") << "\n";
    std::string perms;
    if (const auto* p = resp.as_object().if_contains("permissions");
        p != nullptr && p->is_array()) {
      for (const auto& e : p->as_array()) {
        if (!e.is_string()) continue;
        perms += (perms.empty() ? "" : ", ") + std::string(e.as_string());
      }
    }
    out << "Permissions: " << (perms.empty() ? "-" : TerminalSafe(perms)) << "\n";
    std::string expires = FieldOrEmpty(resp.as_object(), "expires_at");
    out << "Expires at: " << (expires.empty() ? "never" : expires) << "\n";
  }
  const auto& obj = resp.as_object();
  if (const auto* s = obj.if_contains("session"); s != nullptr && s->is_object()) {
    out << "Session expires at: " << Field(s->as_object(), "expires_at") << "\n";
  }
  std::string others;
  for (const auto& s : ctx.config().sessions) {
    if (s.control_plane == ctx.control_plane_key()) continue;
    others += (others.empty() ? "" : ", ") + s.control_plane;
  }
  if (!others.empty()) out << "Also logged in to: " << others << "\n";
  return Ok();
}

}  // namespace cl::cli
