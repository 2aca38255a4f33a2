// `chainloop version`: the CLI's version and, when the control plane answers, the server's.
#include <boost/json.hpp>

#include "cli/commands.h"
#include "common/version.h"

namespace cl::cli {

Status VersionCommand(CliContext& ctx) {
  boost::json::object client{{"version", Version()}, {"commit", Commit()}};
  boost::json::value server = nullptr;
  std::string unavailable;
  // Anonymous: the version needs no credential, and none is sent.
  ApiClient anonymous = ctx.ClientWithToken("");
  auto answer = anonymous.Get("/v1/version");
  if (answer && answer->is_object() && answer->as_object().if_contains("version") &&
      answer->as_object().at("version").is_string()) {
    const auto& o = answer->as_object();
    const auto* commit = o.if_contains("commit");
    server = boost::json::object{
        {"version", o.at("version")},
        {"commit", commit != nullptr && commit->is_string() ? *commit : boost::json::value()}};
  } else {
    unavailable = answer ? "no version in the answer" : answer.error().message();
  }
  if (ctx.json_output()) {
    ctx.PrintJson(boost::json::object{{"client", client}, {"server", server}});
    return Ok();
  }
  auto& out = ctx.out();
  out << "Client Version: " << Version() << " (commit " << Commit() << ")\n";
  if (server.is_object()) {
    const auto& s = server.as_object();
    out << "Server Version: " << s.at("version").as_string().c_str() << " (commit "
        << (s.at("commit").is_string() ? s.at("commit").as_string().c_str() : "unknown") << ") at "
        << ctx.control_plane() << "\n";
  } else {
    ctx.err() << "Server Version: unavailable (" << ctx.control_plane() << ": " << unavailable
              << ")\n";
  }
  return Ok();
}

}  // namespace cl::cli
