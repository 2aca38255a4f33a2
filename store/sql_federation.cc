// SqlDatabase's FederationStore (keyless CI): trust policies, the single-use record of CI token
// ids, and the federated tokens exchanged for CI tokens.
#include <boost/json/object.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

std::string EncodeBoundClaims(const std::vector<std::pair<std::string, std::string>>& claims) {
  boost::json::object o;
  for (const auto& [k, v] : claims) o[k] = v;
  return SerializeJson(o);
}

std::vector<std::pair<std::string, std::string>> DecodeBoundClaims(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  auto v = ParseJson(text);
  if (!v || !v->is_object()) return out;
  for (const auto& kv : v->as_object()) {
    if (kv.value().is_string()) {
      out.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
    }
  }
  return out;
}

constexpr const char* kTrustPolicySelect =
    "SELECT t.id, t.org_id, t.name, t.issuer, t.provider, t.audience, t.bound_claims, "
    "t.project_id, t.permissions, t.created_by_kind, t.created_by_id, t.created_by_name, "
    "t.created_at, p.name, t.max_token_age_seconds FROM trust_policies t "
    "LEFT JOIN projects p ON p.id = t.project_id ";
TrustPolicyRecord ToTrustPolicy(const SqlRow& r) {
  TrustPolicyRecord t;
  t.id = r.Str(0);
  t.org_id = r.Str(1);
  t.name = r.Str(2);
  t.issuer = r.Str(3);
  t.provider = r.Str(4);
  t.audience = r.Str(5);
  t.bound_claims = DecodeBoundClaims(r.Str(6));
  if (!r.IsNull(7)) t.project_id = r.Str(7);
  t.permissions = DecodePermissions(r.Str(8));
  t.created_by_kind = r.Str(9);
  t.created_by_id = r.Str(10);
  t.created_by_name = r.Str(11);
  t.created_at = r.Int(12);
  t.project_name = r.Str(13);
  t.max_token_age_seconds = r.Int(14);
  return t;
}

constexpr const char* kFederatedTokenCols =
    "id, org_id, project_id, policy_id, token_hash, permissions, issuer, subject, display_name, "
    "created_at, expires_at, claims, revoked_at";
FederatedToken ToFederatedToken(const SqlRow& r) {
  FederatedToken t;
  t.id = r.Str(0);
  t.org_id = r.Str(1);
  if (!r.IsNull(2)) t.project_id = r.Str(2);
  t.policy_id = r.Str(3);
  t.token_hash = r.Str(4);
  t.permissions = DecodePermissions(r.Str(5));
  t.issuer = r.Str(6);
  t.subject = r.Str(7);
  t.display_name = r.Str(8);
  t.created_at = r.Int(9);
  t.expires_at = r.Int(10);
  t.claims = r.Str(11);
  if (!r.IsNull(12)) t.revoked_at = r.Int(12);
  return t;
}

const ListOrder kPoliciesByName{{"t.name", "t.id"}};

}  // namespace

Status SqlDatabase::CreateTrustPolicy(const TrustPolicyRecord& policy, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(policy.permissions));
  const std::string claims = EncodeBoundClaims(policy.bound_claims);
  return RunInTransaction([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO trust_policies (id, org_id, name, issuer, provider, audience, bound_claims, "
        "project_id, permissions, created_by_kind, created_by_id, created_by_name, created_at, "
        "max_token_age_seconds) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        {policy.id, policy.org_id, policy.name, policy.issuer, policy.provider, policy.audience,
         claims, policy.project_id ? SqlParam(*policy.project_id) : SqlParam(), permissions,
         policy.created_by_kind, policy.created_by_id, policy.created_by_name, policy.created_at,
         policy.max_token_age_seconds});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("a trust policy named \"" + policy.name +
                                         "\" already exists in this organization"));
      }
      if (r.error().IsNotFound()) {
        return Fail(Error::NotFound("organization or project of the trust policy not found"));
      }
      return Fail(r.error());
    }
    return InsertAudit(c, event);
  });
}

Result<std::vector<TrustPolicyRecord>> SqlDatabase::ListTrustPolicies(const std::string& org_id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOrdered<TrustPolicyRecord>(c,
                                           std::string(kTrustPolicySelect) + "WHERE t.org_id = $1",
                                           {org_id}, kPoliciesByName, ToTrustPolicy);
  });
}

Result<Page<TrustPolicyRecord, NameKey>> SqlDatabase::ListTrustPolicies(
    const std::string& org_id, const PageRequest<NameKey>& page) {
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<TrustPolicyRecord>(c, std::string(kTrustPolicySelect) + "WHERE t.org_id = $1",
                                        {org_id}, kPoliciesByName, page, ToTrustPolicy,
                                        [](const TrustPolicyRecord& t) {
                                          return NameKey{t.name, t.id};
                                        });
  });
}

Result<std::vector<TrustPolicyRecord>> SqlDatabase::ListTrustPoliciesByIssuer(
    const std::string& issuer) {
  return RunReturning([&](SqlConnection& c) {
    return QueryAll<TrustPolicyRecord>(
        c, std::string(kTrustPolicySelect) + "WHERE t.issuer = $1 ORDER BY t.org_id, t.name, t.id",
        {issuer}, ToTrustPolicy);
  });
}

Result<std::vector<std::string>> SqlDatabase::DeleteTrustPolicy(const std::string& org_id,
                                                                const std::string& id,
                                                                const AuditEvent& event) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<std::vector<std::string>> {
    // The policy first: on PostgreSQL its row lock orders this delete against every
    // CreateFederatedToken holding FOR SHARE on it, and the token DELETE below (a new statement,
    // a new snapshot under READ COMMITTED) sees the tokens such a creation committed.
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("DELETE FROM trust_policies WHERE org_id = $1 AND id = $2", {org_id, id}));
    if (r.affected == 0) return Fail(Error::NotFound("trust policy not found"));
    CL_ASSIGN_OR_RETURN(SqlResult tokens,
                        c.Query("UPDATE federated_tokens SET revoked_at = $3 "
                                "WHERE org_id = $1 AND policy_id = $2 AND revoked_at IS NULL "
                                "RETURNING token_hash",
                                {org_id, id, event.created_at}));
    std::vector<std::string> hashes;
    hashes.reserve(tokens.rows.size());
    for (const auto& row : tokens.rows) hashes.push_back(row.Str(0));
    CL_RETURN_IF_ERROR(InsertAudit(c, event));
    return hashes;
  });
}

Status SqlDatabase::RecordCiTokenJti(const std::string& issuer,
                                     const std::vector<std::string>& jtis, UnixMillis expires_at,
                                     UnixMillis now) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(c.Query("DELETE FROM ci_token_jtis WHERE expires_at < $1", {now}));
    for (const std::string& jti : jtis) {
      auto r = c.Query("INSERT INTO ci_token_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)",
                       {issuer, jti, expires_at});
      if (!r) {
        if (r.error().IsAlreadyExists()) {
          return Fail(
              Error::AlreadyExists("this CI token was already used", Reason::kReplayedToken));
        }
        return Fail(r.error());
      }
    }
    return Ok();
  });
}

Status SqlDatabase::CreateFederatedToken(const FederatedToken& token, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(token.permissions));
  // See DeleteTrustPolicy: the shared lock makes a concurrent delete wait for this insert (and
  // then delete the new token) or commit first (and the policy is gone here).
  const char* lock = SharedRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult policy,
        c.Query(std::string("SELECT 1 FROM trust_policies WHERE id = $1 AND org_id = $2") + lock,
                {token.policy_id, token.org_id}));
    if (policy.rows.empty()) {
      return Fail(Error::FailedPrecondition("the trust policy of the federated token was deleted",
                                            Reason::kTrustPolicyDeleted));
    }
    auto r = c.Query(
        std::string("INSERT INTO federated_tokens (") + kFederatedTokenCols +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        {token.id, token.org_id, token.project_id ? SqlParam(*token.project_id) : SqlParam(),
         token.policy_id, token.token_hash, permissions, token.issuer, token.subject,
         token.display_name, token.created_at, token.expires_at,
         token.claims.empty() ? std::string("{}") : token.claims, token.revoked_at});
    if (!r) {
      if (r.error().IsAlreadyExists()) {
        return Fail(Error::AlreadyExists("federated token already exists"));
      }
      if (r.error().IsNotFound()) {
        return Fail(Error::NotFound("organization or project of the federated token not found"));
      }
      return Fail(r.error());
    }
    return InsertAudit(c, event);
  });
}

Result<FederatedToken> SqlDatabase::GetFederatedTokenByHash(const std::string& token_hash) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<FederatedToken>(c,
                                    std::string("SELECT ") + kFederatedTokenCols +
                                        " FROM federated_tokens WHERE token_hash = $1",
                                    {token_hash}, "federated token", ToFederatedToken);
  });
}

}  // namespace cl::store
