// The wire-name tables of store/vocabulary.h and their lookups.
#include "store/vocabulary.h"

#include <array>
#include <utility>

namespace cl::store {
namespace {

template <typename E, size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<RevocationReason, 4> kRevocationReasons = {{
    {RevocationReason::kManual, "manual"},
    {RevocationReason::kInactive, "inactive"},
    {RevocationReason::kLeaked, "leaked"},
    {RevocationReason::kRotated, "rotated"},
}};
constexpr Table<RunState, 2> kRunStates = {{
    {RunState::kInitialized, "initialized"},
    {RunState::kSucceeded, "succeeded"},
}};
constexpr Table<InvitationStatus, 2> kInvitationStatuses = {{
    {InvitationStatus::kPending, "pending"},
    {InvitationStatus::kAccepted, "accepted"},
}};
constexpr Table<OrgRole, 4> kOrgRoles = {{
    {OrgRole::kOwner, "owner"},
    {OrgRole::kAdmin, "admin"},
    {OrgRole::kMember, "member"},
    {OrgRole::kViewer, "viewer"},
}};
constexpr Table<ProjectRole, 2> kProjectRoles = {{
    {ProjectRole::kAdmin, "admin"},
    {ProjectRole::kViewer, "viewer"},
}};

// Each row sits at its value's position, so a name is one index away.
template <typename E, size_t N>
constexpr bool IndexedByValue(const Table<E, N>& table) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(table[i].first) != i) return false;
  }
  return true;
}
static_assert(IndexedByValue(kRevocationReasons));
static_assert(IndexedByValue(kRunStates));
static_assert(IndexedByValue(kInvitationStatuses));
static_assert(IndexedByValue(kOrgRoles));
static_assert(IndexedByValue(kProjectRoles));

template <typename E, size_t N>
constexpr std::array<E, N> Values(const Table<E, N>& table) {
  std::array<E, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = table[i].first;
  return out;
}
constexpr auto kRevocationReasonValues = Values(kRevocationReasons);
constexpr auto kRunStateValues = Values(kRunStates);
constexpr auto kInvitationStatusValues = Values(kInvitationStatuses);
constexpr auto kOrgRoleValues = Values(kOrgRoles);
constexpr auto kProjectRoleValues = Values(kProjectRoles);

template <typename E, size_t N>
std::optional<E> Parse(const Table<E, N>& table, std::string_view name) {
  for (const auto& [value, wire] : table) {
    if (wire == name) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view RevocationReasonName(RevocationReason reason) {
  return kRevocationReasons[static_cast<size_t>(reason)].second;
}
std::string_view RunStateName(RunState state) {
  return kRunStates[static_cast<size_t>(state)].second;
}
std::string_view InvitationStatusName(InvitationStatus status) {
  return kInvitationStatuses[static_cast<size_t>(status)].second;
}
std::string_view OrgRoleName(OrgRole role) { return kOrgRoles[static_cast<size_t>(role)].second; }
std::string_view ProjectRoleName(ProjectRole role) {
  return kProjectRoles[static_cast<size_t>(role)].second;
}

std::optional<RevocationReason> ParseRevocationReason(std::string_view name) {
  return Parse(kRevocationReasons, name);
}
std::optional<RunState> ParseRunState(std::string_view name) { return Parse(kRunStates, name); }
std::optional<InvitationStatus> ParseInvitationStatus(std::string_view name) {
  return Parse(kInvitationStatuses, name);
}
std::optional<OrgRole> ParseOrgRole(std::string_view name) { return Parse(kOrgRoles, name); }
std::optional<ProjectRole> ParseProjectRole(std::string_view name) {
  return Parse(kProjectRoles, name);
}

std::span<const RevocationReason> AllRevocationReasons() { return kRevocationReasonValues; }
std::span<const RunState> AllRunStates() { return kRunStateValues; }
std::span<const InvitationStatus> AllInvitationStatuses() { return kInvitationStatusValues; }
std::span<const OrgRole> AllOrgRoles() { return kOrgRoleValues; }
std::span<const ProjectRole> AllProjectRoles() { return kProjectRoleValues; }

}  // namespace cl::store
