#include "common/call_gate.h"

#include <algorithm>
#include <utility>

namespace cl {

CallGate::CallGate(int max_in_flight, Error busy, std::function<void()> on_refused)
    : max_in_flight_(std::max(1, max_in_flight)),
      busy_(std::move(busy)),
      on_refused_(std::move(on_refused)) {}

bool CallGate::TryEnter() {
  int n = in_flight_.load();
  do {
    if (n >= max_in_flight_) {
      refused_.fetch_add(1);
      if (on_refused_) on_refused_();
      return false;
    }
  } while (!in_flight_.compare_exchange_weak(n, n + 1));
  return true;
}

void CallGate::Leave() { in_flight_.fetch_sub(1); }

}  // namespace cl
