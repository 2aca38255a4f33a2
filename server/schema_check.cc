// PrepareSchema: the start-up decision of server/schema_check.h and its log lines.
#include "server/schema_check.h"

#include <string>

#include "common/log.h"

namespace cl::server {
namespace {

std::string Versions(const std::vector<int>& versions) {
  std::string out;
  for (int v : versions) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out;
}

}  // namespace

Result<SchemaCheckOutcome> PrepareSchema(store::SchemaStore& db, bool migrate) {
  SchemaCheckOutcome out;
  CL_ASSIGN_OR_RETURN(out.at_start, db.CheckSchemaCompatibility());
  const store::SchemaCompatibility& at = out.at_start;
  if (at.blocker) {
    return Fail(Error::FailedPrecondition(
        "the database schema (version " + std::to_string(at.database_version) +
        ") includes migration " + std::to_string(at.blocker->version) +
        ", which servers knowing fewer than " + std::to_string(at.blocker->breaks_readers_below) +
        " migrations cannot run on; this server knows " + std::to_string(at.known_version) +
        ": upgrade the server"));
  }
  if (!at.pending.empty()) {
    if (!migrate) {
      return Fail(Error::FailedPrecondition(
          "the database schema is at version " + std::to_string(at.database_version) +
          " and lacks migration(s) " + Versions(at.pending) + " this server needs (it knows " +
          std::to_string(at.known_version) + "); run `chainloop-controlplane migrate`"));
    }
    CL_ASSIGN_OR_RETURN(out.migrated, db.Migrate());
  }
  if (!out.migrated.applied.empty()) {
    Log(LogLevel::kInfo, "database migrated",
        {{"from", out.migrated.from_version},
         {"to", out.migrated.applied.back()},
         {"versions", Versions(out.migrated.applied)}});
  } else if (!at.pending.empty()) {
    CL_ASSIGN_OR_RETURN(int version, db.SchemaVersion());
    Log(LogLevel::kInfo,
        "schema already at " + std::to_string(version) + " (migrated by another instance)",
        {{"version", version}});
  } else {
    Log(LogLevel::kDebug, "schema up to date", {{"version", at.database_version}});
  }
  if (at.database_version > at.known_version) {
    Log(LogLevel::kWarn,
        "the database schema is newer than this server knows; running on it (its newer "
        "migrations are additive): upgrade this server",
        {{"database_version", at.database_version}, {"server_version", at.known_version}});
  }
  return out;
}

}  // namespace cl::server
