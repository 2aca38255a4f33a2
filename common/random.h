// Random: the source of secrets and ids, injected so tests can be deterministic where needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cl {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with `n` random bytes. Thread-safe. Aborts if the OS CSPRNG fails: there is no
  // safe way to continue issuing credentials without randomness.
  virtual void Fill(uint8_t* out, size_t n) = 0;
};

// The OS CSPRNG (getrandom(2)).
class SystemRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t n) override;
};

// A random UUID v4 in canonical text form: the id of every stored entity.
std::string NewUuid(Random& random);

// True when `s` is a canonical lower-case UUID (36 chars, hyphens at 8/13/18/23).
bool IsUuid(std::string_view s);

}  // namespace cl
