// Usage errors: walks the command line over the CLI11 tree to find the first word or flag it
// does not know, and suggests the closest known ones by edit distance.
#include "cli/usage_error.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace cl::cli {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance, two rows kept besides the current one.
  std::vector<size_t> row(b.size() + 1), previous(b.size() + 1), before_previous(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    before_previous = previous;
    previous = row;
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      // Two neighbours swapped ("auht") count as one edit.
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before_previous[j - 2] + 1);
      }
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The visible subcommands of `app`, with their aliases.
std::vector<const CLI::App*> Commands(const CLI::App& app) {
  return app.get_subcommands(
      [](const CLI::App* s) { return !s->get_disabled() && !s->get_name().empty(); });
}

const CLI::App* FindCommand(const CLI::App& app, std::string_view word) {
  for (const CLI::App* s : Commands(app)) {
    if (s->get_name() == word) return s;
    for (const auto& alias : s->get_aliases()) {
      if (alias == word) return s;
    }
  }
  return nullptr;
}

std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* s : Commands(app)) names.push_back(s->get_name());
  return names;
}

// The option `flag` ("--name", "-n") names in `app` or an ancestor (global flags), or null.
const CLI::Option* FindFlag(const CLI::App& app, std::string_view flag) {
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      if (!o->nonpositional()) continue;
      for (const auto& l : o->get_lnames()) {
        if (flag == "--" + l) return o;
      }
      for (const auto& s : o->get_snames()) {
        if (flag == "-" + s) return o;
      }
    }
  }
  return nullptr;
}

std::vector<std::string> FlagNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      if (!o->nonpositional()) continue;
      for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    }
  }
  return names;
}

// "chainloop organization api-token"
std::string PathOf(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* a = app.get_parent(); a != nullptr; a = a->get_parent()) {
    path = a->get_name() + " " + path;
  }
  return path;
}

std::string Suggestions(const std::vector<std::string>& matches) {
  if (matches.empty()) return "";
  std::string out = "\n\nDid you mean this?";
  for (const auto& m : matches) out += "\n  " + m;
  return out;
}

struct Walk {
  const CLI::App* app;  // the deepest command named
  std::string unknown;  // the first word or flag not understood ("" when none)
  bool unknown_is_flag = false;
};

Walk WalkArgs(const CLI::App& root, const std::vector<std::string>& args) {
  Walk w{&root, "", false};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-') {
      const std::string flag = arg.substr(0, arg.find('='));
      const CLI::Option* o = FindFlag(*w.app, flag);
      if (o == nullptr) {
        // "-abc" style short flags are not used by this CLI: the whole word is unknown.
        w.unknown = flag;
        w.unknown_is_flag = true;
        return w;
      }
      if (o->get_type_size() != 0 && arg.find('=') == std::string::npos) ++i;  // its value
      continue;
    }
    const CLI::App* sub = FindCommand(*w.app, arg);
    if (sub != nullptr) {
      w.app = sub;
      continue;
    }
    if (!Commands(*w.app).empty()) {
      w.unknown = arg;
      return w;
    }
  }
  return w;
}

}  // namespace

std::vector<std::string> ClosestMatches(std::string_view typo,
                                        const std::vector<std::string>& candidates) {
  std::vector<std::pair<size_t, std::string>> scored;
  const size_t bound = std::max<size_t>(1, typo.size() / 3);
  for (const auto& c : candidates) {
    const size_t d = EditDistance(typo, c);
    const bool prefix = typo.size() >= 3 && c.size() > typo.size() && c.starts_with(typo);
    if (d <= bound || prefix) scored.emplace_back(prefix ? std::min<size_t>(d, 1) : d, c);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [d, c] : scored) {
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    if (out.size() == 3) break;
  }
  return out;
}

const CLI::App& DeepestCommand(const CLI::App& root, const std::vector<std::string>& args) {
  return *WalkArgs(root, args).app;
}

std::string UnknownWordMessage(const CLI::App& root, const std::vector<std::string>& args) {
  const Walk w = WalkArgs(root, args);
  if (w.unknown.empty()) return "";
  const std::string path = PathOf(*w.app);
  const std::string help = "\n\nRun '" + path + " --help' for usage.";
  if (w.unknown_is_flag) {
    return "Error: unknown flag: " + w.unknown + " (for \"" + path + "\")" +
           Suggestions(ClosestMatches(w.unknown, FlagNames(*w.app))) + help;
  }
  return "Error: unknown command \"" + w.unknown + "\" for \"" + path + "\"" +
         Suggestions(ClosestMatches(w.unknown, CommandNames(*w.app))) + help;
}

std::string UsageErrorMessage(const CLI::App& root, const std::vector<std::string>& args,
                              const CLI::ParseError& error) {
  if (std::string unknown = UnknownWordMessage(root, args); !unknown.empty()) return unknown;
  return std::string("Error: ") + error.what() + "\n\nRun '" + PathOf(DeepestCommand(root, args)) +
         " --help' for usage.";
}

}  // namespace cl::cli
