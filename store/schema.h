// Schema management's interface (part of store::Database, store.h): which migrations are
// applied, applying them, and whether this build may run on the database's schema.
#pragma once

#include <optional>
#include <vector>

#include "common/result.h"

namespace cl::store {

// What one Database::Migrate() call did.
struct MigrationReport {
  // Versions THIS call applied, ascending. Empty when there was nothing to do, including when
  // another instance applied the missing migrations first.
  std::vector<int> applied;
  // Highest applied version just before this call applied its first migration (0 when it
  // applied none).
  int from_version = 0;
};

// Whether this build may run on the database's schema (SchemaStore::CheckSchemaCompatibility).
struct SchemaCompatibility {
  int database_version = 0;  // highest applied migration
  int known_version = 0;     // highest migration this build knows
  // Known migrations the database has not applied (Migrate() applies them).
  std::vector<int> pending;
  // An applied migration whose `-- breaks-readers-below: N` marker says that a server knowing
  // fewer than N migrations cannot run on the schema, when N > known_version.
  struct Blocker {
    int version = 0;
    int breaks_readers_below = 0;
  };
  std::optional<Blocker> blocker;
};

// Schema management: which migrations are applied, applying them, and whether this build may
// run on the schema (server/schema_check.h decides at start-up through it).
class SchemaStore {
 public:
  virtual ~SchemaStore() = default;
  // Highest applied migration number (0 for an empty database).
  virtual Result<int> SchemaVersion() = 0;
  // Applies every known migration the database has not recorded, each in its own transaction
  // that first takes the migration lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE)
  // and re-reads schema_migrations. Safe to call from several instances at once: each migration
  // is applied by exactly one call, and the report says what this call applied.
  virtual Result<MigrationReport> Migrate() = 0;
  // Highest migration number this build knows.
  virtual int LatestKnownSchemaVersion() const = 0;
  // Reads schema_migrations (without the migration lock) and compares it with the migrations
  // this build knows. Tolerates databases whose schema_migrations predates the
  // breaks_readers_below column (no blocker then), and an empty database (version 0).
  virtual Result<SchemaCompatibility> CheckSchemaCompatibility() = 0;
};

}  // namespace cl::store
