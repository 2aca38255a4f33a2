// Audit events: the closed set of audited actions and target kinds, each with its wire name in
// one table, and the one function that builds a store::AuditEvent (id from Random, time from
// the caller's Clock reading, actor from a Principal, a CI job or the system).
//
// The wire names are stored in the database, returned by the API and shown by the CLI: they
// never change once released.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/random.h"
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
  kApiTokenRotated,
};

// What an event is about; its id goes in AuditEvent::target_id.
enum class AuditTarget {
  kOrganization,
  kInvitation,
  kProject,
  kApiToken,
  kTrustPolicy,
  kMember,  // target_id: the member's user id
};

// "organization.created", "api_token.revoked", ...
std::string_view AuditActionName(AuditAction action);
// "organization", "api_token", ...
std::string_view AuditTargetName(AuditTarget target);
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

// The event recording `fact` by `actor` at `at`, with a fresh UUID drawn from `random`.
// Every audit event of the control plane is built here.
store::AuditEvent NewAuditEvent(const AuditActor& actor, AuditFact fact, UnixMillis at,
                                Random& random);

}  // namespace cl::domain
