#include "server/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>

namespace cl::server {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

Error SqliteError(const std::string& what, sqlite3* db) {
  return Error::Internal(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// Removes the partial copy (and a journal SQLite may have left beside it) unless released.
class PartialFile {
 public:
  explicit PartialFile(std::string path) : path_(std::move(path)) {}
  ~PartialFile() {
    if (path_.empty()) return;
    ::unlink(path_.c_str());
    for (const char* suffix : {"-journal", "-wal", "-shm"}) ::unlink((path_ + suffix).c_str());
  }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

Result<std::string> SqlitePath(std::string_view url) {
  if (url.starts_with("sqlite://")) return std::string(url.substr(9));
  if (url.starts_with("sqlite:")) return std::string(url.substr(7));
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return Fail(Error::FailedPrecondition(
        "backup copies SQLite databases only; for PostgreSQL use pg_dump, e.g. "
        "pg_dump --format=custom --file=FILE \"$DATABASE_URL\" (restore with pg_restore "
        "--dbname=URL --no-owner FILE; see docs/operations.md)"));
  }
  return Fail(
      Error::InvalidArgument("backup: the database is neither sqlite:PATH nor postgres://"));
}

}  // namespace

Result<BackupReport> BackupDatabase(const std::string& database_url, const std::string& to) {
  CL_ASSIGN_OR_RETURN(std::string from, SqlitePath(database_url));
  if (to.empty()) return Fail(Error::InvalidArgument("backup: --to FILE is required"));

  // Open the source first (never creating it): a wrong path must not leave an empty backup.
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(from.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db src(raw);
  if (rc != SQLITE_OK) return Fail(SqliteError("cannot open database " + from, raw));
  sqlite3_busy_timeout(src.get(), 10'000);

  // O_EXCL reserves the name: an existing file (or one created meanwhile) is refused.
  int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return Fail(Error::AlreadyExists("backup: " + to + " exists; refusing to overwrite it"));
    }
    return Fail(
        Error::FailedPrecondition("backup: cannot create " + to + ": " + std::strerror(err)));
  }
  PartialFile partial(to);
  // The umask may have masked bits off, never added: make it exactly 0600.
  if (::fchmod(fd, 0600) != 0) {
    ::close(fd);
    return Fail(Error::Internal("backup: cannot chmod " + to));
  }
  ::close(fd);

  raw = nullptr;
  rc = sqlite3_open_v2(to.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db dst(raw);
  if (rc != SQLITE_OK) return Fail(SqliteError("cannot open " + to, raw));

  sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (backup == nullptr) return Fail(SqliteError("backup: cannot start", dst.get()));
  // All pages in one step: one read transaction on the source, so the copy is one consistent
  // snapshot; on a WAL database writers go on meanwhile. A busy source is retried.
  for (int attempt = 0;; ++attempt) {
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_DONE) break;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    break;
  }
  BackupReport report;
  report.pages = sqlite3_backup_pagecount(backup);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return Fail(SqliteError("backup of " + from + " failed", dst.get()));

  // The copy must open and be whole before it counts as a backup.
  sqlite3_stmt* check = nullptr;
  if (sqlite3_prepare_v2(dst.get(), "PRAGMA quick_check", -1, &check, nullptr) != SQLITE_OK) {
    return Fail(SqliteError("backup: cannot check " + to, dst.get()));
  }
  std::string verdict;
  if (sqlite3_step(check) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(check, 0);
    verdict = text ? reinterpret_cast<const char*>(text) : "";
  }
  sqlite3_finalize(check);
  if (verdict != "ok")
    return Fail(Error::Internal("backup: the copy failed its check: " + verdict));
  // One self-contained file (the source's WAL mode came along with its pages); a server opening
  // it switches it back to WAL.
  if (sqlite3_exec(dst.get(), "PRAGMA journal_mode = DELETE", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return Fail(SqliteError("backup: cannot finish " + to, dst.get()));
  }
  dst.reset();

  struct stat st {};
  if (::stat(to.c_str(), &st) == 0) report.bytes = st.st_size;
  partial.Release();
  return report;
}

}  // namespace cl::server
