// The `chainloop` command tree's building blocks shared by cli/app.cc and the command groups
// registered outside it (command_tree.cc): how a chosen subcommand is recorded, `--limit`, and
// the `organization webhook` group.
#pragma once

#include <functional>
#include <string>

#include "cli/commands.h"

namespace CLI {
class App;
}

namespace cl::cli {

class ChainloopHelpFormatter;

using Action = std::function<Status(CliContext&)>;

// What the chosen command runs, and whether it accepts `--output token`.
struct Chosen {
  Action action;
  bool token_output = false;
};

// Registers `sub` to run `fn` when it is the command the user chose.
void On(CLI::App* sub, Chosen& slot, Action fn, bool token_output = false);

// Adds `--limit N` to the list command `cmd`: how many `things` to show, checked on the command
// line (1..kMaxListLimit).
void AddLimit(CLI::App* cmd, ListLimit& limit, const std::string& things);

// Where the `organization webhook` commands' options land; must outlive the parse.
struct WebhookArgs {
  WebhookCreateOptions create;
  std::string id;
  ListLimit limit;
  ListLimit delivery_limit;
};

// `organization webhook create|list|describe|delete|deliveries|ping` under `org`.
void AddWebhookCommands(CLI::App* org, ChainloopHelpFormatter& help, Chosen& chosen,
                        WebhookArgs& args, const std::string& example_id);

}  // namespace cl::cli
