// Validation of user-chosen names and emails.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace cl::domain {

// DNS-1123 label: 1..63 chars of [a-z0-9-], starting and ending alphanumeric.
// `what` names the field in the error ("organization name").
Status ValidateDnsLabel(std::string_view name, std::string_view what);

// A plausible email (one '@', non-empty parts, no spaces, <= 254 chars); returns it lower-cased.
Result<std::string> NormalizeEmail(std::string_view email);

}  // namespace cl::domain
