// Test-only: the two databases every store-backed test runs on, as gtest typed-test backends.
// SqliteBackend makes a temp file; PostgresBackend a fresh database on the server named by
// CL_TEST_POSTGRES_URL (the test is skipped without it). Each Create() returns the URL to open.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/random.h"

namespace cl::store::testing {

inline std::string RandomHex(size_t bytes) {
  SystemRandom rnd;
  std::vector<uint8_t> b(bytes);
  rnd.Fill(b.data(), b.size());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t x : b) {
    out.push_back(kHex[x >> 4]);
    out.push_back(kHex[x & 15]);
  }
  return out;
}

class SqliteBackend {
 public:
  static std::string Name() { return "Sqlite"; }
  // Returns the URL of a fresh database; sets *skip to skip the test instead.
  std::string Create(std::string* skip) {
    dir_ = std::filesystem::temp_directory_path() / ("cl-store-test-" + RandomHex(8));
    return "sqlite:" + (dir_ / "sub" / "cl.db").string();
  }
  void Destroy() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

 private:
  std::filesystem::path dir_;
};

class PostgresBackend {
 public:
  static std::string Name() { return "Postgres"; }
  std::string Create(std::string* skip) {
    const char* server = std::getenv("CL_TEST_POSTGRES_URL");
    if (server == nullptr || *server == '\0') {
      *skip = "CL_TEST_POSTGRES_URL not set";
      return "";
    }
    server_ = server;
    name_ = "t_" + RandomHex(8);
    if (!Admin("CREATE DATABASE " + name_)) {
      *skip = "";
      name_.clear();
      return "";
    }
    // Swap the database name in the URL's path.
    const size_t scheme_end = server_.find("://") + 3;
    const size_t path = server_.find('/', scheme_end);
    const size_t query = server_.find('?', scheme_end);
    const std::string base = server_.substr(0, std::min(path, query));
    const std::string rest = query == std::string::npos ? "" : server_.substr(query);
    return base + "/" + name_ + rest;
  }
  void Destroy() {
    if (!name_.empty()) Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }

 private:
  bool Admin(const std::string& sql) {
    PGconn* c = PQconnectdb(server_.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok) ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
      PQclear(r);
    } else {
      ADD_FAILURE() << "cannot connect to CL_TEST_POSTGRES_URL: " << PQerrorMessage(c);
    }
    PQfinish(c);
    return ok;
  }

  std::string server_;
  std::string name_;
};

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::Name();
  }
};

}  // namespace cl::store::testing
