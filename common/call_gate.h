// CallGate: a bound on slow outbound calls in flight at once (the people's identity provider,
// keyless CI issuers).
//
// Such calls are triggered by anonymous requests, and each one holds a shared server worker for
// as long as the remote side takes to answer (up to the outbound timeout), or for as long as it
// waits for another request's fetch. Without a bound, a few hundred anonymous requests against a
// slow remote hold every worker, and authenticated API calls and /readyz queue behind them. The
// gate admits at most `max_in_flight` calls and refuses the rest AT ONCE with its `busy` error:
// nothing ever waits for a slot, so a refused request costs microseconds of a worker. The server
// sizes the gates together strictly below its worker count, so workers always remain for
// everything else.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "common/result.h"

namespace cl {

class CallGate {
 public:
  // REQUIRES: max_in_flight >= 1 (smaller values are raised to 1). `busy` is what a refused call
  // returns. `on_refused` (optional) runs once per refused call, e.g. to count it in /metrics; it
  // must not block.
  CallGate(int max_in_flight, Error busy, std::function<void()> on_refused = {});
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

  // Runs `fn` (returning Result<T>) when fewer than max_in_flight calls are running, and returns
  // its result; otherwise returns the busy error without running it or waiting. Thread-safe.
  template <typename Fn>
  auto Call(Fn&& fn) -> decltype(fn()) {
    if (!TryEnter()) return Fail(busy_);
    struct Exit {
      CallGate* gate;
      ~Exit() { gate->Leave(); }
    } exit{this};
    return fn();
  }

  int max_in_flight() const { return max_in_flight_; }
  int in_flight() const { return in_flight_.load(); }
  // Calls refused since construction.
  int64_t refused() const { return refused_.load(); }
  const Error& busy() const { return busy_; }

 private:
  bool TryEnter();
  void Leave();

  const int max_in_flight_;
  const Error busy_;
  const std::function<void()> on_refused_;
  std::atomic<int> in_flight_{0};
  std::atomic<int64_t> refused_{0};
};

}  // namespace cl
