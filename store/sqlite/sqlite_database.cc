// SQLite implementation of store::Database: one connection, serialised by a mutex, with a cache
// of prepared statements. SQLite allows one writer at a time anyway, and every statement here
// is an indexed point query, so the single connection is not the bottleneck of the server.
#include "store/sqlite/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "store/sql_database.h"

namespace cl::store {
namespace {

// Rewrites PostgreSQL-style $N placeholders to SQLite's ?N. Queries carry no '$' elsewhere.
std::string ToSqlitePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '$' && i + 1 < sql.size() &&
        std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out.push_back('?');
    } else {
      out.push_back(sql[i]);
    }
  }
  return out;
}

// Maps an SQLite result code to the project's errors. `what` never holds parameter values.
Error ToError(sqlite3* db, int rc, std::string_view what) {
  const int extended = db ? sqlite3_extended_errcode(db) : rc;
  const std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error::AlreadyExists(msg);
  }
  if (extended == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return Error::NotFound("referenced row does not exist (" + msg + ")");
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return Error::InvalidArgument(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Error::Unavailable("sqlite " + msg);
    default:
      return Error::Internal("sqlite " + msg);
  }
}

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Result<SqlResult> Query(std::string_view sql, const std::vector<SqlParam>& params) override {
    CL_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    // Reset on every exit path so the cached statement releases its read lock.
    struct Resetter {
      sqlite3_stmt* s;
      ~Resetter() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } resetter{stmt};
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlParam& p = params[i];
      const int idx = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      switch (p.kind) {
        case SqlParam::Kind::kNull:
          rc = sqlite3_bind_null(stmt, idx);
          break;
        case SqlParam::Kind::kInt:
          rc = sqlite3_bind_int64(stmt, idx, p.i);
          break;
        case SqlParam::Kind::kText:
          rc = sqlite3_bind_text(stmt, idx, p.s.data(), static_cast<int>(p.s.size()),
                                 SQLITE_TRANSIENT);
          break;
      }
      if (rc != SQLITE_OK) return Fail(ToError(db_, rc, "bind"));
    }
    SqlResult out;
    const int ncols = sqlite3_column_count(stmt);
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Fail(ToError(db_, rc, "statement failed"));
      std::vector<std::optional<std::string>> cols;
      cols.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          cols.emplace_back(std::nullopt);
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          cols.emplace_back(std::string(text, sqlite3_column_bytes(stmt, c)));
        }
      }
      out.rows.emplace_back(std::move(cols));
    }
    out.affected = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_);
    return out;
  }

  Status ExecScript(std::string_view sql) override {
    const std::string copy(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      Error e = ToError(db_, rc, "script failed");
      sqlite3_free(err);
      return Fail(e);
    }
    return Ok();
  }

 private:
  Result<sqlite3_stmt*> Prepare(std::string_view sql) {
    auto key = std::string(sql);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    const std::string translated = ToSqlitePlaceholders(sql);
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, translated.c_str(), static_cast<int>(translated.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Fail(ToError(db_, rc, "prepare"));
    cache_.emplace(std::move(key), stmt);
    return stmt;
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class SqliteDatabase final : public SqlDatabase {
 public:
  explicit SqliteDatabase(std::unique_ptr<SqliteConnection> conn) : conn_(std::move(conn)) {}
  std::string Dialect() const override { return "sqlite"; }

 protected:
  Status Run(const Work& work) override {
    auto lock = Lock();
    const auto start = std::chrono::steady_clock::now();
    Status st = work(*conn_);
    Record(DbUnit::kQuery, start, st);
    return st;
  }

  Status RunInTransaction(const Work& work) override {
    auto lock = Lock();
    const auto start = std::chrono::steady_clock::now();
    Status st = Transaction(work);
    Record(DbUnit::kTransaction, start, st);
    return st;
  }

  void FillPoolStats(DatabaseStats* out) const override {
    out->pool_size = 1;
    out->pool_open = 1;
    out->pool_in_use = in_use_.load(std::memory_order_relaxed) ? 1 : 0;
    out->pool_waiting = waiting_.load(std::memory_order_relaxed);
  }

  Result<bool> HasMigrationsTable(SqlConnection& conn) override {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        conn.Query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", {}));
    return !r.rows.empty();
  }

 private:
  // The one connection, counted as in use while a unit holds it (FillPoolStats).
  struct Held {
    std::unique_lock<std::mutex> lock;
    std::atomic<bool>* in_use;
    Held(std::unique_lock<std::mutex> l, std::atomic<bool>* flag)
        : lock(std::move(l)), in_use(flag) {
      in_use->store(true, std::memory_order_relaxed);
    }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() { in_use->store(false, std::memory_order_relaxed); }
  };
  Held Lock() {
    waiting_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock<std::mutex> lock(mu_);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    return Held(std::move(lock), &in_use_);
  }
  void Record(DbUnit unit, std::chrono::steady_clock::time_point start, const Status& st) {
    unit_recorder_.Observe(
        unit, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), st);
  }

  // Runs `work` between BEGIN IMMEDIATE and COMMIT (ROLLBACK when it fails). REQUIRES: mu_.
  Status Transaction(const Work& work) {
    // IMMEDIATE takes the write lock up front, so a transaction never fails half-way with
    // SQLITE_BUSY when another process (e.g. a backup tool) holds the file.
    CL_RETURN_IF_ERROR(conn_->ExecScript("BEGIN IMMEDIATE"));
    Status st = work(*conn_);
    if (st) {
      Status committed = conn_->ExecScript("COMMIT");
      if (committed) return Ok();
      st = committed;
    }
    (void)conn_->ExecScript("ROLLBACK");
    return st;
  }

  std::mutex mu_;
  std::unique_ptr<SqliteConnection> conn_;  // GUARDED_BY(mu_)
  std::atomic<int64_t> waiting_{0};         // units waiting for mu_
  std::atomic<bool> in_use_{false};         // a unit holds mu_
};

// Creates the parent directory (0700) and the file (0600) before SQLite opens it, so the
// database never exists with looser permissions. SQLite gives its -wal/-shm files the same mode.
Status PrepareFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
      return Fail(Error::Unavailable("cannot create directory " + p.parent_path().string() + ": " +
                                     ec.message()));
    }
    ::chmod(p.parent_path().c_str(), 0700);
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Fail(Error::Unavailable("cannot open database file " + path + ": " +
                                   std::error_code(errno, std::generic_category()).message()));
  }
  ::close(fd);
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Database>> OpenSqliteDatabase(const std::string& path, int cache_mib) {
  if (path.empty()) return Fail(Error::InvalidArgument("sqlite database path is empty"));
  if (cache_mib < 1 || cache_mib > 4096) {
    return Fail(Error::InvalidArgument("sqlite cache size must be 1..4096 MiB"));
  }
  const bool in_memory = path == ":memory:";
  if (!in_memory) CL_RETURN_IF_ERROR(PrepareFile(path));

  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = ToError(db, rc, "cannot open " + path);
    sqlite3_close_v2(db);
    return Fail(e);
  }
  auto conn = std::make_unique<SqliteConnection>(db);
  sqlite3_extended_result_codes(db, 1);
  // synchronous=FULL: an issued or revoked credential must survive a power cut, which matters
  // more here than write throughput (WAL keeps FULL reasonably cheap). Guarded by
  // sqlite_durability_test.cc; see "Durability" in docs/configuration.md.
  CL_RETURN_IF_ERROR(conn->ExecScript(
      "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; "
      "PRAGMA synchronous = FULL; PRAGMA cache_size = -" +
      std::to_string(cache_mib * 1024) + ";"));
  // Fail now, with a clear message, if the file is not a database.
  CL_RETURN_IF_ERROR(conn->Query("SELECT count(*) FROM sqlite_master", {}));
  return std::unique_ptr<Database>(std::make_unique<SqliteDatabase>(std::move(conn)));
}

}  // namespace cl::store
