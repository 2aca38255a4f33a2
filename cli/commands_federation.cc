// `chainloop organization federation create|list|delete`: the organization's trust policies
// for keyless CI authentication (which CI ID tokens may be exchanged, and with what scope).
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/list_pages.h"
#include "cli/output.h"
#include "cli/table.h"
#include "cli/terminal.h"
#include "cli/validation.h"

namespace cl::cli {
namespace {

std::string PoliciesPath(const std::string& org) {
  return "/v1/organizations/" + PathSegment(org) + "/federation-policies";
}

bool IsClaimNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// Parses the --bound-claim values into an object, in the order given.
Result<boost::json::object> ParseBoundClaims(const std::vector<std::string>& values) {
  if (values.empty()) {
    return Fail(Error::InvalidArgument(
        "at least one --bound-claim KEY=PATTERN is required (e.g. --bound-claim "
        "project_path=acme/web)"));
  }
  boost::json::object claims;
  for (const auto& v : values) {
    size_t eq = v.find('=');
    std::string key = v.substr(0, eq);
    bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), IsClaimNameChar);
    if (eq == std::string::npos || !key_ok || eq + 1 == v.size()) {
      return Fail(Error::InvalidArgument("--bound-claim '" + v +
                                         "' must look like KEY=PATTERN (a claim name, '=', "
                                         "then an exact value or a glob such as 'acme/*')"));
    }
    if (claims.contains(key)) {
      return Fail(Error::InvalidArgument("--bound-claim " + key + " is given more than once"));
    }
    claims[key] = v.substr(eq + 1);
  }
  return claims;
}

Status CheckIssuer(const std::string& issuer) {
  bool https = issuer.rfind("https://", 0) == 0;
  bool loopback_http = issuer.rfind("http://", 0) == 0 && IsLoopbackHost(UrlHost(issuer));
  if ((!https && !loopback_http) || UrlHost(issuer).empty()) {
    return Fail(
        Error::InvalidArgument("--issuer must be the issuer's https:// URL, e.g. "
                               "https://gitlab.com or " +
                               std::string(kGitHubActionsIssuer)));
  }
  return Ok();
}

// "key=pattern, key2=pattern2" in the server's order.
std::string DescribeClaims(const boost::json::object& policy) {
  const auto* claims = policy.if_contains("bound_claims");
  if (claims == nullptr || !claims->is_object() || claims->as_object().empty()) return "-";
  std::vector<std::string> parts;
  for (const auto& [k, v] : claims->as_object()) {
    parts.push_back(std::string(k) + "=" + (v.is_string() ? std::string(v.as_string()) : "?"));
  }
  return TerminalSafe(Join(parts, ", "));
}

std::string DescribePermissions(const boost::json::object& policy) {
  const auto* perms = policy.if_contains("permissions");
  if (perms == nullptr || !perms->is_array() || perms->as_array().empty()) return "-";
  std::vector<std::string> parts;
  for (const auto& p : perms->as_array()) {
    if (p.is_string()) parts.emplace_back(p.as_string());
  }
  return TerminalSafe(Join(parts, ","));
}

// max_token_age_seconds as a duration ("1h", "90m", "45s"); "-" when absent.
std::string DescribeMaxTokenAge(const boost::json::object& policy) {
  const auto* v = policy.if_contains("max_token_age_seconds");
  if (v == nullptr || !v->is_int64() || v->as_int64() <= 0) return "-";
  int64_t s = v->as_int64();
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::string DescribeProject(const boost::json::object& policy) {
  std::string project = FieldOrEmpty(policy, "project");
  return project.empty() ? "(organization-wide)" : project;
}

}  // namespace

std::string InferFederationProvider(const std::string& provider, const std::string& issuer) {
  if (!provider.empty()) return provider;
  std::string trimmed = issuer;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
  return trimmed == kGitHubActionsIssuer ? "github" : "gitlab";
}

const std::vector<std::string>& IdentifyingClaims(const std::string& provider) {
  static const std::vector<std::string> kGitLab = {"project_id", "project_path", "namespace_id",
                                                   "namespace_path"};
  static const std::vector<std::string> kGitHub = {"repository_id", "repository",
                                                   "repository_owner_id", "repository_owner"};
  return provider == "github" ? kGitHub : kGitLab;
}

Status FederationCreate(CliContext& ctx, const FederationCreateOptions& options) {
  if (options.name.empty()) return Fail(Error::InvalidArgument("--name must not be empty"));
  CL_RETURN_IF_ERROR(CheckIssuer(options.issuer));
  if (!options.provider.empty() && options.provider != "gitlab" && options.provider != "github") {
    return Fail(Error::InvalidArgument("--provider must be gitlab or github"));
  }
  std::string provider = InferFederationProvider(options.provider, options.issuer);
  CL_ASSIGN_OR_RETURN(boost::json::object claims, ParseBoundClaims(options.bound_claims));
  const auto& identifying = IdentifyingClaims(provider);
  bool identified = std::any_of(identifying.begin(), identifying.end(),
                                [&](const std::string& c) { return claims.contains(c); });
  if (!identified) {
    return Fail(Error::InvalidArgument(
        "a " + provider + " trust policy must bind at least one claim that identifies the " +
        (provider == "github" ? "repository" : "project") + ": one of " + Join(identifying, ", ") +
        " (otherwise any job on the issuer could authenticate to your organization)"));
  }
  for (const auto& p : options.permissions) {
    if (!IsPermissionShape(p)) {
      return Fail(Error::InvalidArgument("--permission '" + p +
                                         "' must look like resource:action, e.g. "
                                         "workflow_run:create"));
    }
  }
  std::optional<int64_t> max_token_age;
  if (!options.max_token_age.empty()) {
    CL_ASSIGN_OR_RETURN(max_token_age,
                        ParseDurationSeconds(options.max_token_age, "--max-token-age"));
    if (*max_token_age < 60 || *max_token_age > 24 * 3600) {
      return Fail(Error::InvalidArgument(
          "--max-token-age must be between 1m and 24h (GitLab: at least the job's timeout)"));
    }
  }
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());

  boost::json::object body{{"name", options.name},
                           {"issuer", options.issuer},
                           {"provider", provider},
                           {"bound_claims", std::move(claims)}};
  if (!options.audience.empty()) body["audience"] = options.audience;
  if (!options.project.empty()) body["project"] = options.project;
  if (max_token_age) body["max_token_age_seconds"] = *max_token_age;
  if (!options.permissions.empty()) {
    boost::json::array perms;
    for (const auto& p : options.permissions) perms.emplace_back(p);
    body["permissions"] = std::move(perms);
  }
  CL_ASSIGN_OR_RETURN(auto resp, client->Post(PoliciesPath(org), body));
  CL_ASSIGN_OR_RETURN(const auto* policy, ObjectField(resp, "policy", "federation policy"));
  if (ctx.json_output()) {
    ctx.PrintJson(resp);
    return Ok();
  }
  ctx.out() << "Federation policy " << Field(*policy, "name") << " created (ID "
            << Field(*policy, "id") << ")\n"
            << "Issuer: " << Field(*policy, "issuer") << " (" << Field(*policy, "provider") << ")\n"
            << "Audience: " << Field(*policy, "audience") << "\n"
            << "Bound claims: " << DescribeClaims(*policy) << "\n"
            << "Project: " << DescribeProject(*policy) << "\n"
            << "Permissions: " << DescribePermissions(*policy) << "\n"
            << "Max token age: " << DescribeMaxTokenAge(*policy) << "\n";
  return Ok();
}

Status FederationList(CliContext& ctx, ListLimit limit) {
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_ASSIGN_OR_RETURN(
      auto list,
      FetchList(*client, {PoliciesPath(org), {}, "policies", "federation policies"}, limit));
  PrintList(ctx, list, [&] {
    // ID first, as in `api-token list`: `federation delete` takes it.
    TextTable table({"ID", "NAME", "ISSUER", "BOUND CLAIMS", "PROJECT", "PERMISSIONS", "MAX AGE",
                     "CREATED AT"});
    for (const auto& v : list.items()) {
      if (!v.is_object()) continue;
      const auto& p = v.as_object();
      std::string project = FieldOrEmpty(p, "project");
      table.AddRow({Field(p, "id"), Field(p, "name"), Field(p, "issuer"), DescribeClaims(p),
                    project.empty() ? "-" : project, DescribePermissions(p), DescribeMaxTokenAge(p),
                    Field(p, "created_at")});
    }
    if (table.empty()) {
      ctx.out() << "No federation policies found.\n";
    } else {
      ctx.out() << table.Render();
    }
  });
  return Ok();
}

Status FederationDelete(CliContext& ctx, const std::string& id) {
  if (id.empty()) return Fail(Error::InvalidArgument("--id must not be empty"));
  CL_ASSIGN_OR_RETURN(std::string org, ctx.Organization());
  CL_ASSIGN_OR_RETURN(ApiClient * client, ctx.AuthenticatedClient());
  CL_RETURN_IF_ERROR(ctx.Confirm("Delete the trust policy " + id + " of " + org +
                                 " (tokens issued under it are revoked)?"));
  CL_ASSIGN_OR_RETURN(auto resp, client->Call("DELETE", PoliciesPath(org) + "/" + PathSegment(id)));
  (void)resp;  // 204: no body
  if (ctx.json_output()) {
    ctx.PrintJson(DeletedJson("trust_policy", {{"id", id}}));
    return Ok();
  }
  ctx.out() << "Federation policy " << id << " deleted\n";
  return Ok();
}

}  // namespace cl::cli
