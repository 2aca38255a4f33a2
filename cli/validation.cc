// Local validation of CLI input and parsing of the control plane's timestamps.
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

// Reads exactly `n` digits at s[pos..]; nullopt when they are not all digits.
std::optional<int> Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
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

std::optional<UnixMillis> ParseRfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  auto year = Digits(s, 0, 4), month = Digits(s, 5, 2), day = Digits(s, 8, 2);
  auto hour = Digits(s, 11, 2), minute = Digits(s, 14, 2), second = Digits(s, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > DaysInMonth(*year, *month) || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && IsDigit(s[pos])) {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    auto oh = Digits(s, pos + 1, 2), om = Digits(s, pos + 4, 2);
    if (!oh || !om || pos + 3 >= s.size() || s[pos + 3] != ':' || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset_minutes = (int64_t{*oh} * 60 + *om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  int64_t secs =
      days * 86400 + int64_t{*hour} * 3600 + int64_t{*minute} * 60 + *second - offset_minutes * 60;
  return secs * 1000 + millis;
}

}  // namespace cl::cli
