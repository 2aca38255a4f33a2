// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-27T21:12:13Z","level":"info","msg":"request","request_id":"...","status":200}
// Never pass a secret (token, pepper, client secret, authorization code) as a field.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace cl {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// A field of one log line. String values are views: a LogField lives only for the Log() call
// (the full expression), and so do the strings it points to, temporaries included.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, int64_t v) : key(k), value(v) {}
  LogField(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, unsigned v) : key(k), value(int64_t{v}) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  std::variant<std::string_view, int64_t, double, bool> value;
};

// Thread-safe. Lines below the minimum level are dropped. Warn and error lines are written
// before Log returns; info and debug lines within ~20 ms by a background thread (one write per
// batch). exit() and FlushLog() write out whatever is pending.
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
void FlushLog();
void SetMinLogLevel(LogLevel level);
// Redirects log lines into a string sink for tests (nullptr restores stderr).
void SetLogSinkForTest(std::string* sink);

// Appends `s` to `out` as a JSON string literal (quotes and escapes included).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace cl
