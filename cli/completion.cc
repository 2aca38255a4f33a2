// Completion scripts generated from the CLI11 tree: the tree is first flattened into plain
// tables (commands by path, their words, flags and what each flag's value is), then written as
// shell functions. bash and zsh share the table functions (both read POSIX `case`); fish has its
// own syntax. Each script's driver walks the words typed so far to find the command, then offers
// a flag's values, flags, or subcommands.
#include "cli/completion.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cassert>
#include <sstream>

namespace cl::cli {
namespace {

// What a flag's next word is: nothing (a boolean flag), any value, a file, or one of `values`.
struct FlagInfo {
  std::vector<std::string> names;  // with dashes: "-o", "--output"
  std::string kind;                // "", "value", "file" or "choice:a b c"
};

struct CommandInfo {
  std::string path;                // canonical words from the root: "organization member"
  bool inherits = false;           // also accepts its parent's flags (CLI11 fallthrough)
  std::vector<std::string> words;  // subcommand names and aliases, and positional choices
  std::vector<FlagInfo> flags;     // its own flags
  std::vector<std::pair<std::string, std::string>> children;  // (name or alias, child's path)
};

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  return app.get_subcommands(
      [](const CLI::App* s) { return !s->get_disabled() && !s->get_name().empty(); });
}

void Flatten(const CLI::App& app, const std::string& path, const OptionChoices& choices,
             std::vector<CommandInfo>& out) {
  CommandInfo info;
  info.path = path;
  info.inherits = app.get_parent() != nullptr && app.get_fallthrough();
  for (const CLI::Option* o : app.get_options()) {
    const auto& values = choices.Of(o);
    // Each command has its own -h/--help: offer it once, from the top of the inherited flags.
    if (info.inherits && o == app.get_help_ptr()) continue;
    if (!o->nonpositional()) {
      info.words.insert(info.words.end(), values.begin(), values.end());
      continue;
    }
    FlagInfo flag;
    for (const auto& s : o->get_snames()) flag.names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) flag.names.push_back("--" + l);
    if (!values.empty()) {
      flag.kind = "choice:" + Join(values, " ");
    } else if (o->get_type_size() != 0) {
      flag.kind = o->get_type_name() == "FILE" ? "file" : "value";
    }
    info.flags.push_back(std::move(flag));
  }
  const auto subs = Subcommands(app);
  for (const CLI::App* s : subs) {
    const std::string child = path.empty() ? s->get_name() : path + " " + s->get_name();
    info.words.push_back(s->get_name());
    info.children.emplace_back(s->get_name(), child);
    for (const auto& a : s->get_aliases()) {
      info.words.push_back(a);
      info.children.emplace_back(a, child);
    }
  }
  out.push_back(std::move(info));
  for (const CLI::App* s : subs) {
    Flatten(*s, path.empty() ? s->get_name() : path + " " + s->get_name(), choices, out);
  }
}

std::vector<CommandInfo> Commands(const CLI::App& root, const OptionChoices& choices) {
  std::vector<CommandInfo> out;
  Flatten(root, "", choices, out);
  return out;
}

std::string FlagNames(const CommandInfo& c) {
  std::vector<std::string> names;
  for (const auto& f : c.flags) names.insert(names.end(), f.names.begin(), f.names.end());
  return Join(names, " ");
}

// The table functions in POSIX `case` syntax, read by both bash and zsh.
void WriteShTables(std::ostream& s, const std::string& fn, const std::vector<CommandInfo>& cmds) {
  s << "# " << fn << "_child PATH WORD: the path of the subcommand WORD names under PATH\n"
    << fn << "_child() {\n  case \"$1|$2\" in\n";
  for (const auto& c : cmds) {
    for (const auto& [word, child] : c.children) {
      s << "    \"" << c.path << "|" << word << "\") echo \"" << child << "\" ;;\n";
    }
  }
  s << "  esac\n}\n\n";

  s << "# " << fn << "_words PATH: subcommands (and aliases) and argument values at PATH\n"
    << fn << "_words() {\n  case \"$1\" in\n";
  for (const auto& c : cmds) {
    if (!c.words.empty())
      s << "    \"" << c.path << "\") echo \"" << Join(c.words, " ") << "\" ;;\n";
  }
  s << "  esac\n}\n\n";

  s << "# " << fn << "_flags PATH: the flags PATH itself defines\n"
    << fn << "_flags() {\n  case \"$1\" in\n";
  for (const auto& c : cmds) {
    if (!c.flags.empty()) s << "    \"" << c.path << "\") echo \"" << FlagNames(c) << "\" ;;\n";
  }
  s << "  esac\n}\n\n";

  s << "# " << fn << "_value PATH FLAG: what follows FLAG defined at PATH: value, file,\n"
    << "# choice:VALUES, or nothing for a flag without a value\n"
    << fn << "_value() {\n  case \"$1|$2\" in\n";
  for (const auto& c : cmds) {
    for (const auto& f : c.flags) {
      if (f.kind.empty()) continue;
      std::vector<std::string> patterns;
      for (const auto& n : f.names) patterns.push_back("\"" + c.path + "|" + n + "\"");
      s << "    " << Join(patterns, "|") << ") echo \"" << f.kind << "\" ;;\n";
    }
  }
  s << "  esac\n}\n\n";

  s << "# " << fn << "_inherits PATH: whether PATH also accepts its parent's flags\n"
    << fn << "_inherits() {\n  case \"$1\" in\n";
  std::vector<std::string> inheriting;
  for (const auto& c : cmds) {
    if (c.inherits) inheriting.push_back("\"" + c.path + "\"");
  }
  if (!inheriting.empty()) s << "    " << Join(inheriting, "|") << ") return 0 ;;\n";
  s << "  esac\n  return 1\n}\n\n";

  // Lookups through inherited flags, shared by both drivers.
  s << fn << "_parent() {\n"
    << "  case \"$1\" in *\" \"*) echo \"${1% *}\" ;; *) echo \"\" ;; esac\n}\n\n"
    << fn << "_value_at() {\n"
    << "  local c=\"$1\" k\n"
    << "  while :; do\n"
    << "    k=\"$(" << fn << "_value \"$c\" \"$2\")\"\n"
    << "    if [ -n \"$k\" ]; then echo \"$k\"; return 0; fi\n"
    << "    [ -z \"$c\" ] && return 0\n"
    << "    " << fn << "_inherits \"$c\" || return 0\n"
    << "    c=\"$(" << fn << "_parent \"$c\")\"\n"
    << "  done\n}\n\n"
    << fn << "_flags_at() {\n"
    << "  local c=\"$1\" all=\"\"\n"
    << "  while :; do\n"
    << "    all=\"$all $(" << fn << "_flags \"$c\")\"\n"
    << "    [ -z \"$c\" ] && break\n"
    << "    " << fn << "_inherits \"$c\" || break\n"
    << "    c=\"$(" << fn << "_parent \"$c\")\"\n"
    << "  done\n"
    << "  echo \"$all\"\n}\n\n";
}

// The shared walk over the words before the cursor: sets `cmd` (the command path) and `kind`
// (what the word under the cursor is the value of, if anything). FIRST and LAST are the
// indices of the first word after the program name and of the word under the cursor.
std::string ShWalk(const std::string& fn, const std::string& words, const std::string& first,
                   const std::string& last) {
  std::ostringstream s;
  s << "  local cmd=\"\" kind=\"\" i w k child\n"
    << "  for ((i = " << first << "; i < " << last << "; i++)); do\n"
    << "    w=\"${" << words << "[i]}\"\n"
    << "    case \"$w\" in\n"
    << "      --*=*) ;;\n"
    << "      -*)\n"
    << "        k=\"$(" << fn << "_value_at \"$cmd\" \"$w\")\"\n"
    << "        if [ -n \"$k\" ]; then\n"
    << "          if ((i + 1 == " << last << ")); then kind=\"$k\"; fi\n"
    << "          ((i++))\n"
    << "        fi ;;\n"
    << "      *)\n"
    << "        child=\"$(" << fn << "_child \"$cmd\" \"$w\")\"\n"
    << "        if [ -n \"$child\" ]; then cmd=\"$child\"; fi ;;\n"
    << "    esac\n"
    << "  done\n";
  return s.str();
}

std::string BashScript(const std::string& prog, const std::vector<CommandInfo>& cmds) {
  const std::string fn = "_" + prog;
  std::ostringstream s;
  s << "# bash completion for " << prog << " (generated by `" << prog << " completion bash`).\n"
    << "# Load it in the current shell:  source <(" << prog << " completion bash)\n"
    << "# or install it:  " << prog << " completion bash > /etc/bash_completion.d/" << prog
    << "\n\n";
  WriteShTables(s, fn, cmds);
  s << fn << "() {\n"
    << "  local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
    << "  COMPREPLY=()\n"
    << ShWalk(fn, "COMP_WORDS", "1", "COMP_CWORD") << "  case \"$kind\" in\n"
    << "    choice:*) COMPREPLY=($(compgen -W \"${kind#choice:}\" -- \"$cur\")) ;;\n"
    << "    file)\n"
    << "      compopt -o filenames 2>/dev/null\n"
    << "      COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
    << "    value) ;;\n"
    << "    *)\n"
    << "      local subs\n"
    << "      subs=\"$(" << fn << "_words \"$cmd\")\"\n"
    << "      if [[ \"$cur\" == -* || -z \"$subs\" ]]; then\n"
    << "        COMPREPLY=($(compgen -W \"$(" << fn << "_flags_at \"$cmd\")\" -- \"$cur\"))\n"
    << "      else\n"
    << "        COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
    << "      fi ;;\n"
    << "  esac\n"
    << "  return 0\n"
    << "}\n\n"
    << "complete -F " << fn << " " << prog << "\n";
  return s.str();
}

std::string ZshScript(const std::string& prog, const std::vector<CommandInfo>& cmds) {
  const std::string fn = "_" + prog;
  std::ostringstream s;
  s << "#compdef " << prog << "\n"
    << "# zsh completion for " << prog << " (generated by `" << prog << " completion zsh`).\n"
    << "# Load it in the current shell:  source <(" << prog << " completion zsh)\n"
    << "# or install it as _" << prog << " in a directory of $fpath.\n\n";
  WriteShTables(s, fn, cmds);
  // zsh's `words` is 1-based with the program first; `path` is avoided (it is zsh's $PATH).
  s << fn << "() {\n"
    << "  local cur=\"${words[CURRENT]}\"\n"
    << ShWalk(fn, "words", "2", "CURRENT") << "  local -a candidates\n"
    << "  case \"$kind\" in\n"
    << "    choice:*) candidates=(${=kind#choice:}); compadd -a candidates ;;\n"
    << "    file) _files ;;\n"
    << "    value) ;;\n"
    << "    *)\n"
    << "      candidates=(${=$(" << fn << "_words \"$cmd\")})\n"
    << "      if [[ \"$cur\" == -* || ${#candidates} -eq 0 ]]; then\n"
    << "        candidates=(${=$(" << fn << "_flags_at \"$cmd\")})\n"
    << "      fi\n"
    << "      compadd -a candidates ;;\n"
    << "  esac\n"
    << "}\n\n"
    << "if [ \"$funcstack[1]\" = \"" << fn << "\" ]; then\n"
    << "  " << fn << " \"$@\"\n"
    << "else\n"
    << "  compdef " << fn << " " << prog << "\n"
    << "fi\n";
  return s.str();
}

std::string FishScript(const std::string& prog, const std::vector<CommandInfo>& cmds) {
  const std::string fn = "__" + prog;
  std::ostringstream s;
  s << "# fish completion for " << prog << " (generated by `" << prog << " completion fish`).\n"
    << "# Load it in the current shell:  " << prog << " completion fish | source\n"
    << "# or install it:  " << prog << " completion fish > ~/.config/fish/completions/" << prog
    << ".fish\n\n";
  s << "function " << fn << "_child\n  switch \"$argv[1]|$argv[2]\"\n";
  for (const auto& c : cmds) {
    for (const auto& [word, child] : c.children) {
      s << "    case '" << c.path << "|" << word << "'\n      echo '" << child << "'\n";
    }
  }
  s << "  end\nend\n\n";
  s << "function " << fn << "_words\n  switch \"$argv[1]\"\n";
  for (const auto& c : cmds) {
    if (c.words.empty()) continue;
    s << "    case '" << c.path << "'\n      printf '%s\\n' " << Join(c.words, " ") << "\n";
  }
  s << "  end\nend\n\n";
  s << "function " << fn << "_flags\n  switch \"$argv[1]\"\n";
  for (const auto& c : cmds) {
    if (c.flags.empty()) continue;
    s << "    case '" << c.path << "'\n      printf '%s\\n' -- " << FlagNames(c) << "\n";
  }
  s << "  end\nend\n\n";
  s << "function " << fn << "_value\n  switch \"$argv[1]|$argv[2]\"\n";
  for (const auto& c : cmds) {
    for (const auto& f : c.flags) {
      if (f.kind.empty()) continue;
      std::vector<std::string> patterns;
      for (const auto& n : f.names) patterns.push_back("'" + c.path + "|" + n + "'");
      s << "    case " << Join(patterns, " ") << "\n      echo '" << f.kind << "'\n";
    }
  }
  s << "  end\nend\n\n";
  std::vector<std::string> inheriting;
  for (const auto& c : cmds) {
    if (c.inherits) inheriting.push_back("'" + c.path + "'");
  }
  s << "function " << fn << "_inherits\n  switch \"$argv[1]\"\n";
  if (!inheriting.empty()) s << "    case " << Join(inheriting, " ") << "\n      return 0\n";
  s << "  end\n  return 1\nend\n\n";
  s << "function " << fn << "_parent\n"
    << "  string replace -r ' [^ ]*$' '' -- $argv[1]; or echo ''\n"
    << "end\n\n"
    << "function " << fn << "_value_at\n"
    << "  set -l c $argv[1]\n"
    << "  while true\n"
    << "    set -l k (" << fn << "_value \"$c\" $argv[2])\n"
    << "    if test -n \"$k\"\n      echo $k\n      return 0\n    end\n"
    << "    if test -z \"$c\"; or not " << fn << "_inherits \"$c\"\n      return 0\n    end\n"
    << "    if string match -q -- '* *' $c\n"
    << "      set c (" << fn << "_parent \"$c\")\n"
    << "    else\n      set c ''\n    end\n"
    << "  end\n"
    << "end\n\n"
    << "function " << fn << "_flags_at\n"
    << "  set -l c $argv[1]\n"
    << "  while true\n"
    << "    " << fn << "_flags \"$c\"\n"
    << "    if test -z \"$c\"; or not " << fn << "_inherits \"$c\"\n      return 0\n    end\n"
    << "    if string match -q -- '* *' $c\n"
    << "      set c (" << fn << "_parent \"$c\")\n"
    << "    else\n      set c ''\n    end\n"
    << "  end\n"
    << "end\n\n"
    << "function " << fn << "_complete\n"
    << "  set -l toks (commandline -opc)\n"
    << "  set -l cur (commandline -ct)\n"
    << "  set -l cmd ''\n"
    << "  set -l kind ''\n"
    << "  set -l n (count $toks)\n"
    << "  set -l i 2\n"
    << "  while test $i -le $n\n"
    << "    set -l w $toks[$i]\n"
    << "    switch $w\n"
    << "      case '--*=*'\n"
    << "      case '-*'\n"
    << "        set -l k (" << fn << "_value_at \"$cmd\" $w)\n"
    << "        if test -n \"$k\"\n"
    << "          if test $i -eq $n\n            set kind $k\n          end\n"
    << "          set i (math $i + 1)\n"
    << "        end\n"
    << "      case '*'\n"
    << "        set -l child (" << fn << "_child \"$cmd\" $w)\n"
    << "        if test -n \"$child\"\n          set cmd $child\n        end\n"
    << "    end\n"
    << "    set i (math $i + 1)\n"
    << "  end\n"
    << "  switch $kind\n"
    << "    case 'choice:*'\n"
    << "      string split ' ' -- (string replace 'choice:' '' -- $kind)\n"
    << "    case file\n"
    << "      __fish_complete_path $cur\n"
    << "    case value\n"
    << "    case '*'\n"
    << "      set -l subs (" << fn << "_words \"$cmd\")\n"
    << "      if string match -q -- '-*' $cur; or test (count $subs) -eq 0\n"
    << "        " << fn << "_flags_at \"$cmd\"\n"
    << "      else\n"
    << "        printf '%s\\n' $subs\n"
    << "      end\n"
    << "  end\n"
    << "end\n\n"
    << "complete -c " << prog << " -f -a '(" << fn << "_complete)'\n";
  return s.str();
}

}  // namespace

CLI::Option* OptionChoices::Restrict(CLI::Option* option, std::vector<std::string> values) {
  assert(!values.empty());
  // "a, b or c", as the commands' own checks word it.
  std::string allowed = values.front();
  for (size_t i = 1; i < values.size(); ++i) {
    allowed += (i + 1 == values.size() ? " or " : ", ") + values[i];
  }
  // An empty description: the type name shows the values (CLI11 would append the description).
  option
      ->check(CLI::Validator(
          [values, allowed](std::string& value) -> std::string {
            if (std::find(values.begin(), values.end(), value) != values.end()) return "";
            return "must be " + allowed + ", not '" + value + "'";
          },
          "", "choices"))
      ->type_name(Join(values, "|"));
  values_[option] = std::move(values);
  return option;
}

const std::vector<std::string>& OptionChoices::Of(const CLI::Option* option) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(option);
  return it == values_.end() ? kNone : it->second;
}

const std::vector<std::string>& ShellNames() {
  static const std::vector<std::string> kNames = {"bash", "zsh", "fish"};
  return kNames;
}

std::optional<Shell> ParseShell(std::string_view name) {
  if (name == "bash") return Shell::kBash;
  if (name == "zsh") return Shell::kZsh;
  if (name == "fish") return Shell::kFish;
  return std::nullopt;
}

std::string CompletionScript(const CLI::App& root, const OptionChoices& choices, Shell shell) {
  const auto cmds = Commands(root, choices);
  const std::string prog = root.get_name();
  switch (shell) {
    case Shell::kBash:
      return BashScript(prog, cmds);
    case Shell::kZsh:
      return ZshScript(prog, cmds);
    case Shell::kFish:
      return FishScript(prog, cmds);
  }
  return "";
}

}  // namespace cl::cli
