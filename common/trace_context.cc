// W3C Trace Context parsing and ids (see the header).
#include "common/trace_context.h"

#include <algorithm>
#include <random>

#include "common/random.h"

namespace cl {
namespace {

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// Trace ids correlate logs; they are not secrets, so a per-thread PRNG seeded from the OS keeps
// a syscall off the hot path.
std::string RandomHex(size_t digits) {
  thread_local std::mt19937_64 rng = [] {
    uint64_t seed = 0;
    SystemRandom().Fill(reinterpret_cast<uint8_t*>(&seed), sizeof(seed));
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  do {
    for (size_t i = 0; i < digits; i += 16) {
      uint64_t v = rng();
      for (size_t k = 0; k < 16 && i + k < digits; ++k) out[i + k] = kHex[(v >> (k * 4)) & 0xf];
    }
  } while (AllZero(out));
  return out;
}

}  // namespace

std::optional<std::string> TraceIdFromTraceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  if (h.size() < 55) return std::nullopt;
  std::string_view version = h.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append "-..." fields.
  if (version == "00" ? h.size() != 55 : (h.size() > 55 && h[55] != '-')) return std::nullopt;
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  std::string_view trace_id = h.substr(3, 32);
  std::string_view parent_id = h.substr(36, 16);
  std::string_view flags = h.substr(53, 2);
  if (!IsLowerHex(trace_id) || !IsLowerHex(parent_id) || !IsLowerHex(flags)) return std::nullopt;
  if (AllZero(trace_id) || AllZero(parent_id)) return std::nullopt;
  return std::string(trace_id);
}

std::string NewTraceId() { return RandomHex(32); }

std::string NewSpanId() { return RandomHex(16); }

std::string OutboundTraceparent(std::string_view trace_id) {
  return "00-" + std::string(trace_id) + "-" + NewSpanId() + "-01";
}

}  // namespace cl
