// The two dialects' migrations, generated from one source (store/migrations/*.sql, with the
// dialect placeholders of store/cmake/embed_migrations.cmake), must not drift: the same numbered
// migrations in both, and after all of them a fresh SQLite and a fresh PostgreSQL database have
// the same schema, except for the differences listed in kAllowed.
//
// Each database is described as a set of facts ("column users.email text NOT NULL", "index
// api_tokens.api_tokens_active_name unique partial (org_id, name)", ...), read from the
// engine's catalog, and the two sets are compared.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "store/migrations.h"
#include "store/store.h"
#include "store/test_backends.h"

namespace cl::store::testing {
namespace {

// Differences that must exist, as (SQLite fact, PostgreSQL fact, why). Each entry must still
// be observed: an entry that no longer matches fails the test, so the list stays exact.
struct AllowedDifference {
  const char* sqlite;
  const char* postgres;
  const char* why;
};
constexpr AllowedDifference kAllowed[] = {
    {"column users.email_verified integer NOT NULL", "column users.email_verified boolean NOT NULL",
     "SQLite has no BOOLEAN type: the flag is 0/1 in an INTEGER"},
};

using Row = std::vector<std::string>;  // NULL as ""

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return "(" + out + ")";
}

// Declared type, as PostgreSQL's information_schema spells it (SQLite keeps what the
// migration wrote).
std::string NormalizeSqliteType(std::string type) {
  for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return type;
}

// The number of CHECK constraints in a CREATE TABLE statement (SQLite keeps the statement
// text, including columns added later by ALTER TABLE, but has no catalog of its checks).
int CountChecks(const std::string& create_sql) {
  const std::string without_comments = std::regex_replace(create_sql, std::regex("--[^\n]*"), "");
  const std::regex check("\\bcheck\\s*\\(", std::regex::icase);
  return static_cast<int>(
      std::distance(std::sregex_iterator(without_comments.begin(), without_comments.end(), check),
                    std::sregex_iterator()));
}

// ---- SQLite

std::vector<Row> SqliteRows(sqlite3* db, const std::string& sql) {
  std::vector<Row> rows;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    return rows;
  }
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return rows;
}

std::string SqliteOnDelete(std::string action) {
  for (char& ch : action) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return action;
}

std::set<std::string> SqliteFacts(const std::string& path) {
  std::set<std::string> facts;
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close_v2(raw);
    return facts;
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  for (const Row& t : SqliteRows(db.get(),
                                 "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND "
                                 "name NOT LIKE 'sqlite_%' ORDER BY name")) {
    const std::string& table = t[0];
    facts.insert("table " + table);
    facts.insert("checks " + table + " " + std::to_string(CountChecks(t[1])));
    std::map<int, std::string> pk;  // position in the key -> column
    for (const Row& c : SqliteRows(db.get(), "PRAGMA table_info('" + table + "')")) {
      // cid, name, type, notnull, dflt_value, pk. SQLite lets a PRIMARY KEY column that is not
      // INTEGER hold NULL (a legacy quirk the store never relies on: it always writes ids), so
      // key columns count as NOT NULL, as on PostgreSQL.
      const int key_pos = std::stoi(c[5]);
      const bool not_null = c[3] == "1" || key_pos > 0;
      facts.insert("column " + table + "." + c[1] + " " + NormalizeSqliteType(c[2]) +
                   (not_null ? " NOT NULL" : " NULL"));
      if (key_pos > 0) pk[key_pos] = c[1];
    }
    if (!pk.empty()) {
      std::vector<std::string> cols;
      for (const auto& [pos, col] : pk) cols.push_back(col);
      facts.insert("primary key " + table + " " + Join(cols));
    }
    for (const Row& i : SqliteRows(db.get(), "PRAGMA index_list('" + table + "')")) {
      // seq, name, unique, origin (c: CREATE INDEX, u: UNIQUE constraint, pk), partial.
      const std::string& name = i[1];
      const std::string& origin = i[3];
      if (origin == "pk") continue;  // the primary key fact above
      std::vector<std::string> cols;
      for (const Row& col : SqliteRows(db.get(), "PRAGMA index_info('" + name + "')")) {
        cols.push_back(col[2].empty() ? "<expression>" : col[2]);
      }
      if (origin == "u") {
        facts.insert("unique " + table + " " + Join(cols));
      } else {
        facts.insert("index " + table + "." + name + (i[2] == "1" ? " unique" : "") +
                     (i[4] == "1" ? " partial" : "") + " " + Join(cols));
      }
    }
    std::map<std::string, std::pair<std::string, std::pair<Row, Row>>> fks;
    std::map<std::string, std::string> fk_on_delete;
    for (const Row& f : SqliteRows(db.get(), "PRAGMA foreign_key_list('" + table + "')")) {
      // id, seq, table, from, to, on_update, on_delete, match
      auto& fk = fks[f[0]];
      fk.first = f[2];
      fk.second.first.push_back(f[3]);
      fk.second.second.push_back(f[4]);
      fk_on_delete[f[0]] = SqliteOnDelete(f[6]);
    }
    for (const auto& [id, fk] : fks) {
      facts.insert("foreign key " + table + " " + Join(fk.second.first) + " -> " + fk.first + " " +
                   Join(fk.second.second) + " on delete " + fk_on_delete[id]);
    }
  }
  return facts;
}

// ---- PostgreSQL

std::vector<Row> PgRows(PGconn* conn, const std::string& sql) {
  std::vector<Row> rows;
  PGresult* r = PQexec(conn, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
  } else {
    for (int i = 0; i < PQntuples(r); ++i) {
      Row row;
      for (int j = 0; j < PQnfields(r); ++j) row.emplace_back(PQgetvalue(r, i, j));
      rows.push_back(std::move(row));
    }
  }
  PQclear(r);
  return rows;
}

// The columns of a constraint or index, by attribute numbers (0: an expression).
constexpr const char* kPgColumns =
    "(SELECT string_agg(COALESCE(a.attname, '<expression>'), ', ' ORDER BY k.ord) "
    "FROM unnest(%s) WITH ORDINALITY AS k(attnum, ord) "
    "LEFT JOIN pg_attribute a ON a.attrelid = %s AND a.attnum = k.attnum)";

std::string PgColumns(const std::string& attnums, const std::string& relid) {
  std::string out = kPgColumns;
  out.replace(out.find("%s"), 2, attnums);
  out.replace(out.find("%s"), 2, relid);
  return out;
}

std::set<std::string> PostgresFacts(const std::string& url) {
  std::set<std::string> facts;
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect: " << PQerrorMessage(conn.get());
    return facts;
  }
  const std::string in_schema =
      "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() ";
  for (const Row& r : PgRows(
           conn.get(), "SELECT t.relname FROM pg_class t " + in_schema + "AND t.relkind = 'r'")) {
    facts.insert("table " + r[0]);
  }
  for (const Row& r : PgRows(conn.get(),
                             "SELECT table_name, column_name, data_type, is_nullable "
                             "FROM information_schema.columns WHERE table_schema = "
                             "current_schema()")) {
    facts.insert("column " + r[0] + "." + r[1] + " " + r[2] +
                 (r[3] == "YES" ? " NULL" : " NOT NULL"));
  }
  // Constraints: primary keys, UNIQUE, foreign keys, and the number of CHECKs per table.
  for (const Row& r :
       PgRows(conn.get(),
              "SELECT t.relname, (SELECT count(*) FROM pg_constraint c WHERE c.conrelid = t.oid "
              "AND c.contype = 'c') FROM pg_class t " +
                  in_schema + "AND t.relkind = 'r'")) {
    facts.insert("checks " + r[0] + " " + r[1]);
  }
  for (const Row& r :
       PgRows(conn.get(),
              "SELECT t.relname, c.contype, " + PgColumns("c.conkey", "c.conrelid") +
                  ", f.relname, " + PgColumns("c.confkey", "c.confrelid") +
                  ", c.confdeltype FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                  "LEFT JOIN pg_class f ON f.oid = c.confrelid " +
                  in_schema + "AND c.contype IN ('p', 'u', 'f')")) {
    const std::string cols = "(" + r[2] + ")";
    if (r[1] == "p") {
      facts.insert("primary key " + r[0] + " " + cols);
    } else if (r[1] == "u") {
      facts.insert("unique " + r[0] + " " + cols);
    } else {
      static const std::map<std::string, std::string> kOnDelete = {{"a", "no action"},
                                                                   {"r", "restrict"},
                                                                   {"c", "cascade"},
                                                                   {"n", "set null"},
                                                                   {"d", "set default"}};
      facts.insert("foreign key " + r[0] + " " + cols + " -> " + r[3] + " (" + r[4] +
                   ") on delete " + kOnDelete.at(r[5]));
    }
  }
  // Indexes of their own (CREATE INDEX), not those backing a primary key or UNIQUE constraint.
  for (const Row& r :
       PgRows(conn.get(),
              "SELECT t.relname, i.relname, x.indisunique, x.indpred IS NOT NULL, " +
                  PgColumns("x.indkey::int2[]", "x.indrelid") +
                  " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                  "JOIN pg_class t ON t.oid = x.indrelid " +
                  in_schema +
                  "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid "
                  "AND c.contype IN ('p', 'u', 'x'))")) {
    facts.insert("index " + r[0] + "." + r[1] + (r[2] == "t" ? " unique" : "") +
                 (r[3] == "t" ? " partial" : "") + " (" + r[4] + ")");
  }
  return facts;
}

// Facts of `a` missing from `b`, one per line.
std::string Missing(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::string out;
  for (const auto& f : a) {
    if (!b.count(f)) out += "  " + f + "\n";
  }
  return out;
}

TEST(MigrationFilesTest, SameNumberedFilesInBothDialects) {
  const auto& sqlite = Migrations("sqlite");
  const auto& postgres = Migrations("postgres");
  ASSERT_FALSE(sqlite.empty());
  std::vector<std::string> sqlite_names, postgres_names;
  for (const auto& m : sqlite) sqlite_names.push_back(m.name);
  for (const auto& m : postgres) postgres_names.push_back(m.name);
  EXPECT_EQ(sqlite_names, postgres_names);
}

TEST(CountChecksTest, CountsCheckClausesOutsideComments) {
  EXPECT_EQ(CountChecks("CREATE TABLE t (a TEXT CHECK (a <> ''), b INTEGER check(b > 0))"), 2);
  EXPECT_EQ(CountChecks("CREATE TABLE t (\n  -- CHECK (nothing)\n  checked INTEGER)"), 0);
}

// Both dialects migrated to the latest version describe the same schema, up to kAllowed.
TEST(MigrationsSqliteVsPostgresTest, SchemasAgreeAfterAllMigrations) {
  std::string skip;
  PostgresBackend postgres;
  const std::string postgres_url = postgres.Create(&skip);
  if (!skip.empty()) GTEST_SKIP() << skip;
  ASSERT_FALSE(postgres_url.empty());
  SqliteBackend sqlite;
  const std::string sqlite_url = sqlite.Create(&skip);
  std::set<std::string> sqlite_facts, postgres_facts;
  for (const std::string& url : {sqlite_url, postgres_url}) {
    auto db = OpenDatabase(url);
    ASSERT_TRUE(db) << db.error().ToString();
    auto st = (*db)->Migrate();
    ASSERT_TRUE(st) << st.error().ToString();
    EXPECT_EQ(*(*db)->SchemaVersion(), (*db)->LatestKnownSchemaVersion());
  }
  sqlite_facts = SqliteFacts(sqlite_url.substr(std::string("sqlite:").size()));
  postgres_facts = PostgresFacts(postgres_url);
  sqlite.Destroy();
  postgres.Destroy();
  ASSERT_TRUE(sqlite_facts.count("table api_tokens")) << "introspection found no tables";

  for (const AllowedDifference& d : kAllowed) {
    EXPECT_TRUE(sqlite_facts.erase(d.sqlite))
        << "allowed difference no longer seen in SQLite: " << d.sqlite << " (" << d.why << ")";
    EXPECT_TRUE(postgres_facts.erase(d.postgres))
        << "allowed difference no longer seen in PostgreSQL: " << d.postgres << " (" << d.why
        << ")";
  }
  EXPECT_EQ(Missing(sqlite_facts, postgres_facts), "") << "in SQLite only";
  EXPECT_EQ(Missing(postgres_facts, sqlite_facts), "") << "in PostgreSQL only";
}

}  // namespace
}  // namespace cl::store::testing
