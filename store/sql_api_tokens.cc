// SqlDatabase's ApiTokenStore: creating, finding, listing and revoking API tokens, and
// recording their use.
#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

constexpr const char* kApiTokenSelect =
    "SELECT t.id, t.org_id, t.project_id, t.name, t.description, t.token_hash, t.permissions, "
    "t.created_by_kind, t.created_by_id, t.created_by_name, t.created_at, t.expires_at, "
    "t.last_used_at, t.revoked_at, t.revocation_reason, t.revoked_by_name, p.name, t.pepper_id, "
    "t.rotated_to, t.rotation_deadline, t.last_used_address, t.last_used_user_agent "
    "FROM api_tokens t LEFT JOIN projects p ON p.id = t.project_id ";
Result<ApiToken> ToApiToken(const SqlRow& r) {
  ApiToken t;
  t.id = r.Str(0);
  t.org_id = r.Str(1);
  if (!r.IsNull(2)) t.project_id = r.Str(2);
  t.name = r.Str(3);
  t.description = r.Str(4);
  t.token_hash = r.Str(5);
  t.permissions = DecodePermissions(r.Str(6));
  t.created_by_kind = r.Str(7);
  t.created_by_id = r.Str(8);
  t.created_by_name = r.Str(9);
  t.created_at = r.Int(10);
  t.expires_at = r.OptInt(11);
  t.last_used_at = r.OptInt(12);
  t.revoked_at = r.OptInt(13);
  // '' while active (the column's default).
  if (const std::string& reason = r.Str(14); !reason.empty()) {
    CL_ASSIGN_OR_RETURN(t.revocation_reason, DecodeRevocationReason(reason));
  }
  t.revoked_by_name = r.Str(15);
  t.project_name = r.Str(16);
  t.pepper_id = r.Str(17);
  if (!r.IsNull(18)) t.rotated_to = r.Str(18);
  t.rotation_deadline = r.OptInt(19);
  t.last_used_address = r.Str(20);
  t.last_used_user_agent = r.Str(21);
  return t;
}

// The principal kind names of domain::Principal::Kind::kApiToken and kFederated (the store
// does not see the enum).
constexpr std::string_view kByApiToken = "api_token";
constexpr std::string_view kByFederated = "federated";

// CreateApiToken's check that the credential creating `token` is still usable at its
// created_at, inside the caller's transaction. PostgreSQL: the shared row lock conflicts with
// RevokeApiToken's UPDATE (and with DeleteTrustPolicy's DELETE), so a revocation either commits
// first (and is seen here) or waits for this creation. SQLite's BEGIN IMMEDIATE already
// serialises writers.
Status CheckCreatorUsable(SqlConnection& c, const ApiToken& token, const char* lock) {
  if (token.created_by_kind == kByFederated) {
    // A federated principal's id is its trust policy's; deleting the policy ends its tokens
    // in one transaction (DeleteTrustPolicy), so the policy's row stands for them here.
    CL_ASSIGN_OR_RETURN(
        SqlResult policy,
        c.Query(std::string("SELECT 1 FROM trust_policies WHERE id = $1 AND org_id = $2") + lock,
                {token.created_by_id, token.org_id}));
    if (policy.rows.empty()) {
      return Fail(Error::Unauthenticated(
          "the trust policy of this federated token was deleted, which revoked the token",
          Reason::kTokenRevoked));
    }
  }
  if (token.created_by_kind == kByApiToken) {
    CL_ASSIGN_OR_RETURN(SqlResult creator,
                        c.Query(std::string("SELECT revoked_at, expires_at, rotation_deadline "
                                            "FROM api_tokens WHERE id = $1 AND org_id = $2") +
                                    lock,
                                {token.created_by_id, token.org_id}));
    if (creator.rows.empty()) {
      return Fail(Error::Unauthenticated("the API token making this request no longer exists",
                                         Reason::kInvalidToken));
    }
    const SqlRow& row = creator.rows.front();
    auto deadline = row.OptInt(2);
    if (!row.IsNull(0) || (deadline && token.created_at >= *deadline)) {
      return Fail(Error::Unauthenticated("this API token was revoked", Reason::kTokenRevoked));
    }
    if (auto expires_at = row.OptInt(1); expires_at && token.created_at >= *expires_at) {
      return Fail(Error::Unauthenticated("this API token has expired", Reason::kTokenExpired));
    }
  }
  return Ok();
}

// Inserts `token` (never rotated, never used) inside the caller's transaction.
Status InsertApiToken(SqlConnection& c, const ApiToken& token) {
  CL_ASSIGN_OR_RETURN(std::string permissions, EncodePermissions(token.permissions));
  auto r = c.Query(
      "INSERT INTO api_tokens (id, org_id, project_id, name, description, token_hash, "
      "permissions, created_by_kind, created_by_id, created_by_name, created_at, expires_at, "
      "last_used_at, revoked_at, revocation_reason, revoked_by_name, pepper_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
      {token.id, token.org_id, token.project_id ? SqlParam(*token.project_id) : SqlParam(),
       token.name, token.description, token.token_hash, permissions, token.created_by_kind,
       token.created_by_id, token.created_by_name, token.created_at, token.expires_at,
       token.last_used_at, token.revoked_at,
       std::string(token.revocation_reason ? RevocationReasonName(*token.revocation_reason) : ""),
       token.revoked_by_name, OptText(token.pepper_id)});
  if (!r) {
    if (r.error().IsAlreadyExists()) {
      // Both engines name the violated index in the message (never the values).
      if (r.error().message().find("api_tokens_active_name") != std::string::npos) {
        return Fail(Error::AlreadyExists("an active API token named \"" + token.name +
                                         "\" already exists in this scope"));
      }
      return Fail(Error::AlreadyExists("API token already exists"));
    }
    if (r.error().IsNotFound()) {
      return Fail(Error::NotFound("organization or project of the API token not found"));
    }
    return Fail(r.error());
  }
  return Ok();
}

}  // namespace

Status SqlDatabase::CreateApiToken(const ApiToken& token, const AuditEvent& event) {
  const char* lock = SharedRowLockClause();
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(CheckCreatorUsable(c, token, lock));
    CL_RETURN_IF_ERROR(InsertApiToken(c, token));
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::RotateApiToken(const std::string& old_id, const ApiToken& replacement,
                                   UnixMillis deadline, const AuditEvent& event) {
  const UnixMillis now = replacement.created_at;
  return RunInTransaction([&](SqlConnection& c) -> Status {
    // The exclusive lock orders concurrent rotations (and revocations) of one token: the second
    // sees the first's rotated_to and is refused.
    CL_ASSIGN_OR_RETURN(
        SqlResult old,
        c.Query(std::string("SELECT revoked_at, expires_at, rotated_to FROM api_tokens "
                            "WHERE org_id = $1 AND id = $2") +
                    ExclusiveRowLockClause(),
                {replacement.org_id, old_id}));
    if (old.rows.empty()) return Fail(Error::NotFound("API token not found"));
    const SqlRow& row = old.rows.front();
    if (!row.IsNull(0)) {
      return Fail(Error::FailedPrecondition("the API token is revoked", Reason::kAlreadyRevoked));
    }
    if (auto expires_at = row.OptInt(1); expires_at && now >= *expires_at) {
      return Fail(Error::FailedPrecondition("the API token has expired", Reason::kTokenExpired));
    }
    if (!row.IsNull(2)) {
      return Fail(Error::FailedPrecondition("the API token was already rotated"));
    }
    CL_RETURN_IF_ERROR(CheckCreatorUsable(c, replacement, SharedRowLockClause()));
    // Before the insert: a rotated token leaves the active-name index, so the replacement may
    // take its name.
    if (deadline <= now) {
      CL_RETURN_IF_ERROR(
          c.Query("UPDATE api_tokens SET rotated_to = $3, rotation_deadline = $4, revoked_at = $4, "
                  "revocation_reason = $5, revoked_by_name = $6 WHERE org_id = $1 AND id = $2",
                  {replacement.org_id, old_id, replacement.id, now,
                   std::string(RevocationReasonName(RevocationReason::kRotated)),
                   replacement.created_by_name}));
    } else {
      CL_RETURN_IF_ERROR(
          c.Query("UPDATE api_tokens SET rotated_to = $3, rotation_deadline = $4 "
                  "WHERE org_id = $1 AND id = $2",
                  {replacement.org_id, old_id, replacement.id, deadline}));
    }
    CL_RETURN_IF_ERROR(InsertApiToken(c, replacement));
    return InsertAudit(c, event);
  });
}

Result<ApiToken> SqlDatabase::GetApiTokenByHash(const std::string& token_hash) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<ApiToken>(c, std::string(kApiTokenSelect) + "WHERE t.token_hash = $1",
                              {token_hash}, "API token", ToApiToken);
  });
}

Result<std::vector<ApiToken>> SqlDatabase::GetApiTokensByHashes(
    const std::vector<std::string>& hashes) {
  if (hashes.empty()) return std::vector<ApiToken>{};
  if (hashes.size() > kMaxHashesPerRead) {
    return Fail(Error::InvalidArgument("too many hashes in one read"));
  }
  // One statement shape whatever the count (statement caches stay small): always
  // kMaxHashesPerRead parameters, the last hash repeated to fill them.
  static const std::string sql = [] {
    std::string s = std::string(kApiTokenSelect) + "WHERE t.token_hash IN (";
    for (size_t i = 1; i <= kMaxHashesPerRead; ++i) {
      if (i > 1) s += ", ";
      s += "$" + std::to_string(i);
    }
    return s + ")";
  }();
  std::vector<SqlParam> params;
  params.reserve(kMaxHashesPerRead);
  for (size_t i = 0; i < kMaxHashesPerRead; ++i) {
    params.emplace_back(hashes[std::min(i, hashes.size() - 1)]);
  }
  return RunReturning(
      [&](SqlConnection& c) { return QueryAll<ApiToken>(c, sql, params, ToApiToken); });
}

Result<ApiToken> SqlDatabase::GetApiToken(const std::string& org_id, const std::string& id) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<ApiToken>(c, std::string(kApiTokenSelect) + "WHERE t.org_id = $1 AND t.id = $2",
                              {org_id, id}, "API token", ToApiToken);
  });
}

namespace {

const ListOrder kTokensNewestFirst{{"t.created_at", "t.id"}, /*descending=*/true};

// The SELECT of ListApiTokens, WHERE clause open, and its parameters.
std::pair<std::string, std::vector<SqlParam>> ApiTokenListQuery(const ApiTokenFilter& filter) {
  // A handful of fixed shapes, so SQLite's statement cache stays small.
  std::string sql = std::string(kApiTokenSelect) + "WHERE t.org_id = $1";
  std::vector<SqlParam> params = {filter.org_id};
  if (filter.project_id) {
    params.emplace_back(*filter.project_id);
    sql += " AND t.project_id = $2";
  }
  // Expiry is decided at the caller's clock reading, never the database's.
  auto now_param = [&] {
    params.emplace_back(filter.now);
    return "$" + std::to_string(params.size());
  };
  switch (filter.status) {
    case ApiTokenFilter::Status::kActive: {
      const std::string now = now_param();
      sql += " AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > " + now +
             ") AND (t.rotation_deadline IS NULL OR t.rotation_deadline > " + now + ")";
      break;
    }
    case ApiTokenFilter::Status::kExpired: {
      const std::string now = now_param();
      sql += " AND t.revoked_at IS NULL AND t.expires_at <= " + now +
             " AND (t.rotation_deadline IS NULL OR t.rotation_deadline > " + now + ")";
      break;
    }
    case ApiTokenFilter::Status::kRevoked:
      sql += " AND (t.revoked_at IS NOT NULL OR t.rotation_deadline <= " + now_param() + ")";
      break;
    case ApiTokenFilter::Status::kAll:
      break;
  }
  switch (filter.scope) {
    case ApiTokenFilter::Scope::kGlobal:
      sql += " AND t.project_id IS NULL";
      break;
    case ApiTokenFilter::Scope::kProject:
      sql += " AND t.project_id IS NOT NULL";
      break;
    case ApiTokenFilter::Scope::kAny:
      break;
  }
  return {std::move(sql), std::move(params)};
}

}  // namespace

Result<std::vector<ApiToken>> SqlDatabase::ListApiTokens(const ApiTokenFilter& filter) {
  // Not a structured binding: C++20 lambdas cannot capture those (clang refuses).
  const auto query = ApiTokenListQuery(filter);
  const auto& sql = query.first;
  const auto& params = query.second;
  return RunReturning([&](SqlConnection& c) {
    return QueryOrdered<ApiToken>(c, sql, params, kTokensNewestFirst, ToApiToken);
  });
}

Result<Page<ApiToken, TimeKey>> SqlDatabase::ListApiTokens(const ApiTokenFilter& filter,
                                                           const PageRequest<TimeKey>& page) {
  // Not a structured binding: C++20 lambdas cannot capture those (clang refuses).
  const auto query = ApiTokenListQuery(filter);
  const auto& sql = query.first;
  const auto& params = query.second;
  return RunReturning([&](SqlConnection& c) {
    return QueryPage<ApiToken>(c, sql, params, kTokensNewestFirst, page, ToApiToken,
                               [](const ApiToken& t) {
                                 return TimeKey{t.created_at, t.id};
                               });
  });
}

Status SqlDatabase::RevokeApiToken(const std::string& org_id, const std::string& id, UnixMillis now,
                                   RevocationReason reason, const std::string& revoked_by_name,
                                   const AuditEvent& event) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE api_tokens SET revoked_at = $3, revocation_reason = $4, "
                "revoked_by_name = $5 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
                {org_id, id, now, std::string(RevocationReasonName(reason)), revoked_by_name}));
    if (r.affected == 0) {
      CL_ASSIGN_OR_RETURN(
          SqlResult exists,
          c.Query("SELECT 1 FROM api_tokens WHERE org_id = $1 AND id = $2", {org_id, id}));
      if (exists.rows.empty()) return Fail(Error::NotFound("API token not found"));
      return Fail(
          Error::FailedPrecondition("API token is already revoked", Reason::kAlreadyRevoked));
    }
    return InsertAudit(c, event);
  });
}

Status SqlDatabase::RecordApiTokenUsage(const std::vector<ApiTokenUse>& usage) {
  if (usage.empty()) return Ok();
  // Keep one (latest) use per token, so a batch never writes the same row twice.
  std::unordered_map<std::string_view, const ApiTokenUse*> latest;
  latest.reserve(usage.size());
  for (const ApiTokenUse& use : usage) {
    auto [it, inserted] = latest.emplace(use.id, &use);
    if (!inserted && it->second->at < use.at) it->second = &use;
  }
  return RunInTransaction([&](SqlConnection& c) -> Status {
    for (const auto& [id, use] : latest) {
      // CASE rather than GREATEST/MAX(a, b): the two engines spell "larger of two" differently.
      // Every right-hand side sees the row as it was, so the details follow the newest time.
      // Uses up to a token's revocation are kept (a flush may come after it); a later time can
      // only come from a request that overlapped the revocation, and never shows as a use.
      CL_RETURN_IF_ERROR(c.Query(
          "UPDATE api_tokens SET last_used_at = CASE WHEN last_used_at IS NULL OR "
          "last_used_at < $2 THEN $2 ELSE last_used_at END, "
          "last_used_address = CASE WHEN last_used_at IS NULL OR last_used_at <= $2 THEN $3 "
          "ELSE last_used_address END, "
          "last_used_user_agent = CASE WHEN last_used_at IS NULL OR last_used_at <= $2 THEN $4 "
          "ELSE last_used_user_agent END "
          "WHERE id = $1 AND (revoked_at IS NULL OR revoked_at >= $2)",
          {use->id, use->at, OptText(use->address), OptText(use->user_agent)}));
    }
    return Ok();
  });
}

}  // namespace cl::store
