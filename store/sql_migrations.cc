// SqlDatabase's schema: the health check, the schema version, applying the embedded migrations
// (store/migrations/*.sql, per dialect) one transaction each, and whether this build may run on
// a schema that other builds may have moved ahead.
#include <algorithm>
#include <climits>
#include <set>
#include <string>

#include "store/migrations.h"
#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

// True when schema_migrations has the breaks_readers_below column (migration 0009). Asked of
// the catalog rather than by selecting the column: a failed statement would abort a PostgreSQL
// transaction. The two catalogs differ, hence the branch on the dialect here rather than a
// hook for one query.
Result<bool> HasMarkerColumn(SqlConnection& c, const std::string& dialect) {
  const char* sql =
      dialect == "postgres"
          ? "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND "
            "table_name = 'schema_migrations' AND column_name = 'breaks_readers_below'"
          : "SELECT 1 FROM pragma_table_info('schema_migrations') "
            "WHERE name = 'breaks_readers_below'";
  CL_ASSIGN_OR_RETURN(SqlResult r, c.Query(sql, {}));
  return !r.rows.empty();
}

}  // namespace

Status SqlDatabase::Ping() {
  return Run([](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(c.Query("SELECT 1", {}));
    return Ok();
  });
}

Result<int> SqlDatabase::SchemaVersion() {
  return RunReturning([&](SqlConnection& c) -> Result<int> {
    CL_ASSIGN_OR_RETURN(bool has_table, HasMigrationsTable(c));
    if (!has_table) return 0;
    CL_ASSIGN_OR_RETURN(SqlResult r,
                        c.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
    return r.rows.empty() ? 0 : static_cast<int>(r.rows[0].Int(0));
  });
}

Result<MigrationReport> SqlDatabase::Migrate() { return MigrateTo(INT_MAX); }

Result<MigrationReport> SqlDatabase::MigrateTo(int target_version) {
  std::vector<Migration> upto;
  for (const Migration& m : Migrations(Dialect())) {
    if (m.version <= target_version) upto.push_back(m);
  }
  return MigrateWith(upto);
}

Result<MigrationReport> SqlDatabase::MigrateWith(const std::vector<Migration>& migrations) {
  MigrationReport report;
  const std::string dialect = Dialect();
  for (const Migration& m : migrations) {
    // The highest version before this migration, or nullopt when another instance applied it.
    // Decided inside the transaction, so a retried attempt starts over.
    auto applied = RunInTransactionReturning([&](SqlConnection& c) -> Result<std::optional<int>> {
      CL_RETURN_IF_ERROR(LockForMigration(c));
      // Re-read under the lock: another instance may have applied it meanwhile.
      int previous = 0;
      CL_ASSIGN_OR_RETURN(bool has_table, HasMigrationsTable(c));
      if (has_table) {
        CL_ASSIGN_OR_RETURN(SqlResult r,
                            c.Query("SELECT COALESCE(MAX(version), 0), "
                                    "COALESCE(SUM(CASE WHEN version = $1 THEN 1 ELSE 0 END), 0) "
                                    "FROM schema_migrations",
                                    {m.version}));
        if (!r.rows.empty() && r.rows[0].Int(1) != 0) return std::optional<int>();
        previous = r.rows.empty() ? 0 : static_cast<int>(r.rows[0].Int(0));
      }
      Status ran = c.ExecScript(m.sql);
      if (!ran) {
        return Fail(ran.error().WithMessage(std::string("migration ") + m.name + ": " +
                                            ran.error().message()));
      }
      CL_RETURN_IF_ERROR(
          c.Query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                  {m.version, WallClockNow()}));
      // Recorded once the column exists (from 0009 on), so that builds which do not know this
      // migration can read whether they may run on the schema.
      if (m.breaks_readers_below > 0) {
        CL_ASSIGN_OR_RETURN(bool has_marker, HasMarkerColumn(c, dialect));
        if (!has_marker) {
          return Fail(Error::Internal(std::string("migration ") + m.name +
                                      " carries breaks-readers-below but schema_migrations has "
                                      "no column to record it (migration 0009)"));
        }
        CL_RETURN_IF_ERROR(
            c.Query("UPDATE schema_migrations SET breaks_readers_below = $1 WHERE version = $2",
                    {m.breaks_readers_below, m.version}));
      }
      return std::optional<int>(previous);
    });
    if (!applied) return Fail(applied.error());
    if (!applied->has_value()) continue;
    if (report.applied.empty()) report.from_version = **applied;
    report.applied.push_back(m.version);
  }
  return report;
}

int SqlDatabase::LatestKnownSchemaVersion() const {
  const auto& all = Migrations(Dialect());
  return all.empty() ? 0 : all.back().version;
}

Result<SchemaCompatibility> SqlDatabase::CheckSchemaCompatibility() {
  const std::string dialect = Dialect();
  const int known = LatestKnownSchemaVersion();
  return RunReturning([&](SqlConnection& c) -> Result<SchemaCompatibility> {
    SchemaCompatibility out;
    out.known_version = known;
    std::set<int> applied;
    CL_ASSIGN_OR_RETURN(bool has_table, HasMigrationsTable(c));
    if (has_table) {
      CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("SELECT version FROM schema_migrations", {}));
      for (const SqlRow& row : r.rows) applied.insert(static_cast<int>(row.Int(0)));
      CL_ASSIGN_OR_RETURN(bool has_marker, HasMarkerColumn(c, dialect));
      if (has_marker) {
        CL_ASSIGN_OR_RETURN(SqlResult b,
                            c.Query("SELECT version, breaks_readers_below FROM schema_migrations "
                                    "WHERE breaks_readers_below > $1 "
                                    "ORDER BY breaks_readers_below DESC, version DESC LIMIT 1",
                                    {known}));
        if (!b.rows.empty()) {
          out.blocker = SchemaCompatibility::Blocker{static_cast<int>(b.rows[0].Int(0)),
                                                     static_cast<int>(b.rows[0].Int(1))};
        }
      }
    }
    out.database_version = applied.empty() ? 0 : *applied.rbegin();
    for (const Migration& m : Migrations(dialect)) {
      if (applied.count(m.version) == 0) out.pending.push_back(m.version);
    }
    return out;
  });
}

}  // namespace cl::store
