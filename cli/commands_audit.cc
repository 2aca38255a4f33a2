// `chainloop organization audit list`: the organization's audit log, newest first, filtered by
// action, actor, target and time (--since/--until as RFC 3339 or an age before now).
#include <boost/json/object.hpp>

#include "cli/commands.h"
#include "cli/list_pages.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/validation.h"

namespace cl::cli {

const std::vector<std::string>& AuditActionNames() {
  static const std::vector<std::string> kNames = {
      "organization.created",     "organization.updated",
      "invitation.created",       "invitation.accepted",
      "project.created",          "api_token.created",
      "api_token.revoked",        "trust_policy.created",
      "trust_policy.deleted",     "federation.token_exchanged",
      "federation.ci_token_used", "member.role_changed",
      "member.removed",           "invitation.revoked",
      "api_token.leaked",         "credential.leaked",
      "api_token.rotated",        "webhook.created",
      "webhook.deleted",
  };
  return kNames;
}

Result<std::string> AuditTimeBound(const std::string& text, std::string_view flag, UnixMillis now) {
  if (ParseRfc3339(text)) return text;
  auto age = ParseDurationSeconds(text, flag);
  if (!age) {
    return Fail(Error::InvalidArgument(
        std::string(flag) + " '" + text +
        "' must be an RFC 3339 time (e.g. 2026-12-07T10:00:00Z) or an age such as 90m, 24h, 7d"));
  }
  return FormatRfc3339(now - *age * kMillisPerSecond);
}

Status AuditList(CliContext& ctx, const AuditListOptions& options) {
  ListQuery query{"", {}, "audit_events", "audit events"};
  if (!options.action.empty()) query.filters.emplace_back("action", options.action);
  if (!options.actor.empty()) query.filters.emplace_back("actor", options.actor);
  if (!options.target.empty()) query.filters.emplace_back("target_id", options.target);
  const UnixMillis now = ctx.clock().Now();
  std::optional<UnixMillis> since, until;
  if (!options.since.empty()) {
    CL_ASSIGN_OR_RETURN(std::string at, AuditTimeBound(options.since, "--since", now));
    since = ParseRfc3339(at);
    query.filters.emplace_back("since", std::move(at));
  }
  if (!options.until.empty()) {
    CL_ASSIGN_OR_RETURN(std::string at, AuditTimeBound(options.until, "--until", now));
    until = ParseRfc3339(at);
    query.filters.emplace_back("until", std::move(at));
  }
  if (since && until && *until <= *since) {
    return Fail(Error::InvalidArgument("--until must be later than --since"));
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  query.path = "/v1/organizations/" + PathSegment(org) + "/audit-events";
  CL_ASSIGN_OR_RETURN(auto list, FetchList(*client, query, options.limit));
  PrintList(ctx, list, [&] {
    TextTable table({"CREATED AT", "ACTOR", "CLIENT ADDRESS", "ACTION", "MESSAGE"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& e = v.as_object();
      std::string who = FieldOrEmpty(e, "actor_name");
      std::string kind = FieldOrEmpty(e, "actor_kind");
      std::string actor = who.empty() ? (kind.empty() ? "-" : kind)
                                      : (kind.empty() ? who : who + " (" + kind + ")");
      table.AddRow({Field(e, "created_at"), actor, Field(e, "client_address"), Field(e, "action"),
                    Field(e, "message")});
    }
    if (table.empty()) {
      ctx.out() << "No audit events found.\n";
    } else {
      ctx.out() << table.Render();
    }
  });
  return Ok();
}

}  // namespace cl::cli
