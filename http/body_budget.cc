// BodyBudget and BodyReservation; see body_budget.h.
#include "http/body_budget.h"

#include <utility>

namespace cl::http {

BodyBudget::BodyBudget(size_t capacity, size_t burst_bytes, std::function<void()> on_drained)
    : capacity_(capacity), burst_bytes_(burst_bytes), on_drained_(std::move(on_drained)) {}

bool BodyBudget::TryTake(size_t n) {
  if (n == 0) return true;
  size_t current = in_use_.load(std::memory_order_relaxed);
  do {
    if (n > capacity_ - current) return false;
  } while (!in_use_.compare_exchange_weak(current, current + n, std::memory_order_relaxed));
  size_t now = current + n;
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (peak < now && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return true;
}

void BodyBudget::Give(size_t n) {
  if (n == 0) return;
  size_t before = in_use_.fetch_sub(n, std::memory_order_relaxed);
  if (before != n) return;
  // The total is zero now. A concurrent TryTake may have raised peak_ meanwhile and lose its
  // mark here; that only delays one trim, which the next drain catches up on.
  size_t peak = peak_.exchange(0, std::memory_order_relaxed);
  if (peak >= burst_bytes_ && on_drained_) on_drained_();
}

bool BodyReservation::GrowTo(size_t total) {
  if (total <= bytes_) return true;
  if (!budget_.TryTake(total - bytes_)) return false;
  bytes_ = total;
  return true;
}

void BodyReservation::Release() {
  budget_.Give(bytes_);
  bytes_ = 0;
}

}  // namespace cl::http
