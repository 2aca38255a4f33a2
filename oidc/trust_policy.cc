// ValidateTrustPolicy and the provider rules (which claims identify a repository or project).
#include "oidc/trust_policy.h"

#include <algorithm>
#include <set>

#include "oidc/discovery.h"
#include "oidc/glob.h"

namespace cl::oidc {
namespace {

Error Invalid(std::string message) {
  return Error::InvalidArgument("invalid trust policy: " + std::move(message),
                                "invalid_trust_policy");
}

bool IsValidClaimName(std::string_view name) {
  if (name.empty() || name.size() > kMaxClaimNameLength) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

}  // namespace

std::string_view InferProvider(std::string_view issuer) {
  return issuer == kGitHubActionsIssuer ? "github" : "gitlab";
}

std::string_view EffectiveProvider(const TrustPolicy& policy) {
  return policy.provider.empty() ? InferProvider(policy.issuer) : policy.provider;
}

const std::vector<std::string_view>& IdentifyingClaims(std::string_view provider) {
  // Immutable ids first: they survive renames and transfers, paths do not.
  static const std::vector<std::string_view> kGitLab = {"project_id", "project_path",
                                                        "namespace_id", "namespace_path"};
  static const std::vector<std::string_view> kGitHub = {"repository_id", "repository",
                                                        "repository_owner_id"};
  static const std::vector<std::string_view> kNone;
  if (provider == "gitlab") return kGitLab;
  if (provider == "github") return kGitHub;
  return kNone;
}

Status ValidateTrustPolicy(const TrustPolicy& policy) {
  if (policy.name.empty() || policy.name.size() > kMaxPolicyNameLength) {
    return Fail(Invalid("name must be 1.." + std::to_string(kMaxPolicyNameLength) + " characters"));
  }
  if (!IsAllowedIssuerUrl(policy.issuer)) {
    return Fail(Invalid("issuer must be an https URL (http only on loopback)"));
  }
  const std::string_view provider = EffectiveProvider(policy);
  if (provider != "gitlab" && provider != "github") {
    return Fail(Invalid("provider must be \"gitlab\" or \"github\""));
  }
  if (policy.issuer == kGitHubActionsIssuer && provider != "github") {
    return Fail(Invalid("the GitHub Actions issuer requires provider \"github\""));
  }
  if (policy.audience.empty() || policy.audience.size() > kMaxAudienceLength) {
    return Fail(
        Invalid("audience must be 1.." + std::to_string(kMaxAudienceLength) + " characters"));
  }
  if (policy.bound_claims.empty()) {
    return Fail(Invalid("at least one bound claim is required"));
  }
  if (policy.bound_claims.size() > kMaxBoundClaims) {
    return Fail(Invalid("at most " + std::to_string(kMaxBoundClaims) + " bound claims"));
  }
  std::set<std::string_view> seen;
  for (const auto& [claim, pattern] : policy.bound_claims) {
    if (!IsValidClaimName(claim)) {
      return Fail(Invalid("bound claim names must be 1.." + std::to_string(kMaxClaimNameLength) +
                          " characters of [a-z_]"));
    }
    if (!seen.insert(claim).second) {
      return Fail(Invalid("bound claim \"" + claim + "\" appears more than once"));
    }
    if (pattern.empty() || pattern.size() > kMaxGlobPatternLength) {
      return Fail(Invalid("the pattern of bound claim \"" + claim + "\" must be 1.." +
                          std::to_string(kMaxGlobPatternLength) + " characters"));
    }
  }
  const auto& identifying = IdentifyingClaims(provider);
  const bool identifies =
      std::any_of(policy.bound_claims.begin(), policy.bound_claims.end(), [&](const auto& binding) {
        return std::find(identifying.begin(), identifying.end(), binding.first) !=
                   identifying.end() &&
               !GlobIsWildcardOnly(binding.second);
      });
  if (!identifies) {
    return Fail(Invalid("a " + std::string(provider) + " policy must bind " +
                        JoinNames(identifying) +
                        " to a pattern that is not only wildcards, so it cannot trust every "
                        "repository of the issuer"));
  }
  if (policy.project_id && policy.project_id->empty()) {
    return Fail(Invalid("project, when given, must not be empty"));
  }
  return Ok();
}

}  // namespace cl::oidc
