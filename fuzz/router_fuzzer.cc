// Fuzz target: router path matching (http/http.cc) over the server's real route table, plus the
// percent-decoding of paths and query parameters every request goes through.
//
// Input: first byte picks the method, the rest is a request target "path?query".
// Invariants: a match has the request's method (or GET for HEAD), binds exactly the pattern's
// parameters, never to an empty value, and a parameter holds a '/' only when the raw path
// encoded one; "method not allowed" lists methods other than the request's.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/api.h"
#include "fuzz/fuzz_support.h"
#include "http/http.h"

using namespace cl;

namespace {

const http::Router& TheRouter() {
  static http::Router* router = [] {
    auto* r = new http::Router();
    // As `chainloop-controlplane routes` does: the real table, handlers never called.
    api::ApiDeps deps;
    deps.web_dir = "-";
    static std::shared_ptr<void> holder = api::RegisterRoutes(*r, deps);
    return r;
  }();
  return *router;
}

size_t CountParams(std::string_view pattern) {
  return static_cast<size_t>(std::count(pattern.begin(), pattern.end(), '{'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  static constexpr std::string_view kMethods[] = {"GET",    "HEAD",  "POST",    "PUT",
                                                  "DELETE", "PATCH", "OPTIONS", "get"};
  std::string_view method = kMethods[data[0] % std::size(kMethods)];
  std::string_view target(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);

  const http::Router& router = TheRouter();
  auto m = router.Match(method, path);
  if (m.route != nullptr) {
    fuzz::Check(!m.method_not_allowed, "a match is not method_not_allowed");
    fuzz::Check(m.route->method == method || (method == "HEAD" && m.route->method == "GET"),
                "matched route has the request's method");
    fuzz::Check(m.params.size() == CountParams(m.route->pattern), "every parameter is bound");
    bool encoded_slash = false;
    for (size_t i = 0; i + 2 < path.size(); ++i) {
      if (path[i] == '%' && path[i + 1] == '2' && (path[i + 2] == 'F' || path[i + 2] == 'f')) {
        encoded_slash = true;
      }
    }
    for (const auto& [name, value] : m.params) {
      fuzz::Check(!value.empty(), "parameters are never empty");
      if (!encoded_slash) {
        fuzz::Check(value.find('/') == std::string::npos, "no '/' in a parameter");
      }
    }
  } else if (m.method_not_allowed) {
    fuzz::Check(!m.allowed_methods.empty(), "405 lists the allowed methods");
    fuzz::Check(std::find(m.allowed_methods.begin(), m.allowed_methods.end(), method) ==
                    m.allowed_methods.end(),
                "405 does not list the request's method");
  }

  http::Request req;
  req.method = std::string(method);
  req.target = std::string(target);
  req.path = http::PercentDecode(path);
  req.query = std::string(query);
  fuzz::Check(req.path.size() <= path.size(), "decoding never grows a path");
  for (std::string_view name : {"limit", "project", "status", "scope", "state", "code", ""}) {
    if (auto v = req.QueryParam(name)) fuzz::Check(v->size() <= query.size(), "param size");
  }
  return 0;
}
