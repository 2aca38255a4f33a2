// The JSON shapes of the HTTP API (see the header).
#include "api/encoders.h"

#include <boost/json/array.hpp>

#include "common/json.h"
#include "common/log.h"
#include "domain/token_inactivity.h"

namespace cl::api {
namespace {

namespace json = boost::json;

json::value OptTime(const std::optional<UnixMillis>& t) {
  if (!t) return nullptr;
  return json::value(FormatRfc3339(*t));
}

}  // namespace

json::object EncodeOrg(const store::Organization& o) {
  json::object j;
  j["id"] = o.id;
  j["name"] = o.name;
  j["created_at"] = FormatRfc3339(o.created_at);
  if (o.api_token_max_days_inactive) {
    j["api_token_max_days_inactive"] = *o.api_token_max_days_inactive;
  } else {
    j["api_token_max_days_inactive"] = nullptr;
  }
  return j;
}

std::string_view EncodeCallerRole(const std::optional<store::OrgRole>& role) {
  return role ? store::OrgRoleName(*role) : std::string_view();
}

json::object EncodeOrgWithRole(const domain::OrgWithRole& o) {
  json::object e = EncodeOrg(o.org);
  e["role"] = EncodeCallerRole(o.role);
  return e;
}

void EncodePermissions(const domain::EffectivePermissions& p, json::object& into) {
  auto sorted = [](const std::set<std::string, std::less<>>& set) {
    json::array arr;  // std::set iterates in order
    for (const auto& perm : set) arr.push_back(json::value(perm));
    return arr;
  };
  into["permissions"] = sorted(p.organization);
  json::array projects;
  for (const auto& project : p.projects) {
    json::object e;
    e["project_id"] = project.project_id;
    e["project_name"] = project.project_name;
    e["permissions"] = sorted(project.permissions);
    projects.push_back(std::move(e));
  }
  into["project_permissions"] = std::move(projects);
}

json::object EncodeUser(const store::User& u) {
  json::object j;
  j["id"] = u.id;
  j["email"] = u.email;
  j["name"] = u.name;
  return j;
}

json::object EncodeMember(const store::Membership& m) {
  json::object e;
  e["user_id"] = m.user_id;
  e["email"] = m.user_email;
  e["name"] = m.user_name;
  e["role"] = store::OrgRoleName(m.role);
  e["created_at"] = FormatRfc3339(m.created_at);
  return e;
}

json::object EncodeInvitation(const store::Invitation& i) {
  json::object j;
  j["id"] = i.id;
  j["email"] = i.email;
  j["role"] = store::OrgRoleName(i.role);
  j["status"] = store::InvitationStatusName(i.status);
  j["created_at"] = FormatRfc3339(i.created_at);
  return j;
}

json::object EncodeProject(const store::Project& p) {
  json::object j;
  j["id"] = p.id;
  j["name"] = p.name;
  j["created_at"] = FormatRfc3339(p.created_at);
  return j;
}

json::object EncodeWorkflow(const store::Workflow& w, const std::string& project_name) {
  json::object o;
  o["id"] = w.id;
  o["name"] = w.name;
  o["project"] = project_name;
  o["created_at"] = FormatRfc3339(w.created_at);
  return o;
}

json::object EncodeRun(const store::WorkflowRun& r, bool with_statement) {
  json::object j;
  j["id"] = r.id;
  j["workflow"] = r.workflow_name;
  j["project"] = r.project_name;
  j["state"] = store::RunStateName(r.state);
  j["created_at"] = FormatRfc3339(r.created_at);
  j["finished_at"] = OptTime(r.finished_at);
  json::object by;
  by["kind"] = r.actor_kind;
  by["id"] = r.actor_id;
  by["name"] = r.actor_name;
  // The CI identity of a keyless attestation (iss, sub, key claims); {} otherwise.
  if (auto claims = ParseJson(r.actor_claims); claims && claims->is_object()) {
    by["claims"] = std::move(*claims);
  } else {
    by["claims"] = json::object();
  }
  j["attested_by"] = std::move(by);
  j["predicate_type"] = r.predicate_type;
  j["statement_digest"] = r.statement_digest;
  if (with_statement) {
    if (r.statement.empty()) {
      j["statement"] = nullptr;
    } else if (auto v = ParseJson(r.statement)) {
      j["statement"] = std::move(*v);
    }
  }
  return j;
}

json::object EncodeApiToken(const store::ApiToken& t, const store::Organization& org) {
  json::object j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["description"] = t.description;
  j["scope"] = t.project_id ? "project" : "global";
  if (t.project_id) {
    j["project"] = t.project_name;
  } else {
    j["project"] = nullptr;
  }
  json::array perms;
  for (const auto& p : t.permissions) perms.push_back(json::value(p));
  j["permissions"] = std::move(perms);
  j["created_at"] = FormatRfc3339(t.created_at);
  j["expires_at"] = OptTime(t.expires_at);
  j["last_used_at"] = OptTime(t.last_used_at);
  j["revoked_at"] = OptTime(t.revoked_at);
  if (t.revoked_at) {
    j["revocation_reason"] =
        t.revocation_reason ? store::RevocationReasonName(*t.revocation_reason) : "";
  } else {
    j["revocation_reason"] = nullptr;
  }
  json::object by;
  by["kind"] = t.created_by_kind;
  by["id"] = t.created_by_id;
  by["name"] = t.created_by_name;
  j["created_by"] = std::move(by);
  j["auto_revoke_at"] = OptTime(domain::AutoRevokeAt(t, org.api_token_max_days_inactive));
  return j;
}

json::object EncodeTrustPolicy(const store::TrustPolicyRecord& t) {
  json::object j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["issuer"] = t.issuer;
  j["provider"] = t.provider;
  j["audience"] = t.audience;
  json::object claims;
  for (const auto& [k, v] : t.bound_claims) claims[k] = v;
  j["bound_claims"] = std::move(claims);
  if (t.project_id) {
    j["project"] = t.project_name;
  } else {
    j["project"] = nullptr;
  }
  json::array perms;
  for (const auto& p : t.permissions) perms.push_back(json::value(p));
  j["permissions"] = std::move(perms);
  j["created_at"] = FormatRfc3339(t.created_at);
  return j;
}

json::object EncodeAuditEvent(const store::AuditEvent& e) {
  json::object o;
  o["id"] = e.id;
  o["actor_kind"] = e.actor_kind;
  o["actor_id"] = e.actor_id;
  o["actor_name"] = e.actor_name;
  o["action"] = e.action;
  o["target_kind"] = e.target_kind;
  o["target_id"] = e.target_id;
  o["message"] = e.message;
  o["created_at"] = FormatRfc3339(e.created_at);
  return o;
}

json::object EncodePrincipal(const domain::Principal& p) {
  json::object j;
  j["kind"] = domain::PrincipalKindName(p.kind);
  j["id"] = p.id;
  j["name"] = p.display_name;
  return j;
}

json::object EncodeSession(const domain::IssuedSession& s) {
  json::object j;
  j["session_token"] = s.token;
  j["expires_at"] = FormatRfc3339(s.expires_at);
  j["user"] = EncodeUser(s.user);
  return j;
}

json::object EncodeDeviceLoginStart(const domain::DeviceLoginStart& start) {
  json::object j;
  j["device_handle"] = start.device_handle;
  j["user_code"] = start.user_code;
  j["verification_uri"] = start.verification_uri;
  j["verification_uri_complete"] = start.verification_uri_complete;
  j["expires_in"] = start.expires_in;
  j["interval"] = start.interval;
  return j;
}

std::string SerializePrincipalEnvelope(const domain::Principal& p) {
  std::string body = "{\"principal\":{\"kind\":";
  AppendJsonString(body, domain::PrincipalKindName(p.kind));
  body += ",\"id\":";
  AppendJsonString(body, p.id);
  body += ",\"name\":";
  AppendJsonString(body, p.display_name);
  body += "}}";
  return body;
}

}  // namespace cl::api
