// Building blocks of the `chainloop` command tree (cli/command_tree.h) and the
// `organization webhook` command group.
#include "cli/command_tree.h"

#include <CLI/CLI.hpp>

#include "cli/help_formatter.h"
#include "cli/list_pages.h"

namespace cl::cli {

void On(CLI::App* sub, Chosen& slot, Action fn, bool token_output) {
  sub->callback([&slot, fn = std::move(fn), token_output] {
    slot.action = fn;
    slot.token_output = token_output;
  });
}

void AddLimit(CLI::App* cmd, ListLimit& limit, const std::string& things) {
  cmd->add_option("--limit", limit,
                  "Show at most N " + things + " (1-" + std::to_string(kMaxListLimit) +
                      "; default: the first " + std::to_string(kDefaultListCap) + ")")
      ->check(CLI::Range(1, kMaxListLimit).description(""))
      ->type_name("N");
}

void AddWebhookCommands(CLI::App* org, ChainloopHelpFormatter& help, Chosen& chosen,
                        WebhookArgs& args, const std::string& example_id) {
  auto* webhook = org->add_subcommand("webhook", "Signed event webhooks and their deliveries");
  webhook->alias("webhooks");
  webhook->require_subcommand(1);
  auto* wc = webhook->add_subcommand("create", "Send the organization's events to a URL");
  wc->add_option("--url", args.create.url, "Receiver URL (http:// or https://)")
      ->required()
      ->type_name("URL");
  std::string event_help = "Event to send; repeat or comma-separate. One of:";
  for (const auto& e : WebhookEventNames()) event_help += "\n  " + e.name + ": " + e.description;
  wc->add_option("--event", args.create.events, event_help)
      ->required()
      ->delimiter(',')
      ->type_name("EVENT");
  wc->add_option("--description", args.create.description, "What the webhook is for")
      ->type_name("DESCRIPTION");
  help.Document(
      wc, {"The signing secret is shown once. Each delivery is a JSON POST signed with it "
           "(X-Chainloop-Signature-256: sha256=HMAC-SHA256(secret, body)); see docs/api.md.",
           "chainloop organization webhook create --url https://hooks.example.com/chainloop \\\n"
           "  --event token.created,token.revoked,token.leaked --description 'security team'"});
  On(wc, chosen, [&](CliContext& c) { return WebhookCreate(c, args.create); });
  auto* wl = webhook->add_subcommand("list", "List webhooks, newest first")->alias("ls");
  AddLimit(wl, args.limit, "webhooks");
  help.Document(wl, {"",
                     "chainloop organization webhook list\n"
                     "chainloop organization webhook list -o json"});
  On(wl, chosen, [&](CliContext& c) { return WebhookList(c, args.limit); });
  auto* wdesc = webhook->add_subcommand("describe", "Show one webhook");
  wdesc->add_option("--id", args.id, "Webhook ID (see `webhook list`)")
      ->required()
      ->type_name("ID");
  help.Document(wdesc, {"", "chainloop organization webhook describe --id " + example_id});
  On(wdesc, chosen, [&](CliContext& c) { return WebhookDescribe(c, args.id); });
  auto* wdel = webhook->add_subcommand("delete", "Delete a webhook and its delivery log");
  wdel->add_option("--id", args.id, "Webhook ID (see `webhook list`)")->required()->type_name("ID");
  help.Document(wdel, {"Asks for confirmation on a terminal; -y/--yes skips it.",
                       "chainloop organization webhook delete --id " + example_id});
  On(wdel, chosen, [&](CliContext& c) { return WebhookDelete(c, args.id); });
  auto* wdl = webhook->add_subcommand("deliveries", "A webhook's delivery log, newest first");
  wdl->add_option("--id", args.id, "Webhook ID (see `webhook list`)")->required()->type_name("ID");
  AddLimit(wdl, args.delivery_limit, "deliveries");
  help.Document(wdl, {"", "chainloop organization webhook deliveries --id " + example_id +
                              " --limit 20\n"
                              "chainloop organization webhook deliveries --id " +
                              example_id + " -o json"});
  On(wdl, chosen,
     [&](CliContext& c) { return WebhookDeliveries(c, args.id, args.delivery_limit); });
  auto* wp = webhook->add_subcommand("ping", "Send a test event to a webhook");
  wp->add_option("--id", args.id, "Webhook ID (see `webhook list`)")->required()->type_name("ID");
  help.Document(wp, {"Queues a \"ping\" event for this webhook only; its delivery shows in "
                     "`webhook deliveries`.",
                     "chainloop organization webhook ping --id " + example_id});
  On(wp, chosen, [&](CliContext& c) { return WebhookPing(c, args.id); });
}

}  // namespace cl::cli
