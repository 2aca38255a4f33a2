// Checks that docs/openapi.yaml lists exactly the routes the server registers, both ways.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "api/api.h"

#ifndef CL_SOURCE_DIR
#error "CL_SOURCE_DIR must be defined"
#endif

namespace cl::api {
namespace {

// Reads "METHOD PATH" pairs from our OpenAPI file: paths are 2-space-indented keys under
// `paths:`, methods 4-space-indented keys below them.
std::set<std::string> OpenApiRoutes() {
  std::ifstream in(std::string(CL_SOURCE_DIR) + "/docs/openapi.yaml");
  EXPECT_TRUE(in) << "cannot open docs/openapi.yaml";
  std::set<std::string> out;
  std::string line, path;
  bool in_paths = false;
  static const std::set<std::string> kMethods = {"get", "post", "put", "patch", "delete"};
  while (std::getline(in, line)) {
    if (line == "paths:") {
      in_paths = true;
      continue;
    }
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ') break;  // next top-level key
    if (line.rfind("  /", 0) == 0 && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
    } else if (line.rfind("    ", 0) == 0 && line.size() > 4 && line[4] != ' ') {
      std::string key = line.substr(4, line.find(':') - 4);
      if (kMethods.count(key)) {
        for (auto& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out.insert(key + " " + path);
      }
    }
  }
  return out;
}

TEST(OpenApi, DocumentsExactlyTheServedRoutes) {
  http::Router router;
  ApiDeps deps;  // handlers are not invoked
  auto holder = RegisterRoutes(router, deps);
  std::set<std::string> served;
  for (const auto& r : router.routes()) served.insert(r.method + " " + r.pattern);
  std::set<std::string> documented = OpenApiRoutes();
  ASSERT_FALSE(documented.empty());
  for (const auto& r : served) EXPECT_TRUE(documented.count(r)) << "not in openapi.yaml: " << r;
  for (const auto& r : documented) EXPECT_TRUE(served.count(r)) << "not served: " << r;
}

}  // namespace
}  // namespace cl::api
