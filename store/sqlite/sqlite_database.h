// SqliteDatabase: store::Database on an embedded SQLite file (the single-instance default).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace cl::store {

// Opens (creating if missing, with mode 0600 and its parent directory) the SQLite database at
// `path`; ":memory:" gives a private in-memory database. Does not migrate. `cache_mib` bounds
// SQLite's page cache (memory that grows with the database up to this size).
Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path, int cache_mib = 64);

}  // namespace cl::store
