// Local validation of CLI input (timestamps are parsed by common/clock.h: ParseRfc3339).
#include "cli/validation.h"

namespace cl::cli {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '_') return false;
  }
  return true;
}

}  // namespace

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return IsLowerAlnum(s.front()) && IsLowerAlnum(s.back());
}

bool IsPermissionShape(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  return IsIdentifier(s.substr(0, colon)) && IsIdentifier(s.substr(colon + 1));
}

Result<int64_t> ParseDurationSeconds(std::string_view text, std::string_view flag) {
  auto bad = [&](std::string_view why) {
    return Fail(Error::InvalidArgument(
        std::string(flag) + " '" + std::string(text) + "' " + std::string(why) +
        ": use a positive whole number with a unit s, m, h or d, e.g. 30m, 24h, 720h, 90d"));
  };
  if (text.empty()) return bad("is empty");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) return bad("is not a duration");
    int64_t n = 0;
    while (i < text.size() && IsDigit(text[i])) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxDurationSeconds) return bad("is too long");
      ++i;
    }
    if (i == text.size()) return bad("has no unit");
    int64_t unit = 0;
    switch (text[i]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return bad("has an unknown unit");
    }
    ++i;
    if (n > kMaxDurationSeconds / unit) return bad("is too long");
    total += n * unit;
    if (total > kMaxDurationSeconds) return bad("is too long");
  }
  if (total <= 0) return bad("is not positive");
  return total;
}

Result<int> ParseMaxDaysInactive(std::string_view text) {
  auto bad = [&] {
    return Fail(
        Error::InvalidArgument("--api-token-max-days-inactive must be a whole number of "
                               "days in the range 1-365 (0 to disable), not '" +
                               std::string(text) + "'"));
  };
  if (text.empty() || text.size() > 3) return bad();
  int v = 0;
  for (char c : text) {
    if (!IsDigit(c)) return bad();
    v = v * 10 + (c - '0');
  }
  if (v > 365) return bad();
  return v;
}

}  // namespace cl::cli
