// Free text a client stores (token descriptions, trust policy names, audiences, bound claim
// patterns) is later printed on other people's terminals and pages: it must be valid UTF-8
// without control characters, so no one can plant terminal escapes (ESC, OSC 52 clipboard
// writes, cursor moves) or reorder text with bidirectional overrides.
#pragma once

#include <string_view>

#include "common/result.h"

namespace cl {

// The one definition of a code point that must never reach a terminal or a stored name: C0
// controls (U+0000..U+001F, tab and newline included), DEL, C1 controls (U+0080..U+009F), the
// bidirectional controls U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069, and the line
// and paragraph separators U+2028, U+2029. The server refuses stored text holding one
// (IsPrintableText); the CLI escapes them in what it prints (cli/terminal.h).
bool IsControlCodePoint(char32_t code_point);

// True when `text` is valid UTF-8 without any IsControlCodePoint.
bool IsPrintableText(std::string_view text);

// OK, or InvalidArgument("<field> must be printable text: ...", "invalid_argument").
Status CheckPrintableText(std::string_view text, std::string_view field);

}  // namespace cl
