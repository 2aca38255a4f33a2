// The webhook event catalogue (store/webhook_events.h).
#include "store/webhook_events.h"

#include <array>

namespace cl::store {
namespace {

constexpr std::array<WebhookEventKind, 14> kEvents = {{
    {"token.created", "api_token.created", "an API token was created", true},
    {"token.revoked", "api_token.revoked", "an API token was revoked (by hand or for inactivity)",
     true},
    {"token.rotated", "api_token.rotated", "an API token was replaced by a rotation", true},
    {"token.leaked", "api_token.leaked",
     "an API token reported leaked by a secret scanner was revoked", true},
    {"token.expiring_soon", "", "an API token expires within 7 days (sent once)", true},
    {"token.auto_revoke_soon", "",
     "an API token will be revoked for inactivity within 7 days (sent once)", true},
    {"credential.leaked", "credential.leaked",
     "a session or CI token reported leaked by a secret scanner was revoked", true},
    {"member.role_changed", "member.role_changed", "a member's role changed", true},
    {"member.removed", "member.removed", "a member was removed", true},
    {"invitation.created", "invitation.created", "a person was invited", true},
    {"trust_policy.created", "trust_policy.created", "a CI trust policy was created", true},
    {"trust_policy.deleted", "trust_policy.deleted", "a CI trust policy was deleted", true},
    {"organization.updated", "organization.updated", "the organization's settings changed", true},
    {"ping", "", "a test event sent on request to one webhook", false},
}};

}  // namespace

std::span<const WebhookEventKind> AllWebhookEvents() { return kEvents; }

std::optional<WebhookEventKind> FindWebhookEvent(std::string_view name) {
  for (const auto& e : kEvents) {
    if (e.name == name) return e;
  }
  return std::nullopt;
}

std::optional<std::string_view> WebhookEventForAuditAction(std::string_view action) {
  if (action.empty()) return std::nullopt;
  for (const auto& e : kEvents) {
    if (e.audit_action == action) return e.name;
  }
  return std::nullopt;
}

}  // namespace cl::store
