// PostgreSQL implementation of store::Database: a fixed-size pool of libpq connections, each
// handed to one unit of work at a time; parameterised queries only, in text format. The pool
// checks connections before handing them out and runs a unit of work again, once, when its
// session was lost before it could have committed (see postgres_database.h).
#include "store/postgres/postgres_database.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql_database.h"

namespace cl::store {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kDefaultPoolSize = 8;
// Any fixed number: the key of the advisory lock serialising migrations across instances.
constexpr const char* kMigrationLockKey = "7326151447062";
// An idle connection unused for longer is checked with a round trip before it is handed out: a
// server that vanished without closing the socket (a failover, a dropped route) shows nothing.
constexpr auto kIdleCheckAfter = std::chrono::seconds(5);
// A unit of work runs at most this often: once, and once more after a lost session.
constexpr int kMaxAttempts = 2;

void IgnoreNotice(void*, const char*) {}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// True when a failure means the session is gone: libpq lost the connection (or could not even
// send), or the server said so (class 08 connection_exception; 57P01 admin_shutdown, 57P02
// crash_shutdown, 57P03 cannot_connect_now, 57P04 database_dropped, 57P05 idle_session_timeout).
bool SessionLost(PGconn* conn, const PGresult* res) {
  if (res == nullptr || PQstatus(conn) != CONNECTION_OK) return true;
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const std::string_view code = state ? state : "";
  return code.starts_with("08") || code.starts_with("57P0");
}

// The primary message never includes row values (those are in DETAIL), so it is safe to show.
Error ResultError(PGconn* conn, const PGresult* res, std::string_view what) {
  if (PQstatus(conn) != CONNECTION_OK) {
    return Error::Unavailable(std::string("postgres connection lost during ") + std::string(what));
  }
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string msg =
      Trimmed(std::string(what) + ": " + (primary ? primary : PQerrorMessage(conn)));
  const std::string_view code = state ? state : "";
  if (code == "23505") return Error::AlreadyExists(msg);
  if (code == "23503") return Error::NotFound("referenced row does not exist (" + msg + ")");
  if (code.starts_with("23") || code.starts_with("22")) return Error::InvalidArgument(msg);
  if (code.starts_with("08") || code.starts_with("57P") || code == "53300" || code == "40001" ||
      code == "40P01") {
    return Error::Unavailable("postgres " + msg);
  }
  return Error::Internal("postgres " + msg);
}

// True for a statement that cannot change anything, so that running it again is harmless: a
// SELECT naming none of the words a SELECT with effects needs. Conservative: a statement it
// cannot tell (a literal holding one of the words, SELECT ... FOR UPDATE) counts as a write.
bool IsReadOnlyStatement(std::string_view sql) {
  static constexpr std::string_view kEffects[] = {"insert", "update",  "delete", "merge",
                                                  "into",   "nextval", "setval", "pg_notify",
                                                  "notify", "lock",    "copy",   "call"};
  const auto ident = [&](size_t k) {
    return k < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[k])) || sql[k] == '_');
  };
  bool first = true;
  size_t i = 0;
  while (i < sql.size()) {
    if (!ident(i)) {
      ++i;
      continue;
    }
    std::string word;
    for (; ident(i); ++i) word.push_back(static_cast<char>(std::tolower(sql[i])));
    if (first && word != "select") return false;
    first = false;
    for (std::string_view effect : kEffects) {
      if (word == effect || word.find("advisory") != std::string::npos) return false;
    }
  }
  return !first;
}

// True when the socket has something to read (or an error): on an idle connection that is the
// server's goodbye (a FATAL message, then end of file) or, rarely, a notice. No round trip.
bool SocketReadable(PGconn* conn) {
  const int fd = PQsocket(conn);
  if (fd < 0) return true;
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  return ::poll(&p, 1, 0) != 0;
}

class PgConnection final : public SqlConnection {
 public:
  PgConnection(PGconn* conn, const PostgresPoolHooks& hooks) : conn_(conn), hooks_(hooks) {}
  ~PgConnection() override { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* raw() { return conn_; }

  // Starts a unit of work; `in_transaction` when it runs between BEGIN and COMMIT, so nothing it
  // sends before COMMIT commits on its own.
  void StartUnit(bool in_transaction) {
    in_transaction_ = in_transaction;
    sent_autocommit_write_ = false;
  }
  // The session was lost: the connection is never handed out again.
  bool broken() const { return broken_; }
  // This unit sent an auto-commit statement that may have changed data.
  bool sent_autocommit_write() const { return sent_autocommit_write_; }

  // The pool's bookkeeping (PgPool::Usable): when the server last answered on this connection,
  // and how many pooled connections had failed by then.
  SteadyClock::time_point last_answer = SteadyClock::now();
  uint64_t failures_seen = 0;

  Result<SqlResult> Query(std::string_view sql, const std::vector<SqlParam>& params) override {
    std::vector<std::string> texts;
    texts.reserve(params.size());
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
      if (p.kind == SqlParam::Kind::kNull) {
        values.push_back(nullptr);
      } else {
        texts.push_back(p.Text());
        values.push_back(nullptr);  // filled below: `texts` may still reallocate
      }
    }
    for (size_t i = 0, t = 0; i < params.size(); ++i) {
      if (params[i].kind != SqlParam::Kind::kNull) values[i] = texts[t++].c_str();
    }
    const std::string query(sql);
    BeforeSend(query);
    PGresult* res = PQexecParams(conn_, query.c_str(), static_cast<int>(params.size()), nullptr,
                                 values.data(), nullptr, nullptr, /*resultFormat=*/0);
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Error e = Failed(res, "query failed");
      PQclear(res);
      return Fail(e);
    }
    SqlResult out;
    const int nrows = PQntuples(res);
    const int ncols = PQnfields(res);
    out.rows.reserve(nrows);
    for (int r = 0; r < nrows; ++r) {
      std::vector<std::optional<std::string>> cols;
      cols.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res, r, c)) {
          cols.emplace_back(std::nullopt);
        } else {
          cols.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
        }
      }
      out.rows.emplace_back(std::move(cols));
    }
    const char* affected = PQcmdTuples(res);
    if (affected && *affected) out.affected = std::strtoll(affected, nullptr, 10);
    PQclear(res);
    return out;
  }

  Status ExecScript(std::string_view sql) override {
    const std::string script(sql);
    BeforeSend(script);
    PGresult* res = PQexec(conn_, script.c_str());
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Error e = Failed(res, "script failed");
      PQclear(res);
      return Fail(e);
    }
    PQclear(res);
    return Ok();
  }

 private:
  void BeforeSend(std::string_view sql) {
    if (!in_transaction_ && !sent_autocommit_write_ && !IsReadOnlyStatement(sql)) {
      sent_autocommit_write_ = true;
    }
    if (hooks_.before_statement) hooks_.before_statement(sql, PQbackendPID(conn_));
  }

  Error Failed(const PGresult* res, std::string_view what) {
    if (SessionLost(conn_, res)) broken_ = true;
    return ResultError(conn_, res, what);
  }

  PGconn* conn_;
  const PostgresPoolHooks& hooks_;
  bool in_transaction_ = false;
  bool sent_autocommit_write_ = false;
  bool broken_ = false;
};

// A fixed-size pool. Connections are opened lazily, checked when handed out (Usable) and closed
// when they lost their session.
class PgPool {
 public:
  PgPool(std::string conninfo, int size, PostgresPoolHooks hooks)
      : conninfo_(std::move(conninfo)), size_(size), hooks_(std::move(hooks)) {}

  // Returns a connection that passed the checks, waiting for one if all are busy; Unavailable
  // when a new connection cannot be opened.
  Result<std::unique_ptr<PgConnection>> Acquire() {
    for (;;) {
      std::unique_ptr<PgConnection> conn;
      uint64_t failures = 0;
      {
        std::unique_lock lock(mu_);
        ++waiting_;
        cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
        --waiting_;
        failures = failures_;
        if (!idle_.empty()) {
          conn = std::move(idle_.back());
          idle_.pop_back();
        } else {
          ++open_;
        }
      }
      if (!conn) return Open(failures);
      if (Usable(*conn, failures)) return conn;
      Discard(std::move(conn));
    }
  }

  // Takes back a connection after a unit of work: kept when its session is intact and idle.
  void Release(std::unique_ptr<PgConnection> conn) {
    if (conn->broken() || PQstatus(conn->raw()) != CONNECTION_OK ||
        PQtransactionStatus(conn->raw()) != PQTRANS_IDLE) {
      Discard(std::move(conn));
      return;
    }
    conn->last_answer = SteadyClock::now();
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  // Applies the hand-out check to every idle connection and closes those that fail it.
  void CloseDeadIdle() {
    std::vector<std::unique_ptr<PgConnection>> idle;
    uint64_t failures = 0;
    {
      std::lock_guard lock(mu_);
      idle.swap(idle_);
      failures = failures_;
    }
    std::vector<std::unique_ptr<PgConnection>> kept;
    for (auto& conn : idle) {
      if (Usable(*conn, failures)) {
        kept.push_back(std::move(conn));
      } else {
        Discard(std::move(conn));
      }
    }
    {
      std::lock_guard lock(mu_);
      for (auto& conn : kept) idle_.push_back(std::move(conn));
    }
    cv_.notify_all();
  }

  // The pool's occupancy (Database::Stats).
  void FillStats(DatabaseStats* out) {
    std::lock_guard lock(mu_);
    out->pool_size = size_;
    out->pool_open = open_;
    out->pool_in_use = open_ - static_cast<int64_t>(idle_.size());
    out->pool_waiting = waiting_;
  }

 private:
  // The hand-out check. Without a round trip when nothing arrived on the socket, the connection
  // answered within kIdleCheckAfter and no pooled connection failed since; otherwise an empty
  // query must come back.
  static bool Usable(PgConnection& conn, uint64_t failures) {
    PGconn* raw = conn.raw();
    if (PQstatus(raw) != CONNECTION_OK) return false;
    const auto now = SteadyClock::now();
    if (!SocketReadable(raw) && conn.failures_seen >= failures &&
        now - conn.last_answer < kIdleCheckAfter) {
      return true;
    }
    PGresult* res = PQexec(raw, "");
    const bool ok = res != nullptr && PQresultStatus(res) == PGRES_EMPTY_QUERY &&
                    PQstatus(raw) == CONNECTION_OK && PQtransactionStatus(raw) == PQTRANS_IDLE;
    PQclear(res);
    if (ok) {
      conn.last_answer = now;
      conn.failures_seen = failures;
    }
    return ok;
  }

  Result<std::unique_ptr<PgConnection>> Open(uint64_t failures) {
    // Values later in the arrays override earlier ones, so the URL may set its own timeout.
    const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
    const char* values[] = {"10", "chainloop-controlplane", conninfo_.c_str(), nullptr};
    PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (raw == nullptr) {
      Forget(/*failed=*/false);
      return Fail(Error::Unavailable("postgres: out of memory opening a connection"));
    }
    if (PQstatus(raw) != CONNECTION_OK) {
      const std::string why = Trimmed(PQerrorMessage(raw));
      PQfinish(raw);
      Forget(/*failed=*/false);
      return Fail(Error::Unavailable("cannot connect to postgres: " + why));
    }
    PQsetNoticeProcessor(raw, IgnoreNotice, nullptr);
    auto conn = std::make_unique<PgConnection>(raw, hooks_);
    conn->failures_seen = failures;
    return conn;
  }

  // Closes a connection that lost its session: every connection older than it is checked with
  // a round trip before its next use, as it may have lost its session the same way.
  void Discard(std::unique_ptr<PgConnection> conn) {
    conn.reset();
    Forget(/*failed=*/true);
  }

  void Forget(bool failed) {
    {
      std::lock_guard lock(mu_);
      --open_;
      if (failed) ++failures_;
    }
    cv_.notify_one();
  }

  const std::string conninfo_;
  const int size_;
  const PostgresPoolHooks hooks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // GUARDED_BY(mu_)
  int open_ = 0;                                     // GUARDED_BY(mu_): created, not yet closed
  uint64_t failures_ = 0;                            // GUARDED_BY(mu_): pooled connections closed
  int64_t waiting_ = 0;                              // GUARDED_BY(mu_): callers of Acquire waiting
};

// Appends `v` as a double-quoted element to a PostgreSQL array literal begun with "{".
void AppendArrayElement(std::string& out, std::string_view v) {
  if (out.size() > 1) out.push_back(',');
  out.push_back('"');
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('"');
}

class PostgresDatabase final : public SqlDatabase {
 public:
  explicit PostgresDatabase(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}
  std::string Dialect() const override { return "postgres"; }

  // Closes the idle connections the server ended before asking it, so that OK means the pool
  // can serve (postgres_database.h).
  Status Ping() override {
    pool_->CloseDeadIdle();
    return SqlDatabase::Ping();
  }

 protected:
  // Auto-commit: run again after a lost session only when every statement sent was a read.
  Status Run(const Work& work) override {
    for (int attempt = 1;; ++attempt) {
      CL_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
      const auto start = SteadyClock::now();
      conn->StartUnit(/*in_transaction=*/false);
      Status st = work(*conn);
      const bool again = conn->broken() && !conn->sent_autocommit_write() && attempt < kMaxAttempts;
      pool_->Release(std::move(conn));
      Record(DbUnit::kQuery, start, st);
      if (!again) return st;
    }
  }

  // Run again after a session lost before COMMIT was sent (the server rolled the transaction
  // back with the session); never after one lost on COMMIT, whose outcome is unknown.
  Status RunInTransaction(const Work& work) override {
    for (int attempt = 1;; ++attempt) {
      CL_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
      const auto start = SteadyClock::now();
      conn->StartUnit(/*in_transaction=*/true);
      bool commit_sent = false;
      Status st = conn->ExecScript("BEGIN");
      if (st) {
        st = work(*conn);
        if (conn->broken()) {
          // Whatever the body made of the failure, nothing was committed.
          if (st) st = Fail(Error::Unavailable("postgres connection lost during a transaction"));
        } else if (st) {
          commit_sent = true;
          st = conn->ExecScript("COMMIT");
          if (!st && conn->broken()) {
            st = Fail(Error::Unavailable(
                "postgres connection lost on COMMIT: the transaction may or may not have "
                "committed"));
          }
        } else {
          (void)conn->ExecScript("ROLLBACK");
        }
      }
      const bool again = conn->broken() && !commit_sent && attempt < kMaxAttempts;
      pool_->Release(std::move(conn));
      Record(DbUnit::kTransaction, start, st);
      if (!again) return st;
    }
  }

  Result<bool> HasMigrationsTable(SqlConnection& conn) override {
    CL_ASSIGN_OR_RETURN(SqlResult r, conn.Query("SELECT 1 FROM information_schema.tables WHERE "
                                                "table_schema = current_schema() AND "
                                                "table_name = 'schema_migrations'",
                                                {}));
    return !r.rows.empty();
  }

  Result<bool> TryLockTokenSweep(SqlConnection& conn) override {
    CL_ASSIGN_OR_RETURN(SqlResult r, conn.Query("SELECT pg_try_advisory_xact_lock($1::bigint)",
                                                {static_cast<int64_t>(kTokenSweepLockKey)}));
    return !r.rows.empty() && r.rows[0].Bool(0);
  }

  // Eleven array parameters per statement instead of eleven scalars per row: one parse and one
  // round trip per 10,000 events, several times faster than multi-row VALUES for a large sweep.
  Status InsertAuditRowsInBulk(SqlConnection& conn,
                               const std::vector<AuditEvent>& events) override {
    constexpr size_t kChunk = 10000;
    for (size_t start = 0; start < events.size(); start += kChunk) {
      const size_t end = std::min(events.size(), start + kChunk);
      std::string cols[11];
      for (auto& col : cols) col = "{";
      for (size_t i = start; i < end; ++i) {
        const AuditEvent& e = events[i];
        const std::string created_at = std::to_string(e.created_at);
        const std::string_view values[11] = {e.id,         e.org_id,   e.actor_kind,    e.actor_id,
                                             e.actor_name, e.action,   e.target_kind,   e.target_id,
                                             e.message,    created_at, e.client_address};
        for (int c = 0; c < 11; ++c) AppendArrayElement(cols[c], values[c]);
      }
      std::vector<SqlParam> params;
      params.reserve(11);
      for (auto& col : cols) {
        col.push_back('}');
        params.emplace_back(std::move(col));
      }
      // client_address: "" travels in the array, NULL is stored (as InsertAudit does).
      CL_RETURN_IF_ERROR(conn.Query(
          "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, action, "
          "target_kind, target_id, message, created_at, client_address) "
          "SELECT i, o, ak, ai, an, a, tk, ti, m, c, NULLIF(ca, '') FROM unnest($1::text[], "
          "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
          "$9::text[], $10::bigint[], $11::text[]) AS t(i, o, ak, ai, an, a, tk, ti, m, c, ca)",
          params));
    }
    return Ok();
  }

  const char* SharedRowLockClause() const override { return " FOR SHARE"; }
  const char* ExclusiveRowLockClause() const override { return " FOR UPDATE"; }
  const char* SkipLockedRowLockClause() const override { return " FOR UPDATE SKIP LOCKED"; }

  bool ReturningSeesJoinedTables() const override { return true; }

  void FillPoolStats(DatabaseStats* out) const override { pool_->FillStats(out); }

  Status LockForMigration(SqlConnection& conn) override {
    CL_RETURN_IF_ERROR(
        conn.Query("SELECT pg_advisory_xact_lock($1::bigint)", {std::string(kMigrationLockKey)}));
    return Ok();
  }

 private:
  // Each attempt is one observation: a unit run again after a lost session counts twice.
  void Record(DbUnit unit, SteadyClock::time_point start, const Status& st) {
    unit_recorder_.Observe(unit, std::chrono::duration<double>(SteadyClock::now() - start).count(),
                           st);
  }

  std::unique_ptr<PgPool> pool_;
};

}  // namespace

Result<std::string> StripPoolSize(const std::string& url, int* pool_size) {
  *pool_size = kDefaultPoolSize;
  const size_t q = url.find('?');
  if (q == std::string::npos) return url;
  std::string kept;
  size_t start = q + 1;
  while (start <= url.size()) {
    size_t end = url.find('&', start);
    if (end == std::string::npos) end = url.size();
    const std::string_view param(url.data() + start, end - start);
    if (param.starts_with("pool_size=")) {
      const std::string_view v = param.substr(10);
      int n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || ptr != v.data() + v.size() || n < 1 || n > 1000) {
        return Fail(Error::InvalidArgument("pool_size must be an integer in 1..1000"));
      }
      *pool_size = n;
    } else if (!param.empty()) {
      if (!kept.empty()) kept.push_back('&');
      kept.append(param);
    }
    start = end + 1;
  }
  return kept.empty() ? url.substr(0, q) : url.substr(0, q) + "?" + kept;
}

Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url,
                                                       PostgresPoolHooks hooks) {
  int pool_size = kDefaultPoolSize;
  CL_ASSIGN_OR_RETURN(std::string conninfo, StripPoolSize(url, &pool_size));
  auto pool = std::make_unique<PgPool>(std::move(conninfo), pool_size, std::move(hooks));
  // One connection now: a wrong URL or a down server is reported at startup, not first use.
  CL_ASSIGN_OR_RETURN(auto first, pool->Acquire());
  pool->Release(std::move(first));
  return std::unique_ptr<Database>(std::make_unique<PostgresDatabase>(std::move(pool)));
}

}  // namespace cl::store
