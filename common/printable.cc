#include "common/printable.h"

#include <cstdint>
#include <string>

namespace cl {
namespace {

// Decodes one UTF-8 sequence at `s[*i]` (advancing *i); false when malformed, overlong, a
// surrogate or beyond U+10FFFF.
bool NextCodePoint(std::string_view s, size_t* i, uint32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(*i);
  size_t len;
  uint32_t min;
  if (b0 < 0x80) {
    *cp = b0;
    *i += 1;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return false;
  }
  if (*i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return false;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return false;
  *i += len;
  return true;
}

}  // namespace

bool IsControlCodePoint(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
         cp == 0x2029;
}

bool IsPrintableText(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    if (!NextCodePoint(text, &i, &cp) || IsControlCodePoint(cp)) return false;
  }
  return true;
}

Status CheckPrintableText(std::string_view text, std::string_view field) {
  if (IsPrintableText(text)) return Ok();
  return Fail(Error::InvalidArgument(
      std::string(field) +
      " must be printable UTF-8 text: control characters (escape, newline, tab, ...), "
      "bidirectional overrides and invalid UTF-8 are refused"));
}

}  // namespace cl
