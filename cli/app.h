// The `chainloop` command line: maps argv onto cli/commands.h. Lives in the library (not in
// main.cc) so tests can run whole command lines — parsing, help text, flag checks — against a
// fake control plane. CLI11 (slow to compile) stays out of this header.
#pragma once

#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cli/context.h"
#include "common/clock.h"

namespace cl::cli {

// Test hooks; production passes none.
struct RunCliHooks {
  std::unique_ptr<Clock> clock;   // replaces the system clock when set
  std::istream* input = nullptr;  // replaces std::cin (confirmation answers) when set
};

// Runs one command line (`args` excludes the program name). Help goes to `out`, usage errors
// and command errors to `err`. Returns the process exit status: 0 success (and help), 1 a
// failed command, 2 a usage error.
int RunCli(const std::vector<std::string>& args, CliEnvironment env, std::ostream& out,
           std::ostream& err, RunCliHooks hooks = {});

}  // namespace cl::cli
