// Helpers shared by the JOSE translation units (jose.cc: JWS and claims; jwk.cc: keys). Not part
// of the public API: include crypto/jose.h instead.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <string_view>

namespace cl::crypto {

// The member `name` of `o` as a string, or nullptr when absent or not a string.
const boost::json::string* StringMember(const boost::json::object& o, std::string_view name);

}  // namespace cl::crypto
