// The help layout of `chainloop`, like Chainloop's own (cobra-based) CLI: description, Usage,
// Aliases, Available Commands, Flags, Global Flags, Examples. Includes CLI11: include it only
// where CLI11 is included already (app.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <utility>

namespace cl::cli {

// What a command's help says beyond its one-line summary.
struct CommandDoc {
  std::string long_description;  // printed instead of the summary at the top of its help
  std::string examples;          // command lines, one per line; `#` lines say what they do
};

// Help text laid out the way Chainloop's (cobra-based) CLI prints it.
class ChainloopHelpFormatter : public CLI::Formatter {
 public:
  // Adds `doc` to `cmd`'s help. Returns `cmd`.
  CLI::App* Document(CLI::App* cmd, CommandDoc doc) {
    docs_[cmd] = std::move(doc);
    return cmd;
  }

  // The help of `app`: description, Usage, Aliases, Available Commands, Flags, Global Flags,
  // Examples.
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;

 private:
  std::map<const CLI::App*, CommandDoc> docs_;
};

}  // namespace cl::cli
