// Shared pieces of the libFuzzer targets: a deterministic Random (reproducible runs) and a
// check that aborts with a message, so a broken invariant is reported as a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/random.h"

namespace cl::fuzz {

// SplitMix64: not a CSPRNG, only for fuzzing, where a replayed input must behave the same.
class DeterministicRandom final : public Random {
 public:
  explicit DeterministicRandom(uint64_t seed = 0x5eed) : state_(seed) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      if (i % 8 == 0) word_ = Next();
      out[i] = static_cast<uint8_t>(word_ >> (8 * (i % 8)));
    }
  }

 private:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
  uint64_t word_ = 0;
};

// Aborts (a libFuzzer crash) when an invariant of the code under test does not hold.
inline void Check(bool ok, std::string_view what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %.*s\n", static_cast<int>(what.size()),
                 what.data());
    std::abort();
  }
}

}  // namespace cl::fuzz
