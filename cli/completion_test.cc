// `chainloop completion bash|zsh|fish`: the generated scripts are loaded into the real shells
// and asked for completions (commands, aliases, flags, enumerated values), and enumerated flags
// reject other values. A shell that is not installed is skipped, saying so.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "cli/cli_test_support.h"

namespace cl::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

struct Ran {
  int status = 0;
  std::string out, err;
};

Ran Chainloop(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Ran r;
  r.status = RunCli(args, CliEnvironment{}, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

bool HaveProgram(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs `command` under /bin/sh; returns its standard output (and fails the test on non-zero).
std::string Capture(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen: " << command;
    return out;
  }
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(pclose(p), 0) << command << "\n" << out;
  return out;
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Single-quotes `s` for /bin/sh.
std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The top-level commands and aliases, read from `chainloop --help` (not from the generator).
std::vector<std::string> TopLevelCommandsFromHelp() {
  std::vector<std::string> names;
  const std::string help = Chainloop({"--help"}).out;
  std::istringstream in(help.substr(help.find("Available Commands:")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && !line.empty()) {
    const std::string name = Words(line).front();
    names.push_back(name);
    const std::string sub = Chainloop({name, "--help"}).out;
    const auto at = sub.find("Aliases:\n");
    if (at == std::string::npos) continue;
    std::istringstream aliases(sub.substr(at + 9));
    std::string alias_line;
    std::getline(aliases, alias_line);
    for (auto& w : Words(alias_line)) {
      if (w.back() == ',') w.pop_back();
      if (w != name) names.push_back(w);
    }
  }
  return names;
}

class CompletionTest : public ::testing::Test {
 protected:
  // Writes `chainloop completion SHELL` to a file in a temp dir; returns the file's path.
  std::string ScriptFile(const std::string& shell) {
    Ran r = Chainloop({"completion", shell});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const std::string path = dir_.path() + "/chainloop." + shell;
    std::ofstream(path) << r.out;
    return path;
  }

  // What bash completes for `words`, the last being the word under the cursor.
  std::vector<std::string> Bash(const std::vector<std::string>& words) {
    std::string array;
    for (const auto& w : words) array += " " + Quote(w);
    const std::string script = "source " + Quote(bash_script_) + "; COMP_WORDS=(" + array +
                               "); COMP_CWORD=" + std::to_string(words.size() - 1) +
                               "; _chainloop; printf '%s\\n' \"${COMPREPLY[@]}\"";
    return Words(Capture("bash --norc --noprofile -c " + Quote(script)));
  }

  // What the zsh script offers for `words` (compadd and _files stand in for zsh's completion
  // system, which needs a terminal).
  std::vector<std::string> Zsh(const std::vector<std::string>& words) {
    std::string array;
    for (const auto& w : words) array += " " + Quote(w);
    const std::string script =
        "compdef() { :; }; compadd() { [[ $1 == -a ]] && print -rl -- \"${(@P)2}\"; }; "
        "_files() { print -r -- FILES; }; source " +
        Quote(zsh_script_) + "; words=(" + array + "); CURRENT=" + std::to_string(words.size()) +
        "; _chainloop";
    return Words(Capture("zsh -f -c " + Quote(script)));
  }

  // What fish completes for the command line `line` (fish filters by the current word itself).
  std::vector<std::string> Fish(const std::string& line) {
    const std::string script = "source " + Quote(fish_script_) + "; complete -C " + Quote(line) +
                               " | string replace -r \"\\t.*\" \"\"; true";
    return Words(Capture("fish --no-config -c " + Quote(script)));
  }

  cl::cli::testing::TempDir dir_;
  std::string bash_script_, zsh_script_, fish_script_;
};

TEST_F(CompletionTest, BashCompletesCommandsFlagsAndEnumeratedValues) {
  if (!HaveProgram("bash")) GTEST_SKIP() << "bash is not installed: bash completion not tested";
  bash_script_ = ScriptFile("bash");
  EXPECT_THAT(Bash({"chainloop", ""}), UnorderedElementsAreArray(TopLevelCommandsFromHelp()));
  EXPECT_THAT(Bash({"chainloop", "org", ""}),
              UnorderedElementsAre("create", "list", "ls", "describe", "current-context", "set",
                                   "update", "member", "invitation", "audit", "api-token", "token",
                                   "federation", "webhook", "webhooks"));
  EXPECT_THAT(Bash({"chainloop", "organization", "api-token", "list", "--st"}),
              UnorderedElementsAre("--status"));
  EXPECT_THAT(Bash({"chainloop", "organization", "api-token", "list", "--status", ""}),
              UnorderedElementsAre("active", "expired", "revoked", "all"));
  EXPECT_THAT(Bash({"chainloop", "-o", ""}), UnorderedElementsAre("table", "json", "token"));
  // Aliases lead to the same command; a flag's value is skipped when finding the command.
  EXPECT_THAT(Bash({"chainloop", "-n", "acme", "org", "token", "ls", "--scope", ""}),
              UnorderedElementsAre("project", "global"));
  EXPECT_THAT(Bash({"chainloop", "org", "member", "update", "--role", ""}),
              UnorderedElementsAre("owner", "admin", "member", "viewer"));
  EXPECT_THAT(Bash({"chainloop", "org", "federation", "create", "--provider", "g"}),
              UnorderedElementsAre("gitlab", "github"));
  EXPECT_THAT(Bash({"chainloop", "completion", ""}), UnorderedElementsAre("bash", "zsh", "fish"));
  // Global flags are offered in subcommands, once, with the command's own.
  const auto flags = Bash({"chainloop", "org", "token", "ls", "-"});
  EXPECT_THAT(flags, IsSupersetOf({"--status", "--all", "--project", "--scope", "--output", "-o",
                                   "--yes", "-y", "--help"}));
  EXPECT_EQ(std::set<std::string>(flags.begin(), flags.end()).size(), flags.size());
  // A free-form value is not completed with commands or flags.
  EXPECT_THAT(Bash({"chainloop", "org", "create", "--name", ""}), ::testing::IsEmpty());
}

TEST_F(CompletionTest, BashCompletesFileNamesForFileOptions) {
  if (!HaveProgram("bash")) GTEST_SKIP() << "bash is not installed: bash completion not tested";
  bash_script_ = ScriptFile("bash");
  std::ofstream(dir_.path() + "/statement.json") << "{}";
  EXPECT_THAT(Bash({"chainloop", "attestation", "push", "--statement", dir_.path() + "/stat"}),
              UnorderedElementsAre(dir_.path() + "/statement.json"));
}

TEST_F(CompletionTest, ZshScriptIsValidAndCompletes) {
  const std::string script = Chainloop({"completion", "zsh"}).out;
  for (const auto& name : TopLevelCommandsFromHelp()) EXPECT_THAT(script, HasSubstr(name));
  if (!HaveProgram("zsh")) GTEST_SKIP() << "zsh is not installed: zsh completion not run";
  zsh_script_ = ScriptFile("zsh");
  Capture("zsh -n " + Quote(zsh_script_));
  EXPECT_THAT(Zsh({"chainloop", ""}), UnorderedElementsAreArray(TopLevelCommandsFromHelp()));
  EXPECT_THAT(Zsh({"chainloop", "organization", "api-token", "list", "--status", ""}),
              UnorderedElementsAre("active", "expired", "revoked", "all"));
  EXPECT_THAT(Zsh({"chainloop", "org", "token", "ls", "-o", ""}),
              UnorderedElementsAre("table", "json", "token"));
  EXPECT_THAT(Zsh({"chainloop", "org", "token", "ls", "--"}), IsSupersetOf({"--status", "--org"}));
  EXPECT_THAT(Zsh({"chainloop", "att", "push", "--statement", ""}), UnorderedElementsAre("FILES"));
}

TEST_F(CompletionTest, FishScriptIsValidAndCompletes) {
  const std::string script = Chainloop({"completion", "fish"}).out;
  for (const auto& name : TopLevelCommandsFromHelp()) EXPECT_THAT(script, HasSubstr(name));
  if (!HaveProgram("fish")) GTEST_SKIP() << "fish is not installed: fish completion not run";
  fish_script_ = ScriptFile("fish");
  Capture("fish --no-execute " + Quote(fish_script_));
  EXPECT_THAT(Fish("chainloop "), UnorderedElementsAreArray(TopLevelCommandsFromHelp()));
  EXPECT_THAT(Fish("chainloop org "), IsSupersetOf({"member", "api-token", "token", "federation"}));
  EXPECT_THAT(Fish("chainloop organization api-token list --st"), UnorderedElementsAre("--status"));
  EXPECT_THAT(Fish("chainloop organization api-token list --status "),
              UnorderedElementsAre("active", "expired", "revoked", "all"));
  EXPECT_THAT(Fish("chainloop -o "), UnorderedElementsAre("table", "json", "token"));
}

TEST(CompletionCommandTest, UnknownShellIsAUsageError) {
  Ran r = Chainloop({"completion", "powershell"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("must be bash, zsh or fish, not 'powershell'"));
  EXPECT_EQ(r.out, "");
}

// The registry that feeds completion also validates: a value outside it is a usage error that
// names the allowed ones, before anything reaches a control plane.
TEST(CompletionCommandTest, EnumeratedFlagsRejectOtherValues) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"org", "token", "ls", "-o", "yaml"}, "must be table, json or token, not 'yaml'"},
      {{"org", "token", "ls", "--status", "inactive"},
       "must be active, expired, revoked or all, not 'inactive'"},
      {{"org", "token", "ls", "--scope", "org"}, "must be project or global, not 'org'"},
      {{"org", "member", "update", "--email", "a@example.com", "--role", "root"},
       "must be owner, admin, member or viewer, not 'root'"},
      {{"org", "invitation", "create", "--receiver", "a@example.com", "--role", "boss"},
       "must be owner, admin, member or viewer, not 'boss'"},
      {{"org", "federation", "create", "--name", "p", "--issuer", "https://gitlab.com",
        "--provider", "bitbucket"},
       "must be gitlab or github, not 'bitbucket'"},
  };
  for (const auto& c : cases) {
    Ran r = Chainloop(c.args);
    EXPECT_EQ(r.status, 2) << c.args.back();
    EXPECT_THAT(r.err, HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace cl::cli
