// JSON helpers on Boost.JSON: a strict reader for request bodies and small writers.
//
// JsonObjectReader turns the three classic bad-input cases into clear errors: malformed JSON,
// a field of the wrong type, and a field the endpoint does not know.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cl {

// Parses `text` as JSON with depth and size limits. Errors are InvalidArgument("malformed_json").
Result<boost::json::value> ParseJson(std::string_view text);

std::string SerializeJson(const boost::json::value& v);

class JsonObjectReader {
 public:
  // An empty body is read as `{}`.
  static Result<JsonObjectReader> Parse(std::string_view body);
  explicit JsonObjectReader(boost::json::object obj) : obj_(std::move(obj)) {}

  Result<std::string> RequiredString(std::string_view name);
  Result<std::optional<std::string>> OptionalString(std::string_view name);
  Result<std::optional<int64_t>> OptionalInt(std::string_view name);
  Result<std::optional<bool>> OptionalBool(std::string_view name);
  Result<std::optional<std::vector<std::string>>> OptionalStringArray(std::string_view name);
  // Any JSON value (object, array, ...), for embedded documents.
  Result<std::optional<boost::json::value>> OptionalValue(std::string_view name);
  // The Optional* readers take `null` for absent, which is right for creation (defaults). An
  // update must tell "absent: unchanged" from "null: clear": this is true when the field is
  // present, null included.
  bool Has(std::string_view name);

  // Fails with InvalidArgument("unknown_field") if the body had a field never asked for.
  Status Finish() const;

 private:
  const boost::json::value* Get(std::string_view name);
  boost::json::object obj_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace cl
