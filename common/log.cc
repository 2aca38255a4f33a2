#include "common/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/redact.h"

namespace cl {
namespace {

// Read on every Log() call, so lines below the level cost one atomic load and nothing else.
std::atomic<LogLevel> g_min_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kJson};

// The innermost ScopedLogContext of this thread.
thread_local const ScopedLogContext* t_context = nullptr;

// Info and debug lines (the access log, mostly) are appended to a buffer that a background
// thread writes out within kFlushDelay, or as soon as it holds kFlushBytes, so a busy server
// makes one write(2) per batch instead of one per request, and not on a request's thread. Warn
// and error lines are written at once together with what is buffered before them, so the order
// of lines is kept; so is everything once kMaxBufferedBytes are waiting (a stderr slower than
// the server holds the callers back instead of growing the buffer). A process killed with
// SIGKILL loses at most kFlushDelay of info lines; exit() flushes.
constexpr auto kFlushDelay = std::chrono::milliseconds(20);
constexpr size_t kFlushBytes = 64 * 1024;
constexpr size_t kMaxBufferedBytes = 4 * 1024 * 1024;

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
      // Let a burst of lines share one write, unless a full batch is waiting already.
      state.cv.wait_for(lock, kFlushDelay, [&] { return state.buffer.size() >= kFlushBytes; });
    }
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

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when its first byte does not start one.
size_t Utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return n;
}

// Bytes a JSON string carries as they are: printable ASCII except '"' and '\\'.
constexpr auto kPlainJsonByte = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// Length of the longest prefix of `s`, in whole 8-byte words, made only of plain JSON bytes
// (kPlainJsonByte), tested a word at a time: no byte below 0x20 or from 0x80, no '"', no '\\'.
// Exact for every word it accepts; the caller looks at the rest byte by byte.
size_t PlainJsonWords(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, sizeof(v));
    // With no byte from 0x80, subtracting 0x20 from every byte sets the top bit of the lowest
    // byte below 0x20 (and maybe of bytes above it: a harmless false alarm).
    if ((v & kHigh) || ((v - 0x20 * kOnes) & kHigh) || has_zero(v ^ ('"' * kOnes)) ||
        has_zero(v ^ ('\\' * kOnes))) {
      break;
    }
  }
  return i;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  // Most values (ids, paths, numbers as text) need no escaping: copy runs of plain ASCII at once
  // and look closer only at what may need it.
  while (!s.empty()) {
    size_t plain = PlainJsonWords(s);
    while (plain < s.size() && kPlainJsonByte[static_cast<unsigned char>(s[plain])]) ++plain;
    out.append(s.data(), plain);
    s.remove_prefix(plain);
    if (s.empty()) break;
    unsigned char c = static_cast<unsigned char>(s[0]);
    if (c >= 0x80) {
      if (size_t n = Utf8SequenceLength(s); n > 0) {
        out.append(s.data(), n);
        s.remove_prefix(n);
      } else {
        out += fmt::format("\\\\x{:02x}", c);
        s.remove_prefix(1);
      }
      continue;
    }
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
        out += fmt::format("\\u{:04x}", c);
    }
    s.remove_prefix(1);
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

void SetLogFormat(LogFormat format) { g_format.store(format, std::memory_order_relaxed); }

ScopedLogContext::ScopedLogContext(std::string_view request_id, std::string_view trace_id)
    : request_id_(request_id), trace_id_(trace_id), outer_(t_context) {
  t_context = this;
}

ScopedLogContext::~ScopedLogContext() { t_context = outer_; }

std::string_view ScopedLogContext::CurrentTraceId() {
  return t_context ? t_context->trace_id_ : std::string_view();
}

namespace {

// A text-format value: bare when it is a plain word, else quoted like JSON.
void AppendTextValue(std::string& out, std::string_view s) {
  bool bare = !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
  });
  if (bare) {
    out += s;
  } else {
    AppendJsonString(out, s);
  }
}

// Appends one field: `,"key":value` (JSON) or ` key=value` (text).
void AppendField(std::string& line, bool text, std::string_view key, const LogField& f) {
  if (text) {
    line.push_back(' ');
    line += key;
    line.push_back('=');
  } else {
    line.push_back(',');
    AppendJsonString(line, key);
    line.push_back(':');
  }
  if (auto* s = std::get_if<std::string_view>(&f.value)) {
    // Every string a line carries goes through RedactSecrets: a credential that reached a
    // field (a client's typo, an error quoting input) is masked here, whatever the caller.
    bool secret = MayHoldSecret(*s);
    std::string redacted = secret ? RedactSecrets(*s) : std::string();
    std::string_view value = secret ? std::string_view(redacted) : *s;
    if (text) {
      AppendTextValue(line, value);
    } else {
      AppendJsonString(line, value);
    }
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

bool HasField(std::initializer_list<LogField> fields, std::string_view key) {
  for (const auto& f : fields) {
    if (f.key == key) return true;
  }
  return false;
}

}  // namespace

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (level < g_min_level.load(std::memory_order_relaxed)) return;
  const bool text = g_format.load(std::memory_order_relaxed) == LogFormat::kText;
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
  const char millis[5] = {'.', static_cast<char>('0' + ms % 1000 / 100),
                          static_cast<char>('0' + ms % 100 / 10), static_cast<char>('0' + ms % 10),
                          'Z'};
  // The message is redacted like every field value.
  bool secret_msg = MayHoldSecret(msg);
  std::string redacted_msg = secret_msg ? RedactSecrets(msg) : std::string();
  std::string_view shown_msg = secret_msg ? std::string_view(redacted_msg) : msg;
  if (text) {
    line += cached_prefix;
    line.append(millis, 5);
    line.push_back(' ');
    std::string_view name = LevelName(level);
    for (char ch : name) line.push_back(static_cast<char>(ch - 'a' + 'A'));
    line.append(6 - name.size(), ' ');
    AppendTextValue(line, shown_msg);
  } else {
    line += "{\"ts\":\"";
    line += cached_prefix;
    line.append(millis, 5);
    line += "\",\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":";
    AppendJsonString(line, shown_msg);
  }
  for (const auto& f : fields) AppendField(line, text, f.key, f);
  if (const ScopedLogContext* ctx = t_context) {
    std::string_view request_id = ctx->request_id();
    std::string_view trace_id = ctx->trace_id();
    if (!request_id.empty() && !HasField(fields, "request_id")) {
      AppendField(line, text, "request_id", LogField("request_id", request_id));
    }
    if (!trace_id.empty() && !HasField(fields, "trace_id")) {
      AppendField(line, text, "trace_id", LogField("trace_id", trace_id));
    }
  }
  line += text ? "\n" : "}\n";

  LogState& state = State();
  bool write_now = level >= LogLevel::kWarn;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (state.sink) {
      *state.sink += line;
      return;
    }
    const size_t before = state.buffer.size();
    state.buffer += line;
    if (state.buffer.size() >= kMaxBufferedBytes) write_now = true;
    if (!write_now) {
      if (!state.flusher_started) {
        state.flusher_started = true;
        std::thread(FlusherLoop).detach();
        std::atexit(FlushLog);
      }
      // The flusher waits for a first line, then for a full batch or kFlushDelay.
      if (before == 0 || (before < kFlushBytes && state.buffer.size() >= kFlushBytes)) {
        state.cv.notify_one();
      }
      return;
    }
  }
  FlushBuffered(state);
}

}  // namespace cl
