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

// ToTrustPolicy's columns, in its order, from trust_policies t LEFT JOIN projects p.
#define CL_TRUST_POLICY_COLUMNS                                                              \
  "t.id, t.org_id, t.name, t.issuer, t.provider, t.audience, t.bound_claims, t.project_id, " \
  "t.permissions, t.created_by_kind, t.created_by_id, t.created_by_name, t.created_at, "     \
  "p.name, t.max_token_age_seconds"
constexpr const char* kTrustPolicySelect = "SELECT " CL_TRUST_POLICY_COLUMNS
                                           " FROM trust_policies t "
                                           "LEFT JOIN projects p ON p.id = t.project_id ";
// The organization's id last (column 15), so ToTrustPolicy reads the policy columns as usual; an
// organization without policies gives one row whose policy columns are NULL.
constexpr const char* kOrgTrustPoliciesSelect =
    "SELECT " CL_TRUST_POLICY_COLUMNS
    ", o.id FROM organizations o LEFT JOIN trust_policies t ON t.org_id = o.id "
    "LEFT JOIN projects p ON p.id = t.project_id ";
#undef CL_TRUST_POLICY_COLUMNS
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

// Records (issuer, jti) for each of `jtis` with one multi-row INSERT: any one recorded before
// fails the whole statement (AlreadyExists "replayed_token"). On PostgreSQL an insert of a key
// another transaction inserted but has not committed waits for that transaction's outcome.
Status InsertCiTokenJtis(SqlConnection& c, const std::string& issuer,
                         const std::vector<std::string>& jtis, UnixMillis expires_at) {
  if (jtis.empty()) return Ok();
  std::string sql = "INSERT INTO ci_token_jtis (issuer, jti, expires_at) VALUES ";
  std::vector<SqlParam> params = {issuer, expires_at};
  for (size_t i = 0; i < jtis.size(); ++i) {
    params.emplace_back(jtis[i]);
    sql += (i ? ", ($1, $" : "($1, $") + std::to_string(params.size()) + ", $2)";
  }
  auto r = c.Query(sql, params);
  if (!r) {
    if (r.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("this CI token was already used", Reason::kReplayedToken));
    }
    return Fail(r.error());
  }
  return Ok();
}

// Inserts the token only while its policy exists in its organization, in one statement: the
// INSERT reads the policy row (with `lock`, the dialect's shared row lock; see
// DeleteTrustPolicy) and inserts nothing when it is gone.
Status InsertFederatedToken(SqlConnection& c, const FederatedToken& token,
                            const std::string& permissions, const char* lock) {
  auto r =
      c.Query(std::string("INSERT INTO federated_tokens (") + kFederatedTokenCols +
                  ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, CAST($10 AS BIGINT), "
                  "CAST($11 AS BIGINT), $12, CAST($13 AS BIGINT) FROM trust_policies "
                  "WHERE id = $4 AND org_id = $2" +
                  lock,
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
  if (r->affected == 0) {
    return Fail(Error::FailedPrecondition("the trust policy of the federated token was deleted",
                                          Reason::kTrustPolicyDeleted));
  }
  return Ok();
}

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

Result<OrgTrustPolicies> SqlDatabase::GetTrustPoliciesOfOrg(const std::string& org_name) {
  return RunReturning([&](SqlConnection& c) -> Result<OrgTrustPolicies> {
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(std::string(kOrgTrustPoliciesSelect) +
                                                 "WHERE o.name = $1 ORDER BY t.name, t.id",
                                             {org_name}));
    if (r.rows.empty()) return Fail(Error::NotFound("organization not found"));
    OrgTrustPolicies out;
    out.org_id = r.rows[0].Str(15);
    for (const SqlRow& row : r.rows) {
      if (!row.IsNull(0)) out.policies.push_back(ToTrustPolicy(row));
    }
    return out;
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

Status SqlDatabase::RevokeFederatedToken(const std::string& org_id, const std::string& id,
                                         UnixMillis now, const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("UPDATE federated_tokens SET revoked_at = $3 "
                                             "WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
                                             {org_id, id, now}));
    if (r.affected == 0) {
      CL_ASSIGN_OR_RETURN(
          SqlResult exists,
          c.Query("SELECT 1 FROM federated_tokens WHERE org_id = $1 AND id = $2", {org_id, id}));
      if (exists.rows.empty()) return Fail(Error::NotFound("federated token not found"));
      return Fail(Error::FailedPrecondition("the federated token is already revoked"));
    }
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::RecordCiTokenJti(const std::string& issuer,
                                     const std::vector<std::string>& jtis, UnixMillis expires_at,
                                     UnixMillis now) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(c.Query("DELETE FROM ci_token_jtis WHERE expires_at < $1", {now}));
    return InsertCiTokenJtis(c, issuer, jtis, expires_at);
  });
}

Status SqlDatabase::CreateFederatedToken(const FederatedToken& token, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(token.permissions));
  // See DeleteTrustPolicy: the shared lock makes a concurrent delete wait for this insert (and
  // then delete the new token) or commit first (and the policy is gone here).
  const char* lock = SharedRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(InsertFederatedToken(c, token, permissions, lock));
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::ExchangeCiToken(const std::string& issuer, const std::vector<std::string>& jtis,
                                    UnixMillis remember_until, UnixMillis now,
                                    const FederatedToken& token, const AuditEvent& event) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(token.permissions));
  // The purge runs outside the exchange's transaction: inside it, concurrent exchanges would
  // queue on the row locks of the same expired rows, and a refused exchange would roll it back.
  UnixMillis due = next_jti_purge_.load(std::memory_order_relaxed);
  if (now >= due && next_jti_purge_.compare_exchange_strong(
                        due, now + kCiTokenJtiPurgeIntervalMillis, std::memory_order_relaxed)) {
    Status purged = Run([&](SqlConnection& c) -> Status {
      CL_RETURN_IF_ERROR(c.Query("DELETE FROM ci_token_jtis WHERE expires_at < $1", {now}));
      return Ok();
    });
    // Housekeeping only: a failed purge does not fail the exchange; the next one tries again.
    if (!purged) next_jti_purge_.store(due, std::memory_order_relaxed);
  }
  const char* lock = SharedRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    // The jti keys first: a replay waits here for the first use's outcome, before any lock on
    // the policy row (the order DeleteTrustPolicy's comment relies on).
    CL_RETURN_IF_ERROR(InsertCiTokenJtis(c, issuer, jtis, remember_until));
    CL_RETURN_IF_ERROR(InsertFederatedToken(c, token, permissions, lock));
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
