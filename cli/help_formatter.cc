// ChainloopHelpFormatter: lays out a command's help; see the header.
#include "cli/help_formatter.h"

#include <algorithm>
#include <sstream>

namespace cl::cli {

std::string ChainloopHelpFormatter::make_help(const CLI::App* app, std::string name,
                                              CLI::AppFormatMode mode) const {
  if (mode == CLI::AppFormatMode::Sub) return CLI::Formatter::make_help(app, name, mode);
  const auto doc_it = docs_.find(app);
  const CommandDoc* doc = doc_it == docs_.end() ? nullptr : &doc_it->second;
  std::ostringstream out;
  if (doc != nullptr && !doc->long_description.empty()) {
    out << doc->long_description << "\n\n";
  } else if (!app->get_description().empty()) {
    out << app->get_description() << "\n\n";
  }

  auto subs = app->get_subcommands(
      [](const CLI::App* s) { return !s->get_disabled() && !s->get_name().empty(); });
  out << "Usage:\n  " << name << (subs.empty() ? " [flags]" : " [command]") << "\n";

  if (!app->get_aliases().empty()) {
    out << "\nAliases:\n  " << app->get_name();
    for (const auto& a : app->get_aliases()) out << ", " << a;
    out << "\n";
  }

  if (!subs.empty()) {
    size_t width = 0;
    for (const auto* s : subs) width = std::max(width, s->get_name().size());
    out << "\nAvailable Commands:\n";
    for (const auto* s : subs) {
      out << "  " << s->get_name() << std::string(width - s->get_name().size() + 3, ' ')
          << s->get_description() << "\n";
    }
  }

  auto flags = app->get_options([](const CLI::Option* o) { return o->nonpositional(); });
  if (!flags.empty()) out << make_group("Flags", false, flags);

  const CLI::App* root = app;
  while (root->get_parent() != nullptr) root = root->get_parent();
  if (root != app) {
    auto globals = root->get_options(
        [](const CLI::Option* o) { return o->nonpositional() && o->get_name() != "--help"; });
    if (!globals.empty()) out << make_group("Global Flags", false, globals);
  }
  if (doc != nullptr && !doc->examples.empty()) {
    out << "\nExamples:\n";
    std::istringstream lines(doc->examples);
    for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
  }
  if (!subs.empty()) {
    out << "\nUse \"" << name << " [command] --help\" for more information about a command.\n";
  }
  if (!app->get_footer().empty()) out << "\n" << app->get_footer() << "\n";
  return out.str();
}

}  // namespace cl::cli
