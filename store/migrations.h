// Schema migrations compiled into the binary (generated per dialect from store/migrations/*.sql).
#pragma once

#include <string_view>
#include <vector>

namespace cl::store {

struct Migration {
  int version;       // the NNNN of NNNN_name.sql
  const char* name;  // file name, for logs
  const char* sql;   // one or more statements
  // From the file's "-- breaks-readers-below: N" line: a server that knows fewer than N
  // migrations cannot run on a schema that includes this one (it removes or changes what such a
  // server reads or writes). 0 for an additive migration, which older servers keep working with.
  // Recorded in schema_migrations.breaks_readers_below when applied.
  int breaks_readers_below;
};

// Migrations of "sqlite" or "postgres", in ascending version order.
const std::vector<Migration>& Migrations(std::string_view dialect);

}  // namespace cl::store
