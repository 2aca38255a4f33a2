// FederationService: trust policy rules, CI token exchange and raw CI token authentication.
#include "domain/federation.h"

#include <algorithm>
#include <boost/json/object.hpp>

#include "common/json.h"
#include "crypto/credential.h"
#include "domain/api_tokens.h"
#include "domain/audit_events.h"
#include "domain/authenticator.h"
#include "oidc/trust_policy.h"

namespace cl::domain {
namespace {

oidc::TrustPolicy ToOidcPolicy(const store::TrustPolicyRecord& r) {
  oidc::TrustPolicy t;
  t.id = r.id;
  t.org_id = r.org_id;
  t.name = r.name;
  t.issuer = r.issuer;
  t.provider = r.provider;
  t.audience = r.audience;
  t.bound_claims = r.bound_claims;
  t.project_id = r.project_id;
  t.permissions = r.permissions;
  t.max_token_age_seconds = r.max_token_age_seconds;
  return t;
}

std::string ClaimOr(const oidc::CiIdentity& id, std::string_view name) {
  return id.Claim(name).value_or(std::string());
}

}  // namespace

std::string CiDisplayName(const oidc::CiIdentity& identity, std::string_view provider) {
  std::string where =
      provider == "github" ? ClaimOr(identity, "repository") : ClaimOr(identity, "project_path");
  std::string ref = ClaimOr(identity, "ref");
  if (where.empty()) return identity.issuer + " " + identity.subject;
  std::string out = std::string(provider) + ": " + where;
  if (!ref.empty()) out += "@" + ref;
  return out;
}

// iss, sub and the claims that identify the job (per provider's documentation), as a JSON
// object: what an attestation records about the CI identity that made it.
std::string CiKeyClaimsJson(const oidc::CiIdentity& identity, std::string_view provider) {
  static constexpr std::string_view kGitLab[] = {"project_path", "project_id", "namespace_path",
                                                 "namespace_id", "ref",        "ref_type",
                                                 "pipeline_id",  "job_id",     "ci_config_ref_uri"};
  static constexpr std::string_view kGitHub[] = {"repository", "repository_id", "repository_owner",
                                                 "ref",        "workflow_ref",  "run_id",
                                                 "run_attempt"};
  boost::json::object o;
  o["iss"] = identity.issuer;
  o["sub"] = identity.subject;
  auto add = [&](std::string_view name) {
    if (auto value = identity.Claim(name)) o[name] = *value;
  };
  if (provider == "github") {
    for (auto n : kGitHub) add(n);
  } else {
    for (auto n : kGitLab) add(n);
  }
  return SerializeJson(o);
}

Result<store::TrustPolicyRecord> FederationService::CreatePolicy(
    const Principal& p, const std::string& org_name, const CreateTrustPolicyRequest& req) {
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("trust policies are managed by people, not tokens"));
  }
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kTrustPolicyManage, Resource{org.id, std::nullopt}));
  if (!verifier_.IsAllowedIssuer(req.issuer)) {
    return Fail(Error::InvalidArgument(
        "the issuer '" + req.issuer.substr(0, 256) +
            "' is not on this instance's list of trusted CI issuers (federation_issuers)",
        Reason::kUntrustedIssuer));
  }
  store::TrustPolicyRecord r;
  r.id = NewUuid(random_);
  r.org_id = org.id;
  r.name = req.name;
  r.issuer = req.issuer;
  r.provider = req.provider.empty() ? std::string(oidc::InferProvider(req.issuer)) : req.provider;
  r.audience = req.audience && !req.audience->empty() ? *req.audience : config_.default_audience;
  r.bound_claims = req.bound_claims;
  if (req.project && !req.project->empty()) {
    CL_ASSIGN_OR_RETURN(auto project, FindProject(projects_, org.id, *req.project));
    r.project_id = project.id;
    r.project_name = project.name;
  }
  r.max_token_age_seconds = req.max_token_age_seconds.value_or(oidc::kDefaultMaxTokenAgeSeconds);
  r.permissions = req.permissions ? *req.permissions : DefaultApiTokenPermissions();
  std::sort(r.permissions.begin(), r.permissions.end());
  r.permissions.erase(std::unique(r.permissions.begin(), r.permissions.end()), r.permissions.end());
  if (r.permissions.empty()) {
    return Fail(Error::InvalidArgument("a trust policy needs at least one permission"));
  }
  for (const auto& perm : r.permissions) {
    if (!TokenGrantablePermissions().count(perm)) {
      return Fail(Error::InvalidArgument("the permission '" + perm.substr(0, 64) +
                                         "' cannot be given to a CI job"));
    }
  }
  CL_RETURN_IF_ERROR(oidc::ValidateTrustPolicy(ToOidcPolicy(r)));
  r.created_by_kind = PrincipalKindName(p.kind);
  r.created_by_id = p.id;
  r.created_by_name = p.display_name;
  r.created_at = clock_.Now();
  std::string claims;
  for (const auto& [k, v] : r.bound_claims) claims += (claims.empty() ? "" : ", ") + k + "=" + v;
  auto st = federation_.CreateTrustPolicy(
      r,
      orgs_.NewEvent(p, org.id, AuditAction::kTrustPolicyCreated, AuditTarget::kTrustPolicy, r.id,
                     p.display_name + " created the trust policy " + r.name + " for " + r.issuer +
                         " (" + claims + ")"));
  if (!st) return Fail(st.error());
  return r;
}

Result<store::Page<store::TrustPolicyRecord, store::NameKey>> FederationService::ListPolicies(
    const Principal& p, const std::string& org_name,
    const store::PageRequest<store::NameKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kOrganizationRead, Resource{org.id, std::nullopt}));
  return federation_.ListTrustPolicies(org.id, page);
}

Status FederationService::DeletePolicy(const Principal& p, const std::string& org_name,
                                       const std::string& id) {
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("trust policies are managed by people, not tokens"));
  }
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kTrustPolicyManage, Resource{org.id, std::nullopt}));
  if (!IsUuid(id)) return Fail(Error::NotFound("trust policy not found"));
  CL_ASSIGN_OR_RETURN(auto policies, federation_.ListTrustPolicies(org.id));
  auto it = std::find_if(policies.begin(), policies.end(),
                         [&](const store::TrustPolicyRecord& r) { return r.id == id; });
  if (it == policies.end()) return Fail(Error::NotFound("trust policy not found"));
  CL_ASSIGN_OR_RETURN(
      std::vector<std::string> ended,
      federation_.DeleteTrustPolicy(
          org.id, id,
          orgs_.NewEvent(p, org.id, AuditAction::kTrustPolicyDeleted, AuditTarget::kTrustPolicy, id,
                         p.display_name + " deleted the trust policy " + it->name)));
  // The rows are gone; cached copies (here and on the other instances) must go too.
  if (authenticator_ != nullptr) {
    for (const auto& hash : ended) authenticator_->NotifyRevoked(hash);
  }
  return Ok();
}

Result<FederationService::Verified> FederationService::VerifyForOrg(const std::string& org_name,
                                                                    const std::string& token) {
  // The organization and its policies in one round trip, read afresh for every token: an edited
  // or deleted policy counts from the next verification on.
  store::OrgTrustPolicies found;
  auto read = federation_.GetTrustPoliciesOfOrg(org_name);
  if (read) {
    found = std::move(*read);
  } else if (!read.error().IsNotFound()) {
    return Fail(read.error());
  }
  // An unknown organization verifies against no policies: the answer does not reveal whether
  // the organization exists.
  std::vector<oidc::TrustPolicy> policies;
  policies.reserve(found.policies.size());
  for (const auto& r : found.policies) policies.push_back(ToOidcPolicy(r));
  CL_ASSIGN_OR_RETURN(oidc::CiIdentity identity, verifier_.Verify(token, policies));
  auto rec =
      std::find_if(found.policies.begin(), found.policies.end(),
                   [&](const store::TrustPolicyRecord& r) { return r.id == identity.policy_id; });
  if (rec == found.policies.end()) {
    return Fail(Error::Internal("matched trust policy vanished"));
  }
  Verified v{std::move(found.org_id), std::move(identity), *rec};
  return v;
}

std::vector<std::string> FederationService::JtiKeys(
    const Verified& v, std::initializer_list<std::string_view> jti_prefixes) {
  std::vector<std::string> keys;
  keys.reserve(jti_prefixes.size());
  for (std::string_view prefix : jti_prefixes) keys.push_back(std::string(prefix) + v.identity.jti);
  return keys;
}

UnixMillis FederationService::RememberJtiUntil(const Verified& v) {
  // Remember the jti for an hour past the token's expiry. Every instance would refuse the token
  // 60 s after it (the verifier's leeway), but the row is purged by whichever instance purges
  // next, by its own clock: the hour lets instance clocks disagree by up to that much before
  // one could purge a jti that another still accepts.
  return v.identity.exp * kMillisPerSecond + kMillisPerHour;
}

Error FederationService::ReplayedOr(const Verified& v, const Error& e) {
  if (!e.IsAlreadyExists() || !e.Is(Reason::kReplayedToken)) return e;
  return Error::Unauthenticated("this CI token was already used (jti " +
                                    v.identity.jti.substr(0, 64) + "); request a new ID token",
                                Reason::kReplayedToken);
}

Result<ExchangedToken> FederationService::Exchange(const std::string& org_name,
                                                   const std::string& subject_token,
                                                   const std::string& client_address) {
  CL_ASSIGN_OR_RETURN(Verified v, VerifyForOrg(org_name, subject_token));
  const UnixMillis now = clock_.Now();
  // The exchanged token ends when the CI token stops being accepted (its exp plus the verifier's
  // leeway): an ID token the attestation endpoints accept directly exchanges too, and the
  // exchange never extends it.
  const UnixMillis lifetime = std::min(config_.max_token_lifetime, v.identity.accepted_until - now);
  if (lifetime <= 0) {
    return Fail(Error::Unauthenticated("the CI token has expired", Reason::kTokenExpired));
  }
  ExchangedToken out;
  out.token = crypto::GenerateCredential(crypto::CredentialKind::kFederated, random_);
  store::FederatedToken& t = out.record;
  t.id = NewUuid(random_);
  t.org_id = v.org_id;
  t.project_id = v.policy.project_id;
  t.policy_id = v.policy.id;
  t.token_hash = hasher_.Hash(out.token);
  t.permissions = v.policy.permissions;
  t.issuer = v.identity.issuer;
  t.subject = v.identity.subject;
  t.display_name = CiDisplayName(v.identity, v.policy.provider);
  t.claims = CiKeyClaimsJson(v.identity, v.policy.provider);
  t.created_at = now;
  t.expires_at = now + lifetime;
  out.expires_in_seconds = lifetime / kMillisPerSecond;

  store::AuditEvent e = NewAuditEvent(
      AuditActor::CiJob(v.policy.id, t.display_name, client_address),
      {v.org_id, AuditAction::kFederationTokenExchanged, AuditTarget::kTrustPolicy, v.policy.id,
       "CI token of " + t.issuer + " (sub " + t.subject + ") exchanged under trust policy " +
           v.policy.name},
      now, random_);
  // An exchanged ID token is spent for every use: the exchange, a direct attestation init
  // (the bare jti) and a direct attestation push ("push:" + jti). Its jti keys, the token and
  // the event are written in one transaction, or nothing is.
  auto created = federation_.ExchangeCiToken(v.identity.issuer, JtiKeys(v, {"", "push:"}),
                                             RememberJtiUntil(v), now, t, e);
  if (!created) {
    if (created.error().Is(Reason::kTrustPolicyDeleted)) {
      // Deleted after the policies were read: answer as if it had never matched.
      return Fail(oidc::NoMatchingPolicyError());
    }
    return Fail(ReplayedOr(v, created.error()));
  }
  return out;
}

Result<Principal> FederationService::AuthenticateCiToken(const std::string& org_name,
                                                         const std::string& token,
                                                         const std::string& use,
                                                         const std::string& client_address) {
  // Used directly, one ID token may init a run (the bare jti, shared with the exchange) and push
  // it ("push:" + jti), once each: a GitLab job reads one $GITLAB_OIDC for both steps.
  if (use != "init" && use != "push") {
    return Fail(Error::Internal("unknown attestation step for a CI token"));
  }
  CL_ASSIGN_OR_RETURN(Verified v, VerifyForOrg(org_name, token));
  auto recorded = federation_.RecordCiTokenJti(
      v.identity.issuer, JtiKeys(v, {use == "init" ? std::string_view() : "push:"}),
      RememberJtiUntil(v), clock_.Now());
  if (!recorded) return Fail(ReplayedOr(v, recorded.error()));
  Principal p;
  p.kind = Principal::Kind::kFederated;
  p.id = v.identity.issuer + "|" + v.identity.subject;
  p.display_name = CiDisplayName(v.identity, v.policy.provider);
  p.claims_json = CiKeyClaimsJson(v.identity, v.policy.provider);
  p.org_id = v.org_id;
  p.project_id = v.policy.project_id;
  p.permissions = v.policy.permissions;
  p.client_address = client_address;

  // A raw ID token leaves no exchanged-token record behind, so its use is audited here: who
  // (issuer, subject), under which policy, for which attestation step. Only one event per
  // token and step can exist: the jti was consumed above.
  CL_RETURN_IF_ERROR(audit_.AppendAuditEvent(NewAuditEvent(
      AuditActor::CiJob(v.policy.id, p.display_name, client_address),
      {v.org_id, AuditAction::kFederationCiTokenUsed, AuditTarget::kTrustPolicy, v.policy.id,
       "CI token of " + v.identity.issuer + " (sub " + v.identity.subject +
           ") used directly for attestation " + (use == "init" ? "init" : "push") +
           " under trust policy " + v.policy.name},
      clock_.Now(), random_)));
  return p;
}

}  // namespace cl::domain
