// Process metrics from /proc: parsing of stat, /proc/stat's btime and limits, and the
// descriptor count (see the header).
#include "http/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

#include "http/metrics.h"

namespace cl::http {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
std::optional<T> ParseNumber(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Entries of /proc/self/fd, less the one the listing itself opens.
int64_t CountOpenFds(const std::string& proc_root) {
  DIR* dir = ::opendir((proc_root + "/self/fd").c_str());
  if (dir == nullptr) return -1;
  int64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // Field 3 (state) is the first after the name; fields are numbered from 1 as in proc(5).
  const auto f = SplitSpaces(text.substr(close + 1));
  auto field = [&f](size_t n) -> std::string_view { return n - 3 < f.size() ? f[n - 3] : ""; };
  auto utime = ParseNumber<uint64_t>(field(14));
  auto stime = ParseNumber<uint64_t>(field(15));
  auto start = ParseNumber<uint64_t>(field(22));
  auto vsize = ParseNumber<uint64_t>(field(23));
  auto rss = ParseNumber<int64_t>(field(24));
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return ProcStat{*utime, *stime, *start, *vsize, *rss};
}

std::optional<int64_t> ParseBootTime(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    const std::string_view line = proc_stat.substr(pos, end - pos);
    if (line.starts_with("btime ")) {
      const auto f = SplitSpaces(line);
      return f.size() == 2 ? ParseNumber<int64_t>(f[1]) : std::nullopt;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<int64_t> ParseMaxOpenFiles(std::string_view limits) {
  constexpr std::string_view kName = "Max open files";
  const size_t at = limits.find(kName);
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = limits.find('\n', at);
  if (end == std::string_view::npos) end = limits.size();
  // "Max open files            1024                 524288               files"
  const auto f = SplitSpaces(limits.substr(at + kName.size(), end - at - kName.size()));
  if (f.empty()) return std::nullopt;
  return ParseNumber<int64_t>(f[0]);  // "unlimited" does not parse
}

std::optional<ProcessSample> ReadProcessSample(const std::string& proc_root) {
  const auto stat_text = ReadFile(proc_root + "/self/stat");
  if (!stat_text) return std::nullopt;
  const auto stat = ParseProcStat(*stat_text);
  if (!stat) return std::nullopt;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (ticks <= 0 || page <= 0) return std::nullopt;
  ProcessSample s;
  s.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks;
  s.resident_memory_bytes = static_cast<double>(stat->rss_pages) * page;
  s.virtual_memory_bytes = static_cast<double>(stat->vsize_bytes);
  if (auto system_stat = ReadFile(proc_root + "/stat")) {
    if (auto boot = ParseBootTime(*system_stat)) {
      s.start_time_seconds = static_cast<double>(*boot) +
                             static_cast<double>(stat->start_ticks) / static_cast<double>(ticks);
    }
  }
  s.open_fds = CountOpenFds(proc_root);
  if (auto limits = ReadFile(proc_root + "/self/limits")) {
    s.max_fds = ParseMaxOpenFiles(*limits).value_or(-1);
  }
  return s;
}

void PublishProcessMetrics(Metrics& m) {
  const auto s = ReadProcessSample();
  if (!s) return;
  m.SetCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {},
               s->cpu_seconds);
  m.SetGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
             s->resident_memory_bytes);
  m.SetGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
             s->virtual_memory_bytes);
  if (s->start_time_seconds > 0) {
    m.SetGauge("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.", s->start_time_seconds);
  }
  if (s->open_fds >= 0) {
    m.SetGauge("process_open_fds", "Number of open file descriptors.",
               static_cast<double>(s->open_fds));
  }
  if (s->max_fds >= 0) {
    m.SetGauge("process_max_fds", "Maximum number of open file descriptors.",
               static_cast<double>(s->max_fds));
  }
}

}  // namespace cl::http
