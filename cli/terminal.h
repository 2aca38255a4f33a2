// Terminal-safe output. Text from the control plane (organization, project, workflow and member
// names, token descriptions, audit messages, error messages) is untrusted: printed raw, an ESC or
// C1 byte starts a control sequence (OSC 52 writes the clipboard, CSI moves the cursor or
// rewrites earlier lines), a newline fakes extra lines, and a bidi override reorders what the
// reader sees. So:
//
//   * every value the CLI prints goes through TerminalSafe (cli/output.h's Field helpers, the
//     table renderer, error messages), which also escapes newlines and tabs inside one value;
//   * CliContext's out() and err() are TerminalSafeStreams: whatever a printer writes, no
//     control character other than the line-ending '\n' reaches the terminal, even from a
//     printer that forgot the first rule;
//   * JSON output is written by TerminalSafeJson, which uses JSON's own \uXXXX escapes, so it is
//     unchanged by the stream and parses to exactly the same data.
#pragma once

#include <boost/json/value.hpp>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

namespace cl::cli {

// True for the code points TerminalSafe escapes: exactly common/printable.h's
// IsControlCodePoint, the set the server refuses in stored text.
bool IsUnsafeForTerminal(char32_t code_point);

// `s` with every unsafe code point escaped ("\n", "\r", "\t", "\x1b" for other C0 and DEL,
// "\u202e" for the others) and each byte of invalid UTF-8 as "\xff". Valid, safe text (including
// non-ASCII) is unchanged; the result is one line, and TerminalSafe(TerminalSafe(s)) ==
// TerminalSafe(s).
std::string TerminalSafe(std::string_view s);

// As TerminalSafe, but '\n' is kept: for whole output text the CLI composed itself.
std::string TerminalSafeLines(std::string_view s);

// `v` serialized as JSON, with every unsafe code point inside strings written as a \uXXXX escape
// and invalid UTF-8 as \ufffd: valid JSON, the same data, and no byte TerminalSafeLines changes.
std::string TerminalSafeJson(const boost::json::value& v);

// A streambuf that passes everything written to it through TerminalSafeLines before handing it
// to `target`. Complete lines are forwarded at once; a partial line on sync() (std::flush,
// std::endl), except for an unfinished UTF-8 sequence, which waits for its remaining bytes.
// Flushes on destruction. Not thread-safe (like the streams it wraps).
class TerminalSafeBuf : public std::streambuf {
 public:
  explicit TerminalSafeBuf(std::streambuf* target) : target_(target) {}
  ~TerminalSafeBuf() override;
  TerminalSafeBuf(const TerminalSafeBuf&) = delete;
  TerminalSafeBuf& operator=(const TerminalSafeBuf&) = delete;

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  // Forwards pending_ up to its last '\n' (all of it when `partial`, but for an unfinished
  // UTF-8 sequence at the end).
  void Forward(bool partial);

  std::streambuf* target_;
  std::string pending_;
};

// An ostream writing through a TerminalSafeBuf into `target`'s buffer.
class TerminalSafeStream : public std::ostream {
 public:
  explicit TerminalSafeStream(std::ostream& target) : std::ostream(nullptr), buf_(target.rdbuf()) {
    rdbuf(&buf_);
  }
  ~TerminalSafeStream() override { buf_.pubsync(); }

 private:
  TerminalSafeBuf buf_;
};

}  // namespace cl::cli
