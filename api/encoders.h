// The JSON shapes of the HTTP API: one encoder per domain object (organizations, members,
// invitations, projects, workflows, runs, API tokens, trust policies, webhooks and their
// deliveries, principals, sessions, device logins, audit events, a caller's permissions). Times are
// RFC 3339; absent optional values are null. Internal to api/.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "domain/authenticator.h"
#include "domain/login.h"
#include "domain/organizations.h"
#include "store/store.h"

namespace cl::api {

boost::json::object EncodeOrg(const store::Organization& o);
// The caller's organization role as the API writes it: its name, or null for tokens (they hold
// none).
boost::json::value EncodeCallerRole(const std::optional<store::OrgRole>& role);
// An organization with the caller's role in it (the listing of one's organizations).
boost::json::object EncodeOrgWithRole(const domain::OrgWithRole& o);
// The caller's permissions in an organization: {"permissions": [org-wide, sorted],
// "project_permissions": [{"project_id", "project_name", "permissions"}]} (projects where more
// than the org-wide set is granted, by name), merged into `into`.
void EncodePermissions(const domain::EffectivePermissions& p, boost::json::object& into);
boost::json::object EncodeUser(const store::User& u);
boost::json::object EncodeMember(const store::Membership& m);
boost::json::object EncodeInvitation(const store::Invitation& i);
boost::json::object EncodeProject(const store::Project& p);
// `project_name`: the name of the workflow's project (empty when unknown).
boost::json::object EncodeWorkflow(const store::Workflow& w, const std::string& project_name);
// `with_statement`: include the attested in-toto statement (null when not pushed yet).
boost::json::object EncodeRun(const store::WorkflowRun& r, bool with_statement);
// `org`: the token's organization, whose inactivity threshold gives auto_revoke_at; `now`: the
// clock reading its state ("active", "expired", "revoked") and auto_revoke_at are decided at.
boost::json::object EncodeApiToken(const store::ApiToken& t, const store::Organization& org,
                                   UnixMillis now);
boost::json::object EncodeTrustPolicy(const store::TrustPolicyRecord& t);
// Never the secret, sealed or not: it is shown once, by the creation's answer.
boost::json::object EncodeWebhook(const store::Webhook& w);
// next_attempt_at is null unless the delivery is pending; error null when there was none.
boost::json::object EncodeWebhookDelivery(const store::WebhookDelivery& d);
boost::json::object EncodeAuditEvent(const store::AuditEvent& e);
boost::json::object EncodePrincipal(const domain::Principal& p);
boost::json::object EncodeSession(const domain::IssuedSession& s);
boost::json::object EncodeDeviceLoginStart(const domain::DeviceLoginStart& start);

// What a credential is bound to, for whoami: the id and name of an API or CI token's organization
// and project (empty for people and for tokens not scoped to a project).
struct ScopeName {
  std::string id;
  std::string name;
};
struct WhoamiScope {
  std::optional<ScopeName> organization;
  std::optional<ScopeName> project;
};

// The body of GET /v1/auth/whoami: "principal" (EncodePrincipal), "organization" and "project"
// ({"id", "name"} or null), "permissions" (a token's explicit list, sorted; null for people, whose
// roles decide per organization), "expires_at" (when the credential ends, null for tokens that
// never expire) and, for sessions only, "session": {"expires_at"}.
boost::json::object EncodeWhoami(const domain::Principal& p, const WhoamiScope& scope);

// whoami's answer serialized directly, without building a JSON tree: the I/O-thread answer.
// For tokens it is EncodeWhoami(p, scope); for a person with a session, the principal also
// carries "email" (p.display_name) and "name" (p.user_name), as the worker's answer does.
std::string SerializeWhoami(const domain::Principal& p, const WhoamiScope& scope);

}  // namespace cl::api
