// A plain-text table writer for the CLI's list commands: a header row and data rows, each
// column padded to its widest cell (in terminal columns: East Asian wide characters and emoji take
// two, combining marks none), columns separated by three
// spaces, no trailing whitespace. Cells are made terminal-safe (cli/terminal.h) as they are added.
#pragma once

#include <string>
#include <vector>

namespace cl::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // Missing cells are rendered empty, extra ones dropped. Each cell is passed through
  // TerminalSafe (escaped newlines, tabs, control characters, bidi overrides, invalid UTF-8).
  void AddRow(std::vector<std::string> cells);

  bool empty() const { return rows_.empty(); }

  // The whole table, one line per row, each ending in '\n'.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Display width of `s` in terminal columns, as wcwidth() under C.UTF-8 gives it per code point
// (wide characters 2, combining and zero-width characters 0, others 1); a code point it does not
// know, or a byte of invalid UTF-8, counts 1. Without a C.UTF-8 locale: one per code point.
size_t DisplayWidth(const std::string& s);

}  // namespace cl::cli
