// The JSON shapes of the HTTP API (see the header).
#include "api/encoders.h"

#include <algorithm>
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

// The project a token or policy is scoped to, null when it covers the whole organization.
json::value ProjectName(const std::optional<std::string>& project_id, const std::string& name) {
  if (!project_id) return nullptr;
  return json::value(name);
}

json::array Strings(const std::vector<std::string>& list) {
  json::array out;
  for (const auto& s : list) out.push_back(json::value(s));
  return out;
}

// Who did something: {"kind", "id", "name"}.
json::object Actor(std::string_view kind, std::string_view id, std::string_view name) {
  return {{"kind", kind}, {"id", id}, {"name", name}};
}

}  // namespace

json::object EncodeOrg(const store::Organization& o) {
  return {{"id", o.id},
          {"name", o.name},
          {"created_at", FormatRfc3339(o.created_at)},
          {"api_token_max_days_inactive", o.api_token_max_days_inactive
                                              ? json::value(*o.api_token_max_days_inactive)
                                              : json::value(nullptr)}};
}

json::value EncodeCallerRole(const std::optional<store::OrgRole>& role) {
  if (!role) return nullptr;
  return json::value(store::OrgRoleName(*role));
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
  return {{"id", u.id}, {"email", u.email}, {"name", u.name}};
}

json::object EncodeMember(const store::Membership& m) {
  return {{"user_id", m.user_id},
          {"email", m.user_email},
          {"name", m.user_name},
          {"role", store::OrgRoleName(m.role)},
          {"created_at", FormatRfc3339(m.created_at)}};
}

json::object EncodeInvitation(const store::Invitation& i) {
  return {{"id", i.id},
          {"email", i.email},
          {"role", store::OrgRoleName(i.role)},
          {"status", store::InvitationStatusName(i.status)},
          {"created_at", FormatRfc3339(i.created_at)}};
}

json::object EncodeProject(const store::Project& p) {
  return {{"id", p.id}, {"name", p.name}, {"created_at", FormatRfc3339(p.created_at)}};
}

json::object EncodeWorkflow(const store::Workflow& w, const std::string& project_name) {
  return {{"id", w.id},
          {"name", w.name},
          {"project", project_name},
          {"created_at", FormatRfc3339(w.created_at)}};
}

json::object EncodeRun(const store::WorkflowRun& r, bool with_statement) {
  json::object j;
  j["id"] = r.id;
  j["workflow"] = r.workflow_name;
  j["project"] = r.project_name;
  j["state"] = store::RunStateName(r.state);
  j["created_at"] = FormatRfc3339(r.created_at);
  j["finished_at"] = OptTime(r.finished_at);
  json::object by = Actor(r.actor_kind, r.actor_id, r.actor_name);
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

json::object EncodeApiToken(const store::ApiToken& t, const store::Organization& org,
                            UnixMillis now) {
  // null when not revoked, and for revocations recorded before reasons were.
  json::value revocation_reason = nullptr;
  std::optional<UnixMillis> revoked_at = t.revoked_at;
  if (t.revoked_at && t.revocation_reason) {
    revocation_reason = store::RevocationReasonName(*t.revocation_reason);
  } else if (!t.revoked_at && t.rotation_deadline && *t.rotation_deadline <= now) {
    // Past its grace period, refused already, not yet recorded by the rotation job.
    revoked_at = t.rotation_deadline;
    revocation_reason = store::RevocationReasonName(store::RevocationReason::kRotated);
  }
  // The last use's client, when recorded; the User-Agent as sent (clients escape it to show it).
  json::value last_used_from = nullptr;
  if (!t.last_used_address.empty() || !t.last_used_user_agent.empty()) {
    last_used_from =
        json::object{{"address", t.last_used_address}, {"user_agent", t.last_used_user_agent}};
  }
  return {
      {"id", t.id},
      {"name", t.name},
      {"state", domain::ApiTokenStateName(domain::StateAt(t, now))},
      {"description", t.description},
      {"scope", t.project_id ? "project" : "global"},
      {"project", ProjectName(t.project_id, t.project_name)},
      {"permissions", Strings(t.permissions)},
      {"created_at", FormatRfc3339(t.created_at)},
      {"expires_at", OptTime(t.expires_at)},
      {"last_used_at", OptTime(t.last_used_at)},
      {"last_used_from", std::move(last_used_from)},
      {"revoked_at", OptTime(revoked_at)},
      {"revocation_reason", std::move(revocation_reason)},
      {"rotated_to", t.rotated_to ? json::value(*t.rotated_to) : json::value(nullptr)},
      {"rotation_deadline", OptTime(t.rotation_deadline)},
      {"revoked_by", t.revoked_at && !t.revoked_by_name.empty() ? json::value(t.revoked_by_name)
                                                                : json::value(nullptr)},
      {"created_by", Actor(t.created_by_kind, t.created_by_id, t.created_by_name)},
      {"auto_revoke_at", OptTime(domain::AutoRevokeAt(t, org.api_token_max_days_inactive, now))}};
}

json::object EncodeTrustPolicy(const store::TrustPolicyRecord& t) {
  json::object claims;
  for (const auto& [k, v] : t.bound_claims) claims[k] = v;
  return {{"id", t.id},
          {"name", t.name},
          {"issuer", t.issuer},
          {"provider", t.provider},
          {"audience", t.audience},
          {"bound_claims", std::move(claims)},
          {"project", ProjectName(t.project_id, t.project_name)},
          {"permissions", Strings(t.permissions)},
          {"max_token_age_seconds", t.max_token_age_seconds},
          {"created_at", FormatRfc3339(t.created_at)}};
}

json::object EncodeWebhook(const store::Webhook& w) {
  return {{"id", w.id},
          {"url", w.url},
          {"description", w.description},
          {"events", Strings(w.events)},
          {"created_at", FormatRfc3339(w.created_at)},
          {"created_by", Actor(w.created_by_kind, w.created_by_id, w.created_by_name)}};
}

json::object EncodeWebhookDelivery(const store::WebhookDelivery& d) {
  const bool pending = d.status == "pending";
  return {{"id", d.id},
          {"event_id", d.event_id},
          {"event", d.event},
          {"status", d.status},
          {"attempts", d.attempts},
          {"created_at", FormatRfc3339(d.created_at)},
          {"last_attempt_at", OptTime(d.last_attempt_at)},
          {"next_attempt_at",
           pending ? json::value(FormatRfc3339(d.next_attempt_at)) : json::value(nullptr)},
          {"response_status",
           d.last_response_status ? json::value(*d.last_response_status) : json::value(nullptr)},
          {"error", d.last_error.empty() ? json::value(nullptr) : json::value(d.last_error)},
          {"delivered_at", OptTime(d.delivered_at)}};
}

json::object EncodeAuditEvent(const store::AuditEvent& e) {
  return {{"id", e.id},
          {"actor_kind", e.actor_kind},
          {"actor_id", e.actor_id},
          {"actor_name", e.actor_name},
          {"action", e.action},
          {"target_kind", e.target_kind},
          {"target_id", e.target_id},
          {"message", e.message},
          {"created_at", FormatRfc3339(e.created_at)},
          {"client_address",
           e.client_address.empty() ? json::value(nullptr) : json::value(e.client_address)}};
}

json::object EncodePrincipal(const domain::Principal& p) {
  return Actor(domain::PrincipalKindName(p.kind), p.id, p.display_name);
}

json::object EncodeSession(const domain::IssuedSession& s) {
  return {{"session_token", s.token},
          {"expires_at", FormatRfc3339(s.expires_at)},
          {"user", EncodeUser(s.user)}};
}

json::object EncodeDeviceLoginStart(const domain::DeviceLoginStart& start) {
  return {{"device_handle", start.device_handle},
          {"user_code", start.user_code},
          {"verification_uri", start.verification_uri},
          {"verification_uri_complete", start.verification_uri_complete},
          {"expires_in", start.expires_in},
          {"interval", start.interval}};
}

namespace {

// A token's explicit permissions in order; people: none (null in the answer).
std::optional<std::vector<std::string>> SortedTokenPermissions(const domain::Principal& p) {
  if (p.kind != domain::Principal::Kind::kApiToken &&
      p.kind != domain::Principal::Kind::kFederated) {
    return std::nullopt;
  }
  std::vector<std::string> sorted(p.permissions.begin(), p.permissions.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

// When the credential ends: the session's end, a token's expiry, or none.
std::optional<UnixMillis> CredentialExpiry(const domain::Principal& p) {
  if (!p.session_id.empty()) return p.session_expires_at;
  if (p.token_expires_at != 0) return p.token_expires_at;
  return std::nullopt;
}

}  // namespace

json::object EncodeWhoami(const domain::Principal& p, const WhoamiScope& scope) {
  auto named = [](const std::optional<ScopeName>& n) -> json::value {
    if (!n) return nullptr;
    return json::object{{"id", n->id}, {"name", n->name}};
  };
  json::object j;
  j["principal"] = EncodePrincipal(p);
  j["organization"] = named(scope.organization);
  j["project"] = named(scope.project);
  auto permissions = SortedTokenPermissions(p);
  j["permissions"] = permissions ? json::value(Strings(*permissions)) : json::value(nullptr);
  j["expires_at"] = OptTime(CredentialExpiry(p));
  if (!p.session_id.empty()) {
    j["session"] = json::object{{"expires_at", FormatRfc3339(p.session_expires_at)}};
  }
  return j;
}

std::string SerializeWhoami(const domain::Principal& p, const WhoamiScope& scope) {
  std::string body;
  body.reserve(512);
  body += "{\"principal\":{\"kind\":";
  AppendJsonString(body, domain::PrincipalKindName(p.kind));
  body += ",\"id\":";
  AppendJsonString(body, p.id);
  body += ",\"name\":";
  // A person (session): the name and email read with the session, as the worker's answer has.
  const bool person = p.kind == domain::Principal::Kind::kUser;
  AppendJsonString(body, person ? p.user_name : p.display_name);
  if (person) {
    body += ",\"email\":";
    AppendJsonString(body, p.display_name);
  }
  auto named = [&body](std::string_view key, const std::optional<ScopeName>& n) {
    body += ",\"";
    body += key;
    body += "\":";
    if (!n) {
      body += "null";
      return;
    }
    body += "{\"id\":";
    AppendJsonString(body, n->id);
    body += ",\"name\":";
    AppendJsonString(body, n->name);
    body += '}';
  };
  body += '}';
  named("organization", scope.organization);
  named("project", scope.project);
  body += ",\"permissions\":";
  if (p.kind == domain::Principal::Kind::kApiToken ||
      p.kind == domain::Principal::Kind::kFederated) {
    // As SortedTokenPermissions, without copying the strings: views into the shared list.
    thread_local std::vector<std::string_view> sorted;
    sorted.assign(p.permissions.begin(), p.permissions.end());
    std::sort(sorted.begin(), sorted.end());
    body += '[';
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i > 0) body += ',';
      AppendJsonString(body, sorted[i]);
    }
    body += ']';
  } else {
    body += "null";
  }
  body += ",\"expires_at\":";
  if (auto expires = CredentialExpiry(p)) {
    AppendJsonString(body, FormatRfc3339(*expires));
  } else {
    body += "null";
  }
  if (!p.session_id.empty()) {
    body += ",\"session\":{\"expires_at\":";
    AppendJsonString(body, FormatRfc3339(p.session_expires_at));
    body += '}';
  }
  body += '}';
  return body;
}

}  // namespace cl::api
