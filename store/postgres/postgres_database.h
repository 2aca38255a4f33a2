// PostgresDatabase: store::Database on PostgreSQL through libpq, for multi-instance deployments.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace cl::store {

// The key of the transaction-level advisory lock held by the inactive-token sweep, so at most
// one instance runs it at a time. Exposed for tests.
inline constexpr int64_t kTokenSweepLockKey = 7326151447063;

// Opens a pool of connections to the "postgres://" / "postgresql://" `url`. The query parameter
// `pool_size` (default 8) sets the pool size and is not passed on to libpq. Connects once to
// check the URL (Unavailable when the server cannot be reached). Does not migrate.
Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url);

// Removes `pool_size` from the URL's query; returns its value (default 8) in `pool_size`.
// InvalidArgument for a value outside 1..1000. Exposed for tests.
Result<std::string> StripPoolSize(const std::string& url, int* pool_size);

}  // namespace cl::store
