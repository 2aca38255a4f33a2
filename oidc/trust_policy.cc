// ValidateTrustPolicy and the provider rules (which claims identify a repository or project).
#include "oidc/trust_policy.h"

#include <algorithm>
#include <set>

#include "common/printable.h"
#include "oidc/discovery.h"
#include "oidc/glob.h"

namespace cl::oidc {
namespace {

Error Invalid(std::string message) {
  return Error::InvalidArgument("invalid trust policy: " + std::move(message),
                                Reason::kInvalidTrustPolicy);
}

bool IsValidClaimName(std::string_view name) {
  if (name.empty() || name.size() > kMaxClaimNameLength) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

bool IsWildcard(char c) { return c == '*' || c == '?'; }
// Characters that separate words in a path segment: a segment of only these and wildcards
// ("*-*", "*_*") pins nothing.
bool IsWordSeparator(char c) { return c == '-' || c == '_' || c == '.'; }

// Claims that hold a numeric id rather than a path.
bool IsIdClaim(std::string_view claim) {
  return claim.size() > 3 && claim.substr(claim.size() - 3) == "_id";
}

// Why `pattern` does not pin the owner of what `claim` names (empty when it does). An id must be
// written out exactly; a path ("group/sub/project", "owner/repo") must spell its first segment,
// the group or owner, without wildcards, and every segment needs a character that is neither a
// wildcard nor a separator, so "*/*", "*-*", "acme/*" and "*1*" are refused while "acme/app-*"
// and "acme/web" pass.
std::string PinProblem(std::string_view claim, std::string_view pattern) {
  if (IsIdClaim(claim)) {
    bool digits = !pattern.empty() && std::all_of(pattern.begin(), pattern.end(),
                                                  [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) return "must be the exact numeric id (no wildcards)";
    return "";
  }
  size_t start = 0;
  bool first = true;
  while (true) {
    size_t slash = pattern.find('/', start);
    std::string_view segment = pattern.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (first && std::any_of(segment.begin(), segment.end(), IsWildcard)) {
      return "must spell out its first path segment (the group or owner) without wildcards";
    }
    bool literal = std::any_of(segment.begin(), segment.end(),
                               [](char c) { return !IsWildcard(c) && !IsWordSeparator(c); });
    if (!literal) {
      return "needs a letter or digit in every path segment (a segment of only wildcards and "
             "separators matches any name)";
    }
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
    first = false;
  }
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
                                                        "repository_owner_id", "repository_owner"};
  static const std::vector<std::string_view> kNone;
  if (provider == "gitlab") return kGitLab;
  if (provider == "github") return kGitHub;
  return kNone;
}

Status ValidateTrustPolicy(const TrustPolicy& policy) {
  if (policy.name.empty() || policy.name.size() > kMaxPolicyNameLength) {
    return Fail(Invalid("name must be 1.." + std::to_string(kMaxPolicyNameLength) + " characters"));
  }
  // Names, audiences and patterns are printed on other people's terminals (federation list).
  if (!IsPrintableText(policy.name)) return Fail(Invalid("name must be printable text"));
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
  if (!IsPrintableText(policy.audience)) return Fail(Invalid("audience must be printable text"));
  if (policy.max_token_age_seconds < kMinMaxTokenAgeSeconds ||
      policy.max_token_age_seconds > kMaxMaxTokenAgeSeconds) {
    return Fail(Invalid("max_token_age must be between 1m and 24h"));
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
    if (!IsPrintableText(pattern)) {
      return Fail(Invalid("the pattern of bound claim \"" + claim + "\" must be printable text"));
    }
  }
  // Every identifying claim that is bound must pin at least the owner; a loose binding next to
  // a tight one is refused too, as it says something the policy does not mean.
  const auto& identifying = IdentifyingClaims(provider);
  bool identifies = false;
  for (const auto& [claim, pattern] : policy.bound_claims) {
    if (std::find(identifying.begin(), identifying.end(), claim) == identifying.end()) continue;
    if (std::string why = PinProblem(claim, pattern); !why.empty()) {
      return Fail(Invalid("bound claim \"" + claim + "\" " + why +
                          ", so that the policy cannot trust repositories of other owners"));
    }
    identifies = true;
  }
  if (!identifies) {
    return Fail(Invalid("a " + std::string(provider) + " policy must bind " +
                        JoinNames(identifying) +
                        ", so it cannot trust every repository of the issuer"));
  }
  if (policy.project_id && policy.project_id->empty()) {
    return Fail(Invalid("project, when given, must not be empty"));
  }
  return Ok();
}

}  // namespace cl::oidc
