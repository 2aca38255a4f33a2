// DatabaseStats: what the connection layer counts for /metrics (the latency and errors of units
// of work, and the connection pool's occupancy), and DbUnitRecorder, which counts it lock-free.
// The label set is fixed and small: a unit is a statement run on its own ("query") or a
// transaction ("transaction"); never the SQL text.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/result.h"

namespace cl::store {

enum class DbUnit { kQuery = 0, kTransaction = 1 };
inline constexpr size_t kDbUnitCount = 2;
inline const char* DbUnitName(DbUnit u) { return u == DbUnit::kQuery ? "query" : "transaction"; }

// Upper bounds (seconds) of the latency buckets; +Inf is implicit.
inline constexpr std::array<double, 12> kDbLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

struct DbUnitStats {
  std::array<uint64_t, kDbLatencyBuckets.size() + 1> counts{};  // per bucket, not cumulative
  double sum_seconds = 0;
  // Units that failed in the database (Unavailable or Internal: lost connection, timeout, a
  // constraint or SQL error). Answers such as NotFound or AlreadyExists are not errors.
  uint64_t errors = 0;
};

struct DatabaseStats {
  std::array<DbUnitStats, kDbUnitCount> units{};  // indexed by DbUnit
  // Connections: the pool's capacity, those open, those handed to a unit of work, and the units
  // waiting for one. SQLite has one connection, serialised by a mutex.
  int64_t pool_size = 0;
  int64_t pool_open = 0;
  int64_t pool_in_use = 0;
  int64_t pool_waiting = 0;
};

// Counts units of work. Thread-safe and lock-free: relaxed atomic increments only.
class DbUnitRecorder {
 public:
  void Observe(DbUnit unit, double seconds, const Status& result) {
    Slot& s = slots_[static_cast<size_t>(unit)];
    size_t b = kDbLatencyBuckets.size();
    for (size_t i = 0; i < kDbLatencyBuckets.size(); ++i) {
      if (seconds <= kDbLatencyBuckets[i]) {
        b = i;
        break;
      }
    }
    s.counts[b].fetch_add(1, std::memory_order_relaxed);
    s.sum_nanos.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
    if (!result &&
        (result.error().IsUnavailable() || result.error().code() == Error::Code::kInternal)) {
      s.errors.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Copies the counts into `out->units`.
  void Fill(DatabaseStats* out) const {
    for (size_t u = 0; u < kDbUnitCount; ++u) {
      const Slot& s = slots_[u];
      DbUnitStats& d = out->units[u];
      for (size_t i = 0; i < d.counts.size(); ++i) {
        d.counts[i] = s.counts[i].load(std::memory_order_relaxed);
      }
      d.sum_seconds = static_cast<double>(s.sum_nanos.load(std::memory_order_relaxed)) / 1e9;
      d.errors = s.errors.load(std::memory_order_relaxed);
    }
  }

 private:
  struct Slot {
    std::array<std::atomic<uint64_t>, kDbLatencyBuckets.size() + 1> counts{};
    std::atomic<uint64_t> sum_nanos{0};
    std::atomic<uint64_t> errors{0};
  };
  std::array<Slot, kDbUnitCount> slots_{};
};

}  // namespace cl::store
