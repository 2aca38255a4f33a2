// Clock: the only source of "now" for domain code, so rules are testable with a fake clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cl {

// Unix time in milliseconds: the project's one timestamp representation (also in the database).
using UnixMillis = int64_t;

constexpr UnixMillis kMillisPerSecond = 1000;
constexpr UnixMillis kMillisPerMinute = 60 * kMillisPerSecond;
constexpr UnixMillis kMillisPerHour = 60 * kMillisPerMinute;
constexpr UnixMillis kMillisPerDay = 24 * kMillisPerHour;

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual UnixMillis Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixMillis Now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock tests move by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixMillis start = 1'700'000'000'000) : now_(start) {}
  UnixMillis Now() const override { return now_.load(); }
  void Set(UnixMillis t) { now_.store(t); }
  void Advance(UnixMillis delta) { now_.fetch_add(delta); }

 private:
  std::atomic<UnixMillis> now_;
};

// RFC 3339 UTC text ("2026-11-27T21:12:13Z") for display and JSON.
std::string FormatRfc3339(UnixMillis t);

// Parses an RFC 3339 timestamp: "2026-01-02T03:04:05Z", with optional fractional seconds
// (kept to the millisecond) and "+hh:mm"/"-hh:mm" offsets. nullopt when the text is not one.
std::optional<UnixMillis> ParseRfc3339(std::string_view text);

}  // namespace cl
