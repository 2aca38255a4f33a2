// sweep_bench: times ONE inactive-token sweep (TokenRevoker::RunOnce) over 1,000,000 API tokens
// in 1,000 organizations with a 90-day threshold, 10% of the tokens inactive, and checks that
// exactly those were revoked (100 per organization) with one audit event each.
//
//   cmake --preset default -DCL_BENCH=ON && cmake --build build --target sweep_bench
//   build/jobs/sweep_bench sqlite                       # a fresh file under /tmp, removed after
//   scripts/with-postgres.sh build/jobs/sweep_bench postgres   # CL_TEST_POSTGRES_URL
//   options: --orgs N --tokens-per-org N, --seed-only (seed, keep the database, print its URL, no
//   sweep)
//
// Seeding bypasses the store (a prepared INSERT in one transaction on SQLite, COPY on
// PostgreSQL) because a million CreateApiToken calls would time the seeding, not the sweep.
// Exit status 0 only when the counts check out.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/random.h"
#include "jobs/token_revoker.h"
#include "store/store.h"

namespace {

using cl::kMillisPerDay;
using cl::UnixMillis;

constexpr UnixMillis kNow = 1'800'000'000'000;
constexpr int kThresholdDays = 90;

struct Options {
  std::string backend;  // "sqlite" or "postgres"
  int orgs = 1000;
  int tokens_per_org = 1000;
  bool seed_only = false;  // stop after seeding and keep the database (for EXPLAIN etc.)
};

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string OrgId(int o) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", o);
  return buf;
}

// Token i (0-based, global) of the seed: every 10th is inactive (half never used and created
// long ago, half last used long ago); the others were used within the threshold.
struct SeedToken {
  char id[40];
  char hash[65];
  char name[16];
  UnixMillis created_at;
  UnixMillis last_used_at;  // 0: never used
};
SeedToken MakeToken(int64_t i) {
  SeedToken t;
  std::snprintf(t.id, sizeof t.id, "00000000-0000-4000-9000-%012lld", static_cast<long long>(i));
  std::snprintf(t.hash, sizeof t.hash, "%064llx", static_cast<unsigned long long>(i));
  std::snprintf(t.name, sizeof t.name, "t%lld", static_cast<long long>(i));
  t.created_at = kNow - 400 * kMillisPerDay;
  if (i % 10 == 0) {
    t.last_used_at = i % 20 == 0 ? 0 : kNow - (kThresholdDays * kMillisPerDay) - 1 - i;
  } else {
    t.last_used_at = kNow - (i % (kThresholdDays * 24)) * cl::kMillisPerHour;
  }
  return t;
}

bool SqliteExec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return false;
  }
  return true;
}

bool SeedSqlite(const std::string& path, const Options& opt) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return false;
  bool ok = SqliteExec(db, "PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; BEGIN");
  sqlite3_stmt* org = nullptr;
  sqlite3_stmt* tok = nullptr;
  ok = ok &&
       sqlite3_prepare_v2(db,
                          "INSERT INTO organizations (id, name, created_at, "
                          "api_token_max_days_inactive) VALUES (?1, ?2, ?3, ?4)",
                          -1, &org, nullptr) == SQLITE_OK &&
       sqlite3_prepare_v2(db,
                          "INSERT INTO api_tokens (id, org_id, name, token_hash, permissions, "
                          "created_by_kind, created_by_id, created_at, last_used_at) "
                          "VALUES (?1, ?2, ?3, ?4, 'workflow_run:create', 'user', 'u', ?5, ?6)",
                          -1, &tok, nullptr) == SQLITE_OK;
  int64_t i = 0;
  for (int o = 0; ok && o < opt.orgs; ++o) {
    const std::string id = OrgId(o);
    const std::string name = "org-" + std::to_string(o);
    sqlite3_bind_text(org, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(org, 2, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(org, 3, kNow - 500 * kMillisPerDay);
    sqlite3_bind_int(org, 4, kThresholdDays);
    ok = sqlite3_step(org) == SQLITE_DONE;
    sqlite3_reset(org);
    for (int k = 0; ok && k < opt.tokens_per_org; ++k, ++i) {
      const SeedToken t = MakeToken(i);
      sqlite3_bind_text(tok, 1, t.id, -1, SQLITE_STATIC);
      sqlite3_bind_text(tok, 2, id.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_text(tok, 3, t.name, -1, SQLITE_STATIC);
      sqlite3_bind_text(tok, 4, t.hash, -1, SQLITE_STATIC);
      sqlite3_bind_int64(tok, 5, t.created_at);
      if (t.last_used_at == 0) {
        sqlite3_bind_null(tok, 6);
      } else {
        sqlite3_bind_int64(tok, 6, t.last_used_at);
      }
      ok = sqlite3_step(tok) == SQLITE_DONE;
      sqlite3_reset(tok);
    }
  }
  if (!ok) std::fprintf(stderr, "sqlite seed failed: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(org);
  sqlite3_finalize(tok);
  ok = ok && SqliteExec(db, "COMMIT");
  sqlite3_close(db);
  return ok;
}

bool PgExec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) std::fprintf(stderr, "postgres: %s: %s\n", sql.c_str(), PQerrorMessage(c));
  PQclear(r);
  return ok;
}

bool PgCopy(PGconn* c, const std::string& copy_sql, const std::string& data) {
  PGresult* r = PQexec(c, copy_sql.c_str());
  const bool started = PQresultStatus(r) == PGRES_COPY_IN;
  PQclear(r);
  if (!started) {
    std::fprintf(stderr, "postgres: %s: %s\n", copy_sql.c_str(), PQerrorMessage(c));
    return false;
  }
  bool ok = PQputCopyData(c, data.data(), static_cast<int>(data.size())) == 1 &&
            PQputCopyEnd(c, nullptr) == 1;
  while (PGresult* res = PQgetResult(c)) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK) ok = false;
    PQclear(res);
  }
  if (!ok) std::fprintf(stderr, "postgres COPY failed: %s\n", PQerrorMessage(c));
  return ok;
}

bool SeedPostgres(const std::string& url, const Options& opt) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "postgres: %s\n", PQerrorMessage(c));
    PQfinish(c);
    return false;
  }
  std::string orgs;
  for (int o = 0; o < opt.orgs; ++o) {
    orgs += OrgId(o) + "\torg-" + std::to_string(o) + "\t" +
            std::to_string(kNow - 500 * kMillisPerDay) + "\t" + std::to_string(kThresholdDays) +
            "\n";
  }
  bool ok = PgExec(c, "BEGIN") &&
            PgCopy(c,
                   "COPY organizations (id, name, created_at, api_token_max_days_inactive) "
                   "FROM STDIN",
                   orgs);
  // Tokens in chunks of one organization's worth at a time keep the buffer small.
  const std::string copy_tokens =
      "COPY api_tokens (id, org_id, name, token_hash, permissions, created_by_kind, "
      "created_by_id, created_at, last_used_at) FROM STDIN";
  PGresult* r = ok ? PQexec(c, copy_tokens.c_str()) : nullptr;
  ok = ok && PQresultStatus(r) == PGRES_COPY_IN;
  PQclear(r);
  int64_t i = 0;
  std::string buf;
  for (int o = 0; ok && o < opt.orgs; ++o) {
    buf.clear();
    const std::string org_id = OrgId(o);
    for (int k = 0; k < opt.tokens_per_org; ++k, ++i) {
      const SeedToken t = MakeToken(i);
      buf += t.id;
      buf += '\t';
      buf += org_id;
      buf += '\t';
      buf += t.name;
      buf += '\t';
      buf += t.hash;
      buf += "\tworkflow_run:create\tuser\tu\t";
      buf += std::to_string(t.created_at);
      buf += '\t';
      buf += t.last_used_at == 0 ? std::string("\\N") : std::to_string(t.last_used_at);
      buf += '\n';
    }
    ok = PQputCopyData(c, buf.data(), static_cast<int>(buf.size())) == 1;
  }
  ok = ok && PQputCopyEnd(c, nullptr) == 1;
  while (PGresult* res = PQgetResult(c)) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK) ok = false;
    PQclear(res);
  }
  if (!ok) std::fprintf(stderr, "postgres seed failed: %s\n", PQerrorMessage(c));
  ok = ok && PgExec(c, "COMMIT");
  // What autovacuum would do on its own after a bulk load; the sweep's plan relies on stats.
  ok = ok && PgExec(c, "VACUUM ANALYZE organizations") && PgExec(c, "VACUUM ANALYZE api_tokens");
  PQfinish(c);
  return ok;
}

// Swaps the database name in a postgres URL.
std::string WithDatabase(const std::string& url, const std::string& name) {
  const size_t scheme_end = url.find("://") + 3;
  const size_t path = url.find('/', scheme_end);
  const size_t query = url.find('?', scheme_end);
  const std::string base = url.substr(0, std::min(path, query));
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + name + rest;
}

int Run(const Options& opt) {
  cl::SystemRandom random;
  std::string url, pg_server, pg_db;
  std::filesystem::path dir;
  if (opt.backend == "sqlite") {
    dir = std::filesystem::temp_directory_path() /
          ("cl-sweep-bench-" + cl::NewUuid(random).substr(0, 8));
    url = "sqlite:" + (dir / "cl.db").string();
  } else {
    const char* server = std::getenv("CL_TEST_POSTGRES_URL");
    if (server == nullptr || *server == '\0') {
      std::fprintf(stderr,
                   "CL_TEST_POSTGRES_URL is not set (run under scripts/with-postgres.sh)\n");
      return 2;
    }
    pg_server = server;
    pg_db = "sweep_bench_" + cl::NewUuid(random).substr(0, 8);
    PGconn* admin = PQconnectdb(pg_server.c_str());
    const bool created =
        PQstatus(admin) == CONNECTION_OK && PgExec(admin, "CREATE DATABASE " + pg_db);
    PQfinish(admin);
    if (!created) return 2;
    url = WithDatabase(pg_server, pg_db);
  }
  auto cleanup = [&] {
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    if (!pg_db.empty()) {
      PGconn* admin = PQconnectdb(pg_server.c_str());
      if (PQstatus(admin) == CONNECTION_OK) {
        PgExec(admin, "DROP DATABASE IF EXISTS " + pg_db + " WITH (FORCE)");
      }
      PQfinish(admin);
    }
  };

  {
    auto db = cl::store::OpenDatabase(url);
    if (!db || !(*db)->Migrate()) {
      std::fprintf(stderr, "cannot open or migrate the database\n");
      cleanup();
      return 2;
    }
  }
  const int64_t total = static_cast<int64_t>(opt.orgs) * opt.tokens_per_org;
  const int64_t expected = (total + 9) / 10;
  auto seed_start = std::chrono::steady_clock::now();
  const bool seeded =
      opt.backend == "sqlite" ? SeedSqlite((dir / "cl.db").string(), opt) : SeedPostgres(url, opt);
  if (!seeded) {
    cleanup();
    return 2;
  }
  std::printf("backend=%s orgs=%d tokens=%lld seeded_in=%.2fs\n", opt.backend.c_str(), opt.orgs,
              static_cast<long long>(total), SecondsSince(seed_start));
  if (opt.seed_only) {
    std::printf("seeded database kept: %s\n", url.c_str());
    return 0;
  }

  auto db = cl::store::OpenDatabase(url);
  if (!db) {
    std::fprintf(stderr, "cannot reopen: %s\n", db.error().ToString().c_str());
    cleanup();
    return 2;
  }
  cl::FakeClock clock(kNow);
  int64_t published = 0;
  cl::jobs::TokenRevoker revoker(
      **db, clock, random, nullptr, [&](const std::string&) { ++published; }, nullptr);
  auto sweep_start = std::chrono::steady_clock::now();
  auto report = revoker.RunOnce();
  const double sweep_seconds = SecondsSince(sweep_start);
  if (!report) {
    std::fprintf(stderr, "sweep failed: %s\n", report.error().ToString().c_str());
    cleanup();
    return 1;
  }
  bool ok = report->revoked_total == expected && published == expected &&
            static_cast<int>(report->revoked_per_org.size()) == opt.orgs;
  for (const auto& [org, n] : report->revoked_per_org) {
    if (n != (opt.tokens_per_org + 9) / 10 && opt.tokens_per_org % 10 == 0) ok = false;
  }
  // Spot-check the audit trail of one organization.
  auto events = (*db)->ListAuditEvents(OrgId(0), opt.tokens_per_org + 10);
  int64_t system_events = 0;
  if (events) {
    for (const auto& e : *events) system_events += e.actor_kind == "system" ? 1 : 0;
  }
  ok = ok && system_events == (opt.tokens_per_org + 9) / 10;
  std::printf(
      "sweep: revoked=%lld (expected %lld) organizations=%zu audit_events_org0=%lld "
      "duration=%.3fs %s\n",
      static_cast<long long>(report->revoked_total), static_cast<long long>(expected),
      report->revoked_per_org.size(), static_cast<long long>(system_events), sweep_seconds,
      ok ? "OK" : "MISMATCH");
  db->reset();
  cleanup();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if ((a == "sqlite" || a == "postgres") && opt.backend.empty()) {
      opt.backend = a;
    } else if (a == "--orgs" && i + 1 < argc) {
      opt.orgs = std::atoi(argv[++i]);
    } else if (a == "--seed-only") {
      opt.seed_only = true;
    } else if (a == "--tokens-per-org" && i + 1 < argc) {
      opt.tokens_per_org = std::atoi(argv[++i]);
    } else {
      opt.backend.clear();
      break;
    }
  }
  if (opt.backend.empty() || opt.orgs < 1 || opt.tokens_per_org < 1) {
    std::fprintf(stderr,
                 "usage: %s sqlite|postgres [--orgs N] [--tokens-per-org N] [--seed-only]\n",
                 argv[0]);
    return 2;
  }
  return Run(opt);
}
