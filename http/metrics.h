// Metrics: a small thread-safe Prometheus registry (counters with labels, gauges, and the HTTP
// request latency histogram), rendered in the Prometheus text exposition format for /metrics.
//
// Standard families:
//   chainloop_http_requests_total{route,method,status}      counter
//   chainloop_http_request_duration_seconds{route}           histogram
//   chainloop_auth_failures_total{kind,reason}               counter
//   chainloop_http_connections_active                        gauge
//
// Other components keep their own lock-free counts (relaxed atomics on their hot paths) and
// /metrics copies them in at scrape time with SetCounter / SetGauge / SetHistogram.
//
// Label values must have bounded cardinality: pass route PATTERNS, never raw paths.
// Thread-safety: every method may be called concurrently. ObserveRequest, called once per request,
// writes to a per-thread shard (its own, uncontended mutex, no allocation once a series exists),
// so the I/O threads never wait for each other; the rest takes the registry mutex.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cl::http {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one served request and records its latency. `route_pattern` is the matched pattern
  // ("/v1/organizations/{org}") or "unmatched".
  void ObserveRequest(std::string_view route_pattern, std::string_view method, int status,
                      double seconds);
  // `kind` is what the refused credential looked like ("user", "api_token", "federated",
  // "ci_token", "none", "malformed", "other"); `reason` an error code such as "token_expired".
  void IncAuthFailure(std::string_view kind, std::string_view reason);
  // Adds `v` to counter `name` with these labels; `help` is used the first time the name is seen.
  void IncCounter(std::string_view name, std::string_view help,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                  double v = 1);
  // Sets the series of counter `name` with these labels to `v`: a count kept elsewhere (an
  // atomic that only grows), copied in at scrape time.
  void SetCounter(std::string_view name, std::string_view help,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                  double v);
  void SetGauge(std::string_view name, std::string_view help, double v);
  // Sets the series of gauge `name` with these labels (bounded values only).
  void SetGauge(std::string_view name, std::string_view help,
                std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                double v);
  // Adds `delta` (may be negative) to a gauge; concurrent updates never lose each other.
  void AddGauge(std::string_view name, std::string_view help, double delta);

  // Sets the series of histogram `name` labelled `label`=`value` (`label` empty: no label).
  // `bounds` are the buckets' upper bounds (+Inf implicit); `counts` has bounds.size() + 1
  // entries, per bucket, not cumulative (the last is +Inf); `sum` the sum of the observations.
  void SetHistogram(std::string_view name, std::string_view help, std::string_view label,
                    std::string_view value, const std::vector<double>& bounds,
                    const std::vector<uint64_t>& counts, double sum);

  // Adds one observation `v` to the unlabelled histogram `name` with these bucket upper bounds
  // (+Inf implicit); `help` and `bounds` are used the first time the name is seen.
  void ObserveHistogram(std::string_view name, std::string_view help,
                        const std::vector<double>& bounds, double v);

  std::string RenderPrometheus() const;

  // Upper bounds (seconds) of the latency histogram buckets; +Inf is implicit.
  static const std::vector<double>& LatencyBuckets();

 private:
  struct Family {
    std::string help;
    std::string type;                      // "counter" or "gauge"
    std::map<std::string, double> series;  // rendered label set ("{a=\"b\"}" or "") -> value
  };
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };

  struct HistogramFamily {
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Histogram> series;  // by label value
    std::string label;
  };

  struct Shard;  // per-thread request counters and latency histograms (metrics.cc)
  Shard& ThisThreadShard();

  Family& FamilyLocked(std::string_view name, std::string_view help, std::string_view type);
  // The histogram family `name`, created with these help, bounds and label the first time.
  HistogramFamily& HistogramFamilyLocked(std::string_view name, std::string_view help,
                                         const std::vector<double>& bounds, std::string_view label);
  static void AppendHistogramFamily(std::string& out, std::string_view name, std::string_view help,
                                    std::string_view label, const std::vector<double>& bounds,
                                    const std::map<std::string, Histogram>& series);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // GUARDED_BY(mu_)
  const uint64_t id_;  // unique per instance, so a thread's cached shard never outlives its owner
  std::vector<std::unique_ptr<Shard>> shards_;                      // GUARDED_BY(mu_)
  std::map<std::string, HistogramFamily, std::less<>> histograms_;  // GUARDED_BY(mu_)
};

}  // namespace cl::http
