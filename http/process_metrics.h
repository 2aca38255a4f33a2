// Process metrics in the standard Prometheus names (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds), read from Linux's /proc at scrape time: a few
// small file reads and one directory listing per scrape, nothing kept between scrapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cl::http {

class Metrics;

struct ProcessSample {
  double cpu_seconds = 0;            // user + system time
  double resident_memory_bytes = 0;  // RSS
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  int64_t open_fds = -1;          // -1: unknown
  int64_t max_fds = -1;           // soft limit; -1: unknown or unlimited
};

// The fields of /proc/<pid>/stat (proc(5)) that ProcessSample needs, in the file's units.
struct ProcStat {
  uint64_t utime_ticks = 0, stime_ticks = 0;
  uint64_t start_ticks = 0;  // since boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};

// Parses one /proc/<pid>/stat line. The command name (field 2) is in parentheses and may hold
// spaces and ')', so the fields are counted from its last ')'. nullopt when malformed.
std::optional<ProcStat> ParseProcStat(std::string_view text);
// The `btime` line of /proc/stat: boot time, seconds since the epoch.
std::optional<int64_t> ParseBootTime(std::string_view proc_stat);
// The soft limit of "Max open files" in /proc/<pid>/limits; nullopt when absent or unlimited.
std::optional<int64_t> ParseMaxOpenFiles(std::string_view limits);

// Reads /proc/self (under `proc_root`, "/proc" in production); nullopt when /proc/self/stat
// cannot be read or parsed (not Linux).
std::optional<ProcessSample> ReadProcessSample(const std::string& proc_root = "/proc");

// Sets the process_* families in `m` from ReadProcessSample(); sets nothing when it fails.
void PublishProcessMetrics(Metrics& m);

}  // namespace cl::http
