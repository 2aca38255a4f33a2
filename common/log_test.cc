// Tests of the log line formats: always valid UTF-8, the text format, and the request context
// (request id and trace id on every line logged while a request is served).
#include "common/log.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "common/json.h"

namespace cl {
namespace {

// Captures what Log writes while alive; restores stderr, JSON and info level after.
class LogCapture {
 public:
  explicit LogCapture(LogFormat format = LogFormat::kJson) {
    SetLogFormat(format);
    SetLogSinkForTest(&sink_);
  }
  ~LogCapture() {
    SetLogSinkForTest(nullptr);
    SetLogFormat(LogFormat::kJson);
  }
  const std::string& text() const { return sink_; }

 private:
  std::string sink_;
};

// A strict UTF-8 check, independent of the code under test.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

TEST(LogUtf8, InvalidBytesAreEscapedAndValidTextIsKept) {
  struct Case {
    std::string input;
    std::string logged;  // the decoded JSON value
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"},
      {"/v1/\xff", "/v1/\\xff"},                     // never a valid byte
      {"a\x80z", "a\\x80z"},                         // lone continuation byte
      {"\xc0\xaf", "\\xc0\\xaf"},                    // overlong '/'
      {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},           // overlong, three bytes
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // above U+10FFFF
      {"\xf5\x80", "\\xf5\\x80"},                    // no such lead byte
      {"\xe2\x82", "\\xe2\\x82"},                    // truncated at the end
      {"\xe2\x82x", "\\xe2\\x82x"},                  // truncated in the middle
      {"\\x41", "\\x41"},                            // a real backslash stays a backslash
  };
  for (const auto& c : cases) {
    std::string out;
    AppendJsonString(out, c.input);
    EXPECT_TRUE(IsValidUtf8(out)) << out;
    auto parsed = ParseJson(out);
    ASSERT_TRUE(parsed) << out;
    EXPECT_EQ(std::string(parsed->as_string()), c.logged) << out;
  }
}

TEST(LogUtf8, WholeLinesStayValidJsonWhateverTheBytes) {
  LogCapture capture;
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  Log(LogLevel::kInfo, all_bytes, {{"path", all_bytes}});
  EXPECT_TRUE(IsValidUtf8(capture.text()));
  auto line = ParseJson(capture.text());
  ASSERT_TRUE(line) << capture.text();
  EXPECT_EQ(line->at("msg"), line->at("path"));
}

TEST(LogText, OneReadableLinePerCall) {
  LogCapture capture(LogFormat::kText);
  Log(LogLevel::kWarn, "session created",
      {{"user", "ada@example.com"}, {"status", 200}, {"note", "two words"}, {"ok", true}});
  const std::string& line = capture.text();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  // 2026-11-27T21:12:13.123Z WARN  "session created" user=... status=200 ...
  ASSERT_GT(line.size(), 25u);
  EXPECT_EQ(line[23], 'Z') << line;
  EXPECT_NE(line.find(" WARN  \"session created\" user=ada@example.com status=200 "
                      "note=\"two words\" ok=true\n"),
            std::string::npos)
      << line;
}

TEST(LogText, ValuesCannotForgeFieldsOrLines) {
  LogCapture capture(LogFormat::kText);
  Log(LogLevel::kInfo, "request", {{"path", "/x status=500\nINFO forged"}, {"empty", ""}});
  const std::string& line = capture.text();
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_NE(line.find(R"(path="/x status=500\nINFO forged")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"(empty="")"), std::string::npos) << line;
}

TEST(LogText, SecretsAreRedactedAsInJson) {
  LogCapture capture(LogFormat::kText);
  const std::string token = "clapi_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk";
  Log(LogLevel::kInfo, "failed for " + token, {{"credential", token}});
  EXPECT_EQ(capture.text().find("AbCdEfGhIjKlMnOp"), std::string::npos) << capture.text();
}

TEST(LogContext, LinesInScopeCarryTheRequestAndTraceIds) {
  LogCapture capture;
  {
    ScopedLogContext scope("req-1", "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(ScopedLogContext::CurrentTraceId(), "4bf92f3577b34da6a3ce929d0e0e4736");
    Log(LogLevel::kInfo, "session created", {{"user", "u1"}});
  }
  EXPECT_EQ(ScopedLogContext::CurrentTraceId(), "");
  Log(LogLevel::kInfo, "background");
  auto lines = capture.text();
  auto first = ParseJson(lines.substr(0, lines.find('\n')));
  auto second = ParseJson(lines.substr(lines.find('\n') + 1));
  ASSERT_TRUE(first && second) << lines;
  EXPECT_EQ(first->at("request_id").as_string(), "req-1");
  EXPECT_EQ(first->at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_FALSE(second->as_object().contains("request_id"));
  EXPECT_FALSE(second->as_object().contains("trace_id"));
}

TEST(LogContext, AnExplicitFieldIsNotRepeated) {
  LogCapture capture;
  ScopedLogContext scope("req-1", "t1");
  Log(LogLevel::kInfo, "request", {{"request_id", "req-1"}});
  EXPECT_EQ(capture.text().find("request_id"), capture.text().rfind("request_id"))
      << capture.text();
}

TEST(LogContext, ScopesNestAndStayOnTheirThread) {
  ScopedLogContext outer("outer", "trace-outer");
  {
    ScopedLogContext inner("inner", "trace-inner");
    EXPECT_EQ(ScopedLogContext::CurrentTraceId(), "trace-inner");
    std::string other;
    std::thread([&] { other = std::string(ScopedLogContext::CurrentTraceId()); }).join();
    EXPECT_EQ(other, "");
  }
  EXPECT_EQ(ScopedLogContext::CurrentTraceId(), "trace-outer");
}

}  // namespace
}  // namespace cl
