// TextTable: column widths are computed over all rows, then each line is padded.
#include "cli/table.h"

#include <locale.h>
#include <wchar.h>

#include <algorithm>
#include <string_view>

#include "cli/terminal.h"

namespace cl::cli {

namespace {

// The C.UTF-8 character type, created once: wcwidth() answers for non-ASCII only under a UTF-8
// LC_CTYPE, and the process's own locale (often "C") must not decide the layout. Null when the C
// library has no C.UTF-8.
locale_t Utf8Locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

// The code point starting at s[i] (advancing i), or U+FFFD for a byte that starts none.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i++]);
  int extra = lead < 0x80           ? 0
              : (lead >> 5) == 0x6  ? 1
              : (lead >> 4) == 0xE  ? 2
              : (lead >> 3) == 0x1E ? 3
                                    : -1;
  if (extra < 0) return 0xFFFD;
  char32_t cp = extra == 0 ? lead : lead & (0x3F >> extra);
  for (; extra > 0; --extra) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

}  // namespace

size_t DisplayWidth(const std::string& s) {
  const locale_t utf8 = Utf8Locale();
  const locale_t previous = utf8 != static_cast<locale_t>(0) ? uselocale(utf8) : nullptr;
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = NextCodePoint(s, i);
    int w = utf8 != static_cast<locale_t>(0) ? wcwidth(static_cast<wchar_t>(cp)) : 1;
    // Unknown or unassigned code points (-1) still take a column on any terminal.
    width += w < 0 ? 1 : static_cast<size_t>(w);
  }
  if (previous != nullptr) uselocale(previous);
  return width;
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  // Every cell is escaped here, whoever built it: a control sequence could rewrite the screen,
  // and a newline or tab would break the layout or fake a row.
  for (auto& cell : cells) cell = TerminalSafe(cell);
  rows_.push_back(std::move(cells));
}

std::string TextTable::Render() const {
  std::vector<size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - DisplayWidth(row[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers_);
  for (const auto& row : rows_) emit(row);
  return out;
}

}  // namespace cl::cli
