// Display helpers for API JSON.
#include "cli/output.h"

#include <boost/json/array.hpp>

#include "cli/terminal.h"

namespace cl::cli {
namespace {

std::string ToText(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_double()) return std::to_string(v.as_double());
  return {};
}

Error BadResponse(std::string_view what) {
  return Error::Internal("the control plane's answer has no " + std::string(what),
                         Reason::kBadResponse);
}

}  // namespace

std::string RawString(const boost::json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  return v == nullptr ? std::string() : ToText(*v);
}

std::string FieldOrEmpty(const boost::json::object& obj, std::string_view name) {
  return TerminalSafe(RawString(obj, name));
}

std::string Field(const boost::json::object& obj, std::string_view name) {
  std::string s = FieldOrEmpty(obj, name);
  return s.empty() ? "-" : s;
}

Result<const boost::json::object*> ObjectField(const boost::json::value& v, std::string_view name,
                                               std::string_view what) {
  if (!v.is_object()) return Fail(BadResponse(what));
  const auto* f = v.as_object().if_contains(name);
  if (f == nullptr || !f->is_object()) return Fail(BadResponse(what));
  return &f->as_object();
}

Result<const boost::json::array*> ArrayField(const boost::json::value& v, std::string_view name,
                                             std::string_view what) {
  if (!v.is_object()) return Fail(BadResponse(what));
  const auto* f = v.as_object().if_contains(name);
  if (f == nullptr || !f->is_array()) return Fail(BadResponse(what));
  return &f->as_array();
}

boost::json::value NullForAbsent(const boost::json::value& v) {
  if (v.is_string()) return v.as_string().empty() ? boost::json::value(nullptr) : v;
  if (v.is_array()) {
    boost::json::array out;
    out.reserve(v.as_array().size());
    for (const auto& e : v.as_array()) out.push_back(NullForAbsent(e));
    return out;
  }
  if (v.is_object()) {
    boost::json::object out;
    for (const auto& [key, e] : v.as_object()) {
      const bool opaque = key == "statement" || key == "claims" || key == "bound_claims";
      out[key] = opaque ? e : NullForAbsent(e);
    }
    return out;
  }
  return v;
}

std::string DescribeActor(const boost::json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (v == nullptr || !v->is_object()) return "-";
  const auto& actor = v->as_object();
  std::string who = FieldOrEmpty(actor, "name");
  if (who.empty()) who = FieldOrEmpty(actor, "id");
  std::string kind = FieldOrEmpty(actor, "kind");
  if (who.empty()) return kind.empty() ? "-" : kind;
  return kind.empty() ? who : who + " (" + kind + ")";
}

boost::json::object DeletedJson(
    std::string_view kind,
    std::initializer_list<std::pair<std::string_view, std::string_view>> ids) {
  boost::json::object what{{"kind", kind}};
  for (const auto& [key, value] : ids) what[key] = value;
  return {{"deleted", std::move(what)}};
}

}  // namespace cl::cli
