// FederationService: keyless authentication of CI jobs (DESIGN.md, "Keyless OIDC for CI").
//
// Organizations' owners and admins manage trust policies (issuer, audience, bound claims,
// optional project, permissions). A CI job presents its ID token (GitLab `id_tokens`, GitHub
// Actions) and either exchanges it for a short-lived `clfed_` token (RFC 8693 shaped) or uses it
// directly on the attestation endpoints. Verification is oidc::CiTokenVerifier; this class adds
// the organization's policies, single use of each CI token's `jti`, the issued token and audit.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "crypto/hash.h"
#include "crypto/jose.h"
#include "domain/authorization.h"
#include "domain/organizations.h"
#include "domain/principal.h"
#include "oidc/ci_verifier.h"
#include "store/store.h"

namespace cl::domain {

struct FederationConfig {
  // Audience of a policy created without one: the control plane's external URL.
  std::string default_audience;
  // Upper bound of an exchanged token's lifetime. Within it, an exchanged token lives exactly
  // as long as the CI token it came from would itself be accepted (its `exp`, and its `iat`
  // plus the policy's max_token_age), so that one exchange serves a whole CI job.
  UnixMillis max_token_lifetime = oidc::kMaxMaxTokenAgeSeconds * kMillisPerSecond;
};

struct CreateTrustPolicyRequest {
  std::string name;
  std::string issuer;
  std::string provider;                 // empty: inferred from the issuer
  std::optional<std::string> audience;  // empty: FederationConfig::default_audience
  std::vector<std::pair<std::string, std::string>> bound_claims;
  std::optional<std::string> project;                   // project name; empty: organization-scoped
  std::optional<std::vector<std::string>> permissions;  // empty: DefaultApiTokenPermissions()
  // Oldest CI token (seconds since its `iat`) the policy admits; empty:
  // oidc::kDefaultMaxTokenAgeSeconds. Within oidc::kMinMaxTokenAgeSeconds..kMaxMaxTokenAgeSeconds.
  std::optional<int64_t> max_token_age_seconds;
};

struct ExchangedToken {
  std::string token;  // `clfed_...`, shown once
  store::FederatedToken record;
  int64_t expires_in_seconds = 0;
};

class Authenticator;

class FederationService {
 public:
  // The stores it reads and writes.
  struct Stores {
    store::FederationStore& federation;
    // Not read since the exchange reads the organization with its policies
    // (FederationStore::GetTrustPoliciesOfOrg); kept so that the wiring does not change.
    store::OrganizationStore& orgs;
    store::ProjectStore& projects;
    store::AuditStore& audit;
  };

  // REQUIRES: every reference (and `authenticator`, when set) outlives the service.
  // `authenticator` is told of the federated tokens a policy deletion ends (NotifyRevoked), so
  // they are refused at once on this instance and on the others; without it (tests of other
  // rules) they are deleted all the same but a cached one may still pass within the
  // authenticator's revalidation bound.
  FederationService(Stores stores, Authorizer& authz, OrganizationService& orgs,
                    oidc::CiTokenVerifier& verifier, const crypto::CredentialHasher& hasher,
                    const Clock& clock, Random& random, FederationConfig config,
                    Authenticator* authenticator = nullptr)
      : federation_(stores.federation),
        projects_(stores.projects),
        audit_(stores.audit),
        authz_(authz),
        orgs_(orgs),
        verifier_(verifier),
        hasher_(hasher),
        clock_(clock),
        random_(random),
        config_(std::move(config)),
        authenticator_(authenticator) {}

  // People only, with trust_policy:manage (owners, admins). The issuer must be on the instance
  // allow-list (else InvalidArgument "untrusted_issuer"); the policy must pass
  // oidc::ValidateTrustPolicy; permissions must be token-grantable. Audited.
  Result<store::TrustPolicyRecord> CreatePolicy(const Principal& p, const std::string& org,
                                                const CreateTrustPolicyRequest& req);
  // The CI issuers a policy may name on this instance (the operator's allow-list).
  const std::vector<std::string>& AllowedIssuers() const { return verifier_.allowed_issuers(); }
  // Anyone who can read the organization.
  Result<store::Page<store::TrustPolicyRecord, store::NameKey>> ListPolicies(
      const Principal& p, const std::string& org, const store::PageRequest<store::NameKey>& page);
  // People only, with trust_policy:manage. Audited. NotFound for an unknown id. Ends every
  // `clfed_` token issued under the policy, in the same transaction as the delete.
  Status DeletePolicy(const Principal& p, const std::string& org, const std::string& id);

  // Verifies `subject_token` against the policies of organization `org`, consumes its `jti`
  // and issues a `clfed_` token with the matched policy's organization, project and
  // permissions, valid until the CI token stops being accepted (CiIdentity::accepted_until),
  // at most max_token_lifetime. Audited. Errors: those of
  // CiTokenVerifier::Verify, plus Unauthenticated "replayed_token" for a `jti` seen before. An
  // unknown organization behaves as one without policies (no_matching_trust_policy), and so
  // does a policy deleted while the exchange was in flight. The jti, the token and the audit
  // event are written in one transaction (FederationStore::ExchangeCiToken): on any error,
  // nothing is, and the `jti` stays unspent.
  // `client_address` (the CI job's) goes into the audit event.
  Result<ExchangedToken> Exchange(const std::string& org, const std::string& subject_token,
                                  const std::string& client_address = "");

  // A raw CI ID token used directly as a Bearer credential on the attestation endpoints: the
  // same verification and policy scope, no stored token. `use` is "init" or "push": each CI
  // token opens at most one workflow run ("init" consumes the same `jti` an exchange would)
  // and pushes at most one attestation, so the CLI's init + push with one token works while a
  // captured token cannot be replayed on either endpoint.
  // The Principal carries `client_address`, and so does the audit event of the use.
  Result<Principal> AuthenticateCiToken(const std::string& org, const std::string& token,
                                        const std::string& use,
                                        const std::string& client_address = "");

 private:
  struct Verified {
    std::string org_id;
    oidc::CiIdentity identity;
    store::TrustPolicyRecord policy;
  };
  // Verifies against the organization's policies, read in one query. Writes nothing: the
  // caller records the jti (the replay check) with what it writes.
  Result<Verified> VerifyForOrg(const std::string& org_name, const std::string& token);
  // prefix + jti for each of `jti_prefixes`: the single-use keys one use of the token spends.
  static std::vector<std::string> JtiKeys(const Verified& v,
                                          std::initializer_list<std::string_view> jti_prefixes);
  // Until when the store remembers those keys.
  static UnixMillis RememberJtiUntil(const Verified& v);
  // The store's AlreadyExists "replayed_token" as the caller's 401 "replayed_token"; any other
  // error unchanged.
  static Error ReplayedOr(const Verified& v, const Error& e);

  store::FederationStore& federation_;
  store::ProjectStore& projects_;
  store::AuditStore& audit_;
  Authorizer& authz_;
  OrganizationService& orgs_;
  oidc::CiTokenVerifier& verifier_;
  const crypto::CredentialHasher& hasher_;
  const Clock& clock_;
  Random& random_;
  const FederationConfig config_;
  Authenticator* const authenticator_;  // nullable
};

// Shape test telling a raw CI ID token from our opaque credentials.
using crypto::LooksLikeJwt;

// "gitlab: group/project@main", "github: org/repo@refs/heads/main", or "<iss> <sub>".
std::string CiDisplayName(const oidc::CiIdentity& identity, std::string_view provider);

}  // namespace cl::domain
