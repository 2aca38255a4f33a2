// The help of every `chainloop` command, found by walking the tree through `--help` the way a
// user would: each command has a summary, each leaf an Examples block whose command lines name
// that command and only flags it accepts, and no option shows a bare type (TEXT, INT) instead
// of what its value is (DAYS, DURATION, N, FILE, or the values it accepts).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"

namespace cl::cli {
namespace {

using ::testing::HasSubstr;

std::string Help(const std::vector<std::string>& path) {
  std::vector<std::string> args = path;
  args.push_back("--help");
  std::ostringstream out, err;
  EXPECT_EQ(RunCli(args, CliEnvironment{}, out, err), 0) << err.str();
  return out.str();
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The lines of the section `title` ("Flags:") up to the next blank line.
std::vector<std::string> Section(const std::string& help, const std::string& title) {
  std::vector<std::string> lines;
  const auto at = help.find("\n" + title + "\n");
  if (at == std::string::npos) return lines;
  std::istringstream in(help.substr(at + title.size() + 2));
  for (std::string line; std::getline(in, line) && !line.empty();) lines.push_back(line);
  return lines;
}

struct Command {
  std::vector<std::string> path;
  std::string help;
};

void Walk(const std::vector<std::string>& path, std::vector<Command>& out) {
  const std::string help = Help(path);
  out.push_back({path, help});
  for (const auto& line : Section(help, "Available Commands:")) {
    const auto words = Words(line);
    EXPECT_GE(words.size(), 2u) << "a command without a summary: " << line;
    auto child = path;
    child.push_back(words.front());
    Walk(child, out);
  }
}

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  Walk({}, all);
  return all;
}

bool IsLeaf(const Command& c) { return Section(c.help, "Available Commands:").empty(); }

// Every flag name in the help's Flags and Global Flags ("-o,--output table|json|token  ...").
std::set<std::string> AcceptedFlags(const std::string& help) {
  std::set<std::string> flags;
  for (const char* title : {"Flags:", "Global Flags:"}) {
    for (const auto& line : Section(help, title)) {
      const auto words = Words(line);
      if (words.empty() || words.front()[0] != '-') continue;
      std::istringstream names(words.front());
      for (std::string n; std::getline(names, n, ',');) flags.insert(n);
    }
  }
  return flags;
}

// The example command lines that run chainloop, with `\` continuations joined.
std::vector<std::string> ExampleCommands(const std::string& help) {
  std::vector<std::string> commands;
  std::string pending;
  for (auto line : Section(help, "Examples:")) {
    const bool continued = !line.empty() && line.back() == '\\';
    if (continued) line.pop_back();
    pending += line;
    if (continued) continue;
    const auto words = Words(pending);
    if (!words.empty() && words.front() == "chainloop") commands.push_back(pending);
    pending.clear();
  }
  return commands;
}

TEST(HelpTest, TheWalkFindsTheWholeTree) {
  const auto all = AllCommands();
  std::set<std::string> paths;
  for (const auto& c : all) {
    std::string p;
    for (const auto& w : c.path) p += (p.empty() ? "" : " ") + w;
    paths.insert(p);
  }
  for (const char* expected : {"organization api-token list", "organization federation create",
                               "workflow run describe", "completion", "version"}) {
    EXPECT_EQ(paths.count(expected), 1u) << expected;
  }
  EXPECT_GE(all.size(), 40u);
}

TEST(HelpTest, EveryLeafCommandHasExamplesThatUseIt) {
  for (const auto& c : AllCommands()) {
    if (!IsLeaf(c)) continue;
    std::string name = "chainloop";
    for (const auto& w : c.path) name += " " + w;
    const auto examples = ExampleCommands(c.help);
    EXPECT_FALSE(examples.empty()) << name << " has no Examples block:\n" << c.help;
    const auto accepted = AcceptedFlags(c.help);
    for (const auto& example : examples) {
      // The words before the first flag name this command (or reach it through an alias).
      std::vector<std::string> words;
      for (const auto& w : Words(example)) words.push_back(w);
      size_t i = 1;
      std::vector<std::string> command;
      while (i < words.size()) {
        if (words[i][0] == '-') {  // a global flag and its value before the command's words
          i += (words[i] == "-y" || words[i] == "--yes" || words[i] == "--debug") ? 1 : 2;
          continue;
        }
        if (command.size() == c.path.size()) break;
        command.push_back(words[i++]);
      }
      ASSERT_EQ(command.size(), c.path.size()) << example;
      const std::string resolved = Help(command);
      EXPECT_EQ(resolved, c.help) << "`" << example << "` is not an example of " << name;
      for (const auto& w : words) {
        if (w[0] != '-' || w == "-") continue;
        EXPECT_EQ(accepted.count(w), 1u) << name << ": example uses unknown flag " << w;
      }
    }
  }
}

TEST(HelpTest, OptionsNameWhatTheirValueIs) {
  const std::regex bare_type(R"(\b(TEXT|INT|UINT|FLOAT|BOOLEAN)\b)");
  for (const auto& c : AllCommands()) {
    for (const char* title : {"Flags:", "Global Flags:"}) {
      for (const auto& line : Section(c.help, title)) {
        EXPECT_FALSE(std::regex_search(line, bare_type)) << line;
      }
    }
  }
  // The ones people ask about.
  EXPECT_THAT(Help({"organization", "update"}), HasSubstr("--api-token-max-days-inactive DAYS"));
  EXPECT_THAT(Help({"organization", "api-token", "create"}), HasSubstr("--expiration DURATION"));
  EXPECT_THAT(Help({"organization", "audit", "list"}), HasSubstr("--limit N"));
  EXPECT_THAT(Help({"organization", "federation", "create"}),
              HasSubstr("--max-token-age DURATION"));
  EXPECT_THAT(Help({"organization", "api-token", "list"}),
              HasSubstr("--status active|expired|revoked|all"));
}

TEST(HelpTest, ExamplesComeAfterTheFlagsAndLongDescriptionsFirst) {
  const std::string help = Help({"organization", "api-token", "revoke"});
  EXPECT_EQ(help.rfind("Asks for confirmation on a terminal", 0), 0u) << help;
  const auto flags = help.find("\nGlobal Flags:\n");
  const auto examples = help.find("\nExamples:\n");
  ASSERT_NE(flags, std::string::npos);
  ASSERT_NE(examples, std::string::npos);
  EXPECT_LT(flags, examples);
  EXPECT_THAT(help, HasSubstr("\n  chainloop organization api-token revoke --id "));
}

}  // namespace
}  // namespace cl::cli
