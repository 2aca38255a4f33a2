// Usage errors of the `chainloop` command line: an unknown command or flag is named, with the
// closest known ones suggested ("did you mean ..."), the way Chainloop's own (cobra) CLI does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
class ParseError;
}  // namespace CLI

namespace cl::cli {

// The candidates closest to `typo` (edit distance at most max(1, size/3), or `typo` a prefix
// of at least 3 characters), best first, at most 3.
std::vector<std::string> ClosestMatches(std::string_view typo,
                                        const std::vector<std::string>& candidates);

// For a command line with a word or flag `root` does not know where it stands: what was not
// understood, where, the closest known ones and where to get help. "" when every word is known.
std::string UnknownWordMessage(const CLI::App& root, const std::vector<std::string>& args);

// The message for a failed parse of `args` (in order) by `root`: for an unknown command or flag,
// what was not understood, where, the suggestions and where to get help; otherwise CLI11's own
// message. Never ends with a newline.
std::string UsageErrorMessage(const CLI::App& root, const std::vector<std::string>& args,
                              const CLI::ParseError& error);

// The command (sub-App) a command line names, as far as it names known commands: `root` when
// the first word is not a command. For printing a command group's help.
const CLI::App& DeepestCommand(const CLI::App& root, const std::vector<std::string>& args);

}  // namespace cl::cli
