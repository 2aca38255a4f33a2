// `chainloop`: the command-line client of the control plane. The command tree lives in
// cli/app.cc (so tests can drive whole command lines); this file only hands it argv and the
// process environment.
#include <iostream>
#include <string>
#include <vector>

#include "cli/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  return cl::cli::RunCli(args, cl::cli::CliEnvironment::FromProcess(), std::cout, std::cerr);
}
