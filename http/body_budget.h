// BodyBudget: a cap on the request-body bytes that all connections of a server hold at once.
//
// Each connection may buffer a body of up to its route's limit, and thousands of connections may
// be open, so without a shared cap a few thousand slow uploads could hold gigabytes. A request
// takes its declared Content-Length from the budget before its body is read (a chunked one takes
// what it grows to, chunk by chunk) and gives it back when its handler is done with the body or
// the connection goes away. A request that does not fit is refused (503) instead of waiting.
//
// Thread-safe: the counters are atomics, taken and given back from every I/O thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

namespace cl::http {

class BodyBudget {
 public:
  // `capacity`: bytes all bodies may hold together. `on_drained` (may be empty) is called, on
  // the thread that gave the last bytes back, when the total returns to zero after having
  // reached `burst_bytes` since it last did: the moment to hand freed memory back to the system.
  BodyBudget(size_t capacity, size_t burst_bytes = 0, std::function<void()> on_drained = {});
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // Takes `n` bytes if they fit in what is left; otherwise takes nothing and returns false.
  bool TryTake(size_t n);
  // Gives back `n` bytes taken before.
  void Give(size_t n);

  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  const size_t burst_bytes_;
  const std::function<void()> on_drained_;
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> peak_{0};  // highest in_use_ since it was last zero (approximate)
};

// The bytes one request holds in a BodyBudget; gives them back when destroyed, so that an
// abandoned request (peer gone, timeout, server stopping) can never leak budget.
// Not thread-safe: owned by one request.
class BodyReservation {
 public:
  explicit BodyReservation(BodyBudget& budget) : budget_(budget) {}
  ~BodyReservation() { Release(); }
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;

  // Makes the reservation at least `total` bytes; false (the reservation unchanged) when the
  // budget cannot supply the difference.
  bool GrowTo(size_t total);
  void Release();
  size_t bytes() const { return bytes_; }

 private:
  BodyBudget& budget_;
  size_t bytes_ = 0;
};

}  // namespace cl::http
