// Terminal-safe text: one UTF-8 decoder and one definition of "unsafe", shared by the value
// escaper, the stream sink and the JSON writer.
#include "cli/terminal.h"

#include <cstdio>

#include "common/json.h"
#include "common/printable.h"

namespace cl::cli {
namespace {

// Decodes one UTF-8 sequence at s[i]. Returns its length (1..4) and sets `cp`, or 0 when the
// bytes there are not valid UTF-8 (stray continuation, overlong form, surrogate, > U+10FFFF,
// truncated sequence).
size_t DecodeUtf8(std::string_view s, size_t i, char32_t& cp) {
  auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

std::string Hex(const char* format, unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string Escape(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    size_t len = DecodeUtf8(s, i, cp);
    if (len == 0) {
      out += Hex("\\x%02x", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (!IsUnsafeForTerminal(cp) || (keep_newlines && cp == '\n')) {
      out.append(s.substr(i, len));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x80) {
      out += Hex("\\x%02x", static_cast<unsigned>(cp));
    } else {
      out += Hex("\\u%04x", static_cast<unsigned>(cp));
    }
    i += len;
  }
  return out;
}

// Length of an unfinished (but so far valid) UTF-8 sequence at the end of `s`, else 0.
size_t UnfinishedUtf8Tail(std::string_view s) {
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    auto b = static_cast<unsigned char>(s[s.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

bool IsUnsafeForTerminal(char32_t cp) { return IsControlCodePoint(cp); }

std::string TerminalSafe(std::string_view s) { return Escape(s, /*keep_newlines=*/false); }

std::string TerminalSafeLines(std::string_view s) { return Escape(s, /*keep_newlines=*/true); }

std::string TerminalSafeJson(const boost::json::value& v) {
  // Structural JSON is ASCII and Boost.JSON escapes C0 in strings, so every byte rewritten here
  // is inside a string, where a \uXXXX escape means the same character.
  std::string json = SerializeJson(v);
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size();) {
    char32_t cp = 0;
    size_t len = DecodeUtf8(json, i, cp);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (IsUnsafeForTerminal(cp)) {
      out += Hex("\\u%04x", static_cast<unsigned>(cp));
    } else {
      out.append(json, i, len);
    }
    i += len;
  }
  return out;
}

TerminalSafeBuf::~TerminalSafeBuf() {
  Forward(/*partial=*/true);
  if (!pending_.empty()) {  // an unfinished UTF-8 sequence that will never be finished
    std::string safe = TerminalSafeLines(pending_);
    target_->sputn(safe.data(), static_cast<std::streamsize>(safe.size()));
  }
  target_->pubsync();
}

TerminalSafeBuf::int_type TerminalSafeBuf::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  char c = traits_type::to_char_type(ch);
  pending_.push_back(c);
  if (c == '\n') Forward(/*partial=*/false);
  return ch;
}

std::streamsize TerminalSafeBuf::xsputn(const char* s, std::streamsize n) {
  pending_.append(s, static_cast<size_t>(n));
  if (std::string_view(s, static_cast<size_t>(n)).find('\n') != std::string_view::npos) {
    Forward(/*partial=*/false);
  }
  return n;
}

int TerminalSafeBuf::sync() {
  Forward(/*partial=*/true);
  return target_->pubsync();
}

void TerminalSafeBuf::Forward(bool partial) {
  size_t end;
  if (partial) {
    end = pending_.size() - UnfinishedUtf8Tail(pending_);
  } else {
    auto nl = pending_.rfind('\n');
    if (nl == std::string::npos) return;
    end = nl + 1;
  }
  if (end == 0) return;
  std::string safe = TerminalSafeLines(std::string_view(pending_).substr(0, end));
  target_->sputn(safe.data(), static_cast<std::streamsize>(safe.size()));
  pending_.erase(0, end);
}

}  // namespace cl::cli
