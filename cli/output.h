// Small helpers for reading fields out of API JSON for display: missing or null fields print as
// "-", numbers as decimal text, and strings are made terminal-safe (cli/terminal.h: control
// characters, newlines, bidi overrides and invalid UTF-8 escaped), because the server stores text
// that other users wrote. Use RawString for values the CLI keeps or sends back.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace cl::cli {

// The field as terminal-safe display text ("-" when missing or null).
std::string Field(const boost::json::object& obj, std::string_view name);
// The field as terminal-safe display text, "" when missing or null.
std::string FieldOrEmpty(const boost::json::object& obj, std::string_view name);
// The field's exact text, NOT for printing: for ids and names the CLI stores or puts in URLs.
std::string RawString(const boost::json::object& obj, std::string_view name);

// obj[name] as an object, or an Internal("bad_response") error naming `what`.
Result<const boost::json::object*> ObjectField(const boost::json::value& v, std::string_view name,
                                               std::string_view what);
// obj[name] as an array, same error policy.
Result<const boost::json::array*> ArrayField(const boost::json::value& v, std::string_view name,
                                             std::string_view what);

// `v` as `-o json` prints it: the API's field names and shapes, with every empty string an absent
// value, null (the API writes "" for some absent values, e.g. a token's role or a member without
// a name). Opaque data is left exactly as received: an attested in-toto "statement", a CI
// identity's "claims" and a trust policy's "bound_claims".
boost::json::value NullForAbsent(const boost::json::value& v);

// "name (kind)" for an attested_by object, "-" when absent (terminal-safe).
std::string DescribeActor(const boost::json::object& obj, std::string_view name);

// What `-o json` prints for a command whose endpoint answers 204 No Content (delete, remove,
// cancel): {"deleted": {"kind": KIND, <the ids that named it>}}, one shape for all of them.
boost::json::object DeletedJson(
    std::string_view kind,
    std::initializer_list<std::pair<std::string_view, std::string_view>> ids);

}  // namespace cl::cli
