// TrustPolicy: an organization's rule for which CI jobs (by issuer, audience and bound claims)
// may authenticate keylessly, and ValidateTrustPolicy, the checks every policy must pass before
// it is stored or used.
//
// The key rule: a policy must bind a claim that names the repository or project and pin at least
// its owner, so no policy trusts every job (or jobs of any owner) of a public issuer such as
// gitlab.com.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace cl::oidc {

inline constexpr std::string_view kGitHubActionsIssuer =
    "https://token.actions.githubusercontent.com";
inline constexpr std::string_view kGitLabComIssuer = "https://gitlab.com";

struct TrustPolicy {
  std::string id, org_id, name;
  std::string issuer;    // exact `iss`; must pass IsAllowedIssuerUrl
  std::string provider;  // "gitlab" | "github"; empty: InferProvider(issuer)
  std::string audience;  // must be one of the token's `aud`
  // claim name -> exact value or glob pattern (see oidc/glob.h); all must match.
  std::vector<std::pair<std::string, std::string>> bound_claims;
  std::optional<std::string> project_id;  // scope of the resulting principal
  std::vector<std::string> permissions;
  // A token whose `iat` is older than this (plus the verifier's leeway) does not match: GitLab
  // issues a job's ID tokens when the job starts, so this bounds how long a job may
  // authenticate. kMinMaxTokenAgeSeconds..kMaxMaxTokenAgeSeconds.
  int64_t max_token_age_seconds = 3600;
};

// The range of TrustPolicy::max_token_age_seconds, and its default (1 h).
inline constexpr int64_t kDefaultMaxTokenAgeSeconds = 3600;
inline constexpr int64_t kMinMaxTokenAgeSeconds = 60;
inline constexpr int64_t kMaxMaxTokenAgeSeconds = 24 * 3600;

inline constexpr size_t kMaxBoundClaims = 32;
inline constexpr size_t kMaxClaimNameLength = 64;
inline constexpr size_t kMaxPolicyNameLength = 128;
inline constexpr size_t kMaxAudienceLength = 2048;

// "github" for GitHub Actions' issuer, "gitlab" for every other one (gitlab.com, self-managed).
std::string_view InferProvider(std::string_view issuer);

// `policy.provider`, or InferProvider(policy.issuer) when it is empty.
std::string_view EffectiveProvider(const TrustPolicy& policy);

// The claims that identify the repository or project for `provider` (empty for an unknown one).
const std::vector<std::string_view>& IdentifyingClaims(std::string_view provider);

// Checks the policy's shape: non-empty name; issuer URL; provider known and consistent with the
// issuer; non-empty audience; 1..32 bound claims with names [a-z_]{1,64}, no duplicates, and
// patterns of 1..256 characters; at least one identifying claim bound, and every bound
// identifying claim pins the owner: ids (`*_id`) exactly, as digits; paths with a first segment
// (group or owner) free of wildcards and a letter or digit in every segment; max_token_age_seconds
// within kMinMaxTokenAgeSeconds..kMaxMaxTokenAgeSeconds. Errors:
// InvalidArgument with reason "invalid_trust_policy" and a message naming the rule.
Status ValidateTrustPolicy(const TrustPolicy& policy);

}  // namespace cl::oidc
