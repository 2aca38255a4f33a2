// SqlDatabase's schema: the health check, the schema version, and applying the embedded
// migrations (store/migrations/*.sql, per dialect) one transaction each.
#include <climits>
#include <string>

#include "store/migrations.h"
#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {

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

Status SqlDatabase::Migrate() { return MigrateTo(INT_MAX); }

Status SqlDatabase::MigrateTo(int target_version) {
  for (const Migration& m : Migrations(Dialect())) {
    if (m.version > target_version) break;
    Status st = RunInTransaction([&](SqlConnection& c) -> Status {
      CL_RETURN_IF_ERROR(LockForMigration(c));
      // Re-read under the lock: another instance may have applied it meanwhile.
      CL_ASSIGN_OR_RETURN(bool has_table, HasMigrationsTable(c));
      if (has_table) {
        CL_ASSIGN_OR_RETURN(
            SqlResult r,
            c.Query("SELECT 1 FROM schema_migrations WHERE version = $1", {m.version}));
        if (!r.rows.empty()) return Ok();
      }
      Status applied = c.ExecScript(m.sql);
      if (!applied) {
        return Fail(applied.error().WithMessage(std::string("migration ") + m.name + ": " +
                                                applied.error().message()));
      }
      CL_RETURN_IF_ERROR(
          c.Query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                  {m.version, WallClockNow()}));
      return Ok();
    });
    if (!st) return st;
  }
  return Ok();
}

int SqlDatabase::LatestKnownSchemaVersion() const {
  const auto& all = Migrations(Dialect());
  return all.empty() ? 0 : all.back().version;
}

}  // namespace cl::store
