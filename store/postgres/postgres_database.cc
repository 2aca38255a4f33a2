// PostgreSQL implementation of store::Database: a fixed-size pool of libpq connections, each
// handed to one unit of work at a time; parameterised queries only, in text format.
#include "store/postgres/postgres_database.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql_database.h"

namespace cl::store {
namespace {

constexpr int kDefaultPoolSize = 8;
// Any fixed number: the key of the advisory lock serialising migrations across instances.
constexpr const char* kMigrationLockKey = "7326151447062";

void IgnoreNotice(void*, const char*) {}

// The primary message never includes row values (those are in DETAIL), so it is safe to show.
Error ResultError(PGconn* conn, const PGresult* res, std::string_view what) {
  if (PQstatus(conn) != CONNECTION_OK) {
    return Error::Unavailable(std::string("postgres connection lost during ") + std::string(what));
  }
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = std::string(what) + ": " + (primary ? primary : PQerrorMessage(conn));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
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

class PgConnection final : public SqlConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  ~PgConnection() override { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* raw() { return conn_; }

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
    PGresult* res = PQexecParams(conn_, query.c_str(), static_cast<int>(params.size()), nullptr,
                                 values.data(), nullptr, nullptr, /*resultFormat=*/0);
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Error e = ResultError(conn_, res, "query failed");
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
    PGresult* res = PQexec(conn_, script.c_str());
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Error e = ResultError(conn_, res, "script failed");
      PQclear(res);
      return Fail(e);
    }
    PQclear(res);
    return Ok();
  }

 private:
  PGconn* conn_;
};

// A fixed-size pool. Connections are opened lazily and repaired (PQreset) when handed out.
class PgPool {
 public:
  PgPool(std::string conninfo, int size) : conninfo_(std::move(conninfo)), size_(size) {}

  // Returns a healthy connection, waiting for one if all are busy.
  Result<std::unique_ptr<PgConnection>> Acquire() {
    std::unique_ptr<PgConnection> conn;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (!conn) {
      // Values later in the arrays override earlier ones, so the URL may set its own timeout.
      const char* keys[] = {"connect_timeout", "dbname", nullptr};
      const char* values[] = {"10", conninfo_.c_str(), nullptr};
      PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
      if (raw == nullptr) {
        Forget();
        return Fail(Error::Unavailable("postgres: out of memory opening a connection"));
      }
      PQsetNoticeProcessor(raw, IgnoreNotice, nullptr);
      conn = std::make_unique<PgConnection>(raw);
    } else if (PQstatus(conn->raw()) != CONNECTION_OK) {
      PQreset(conn->raw());
    }
    if (PQstatus(conn->raw()) != CONNECTION_OK) {
      std::string why = PQerrorMessage(conn->raw());
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      Release(std::move(conn));  // kept, to be reset on a later attempt
      return Fail(Error::Unavailable("cannot connect to postgres: " + why));
    }
    return conn;
  }

  void Release(std::unique_ptr<PgConnection> conn) {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

 private:
  void Forget() {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_one();
  }

  const std::string conninfo_;
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // GUARDED_BY(mu_)
  int open_ = 0;                                     // GUARDED_BY(mu_): created so far
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

 protected:
  Status Run(const Work& work) override {
    CL_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
    Status st = work(*conn);
    pool_->Release(std::move(conn));
    return st;
  }

  Status RunInTransaction(const Work& work) override {
    CL_ASSIGN_OR_RETURN(auto conn, pool_->Acquire());
    Status st = conn->ExecScript("BEGIN");
    if (st) {
      st = work(*conn);
      if (st) {
        st = conn->ExecScript("COMMIT");
      } else {
        (void)conn->ExecScript("ROLLBACK");
      }
    }
    pool_->Release(std::move(conn));
    return st;
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
  Status InsertAuditEventsInBulk(SqlConnection& conn,
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

  bool ReturningSeesJoinedTables() const override { return true; }

  Status LockForMigration(SqlConnection& conn) override {
    CL_RETURN_IF_ERROR(
        conn.Query("SELECT pg_advisory_xact_lock($1::bigint)", {std::string(kMigrationLockKey)}));
    return Ok();
  }

 private:
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

Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url) {
  int pool_size = kDefaultPoolSize;
  CL_ASSIGN_OR_RETURN(std::string conninfo, StripPoolSize(url, &pool_size));
  auto pool = std::make_unique<PgPool>(std::move(conninfo), pool_size);
  // One connection now: a wrong URL or a down server is reported at startup, not first use.
  CL_ASSIGN_OR_RETURN(auto first, pool->Acquire());
  pool->Release(std::move(first));
  return std::unique_ptr<Database>(std::make_unique<PostgresDatabase>(std::move(pool)));
}

}  // namespace cl::store
