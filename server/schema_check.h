// Before a server (or `chainloop-controlplane migrate`) uses a database: bring its schema to
// what this build needs, or say why this build cannot run on it.
//
// Several instances start together, and during a rolling upgrade old and new builds run on one
// database. So: each migration is applied (and logged as "database migrated") by exactly one
// instance; a build that knows fewer migrations than the database has applied still runs, with
// a warning, unless an applied migration is marked as breaking builds that old
// (`-- breaks-readers-below: N`, see store/migrations.h and docs/scale-out.md, "Rolling upgrades").
#pragma once

#include "common/result.h"
#include "store/store.h"

namespace cl::server {

struct SchemaCheckOutcome {
  store::SchemaCompatibility at_start;  // what the database held before anything was applied
  store::MigrationReport migrated;      // what THIS call applied (empty: nothing)
};

// `migrate` false: FailedPrecondition when a known migration is not applied yet (run
// `chainloop-controlplane migrate`). Always FailedPrecondition when an applied migration breaks
// servers that know as few migrations as this build. Logs "database migrated" (info) only when
// this call applied something; otherwise "schema already at N (migrated by another instance)"
// (info) when the database was behind at start, else "schema up to date" (debug); and a warning
// when the database is ahead of this build but compatible.
Result<SchemaCheckOutcome> PrepareSchema(store::SchemaStore& db, bool migrate);

}  // namespace cl::server
