// Prometheus registry: in-memory families behind one mutex plus per-thread shards for the
// per-request series, rendered as text format 0.0.4.
#include "http/metrics.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

namespace cl::http {
namespace {

constexpr std::string_view kRequestsTotal = "chainloop_http_requests_total";
constexpr std::string_view kRequestDuration = "chainloop_http_request_duration_seconds";
constexpr std::string_view kAuthFailures = "chainloop_auth_failures_total";
constexpr std::string_view kConnectionsActive = "chainloop_http_connections_active";

void AppendLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
}

std::string LabelSet(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  if (labels.size() == 0) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(k);
    out += "=\"";
    AppendLabelValue(out, v);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

void AppendNumber(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  }
  out += buf;
}

void AppendHelpText(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

std::atomic<uint64_t> g_next_metrics_id{1};

// Lets the shard maps be searched with a string_view (no temporary string per request).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Metrics::Shard {
  std::mutex mu;  // taken by its own thread per request and by RenderPrometheus: uncontended
  // Key: route '\0' method '\0' status. GUARDED_BY(mu)
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> requests;
  // By route; GUARDED_BY(mu)
  std::unordered_map<std::string, Histogram, StringHash, std::equal_to<>> latency;
};

Metrics::~Metrics() = default;

Metrics::Shard& Metrics::ThisThreadShard() {
  // (owner id, shard) pairs of the registries this thread has written to; ids are never reused,
  // so an entry of a destroyed registry is simply never matched again.
  thread_local std::vector<std::pair<uint64_t, Shard*>> mine;
  for (const auto& [owner, shard] : mine) {
    if (owner == id_) return *shard;
  }
  std::lock_guard<std::mutex> lock(mu_);
  shards_.push_back(std::make_unique<Shard>());
  mine.emplace_back(id_, shards_.back().get());
  return *shards_.back();
}

const std::vector<double>& Metrics::LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

Metrics::Metrics() : id_(g_next_metrics_id.fetch_add(1)) {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyLocked(kRequestsTotal, "HTTP requests served, by route pattern, method and status.",
               "counter");
  FamilyLocked(kAuthFailures,
               "Rejected credentials, by what the credential looked like and the reason.",
               "counter");
  FamilyLocked(kConnectionsActive, "Open HTTP connections.", "gauge").series[""] = 0;
}

Metrics::Family& Metrics::FamilyLocked(std::string_view name, std::string_view help,
                                       std::string_view type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.type = std::string(type);
  }
  return it->second;
}

void Metrics::ObserveRequest(std::string_view route_pattern, std::string_view method, int status,
                             double seconds) {
  const auto& buckets = LatencyBuckets();
  size_t bucket = buckets.size();  // the +Inf bucket
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (seconds <= buckets[i]) {
      bucket = i;
      break;
    }
  }
  thread_local std::string key;  // reused: no allocation once it has grown
  key.assign(route_pattern);
  key.push_back('\0');
  key.append(method);
  key.push_back('\0');
  char digits[12];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), status);
  key.append(digits, end);

  Shard& shard = ThisThreadShard();
  std::lock_guard<std::mutex> lock(shard.mu);
  auto rit = shard.requests.find(key);
  if (rit == shard.requests.end()) rit = shard.requests.emplace(key, 0).first;
  rit->second++;
  auto lit = shard.latency.find(route_pattern);
  if (lit == shard.latency.end()) {
    lit = shard.latency.emplace(std::string(route_pattern), Histogram{}).first;
    lit->second.counts.assign(buckets.size() + 1, 0);
  }
  lit->second.counts[bucket]++;
  lit->second.count++;
  lit->second.sum += seconds;
}

void Metrics::IncAuthFailure(std::string_view kind, std::string_view reason) {
  std::string labels = LabelSet({{"kind", kind}, {"reason", reason}});
  std::lock_guard<std::mutex> lock(mu_);
  families_.find(kAuthFailures)->second.series[labels] += 1;
}

void Metrics::IncCounter(
    std::string_view name, std::string_view help,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double v) {
  std::string label_set = LabelSet(labels);
  std::lock_guard<std::mutex> lock(mu_);
  FamilyLocked(name, help, "counter").series[label_set] += v;
}

void Metrics::SetCounter(
    std::string_view name, std::string_view help,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double v) {
  std::string label_set = LabelSet(labels);
  std::lock_guard<std::mutex> lock(mu_);
  FamilyLocked(name, help, "counter").series[label_set] = v;
}

Metrics::HistogramFamily& Metrics::HistogramFamilyLocked(std::string_view name,
                                                         std::string_view help,
                                                         const std::vector<double>& bounds,
                                                         std::string_view label) {
  auto it = histograms_.find(name);
  if (it == histograms_.end()) {
    it = histograms_.emplace(std::string(name), HistogramFamily{}).first;
    it->second.help = std::string(help);
    it->second.bounds = bounds;
    it->second.label = std::string(label);
  }
  return it->second;
}

void Metrics::SetHistogram(std::string_view name, std::string_view help, std::string_view label,
                           std::string_view value, const std::vector<double>& bounds,
                           const std::vector<uint64_t>& counts, double sum) {
  std::lock_guard<std::mutex> lock(mu_);
  HistogramFamily& family = HistogramFamilyLocked(name, help, bounds, label);
  Histogram& h = family.series[std::string(value)];
  h.counts.assign(family.bounds.size() + 1, 0);
  h.count = 0;
  for (size_t i = 0; i < counts.size() && i < h.counts.size(); ++i) {
    h.counts[i] = counts[i];
    h.count += counts[i];
  }
  h.sum = sum;
}

void Metrics::ObserveHistogram(std::string_view name, std::string_view help,
                               const std::vector<double>& bounds, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  HistogramFamily& family = HistogramFamilyLocked(name, help, bounds, "");
  const std::vector<double>& b = family.bounds;
  Histogram& h = family.series[""];
  if (h.counts.empty()) h.counts.assign(b.size() + 1, 0);
  size_t bucket = 0;
  while (bucket < b.size() && v > b[bucket]) ++bucket;
  ++h.counts[bucket];
  ++h.count;
  h.sum += v;
}

void Metrics::SetGauge(std::string_view name, std::string_view help, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyLocked(name, help, "gauge").series[""] = v;
}

void Metrics::SetGauge(std::string_view name, std::string_view help,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                       double v) {
  std::string label_set = LabelSet(labels);
  std::lock_guard<std::mutex> lock(mu_);
  FamilyLocked(name, help, "gauge").series[label_set] = v;
}

void Metrics::AddGauge(std::string_view name, std::string_view help, double delta) {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyLocked(name, help, "gauge").series[""] += delta;
}

void Metrics::AppendHistogramFamily(std::string& out, std::string_view name, std::string_view help,
                                    std::string_view label, const std::vector<double>& bounds,
                                    const std::map<std::string, Histogram>& series) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  AppendHelpText(out, help);
  out += "\n# TYPE ";
  out += name;
  out += " histogram\n";
  for (const auto& [value, h] : series) {
    // The labels before `le`: `{label="value",` or `{`.
    std::string labels = "{";
    if (!label.empty()) {
      labels.append(label);
      labels += "=\"";
      AppendLabelValue(labels, value);
      labels += "\",";
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds.size() && i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      out += name;
      out += "_bucket";
      out += labels;
      out += "le=\"";
      AppendNumber(out, i < bounds.size() ? bounds[i] : INFINITY);
      out += "\"} ";
      AppendNumber(out, static_cast<double>(cumulative));
      out.push_back('\n');
    }
    // Without a label: no braces at all.
    const std::string plain =
        label.empty() ? std::string() : labels.substr(0, labels.size() - 1) + "}";
    out += name;
    out += "_sum";
    out += plain;
    out.push_back(' ');
    AppendNumber(out, h.sum);
    out.push_back('\n');
    out += name;
    out += "_count";
    out += plain;
    out.push_back(' ');
    AppendNumber(out, static_cast<double>(h.count));
    out.push_back('\n');
  }
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard<std::mutex> lock(mu_);
  // Merge the per-thread shards: request counters by label set, histograms by route.
  std::map<std::string, double> requests;
  std::map<std::string, Histogram> latency;
  const auto& buckets = LatencyBuckets();
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> shard_lock(shard->mu);
    for (const auto& [key, n] : shard->requests) {
      size_t a = key.find('\0');
      size_t b = key.find('\0', a + 1);
      std::string_view k(key);
      requests[LabelSet({{"route", k.substr(0, a)},
                         {"method", k.substr(a + 1, b - a - 1)},
                         {"status", k.substr(b + 1)}})] += static_cast<double>(n);
    }
    for (const auto& [route, h] : shard->latency) {
      Histogram& merged = latency[route];
      if (merged.counts.empty()) merged.counts.assign(buckets.size() + 1, 0);
      for (size_t i = 0; i < h.counts.size() && i < merged.counts.size(); ++i) {
        merged.counts[i] += h.counts[i];
      }
      merged.count += h.count;
      merged.sum += h.sum;
    }
  }
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " ";
    AppendHelpText(out, family.help);
    out += "\n# TYPE " + name + " " + family.type + "\n";
    const auto& series = name == kRequestsTotal ? requests : family.series;
    for (const auto& [labels, value] : series) {
      out += name;
      out += labels;
      out.push_back(' ');
      AppendNumber(out, value);
      out.push_back('\n');
    }
  }
  AppendHistogramFamily(out, kRequestDuration, "HTTP request latency, by route pattern.", "route",
                        buckets, latency);
  for (const auto& [name, family] : histograms_) {
    AppendHistogramFamily(out, name, family.help, family.label, family.bounds, family.series);
  }
  return out;
}

}  // namespace cl::http
