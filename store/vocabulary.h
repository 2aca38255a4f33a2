// The closed sets of values store records hold (token revocation reasons, workflow run states,
// invitation statuses, organization and project roles), each with its wire name in one table: the
// text stored in the database and returned by the API. The store converts between text and enum
// when it reads and writes rows; everything above it compares enums.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace cl::store {

// Why an API token was revoked.
enum class RevocationReason {
  kManual,    // "manual": revoked by a person or by the token itself
  kInactive,  // "inactive": revoked by the inactivity sweep
  kLeaked,    // "leaked": reported leaked by a secret scanner (domain/secret_scanning.h)
  kRotated,   // "rotated": replaced by a rotation, revoked at the end of its grace period
};

// Where a workflow run (one attestation) stands.
enum class RunState {
  kInitialized,  // "initialized": opened by `attestation init`
  kSucceeded,    // "succeeded": completed by `attestation push`
};

// Where an invitation to an organization stands.
enum class InvitationStatus {
  kPending,   // "pending"
  kAccepted,  // "accepted"
};

// A person's role in an organization (memberships and invitations). What each role may do is
// domain/authorization.cc's role table.
enum class OrgRole {
  kOwner,   // "owner"
  kAdmin,   // "admin"
  kMember,  // "member"
  kViewer,  // "viewer"
};

// A person's role in one project (project memberships).
enum class ProjectRole {
  kAdmin,   // "admin"
  kViewer,  // "viewer"
};

std::string_view RevocationReasonName(RevocationReason reason);
std::string_view RunStateName(RunState state);
std::string_view InvitationStatusName(InvitationStatus status);
std::string_view OrgRoleName(OrgRole role);
std::string_view ProjectRoleName(ProjectRole role);

// The value whose wire name is exactly `name`; nullopt for anything else (case, spaces and
// unknown names included).
std::optional<RevocationReason> ParseRevocationReason(std::string_view name);
std::optional<RunState> ParseRunState(std::string_view name);
std::optional<InvitationStatus> ParseInvitationStatus(std::string_view name);
std::optional<OrgRole> ParseOrgRole(std::string_view name);
std::optional<ProjectRole> ParseProjectRole(std::string_view name);

// Every value, in declaration order (tests and tools).
std::span<const RevocationReason> AllRevocationReasons();
std::span<const RunState> AllRunStates();
std::span<const InvitationStatus> AllInvitationStatuses();
std::span<const OrgRole> AllOrgRoles();
std::span<const ProjectRole> AllProjectRoles();

}  // namespace cl::store
