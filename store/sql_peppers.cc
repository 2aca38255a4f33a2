// SqlDatabase's PepperRotationStore: moving credentials' hashes to a new pepper, counting
// credentials by pepper, attributing credentials hashed before pepper ids were recorded.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

// The statements differ only in the table: both tables name the columns alike.
Result<bool> Rehash(SqlConnection& c, const char* table, const std::string& id,
                    const std::string& old_hash, const std::string& new_hash,
                    const std::string& pepper_id) {
  // Conditional on the old hash, so concurrent re-hashes of one row (two instances, two
  // threads) leave it consistent: the first moves it, the others change nothing. Never on a
  // revoked row: its hash is frozen at revocation, which is the hash the revoker announces.
  CL_ASSIGN_OR_RETURN(SqlResult r,
                      c.Query(std::string("UPDATE ") + table +
                                  " SET token_hash = $3, pepper_id = $4 "
                                  "WHERE id = $1 AND token_hash = $2 AND revoked_at IS NULL",
                              {id, old_hash, new_hash, pepper_id}));
  return r.affected > 0;
}

}  // namespace

Result<bool> SqlDatabase::RehashApiToken(const std::string& id, const std::string& old_hash,
                                         const std::string& new_hash,
                                         const std::string& pepper_id) {
  return RunReturning([&](SqlConnection& c) -> Result<bool> {
    auto out = Rehash(c, "api_tokens", id, old_hash, new_hash, pepper_id);
    if (!out && out.error().IsAlreadyExists()) {
      // Another row holds new_hash: an HMAC collision, i.e. never; refuse without the hash.
      return Fail(Error::AlreadyExists("another API token already has that hash"));
    }
    return out;
  });
}

Result<bool> SqlDatabase::RehashSession(const std::string& id, const std::string& old_hash,
                                        const std::string& new_hash, const std::string& pepper_id) {
  return RunReturning([&](SqlConnection& c) -> Result<bool> {
    auto out = Rehash(c, "sessions", id, old_hash, new_hash, pepper_id);
    if (!out && out.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("another session already has that hash"));
    }
    return out;
  });
}

Result<std::vector<PepperUsage>> SqlDatabase::CountCredentialsByPepper(UnixMillis now) {
  // COALESCE folds "unknown" (NULL) into '' so both engines group and sort it alike.
  return RunReturning([&](SqlConnection& c) -> Result<std::vector<PepperUsage>> {
    std::map<std::string, PepperUsage> by_id;
    CL_ASSIGN_OR_RETURN(
        SqlResult tokens,
        c.Query("SELECT COALESCE(pepper_id, ''), COUNT(*) FROM api_tokens "
                "WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1) "
                "GROUP BY COALESCE(pepper_id, '')",
                {now}));
    for (const SqlRow& row : tokens.rows) {
      PepperUsage& u = by_id[row.Str(0)];
      u.pepper_id = row.Str(0);
      u.api_tokens = row.Int(1);
    }
    CL_ASSIGN_OR_RETURN(SqlResult sessions,
                        c.Query("SELECT COALESCE(pepper_id, ''), COUNT(*) FROM sessions "
                                "WHERE revoked_at IS NULL AND expires_at > $1 "
                                "GROUP BY COALESCE(pepper_id, '')",
                                {now}));
    for (const SqlRow& row : sessions.rows) {
      PepperUsage& u = by_id[row.Str(0)];
      u.pepper_id = row.Str(0);
      u.sessions = row.Int(1);
    }
    std::vector<PepperUsage> out;
    out.reserve(by_id.size());
    for (auto& [id, usage] : by_id) out.push_back(std::move(usage));
    return out;
  });
}

Result<int64_t> SqlDatabase::AttributeUnknownPepper(const std::string& pepper_id) {
  return RunInTransactionReturning([&](SqlConnection& c) -> Result<int64_t> {
    int64_t changed = 0;
    for (const char* sql : {"UPDATE api_tokens SET pepper_id = $1 WHERE pepper_id IS NULL",
                            "UPDATE sessions SET pepper_id = $1 WHERE pepper_id IS NULL"}) {
      CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(sql, {pepper_id}));
      changed += r.affected;
    }
    return changed;
  });
}

}  // namespace cl::store
