// `chainloop-controlplane backup --to FILE`: an online copy of the SQLite database while
// servers keep writing to it (SQLite's backup API on a WAL database: one consistent snapshot,
// writers never blocked). PostgreSQL is refused with a pointer to pg_dump.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace cl::server {

struct BackupReport {
  int64_t pages = 0;
  int64_t bytes = 0;
};

// Copies the database of `database_url` ("sqlite:PATH") to `to`, a new file created with mode
// 0600. REQUIRES: `to` does not exist (an existing file, even empty, is refused and left as it
// is). On failure nothing is left at `to`. A "postgres://" URL is FailedPrecondition with the
// pg_dump command to use; the URL's password never appears in an error.
Result<BackupReport> BackupDatabase(const std::string& database_url, const std::string& to);

}  // namespace cl::server
