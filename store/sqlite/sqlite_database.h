// SqliteDatabase: store::Database on an embedded SQLite file (the single-instance default).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace cl::store {

// Opens (creating if missing, with mode 0600 and its parent directory) the SQLite database at
// `path`; ":memory:" gives a private in-memory database. Does not migrate.
Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path);

}  // namespace cl::store
