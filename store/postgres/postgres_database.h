// PostgresDatabase: store::Database on PostgreSQL through libpq, for multi-instance deployments.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/store.h"

namespace cl::store {

// The key of the transaction-level advisory lock held by the inactive-token sweep, so at most
// one instance runs it at a time. Exposed for tests.
inline constexpr int64_t kTokenSweepLockKey = 7326151447063;

// Test seams of the connection pool; production code passes none.
struct PostgresPoolHooks {
  // Called on the thread running a unit of work just before each of its statements is sent
  // (BEGIN, COMMIT and ROLLBACK included; not the pool's own checks), with the statement's text
  // and the process id of the server backend about to receive it.
  std::function<void(std::string_view statement, int backend_pid)> before_statement;
};

// Opens a pool of connections to the "postgres://" / "postgresql://" `url`. The query parameter
// `pool_size` (default 8) sets the pool size and is not passed on to libpq; the connections'
// `application_name` is "chainloop-controlplane" unless the URL sets one. Connects once to
// check the URL (Unavailable when the server cannot be reached). Does not migrate.
//
// The pool survives a server restart and connections the server ended:
// - Each unit of work (one store method) has a connection to itself. A connection that fails
//   with its session lost (libpq reports it closed, or SQLSTATE class 08 or 57P01..57P05:
//   shutdown, crash, database dropped, idle session timeout) is closed, never handed out again.
// - Before an idle connection is handed out, its socket is looked at without a round trip: a
//   server that ended the session has said so or closed it. A connection that received
//   something while idle, has been idle over 5 s, or predates the pool's latest failed
//   connection is checked with a round trip (an empty query) first.
// - A unit of work that failed on a lost session is run again from scratch, once, on another
//   connection, when it cannot have committed: a transaction that lost its session before
//   COMMIT was sent (on BEGIN or on any statement inside it), or an auto-commit unit whose
//   statements were all reads (SELECTs changing nothing). A session lost on COMMIT itself, or
//   on an auto-commit write, is Unavailable: whether it committed is unknown.
// - Ping (/readyz) first applies the idle check above to every idle connection, closing those
//   the server ended, then runs SELECT 1 like any read. OK therefore means the server answers
//   and the pool holds no connection known to be dead: after a restart, the connections the old
//   server ended are gone before Ping says ready.
// Thread-safe.
Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url,
                                                       PostgresPoolHooks hooks = {});

// Removes `pool_size` from the URL's query; returns its value (default 8) in `pool_size`.
// InvalidArgument for a value outside 1..1000. Exposed for tests.
Result<std::string> StripPoolSize(const std::string& url, int* pool_size);

}  // namespace cl::store
