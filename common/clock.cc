#include "common/clock.h"

#include <fmt/format.h>

#include <ctime>
#include <string>

namespace cl {

std::string FormatRfc3339(UnixMillis t) {
  time_t secs = static_cast<time_t>(t / 1000);
  if (t < 0 && t % 1000 != 0) --secs;
  struct tm tm;
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace cl
