#include "common/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/redact.h"

namespace cl {
namespace {

// Read on every Log() call, so lines below the level cost one atomic load and nothing else.
std::atomic<LogLevel> g_min_level{LogLevel::kInfo};

// Info and debug lines (the access log, mostly) are appended to a buffer that a background
// thread writes out within kFlushDelay, so a busy server makes one write(2) per batch instead of
// one per request. Warn and error lines, and anything once the buffer holds kFlushBytes, are
// written at once together with what is buffered before them, so the order of lines is kept.
// A process killed with SIGKILL loses at most kFlushDelay of info lines; exit() flushes.
constexpr auto kFlushDelay = std::chrono::milliseconds(20);
constexpr size_t kFlushBytes = 64 * 1024;

struct LogState {
  std::mutex mu;        // guards the fields below
  std::mutex write_mu;  // held while writing, so batches reach stderr in order
  std::condition_variable cv;
  std::string buffer;            // GUARDED_BY(mu)
  std::string* sink = nullptr;   // GUARDED_BY(mu); tests
  bool flusher_started = false;  // GUARDED_BY(mu)
};

// Never destroyed: lines logged from other static destructors or detached threads stay safe.
LogState& State() {
  static LogState* state = new LogState;
  return *state;
}

void WriteAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report it
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Writes out everything buffered so far. Callers must not hold state.mu.
void FlushBuffered(LogState& state) {
  std::lock_guard<std::mutex> write_lock(state.write_mu);
  std::string batch;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    batch.swap(state.buffer);
  }
  WriteAll(batch);
  std::lock_guard<std::mutex> lock(state.mu);
  if (state.buffer.empty()) {
    batch.clear();
    state.buffer.swap(batch);  // keep the capacity for the next batch
  }
}

void FlusherLoop() {
  LogState& state = State();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(state.mu);
      state.cv.wait(lock, [&] { return !state.buffer.empty(); });
    }
    std::this_thread::sleep_for(kFlushDelay);  // let a burst of lines share one write
    FlushBuffered(state);
  }
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  // Most values (ids, paths, numbers as text) need no escaping: copy runs of plain characters
  // at once and escape only what must be.
  size_t plain = 0;
  while (plain < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[plain]);
    if (c < 0x20 || c == '"' || c == '\\') break;
    ++plain;
  }
  out.append(s.data(), plain);
  s.remove_prefix(plain);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void SetMinLogLevel(LogLevel level) { g_min_level.store(level, std::memory_order_relaxed); }

void SetLogSinkForTest(std::string* sink) {
  FlushLog();
  LogState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  state.sink = sink;
}

void FlushLog() { FlushBuffered(State()); }

namespace {
void AppendRedacted(std::string& out, std::string_view s) {
  if (!MayHoldSecret(s)) {
    AppendJsonString(out, s);
  } else {
    AppendJsonString(out, RedactSecrets(s));
  }
}
}  // namespace

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // "2026-11-27T21:12:13" changes once a second: formatted once per second per thread.
  thread_local int64_t cached_second = -1;
  thread_local std::string cached_prefix;
  if (ms / 1000 != cached_second) {
    cached_second = ms / 1000;
    cached_prefix = FormatRfc3339(cached_second * 1000);
    cached_prefix.pop_back();  // the trailing 'Z'
  }
  // One buffer per thread, reused: formatting a line allocates nothing once it has grown.
  thread_local std::string line;
  line.clear();
  line += "{\"ts\":\"";
  line += cached_prefix;
  char millis[8] = {'.',
                    static_cast<char>('0' + ms % 1000 / 100),
                    static_cast<char>('0' + ms % 100 / 10),
                    static_cast<char>('0' + ms % 10),
                    'Z',
                    '"'};
  line.append(millis, 6);
  line += ",\"level\":\"";
  line += LevelName(level);
  line += "\",\"msg\":";
  // Every string a line carries goes through RedactSecrets: a credential that reached a message
  // or a field (a client's typo, an error quoting input) is masked here, whatever the caller.
  AppendRedacted(line, msg);
  for (const auto& f : fields) {
    line.push_back(',');
    AppendJsonString(line, f.key);
    line.push_back(':');
    if (auto* s = std::get_if<std::string_view>(&f.value)) {
      AppendRedacted(line, *s);
    } else if (auto* i = std::get_if<int64_t>(&f.value)) {
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), *i);
      line.append(digits, end);
    } else if (auto* d = std::get_if<double>(&f.value)) {
      // Shortest text that reads back as the same double; JSON has no NaN or infinity.
      char digits[32];
      auto [end, ec] = std::isfinite(*d) ? std::to_chars(digits, digits + sizeof(digits), *d)
                                         : std::to_chars_result{digits, std::errc()};
      if (end == digits) {
        line += "null";
      } else {
        line.append(digits, end);
      }
    } else if (auto* b = std::get_if<bool>(&f.value)) {
      line += *b ? "true" : "false";
    }
  }
  line += "}\n";

  LogState& state = State();
  bool write_now = level >= LogLevel::kWarn;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (state.sink) {
      *state.sink += line;
      return;
    }
    bool was_empty = state.buffer.empty();
    state.buffer += line;
    if (state.buffer.size() >= kFlushBytes) write_now = true;
    if (!write_now) {
      if (!state.flusher_started) {
        state.flusher_started = true;
        std::thread(FlusherLoop).detach();
        std::atexit(FlushLog);
      }
      if (was_empty) state.cv.notify_one();  // the flusher waits only for an empty buffer
      return;
    }
  }
  FlushBuffered(state);
}

}  // namespace cl
