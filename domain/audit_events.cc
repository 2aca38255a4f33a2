// Audit events: the wire-name tables and the one event builder; see the header.
#include "domain/audit_events.h"

#include <array>
#include <utility>

namespace cl::domain {
namespace {

constexpr std::array<std::pair<AuditAction, std::string_view>, 19> kActions = {{
    {AuditAction::kOrganizationCreated, "organization.created"},
    {AuditAction::kOrganizationUpdated, "organization.updated"},
    {AuditAction::kInvitationCreated, "invitation.created"},
    {AuditAction::kInvitationAccepted, "invitation.accepted"},
    {AuditAction::kProjectCreated, "project.created"},
    {AuditAction::kApiTokenCreated, "api_token.created"},
    {AuditAction::kApiTokenRevoked, "api_token.revoked"},
    {AuditAction::kTrustPolicyCreated, "trust_policy.created"},
    {AuditAction::kTrustPolicyDeleted, "trust_policy.deleted"},
    {AuditAction::kFederationTokenExchanged, "federation.token_exchanged"},
    {AuditAction::kFederationCiTokenUsed, "federation.ci_token_used"},
    {AuditAction::kMemberRoleChanged, "member.role_changed"},
    {AuditAction::kMemberRemoved, "member.removed"},
    {AuditAction::kInvitationRevoked, "invitation.revoked"},
    {AuditAction::kApiTokenLeaked, "api_token.leaked"},
    {AuditAction::kCredentialLeaked, "credential.leaked"},
    {AuditAction::kApiTokenRotated, "api_token.rotated"},
    {AuditAction::kWebhookCreated, "webhook.created"},
    {AuditAction::kWebhookDeleted, "webhook.deleted"},
}};

constexpr std::array<std::pair<AuditTarget, std::string_view>, 9> kTargets = {{
    {AuditTarget::kOrganization, "organization"},
    {AuditTarget::kInvitation, "invitation"},
    {AuditTarget::kProject, "project"},
    {AuditTarget::kApiToken, "api_token"},
    {AuditTarget::kTrustPolicy, "trust_policy"},
    {AuditTarget::kMember, "member"},
    {AuditTarget::kSession, "session"},
    {AuditTarget::kFederatedToken, "federated_token"},
    {AuditTarget::kWebhook, "webhook"},
}};

constexpr std::array<AuditAction, kActions.size()> ActionValues() {
  std::array<AuditAction, kActions.size()> out{};
  for (size_t i = 0; i < kActions.size(); ++i) out[i] = kActions[i].first;
  return out;
}
constexpr std::array<AuditTarget, kTargets.size()> TargetValues() {
  std::array<AuditTarget, kTargets.size()> out{};
  for (size_t i = 0; i < kTargets.size(); ++i) out[i] = kTargets[i].first;
  return out;
}
constexpr auto kActionValues = ActionValues();
constexpr auto kTargetValues = TargetValues();

// The tables are indexed by the enum: each row must sit at its value's position.
template <typename Table>
constexpr bool IndexedByValue(const Table& table) {
  for (size_t i = 0; i < table.size(); ++i) {
    if (static_cast<size_t>(table[i].first) != i) return false;
  }
  return true;
}
static_assert(IndexedByValue(kActions));
static_assert(IndexedByValue(kTargets));

}  // namespace

std::string_view AuditActionName(AuditAction action) {
  return kActions[static_cast<size_t>(action)].second;
}

std::string_view AuditTargetName(AuditTarget target) {
  return kTargets[static_cast<size_t>(target)].second;
}

std::optional<AuditAction> ParseAuditAction(std::string_view name) {
  for (const auto& [action, wire] : kActions) {
    if (wire == name) return action;
  }
  return std::nullopt;
}

Result<store::AuditEventFilter> AuditEventFilterOf(const std::string& org_id,
                                                   const AuditEventQuery& query) {
  store::AuditEventFilter f;
  f.org_id = org_id;
  if (query.action) {
    if (!ParseAuditAction(*query.action)) {
      return Fail(Error::InvalidArgument("unknown audit action '" + *query.action + "'"));
    }
    f.action = query.action;
  }
  f.actor = query.actor;
  f.target_id = query.target_id;
  auto timestamp = [](const std::optional<std::string>& text,
                      const char* name) -> Result<std::optional<UnixMillis>> {
    if (!text) return std::optional<UnixMillis>();
    auto t = ParseRfc3339(*text);
    if (!t) {
      return Fail(Error::InvalidArgument(std::string(name) +
                                         " must be an RFC 3339 timestamp such as "
                                         "2026-12-07T10:00:00Z"));
    }
    return t;
  };
  CL_ASSIGN_OR_RETURN(f.since, timestamp(query.since, "since"));
  CL_ASSIGN_OR_RETURN(f.until, timestamp(query.until, "until"));
  if (f.since && f.until && *f.until <= *f.since) {
    return Fail(Error::InvalidArgument("until must be later than since"));
  }
  return f;
}

std::span<const AuditAction> AllAuditActions() { return kActionValues; }
std::span<const AuditTarget> AllAuditTargets() { return kTargetValues; }

AuditActor AuditActor::Of(const Principal& p) {
  return {PrincipalKindName(p.kind), p.id, p.display_name, p.client_address};
}

AuditActor AuditActor::User(const store::User& user, const std::string& client_address) {
  return {PrincipalKindName(Principal::Kind::kUser), user.id, user.email, client_address};
}

AuditActor AuditActor::CiJob(const std::string& policy_id, const std::string& display_name,
                             const std::string& client_address) {
  return {PrincipalKindName(Principal::Kind::kFederated), policy_id, display_name, client_address};
}

AuditActor AuditActor::System() {
  return {PrincipalKindName(Principal::Kind::kSystem), "system", "system", ""};
}

store::AuditEvent NewAuditEvent(const AuditActor& actor, AuditFact fact, UnixMillis at,
                                Random& random) {
  store::AuditEvent e;
  e.id = NewUuid(random);
  e.org_id = std::move(fact.org_id);
  e.actor_kind = actor.kind;
  e.actor_id = actor.id;
  e.actor_name = actor.name;
  e.action = std::string(AuditActionName(fact.action));
  e.target_kind = std::string(AuditTargetName(fact.target));
  e.target_id = std::move(fact.target_id);
  e.message = std::move(fact.message);
  e.created_at = at;
  e.client_address = actor.client_address;
  return e;
}

}  // namespace cl::domain
