// Schema migrations compiled into the binary (generated per dialect from store/migrations/*.sql).
#pragma once

#include <string_view>
#include <vector>

namespace cl::store {

struct Migration {
  int version;       // the NNNN of NNNN_name.sql
  const char* name;  // file name, for logs
  const char* sql;   // one or more statements
};

// Migrations of "sqlite" or "postgres", in ascending version order.
const std::vector<Migration>& Migrations(std::string_view dialect);

}  // namespace cl::store
