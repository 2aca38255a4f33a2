// Audit events: the closed set of audited actions and target kinds, each with its wire name in
// one table, and the one function that builds a store::AuditEvent (id from Random, time from
// the caller's Clock reading, actor from a Principal, a CI job or the system).
//
// The wire names are stored in the database, returned by the API and shown by the CLI: they
// never change once released.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "domain/principal.h"
#include "store/store.h"

namespace cl::domain {

enum class AuditAction {
  kOrganizationCreated,
  kOrganizationUpdated,
  kInvitationCreated,
  kInvitationAccepted,
  kProjectCreated,
  kApiTokenCreated,
  kApiTokenRevoked,
  kTrustPolicyCreated,
  kTrustPolicyDeleted,
  kFederationTokenExchanged,
  kFederationCiTokenUsed,
  kMemberRoleChanged,
  kMemberRemoved,
  kInvitationRevoked,
  kApiTokenLeaked,    // revoked after a secret scanner reported it leaked
  kCredentialLeaked,  // a session or federated token, likewise
  kApiTokenRotated,
  kWebhookCreated,
  kWebhookDeleted,
};

// What an event is about; its id goes in AuditEvent::target_id.
enum class AuditTarget {
  kOrganization,
  kInvitation,
  kProject,
  kApiToken,
  kTrustPolicy,
  kMember,  // target_id: the member's user id
  kSession,
  kFederatedToken,
  kWebhook,
};

// "organization.created", "api_token.revoked", ...
std::string_view AuditActionName(AuditAction action);
// "organization", "api_token", ...
std::string_view AuditTargetName(AuditTarget target);
// The action whose wire name is exactly `name`, else nullopt.
std::optional<AuditAction> ParseAuditAction(std::string_view name);
// Every value, in declaration order (tests and tools).
std::span<const AuditAction> AllAuditActions();
std::span<const AuditTarget> AllAuditTargets();

// Who did it, as recorded (kind, id, display name).
struct AuditActor {
  std::string kind;
  std::string id;
  std::string name;
  // Where the request came from (AuditEvent::client_address); "" for background jobs.
  std::string client_address;

  // The authenticated caller: its kind name, id, display name and request's client address.
  static AuditActor Of(const Principal& p);
  // A user acting through a login (no Principal yet): named by email, like a user Principal.
  static AuditActor User(const store::User& user, const std::string& client_address);
  // A keyless CI job: recorded under the trust policy that admitted it (its id), with the CI
  // identity's display name.
  static AuditActor CiJob(const std::string& policy_id, const std::string& display_name,
                          const std::string& client_address);
  // Background jobs: kind, id and name are all "system".
  static AuditActor System();
};

// What happened, to what, in which organization.
struct AuditFact {
  std::string org_id;
  AuditAction action;
  AuditTarget target;
  std::string target_id;
  std::string message;  // human-readable, no secrets
};

// The filters of an audit log listing as a request states them, each optional.
struct AuditEventQuery {
  std::optional<std::string> action;     // a wire name ("api_token.revoked")
  std::optional<std::string> actor;      // matches the actor's id or name exactly
  std::optional<std::string> target_id;  // the object the event is about
  std::optional<std::string> since;      // RFC 3339: events at or after it
  std::optional<std::string> until;      // RFC 3339: events before it
};

// The store filter of `query` for organization `org_id`. InvalidArgument when the action is
// none of the table's wire names, a timestamp is not RFC 3339, or until <= since.
Result<store::AuditEventFilter> AuditEventFilterOf(const std::string& org_id,
                                                   const AuditEventQuery& query);

// The event recording `fact` by `actor` at `at`, with a fresh UUID drawn from `random`.
// Every audit event of the control plane is built here.
store::AuditEvent NewAuditEvent(const AuditActor& actor, AuditFact fact, UnixMillis at,
                                Random& random);

}  // namespace cl::domain
