// The one translation unit that compiles Boost.JSON (header-only mode).
#include "common/json.h"

#include <boost/json/src.hpp>

namespace cl {

Result<boost::json::value> ParseJson(std::string_view text) {
  boost::json::parse_options opts;
  opts.max_depth = 32;
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, {}, opts);
  if (ec)
    return Fail(Error::InvalidArgument("request body is not valid JSON", Reason::kMalformedJson));
  return v;
}

std::string SerializeJson(const boost::json::value& v) { return boost::json::serialize(v); }

Result<JsonObjectReader> JsonObjectReader::Parse(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return JsonObjectReader(boost::json::object{});
  }
  CL_ASSIGN_OR_RETURN(auto v, ParseJson(body));
  if (!v.is_object()) {
    return Fail(
        Error::InvalidArgument("request body must be a JSON object", Reason::kMalformedJson));
  }
  return JsonObjectReader(std::move(v.as_object()));
}

const boost::json::value* JsonObjectReader::Get(std::string_view name) {
  seen_.emplace(name);
  auto it = obj_.find(name);
  if (it == obj_.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

static Error WrongType(std::string_view name, std::string_view want) {
  return Error::InvalidArgument("field '" + std::string(name) + "' must be " + std::string(want),
                                Reason::kInvalidFieldType);
}

Result<std::string> JsonObjectReader::RequiredString(std::string_view name) {
  const auto* v = Get(name);
  if (!v) {
    return Fail(Error::InvalidArgument("field '" + std::string(name) + "' is required",
                                       Reason::kMissingField));
  }
  if (!v->is_string()) return Fail(WrongType(name, "a string"));
  return std::string(v->as_string());
}

Result<std::optional<std::string>> JsonObjectReader::OptionalString(std::string_view name) {
  const auto* v = Get(name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return Fail(WrongType(name, "a string"));
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<int64_t>> JsonObjectReader::OptionalInt(std::string_view name) {
  const auto* v = Get(name);
  if (!v) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  return Fail(WrongType(name, "an integer"));
}

Result<std::optional<bool>> JsonObjectReader::OptionalBool(std::string_view name) {
  const auto* v = Get(name);
  if (!v) return std::optional<bool>();
  if (!v->is_bool()) return Fail(WrongType(name, "a boolean"));
  return std::optional<bool>(v->as_bool());
}

Result<std::optional<std::vector<std::string>>> JsonObjectReader::OptionalStringArray(
    std::string_view name) {
  const auto* v = Get(name);
  if (!v) return std::optional<std::vector<std::string>>();
  if (!v->is_array()) return Fail(WrongType(name, "an array of strings"));
  std::vector<std::string> out;
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) return Fail(WrongType(name, "an array of strings"));
    out.emplace_back(e.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<boost::json::value>> JsonObjectReader::OptionalValue(std::string_view name) {
  const auto* v = Get(name);
  if (!v) return std::optional<boost::json::value>();
  return std::optional<boost::json::value>(*v);
}

bool JsonObjectReader::Has(std::string_view name) {
  seen_.emplace(name);
  return obj_.find(name) != obj_.end();
}

Status JsonObjectReader::Finish() const {
  for (const auto& kv : obj_) {
    if (!seen_.count(std::string_view(kv.key()))) {
      return Fail(Error::InvalidArgument("unknown field '" + std::string(kv.key()) + "'",
                                         Reason::kUnknownField));
    }
  }
  return Ok();
}

}  // namespace cl
