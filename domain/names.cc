#include "domain/names.h"

#include <algorithm>
#include <cctype>

namespace cl::domain {

Status ValidateDnsLabel(std::string_view name, std::string_view what) {
  auto fail = [&](std::string_view why) {
    return Fail(Error::InvalidArgument(std::string(what) + " must be a DNS-1123 label (" +
                                       std::string(why) + ")"));
  };
  if (name.empty()) return fail("it is empty");
  if (name.size() > 63) return fail("at most 63 characters");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return fail("only lower-case letters, digits and '-'");
    }
  }
  if (name.front() == '-' || name.back() == '-')
    return fail("must start and end with a letter or digit");
  return Ok();
}

Result<std::string> NormalizeEmail(std::string_view email) {
  auto at = email.find('@');
  bool ok = email.size() <= 254 && at != std::string_view::npos && at > 0 &&
            at + 1 < email.size() && email.find('@', at + 1) == std::string_view::npos &&
            std::none_of(email.begin(), email.end(),
                         [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); });
  if (!ok)
    return Fail(Error::InvalidArgument("'" + std::string(email.substr(0, 64)) +
                                       "' is not a valid email address"));
  std::string out(email);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace cl::domain
