// Request ids: generated per request, or taken from the client when they are safe to log.
#include "http/request_id.h"

#include <algorithm>
#include <cstdint>
#include <random>

#include "common/random.h"

namespace cl::http {

// Request ids correlate log lines; they are not secrets, so a per-thread PRNG seeded from the OS
// is enough and keeps a syscall off the hot path.
std::string NewRequestId() {
  thread_local std::mt19937_64 rng = [] {
    uint64_t seed = 0;
    SystemRandom().Fill(reinterpret_cast<uint8_t*>(&seed), sizeof(seed));
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 0; i < 16; ++i) id[i] = kHex[(v >> (i * 4)) & 0xf];
  return id;
}

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace cl::http
