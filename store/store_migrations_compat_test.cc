// Rolling upgrades: while old and new servers share one database, a migration must not remove
// or change what an earlier migration created (old servers still read and write it), unless it
// carries `-- breaks-readers-below: N` (store/migrations.h), which makes servers that know fewer
// than N migrations refuse to start on the schema instead.
//
// BreakingChanges() below is a LEXICAL check of our own migration files, not a SQL parser: it
// strips comments and string literals, splits on ';' and matches the statement forms we write
// (DROP TABLE/INDEX/TRIGGER/FUNCTION/VIEW, ALTER TABLE ... DROP/RENAME/ALTER COLUMN, ...). SQL
// it does not recognise passes, so a reviewer still reads each migration; the check catches the
// common mistakes. The table-driven tests pin down what it catches and what it lets through, and
// the last tests run it on the real migrations and on the embed step's marker parsing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "store/migrations.h"
#include "store/test_backends.h"

namespace cl::store::testing {
namespace {

struct MigrationText {
  int version;
  std::string sql;
  int breaks_readers_below;
};

// Comments and string literals removed (a literal becomes ''), dollar-quoted bodies emptied,
// upper case, runs of whitespace as one space.
std::string Normalize(const std::string& sql) {
  std::string out;
  size_t i = 0;
  while (i < sql.size()) {
    if (sql.compare(i, 2, "--") == 0) {
      i = sql.find('\n', i);
      if (i == std::string::npos) break;
    } else if (sql.compare(i, 2, "/*") == 0) {
      i = sql.find("*/", i);
      i = i == std::string::npos ? sql.size() : i + 2;
    } else if (sql[i] == '\'') {
      size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == '\'' && end + 1 < sql.size() && sql[end + 1] == '\'') {
          end += 2;
        } else if (sql[end] == '\'') {
          break;
        } else {
          ++end;
        }
      }
      out += "''";
      i = end + 1;
    } else if (sql[i] == '$') {
      const size_t tag_end = sql.find('$', i + 1);
      const std::string tag = tag_end == std::string::npos ? "" : sql.substr(i, tag_end - i + 1);
      const bool is_tag = !tag.empty() && std::regex_match(tag, std::regex("\\$[A-Za-z_]*\\$"));
      if (!is_tag) {
        out += sql[i++];
        continue;
      }
      const size_t close = sql.find(tag, tag_end + 1);
      out += "$$";
      i = close == std::string::npos ? sql.size() : close + tag.size();
    } else {
      const char ch = sql[i++];
      if (std::isspace(static_cast<unsigned char>(ch))) {
        if (!out.empty() && out.back() != ' ') out += ' ';
      } else if (ch != '"') {
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
    }
  }
  return out;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(' ');
  const size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Splits on `sep` outside parentheses.
std::vector<std::string> SplitTopLevel(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char ch : s) {
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if (ch == sep && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(Trim(cur));
  return out;
}

// "PUBLIC.USERS" and "USERS(INT)" name USERS.
std::string BareName(std::string name) {
  name = name.substr(0, name.find('('));
  const size_t dot = name.rfind('.');
  return Trim(dot == std::string::npos ? name : name.substr(dot + 1));
}

const char* const kName = "([A-Z0-9_.]+)";

// What each unmarked migration removes or changes among the objects that earlier migrations
// created, one line per statement found ("0012: drops column of table API_TOKENS").
std::vector<std::string> BreakingChanges(const std::vector<MigrationText>& migrations) {
  std::map<std::string, int> created;  // "TABLE USERS" -> the version that created it
  std::vector<std::string> found;
  const std::regex create_re(std::string("^CREATE (?:OR REPLACE )?(?:UNIQUE )?(?:CONSTRAINT )?"
                                         "(TABLE|INDEX|TRIGGER|FUNCTION|VIEW|TYPE|SEQUENCE) "
                                         "(?:CONCURRENTLY )?(?:IF NOT EXISTS )?") +
                             kName);
  const std::regex drop_re(
      "^DROP (TABLE|INDEX|TRIGGER|FUNCTION|VIEW|TYPE|SEQUENCE) (?:CONCURRENTLY )?(?:IF EXISTS )?"
      "(.*)$");
  const std::regex alter_table_re(std::string("^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?") + kName +
                                  " (.*)$");
  const std::regex alter_other_re(
      std::string("^ALTER (INDEX|TRIGGER|FUNCTION|VIEW|TYPE|SEQUENCE) (?:IF EXISTS )?") + kName +
      ".* RENAME ");
  const std::regex drop_column_re("^DROP (?!CONSTRAINT )");
  const std::regex column_type_re("^ALTER (?:COLUMN )?[A-Z0-9_]+ (?:SET DATA )?TYPE ");
  const std::regex set_not_null_re("^ALTER (?:COLUMN )?[A-Z0-9_]+ SET NOT NULL");
  const std::regex drop_default_re("^ALTER (?:COLUMN )?[A-Z0-9_]+ DROP DEFAULT");
  const std::regex add_column_re("^ADD (?!CONSTRAINT |PRIMARY |UNIQUE |CHECK |FOREIGN )");
  const std::regex not_null_re("\\bNOT NULL\\b");
  const std::regex default_re("\\bDEFAULT\\b");

  for (const MigrationText& m : migrations) {
    std::map<std::string, int> created_here;
    std::vector<std::string> dropped_here;  // "TABLE USERS": accepted if created here again
    const std::string prefix = std::to_string(m.version) + ": ";
    std::vector<std::string> problems;
    for (const std::string& stmt : SplitTopLevel(Normalize(m.sql), ';')) {
      std::smatch g;
      if (std::regex_search(stmt, g, create_re)) {
        created_here[g[1].str() + " " + BareName(g[2].str())] = m.version;
      } else if (std::regex_search(stmt, g, drop_re)) {
        std::string names = g[2].str();
        names = names.substr(0, std::min(names.find(" ON "), names.find(" CASCADE")));
        names = names.substr(0, names.find(" RESTRICT"));
        for (const std::string& name : SplitTopLevel(names, ',')) {
          const std::string key = g[1].str() + " " + BareName(name);
          if (created.count(key) != 0) dropped_here.push_back(key);
        }
      } else if (std::regex_search(stmt, g, alter_table_re)) {
        const std::string table = BareName(g[1].str());
        if (created.count("TABLE " + table) == 0) continue;
        for (const std::string& action : SplitTopLevel(g[2].str(), ',')) {
          std::string what;
          if (action.rfind("RENAME", 0) == 0) {
            what = "renames";
          } else if (std::regex_search(action, drop_column_re)) {
            what = "drops a column of";
          } else if (std::regex_search(action, column_type_re)) {
            what = "changes a column type of";
          } else if (std::regex_search(action, set_not_null_re)) {
            what = "sets NOT NULL on a column of";
          } else if (std::regex_search(action, drop_default_re)) {
            what = "drops a column default of";
          } else if (std::regex_search(action, add_column_re) &&
                     std::regex_search(action, not_null_re) &&
                     !std::regex_search(action, default_re)) {
            what = "adds a NOT NULL column without DEFAULT to";
          }
          if (!what.empty()) problems.push_back(prefix + what + " table " + table);
        }
      } else if (std::regex_search(stmt, g, alter_other_re)) {
        const std::string key = g[1].str() + " " + BareName(g[2].str());
        if (created.count(key) != 0) problems.push_back(prefix + "renames " + key);
      }
    }
    // Dropped and created again in the same migration (one transaction): a replacement.
    for (const std::string& key : dropped_here) {
      if (created_here.count(key) == 0) problems.push_back(prefix + "drops " + key);
    }
    if (m.breaks_readers_below == 0) found.insert(found.end(), problems.begin(), problems.end());
    for (const auto& [key, version] : created_here) created.emplace(key, version);
  }
  return found;
}

// Two earlier migrations that create what the cases below touch.
const MigrationText kBase[] = {
    {1,
     "-- users ('drop table users' in a comment does not count)\n"
     "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL DEFAULT '');\n"
     "CREATE INDEX users_email ON users (email);",
     0},
    {2,
     "CREATE TABLE IF NOT EXISTS \"tokens\" (id TEXT PRIMARY KEY, name TEXT NULL);\n"
     "CREATE UNIQUE INDEX tokens_name ON tokens (name);\n"
     "CREATE OR REPLACE FUNCTION notify_revoked() RETURNS trigger AS $$\n"
     "BEGIN PERFORM pg_notify('x', NEW.id); RETURN NEW; END; $$ LANGUAGE plpgsql;\n"
     "CREATE TRIGGER tokens_revoked AFTER UPDATE ON tokens FOR EACH ROW\n"
     "  EXECUTE FUNCTION notify_revoked();",
     0},
};

struct Case {
  const char* sql;
  const char* finding;  // "" when the migration is accepted
};

// Unmarked migration 3 after kBase.
const Case kCases[] = {
    // Forbidden forms.
    {"DROP TABLE users;", "3: drops TABLE USERS"},
    {"drop table if exists Tokens cascade;", "3: drops TABLE TOKENS"},
    {"DROP INDEX users_email;", "3: drops INDEX USERS_EMAIL"},
    {"DROP INDEX CONCURRENTLY IF EXISTS public.tokens_name;", "3: drops INDEX TOKENS_NAME"},
    {"DROP TRIGGER IF EXISTS tokens_revoked ON tokens;", "3: drops TRIGGER TOKENS_REVOKED"},
    {"DROP FUNCTION notify_revoked();", "3: drops FUNCTION NOTIFY_REVOKED"},
    {"ALTER TABLE users DROP COLUMN email;", "3: drops a column of table USERS"},
    {"ALTER TABLE users DROP email;", "3: drops a column of table USERS"},
    {"ALTER TABLE users RENAME COLUMN email TO mail;", "3: renames table USERS"},
    {"ALTER TABLE users RENAME TO people;", "3: renames table USERS"},
    {"ALTER INDEX users_email RENAME TO users_mail;", "3: renames INDEX USERS_EMAIL"},
    {"ALTER TABLE tokens ALTER COLUMN name TYPE INTEGER USING 0;",
     "3: changes a column type of table TOKENS"},
    {"ALTER TABLE tokens ALTER name SET DATA TYPE BIGINT;",
     "3: changes a column type of table TOKENS"},
    {"ALTER TABLE tokens ALTER COLUMN name SET NOT NULL;",
     "3: sets NOT NULL on a column of table TOKENS"},
    {"ALTER TABLE users ALTER COLUMN email DROP DEFAULT;",
     "3: drops a column default of table USERS"},
    {"ALTER TABLE users ADD COLUMN age INTEGER NOT NULL;",
     "3: adds a NOT NULL column without DEFAULT to table USERS"},
    {"ALTER TABLE tokens ADD COLUMN a TEXT NULL, DROP COLUMN name;",
     "3: drops a column of table TOKENS"},
    // SQLite's table rebuild drops the old table.
    {"CREATE TABLE users_new (id TEXT PRIMARY KEY);\n"
     "INSERT INTO users_new SELECT id FROM users;\n"
     "DROP TABLE users;\n"
     "ALTER TABLE users_new RENAME TO users;",
     "3: drops TABLE USERS"},
    // Additive forms.
    {"ALTER TABLE users ADD COLUMN age INTEGER NULL;", ""},
    {"ALTER TABLE users ADD COLUMN flags TEXT NOT NULL DEFAULT '{}';", ""},
    {"ALTER TABLE users ADD CONSTRAINT users_age CHECK (age IS NULL OR age > 0);", ""},
    {"CREATE INDEX users_id_email ON users (id, email);", ""},
    {"CREATE TABLE audit (id TEXT PRIMARY KEY);\n"
     "ALTER TABLE audit ADD COLUMN at BIGINT NOT NULL;\n"
     "CREATE INDEX audit_at ON audit (at);\n"
     "DROP INDEX audit_at;",
     ""},
    {"ALTER TABLE users ALTER COLUMN email SET DEFAULT 'x';", ""},
    {"ALTER TABLE tokens DROP CONSTRAINT tokens_check;", ""},
    {"DROP TRIGGER IF EXISTS never_created ON tokens;", ""},
    {"INSERT INTO users (id) VALUES ('drop table users; alter table users drop email');", ""},
    {"UPDATE tokens SET name = NULL WHERE name = '';", ""},
    // A replacement within one migration (one transaction) is not a removal.
    {"DROP TRIGGER IF EXISTS tokens_revoked ON tokens;\n"
     "CREATE TRIGGER tokens_revoked AFTER UPDATE OR INSERT ON tokens FOR EACH ROW\n"
     "  EXECUTE FUNCTION notify_revoked();",
     ""},
    {"CREATE OR REPLACE FUNCTION notify_revoked() RETURNS trigger AS $body$\n"
     "BEGIN DROP TABLE users; RETURN NEW; END; $body$ LANGUAGE plpgsql;",
     ""},
};

std::vector<MigrationText> WithBase(const std::string& sql, int marker) {
  std::vector<MigrationText> all(std::begin(kBase), std::end(kBase));
  all.push_back({3, sql, marker});
  return all;
}

TEST(MigrationsCompat, EachForbiddenFormIsCaughtAndAdditiveFormsPass) {
  for (const Case& c : kCases) {
    const std::vector<std::string> found = BreakingChanges(WithBase(c.sql, 0));
    if (std::string(c.finding).empty()) {
      EXPECT_TRUE(found.empty()) << c.sql << "\n  flagged: " << found.front();
    } else {
      ASSERT_EQ(found.size(), 1u) << c.sql;
      EXPECT_EQ(found[0], c.finding) << c.sql;
    }
  }
}

TEST(MigrationsCompat, MarkedMigrationsMayBreak) {
  for (const Case& c : kCases) {
    EXPECT_TRUE(BreakingChanges(WithBase(c.sql, 3)).empty()) << c.sql;
  }
}

TEST(MigrationsCompat, OnlyWhatEarlierMigrationsCreatedCounts) {
  // The same drop, when migration 1 did not create the table, or when it is migration 1's own.
  EXPECT_TRUE(BreakingChanges({{1, "DROP TABLE IF EXISTS users;", 0}}).empty());
  EXPECT_TRUE(BreakingChanges({{1, "CREATE TABLE users (id TEXT); DROP TABLE users;", 0}}).empty());
  EXPECT_EQ(BreakingChanges({{1, "CREATE TABLE users (id TEXT);", 0}, {2, "DROP TABLE users;", 0}}),
            std::vector<std::string>{"2: drops TABLE USERS"});
}

TEST(MigrationsCompat, EmbeddedMigrationsOfBothDialectsAreAdditiveUnlessMarked) {
  for (const char* dialect : {"sqlite", "postgres"}) {
    std::vector<MigrationText> texts;
    for (const Migration& m : Migrations(dialect)) {
      ASSERT_GE(m.breaks_readers_below, 0) << m.name;
      ASSERT_LE(m.breaks_readers_below, m.version) << m.name;
      texts.push_back({m.version, m.sql, m.breaks_readers_below});
    }
    ASSERT_FALSE(texts.empty());
    const std::vector<std::string> found = BreakingChanges(texts);
    EXPECT_TRUE(found.empty()) << dialect << ": " << found.front()
                               << "\nMake the change additive (removals a release later), or mark "
                                  "the migration `-- breaks-readers-below: N` "
                                  "(docs/scale-out.md, \"Rolling upgrades\").";
  }
}

// store/cmake/embed_migrations.cmake on a directory of synthetic migration files.
class EmbedStep : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("cl-embed-test-" + RandomHex(8));
    std::filesystem::create_directories(dir_ / "migrations");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& sql) {
    std::ofstream(dir_ / "migrations" / name) << sql;
  }
  // Runs the embed step; returns the generated source, or "" when it failed.
  std::string Embed() {
    const std::filesystem::path out = dir_ / "embedded.cc";
    const std::string cmd = std::string("'") + CL_CMAKE_COMMAND + "' -DSRC_DIR='" +
                            (dir_ / "migrations").string() + "' -DOUT='" + out.string() + "' -P '" +
                            CL_EMBED_MIGRATIONS_SCRIPT + "' >'" + (dir_ / "log").string() +
                            "' 2>&1";
    if (std::system(cmd.c_str()) != 0) return "";
    std::stringstream text;
    text << std::ifstream(out).rdbuf();
    return text.str();
  }

  std::filesystem::path dir_;
};

TEST_F(EmbedStep, RecordsTheMarkerOfEachMigration) {
  Write("0001_a.sql", "CREATE TABLE a (id TEXT);\n");
  Write("0002_b.sql", "-- Drops a.\n-- breaks-readers-below: 2\nDROP TABLE a;\n");
  const std::string out = Embed();
  ASSERT_FALSE(out.empty());
  // Each dialect's list holds both, with their markers.
  const std::regex first("\\.version = 1,[^}]*\\.breaks_readers_below = 0\\}");
  const std::regex second("\\.version = 2,[^}]*\\.breaks_readers_below = 2\\}");
  EXPECT_EQ(std::distance(std::sregex_iterator(out.begin(), out.end(), first), {}), 2);
  EXPECT_EQ(std::distance(std::sregex_iterator(out.begin(), out.end(), second), {}), 2);
}

TEST_F(EmbedStep, RefusesMalformedMarkers) {
  Write("0001_a.sql", "CREATE TABLE a (id TEXT);\n");
  ASSERT_FALSE(Embed().empty());
  for (const char* bad : {"-- breaks-readers-below 1\n",     // no colon
                          "-- breaks-readers-below: one\n",  // not a number
                          "-- breaks-readers-below: 3\n",    // above its own version
                          "-- breaks-readers-below: 0\n",    // below 1
                          "-- breaks-readers-below: 1\n-- breaks-readers-below: 2\n"}) {
    Write("0002_b.sql", std::string(bad) + "DROP TABLE a;\n");
    EXPECT_EQ(Embed(), "") << bad;
  }
}

}  // namespace
}  // namespace cl::store::testing
