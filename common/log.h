// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-27T21:12:13Z","level":"info","msg":"request","request_id":"...","status":200}
// or, with LogFormat::kText, one readable line for development:
//   2026-11-27T21:12:13.123Z INFO  request request_id=... status=200
// Lines are always valid UTF-8 (an invalid byte is written as the text \xNN). While a request is
// served (ScopedLogContext), every line carries its request id and trace id.
// Never pass a secret (token, pepper, client secret, authorization code) as a field.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace cl {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kJson, kText };

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
void SetLogFormat(LogFormat format);

// The request a thread is serving: while one is in scope on a thread, each line that thread logs
// gets "request_id" and "trace_id" fields (unless the call passes a field of that name). The
// strings must outlive the scope. Scopes nest; the innermost wins.
class ScopedLogContext {
 public:
  ScopedLogContext(std::string_view request_id, std::string_view trace_id);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

  std::string_view request_id() const { return request_id_; }
  std::string_view trace_id() const { return trace_id_; }
  // The trace id of the request this thread serves; "" outside any scope.
  static std::string_view CurrentTraceId();

 private:
  std::string_view request_id_;
  std::string_view trace_id_;
  const ScopedLogContext* outer_;
};
// Redirects log lines into a string sink for tests (nullptr restores stderr).
void SetLogSinkForTest(std::string* sink);

// Appends `s` to `out` as a JSON string literal (quotes and escapes included). An invalid UTF-8
// byte is written as the text \xNN (its backslash escaped), so the result is always valid UTF-8
// and the byte stays visible.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace cl
