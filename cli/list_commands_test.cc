// The list commands against a paginating fake control plane: every one follows next_cursor,
// shows the first 1000 items with a note on stderr (never on stdout), stops at --limit asking
// for no more than it needs, works with a server older than pagination, refuses a repeating
// cursor, and `organization audit list` turns its filters into the API's query.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "cli/cli_test_support.h"
#include "cli/commands.h"

namespace cl::cli {
namespace {

using testing::CliRunTest;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::NewToken;
using ::testing::Not;

struct ListCommand {
  std::vector<std::string> args;
  std::string path;
  std::string key;
};

const std::vector<ListCommand>& ListCommands() {
  static const std::vector<ListCommand> kAll = {
      {{"organization", "list"}, "/v1/organizations", "organizations"},
      {{"organization", "member", "list"}, "/v1/organizations/acme/members", "members"},
      {{"organization", "invitation", "list"}, "/v1/organizations/acme/invitations", "invitations"},
      {{"organization", "audit", "list"}, "/v1/organizations/acme/audit-events", "audit_events"},
      {{"organization", "api-token", "list"}, "/v1/organizations/acme/api-tokens", "api_tokens"},
      {{"organization", "federation", "list"},
       "/v1/organizations/acme/federation-policies",
       "policies"},
      {{"project", "list"}, "/v1/organizations/acme/projects", "projects"},
      {{"workflow", "list"}, "/v1/organizations/acme/workflows", "workflows"},
      {{"workflow", "run", "list"}, "/v1/organizations/acme/workflow-runs", "workflow_runs"},
      {{"organization", "webhook", "list"}, "/v1/organizations/acme/webhooks", "webhooks"},
      {{"organization", "webhook", "deliveries", "--id", "w1"},
       "/v1/organizations/acme/webhooks/w1/deliveries",
       "deliveries"},
  };
  return kAll;
}

std::map<std::string, std::string> Query(const FakeRequest& r) {
  std::map<std::string, std::string> out;
  std::string q = r.query;
  size_t start = 0;
  while (start < q.size()) {
    size_t end = q.find('&', start);
    if (end == std::string::npos) end = q.size();
    std::string part = q.substr(start, end - start);
    size_t eq = part.find('=');
    out[part.substr(0, eq)] = eq == std::string::npos ? "" : part.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

// A paginating list of `total` items "i0", "i1", ... under `key`: each page holds what `limit`
// asks for (at most `page_cap`), and its cursor "c<offset>" points past it.
FakeResponse Page(const FakeRequest& r, const std::string& key, int total, int page_cap = 1000) {
  auto q = Query(r);
  int offset = q.count("cursor") ? std::stoi(q["cursor"].substr(1)) : 0;
  int limit = q.count("limit") ? std::stoi(q["limit"]) : 100;
  int n = std::max(0, std::min({limit, page_cap, total - offset}));
  boost::json::array items;
  for (int i = offset; i < offset + n; ++i) {
    const std::string id = "i" + std::to_string(i);
    items.push_back(
        boost::json::object{{"id", id}, {"user_id", id}, {"name", id}, {"email", id + "@x"}});
  }
  boost::json::object body{{key, std::move(items)}};
  if (offset + n < total) {
    body["next_cursor"] = "c" + std::to_string(offset + n);
  } else {
    body["next_cursor"] = nullptr;
  }
  return FakeResponse{200, boost::json::serialize(body)};
}

std::vector<std::string> Targets(const std::vector<FakeRequest>& requests) {
  std::vector<std::string> out;
  for (const auto& r : requests) out.push_back(r.target);
  return out;
}

std::vector<std::string> With(std::vector<std::string> args,
                              std::initializer_list<std::string> more) {
  args.insert(args.end(), more);
  return args;
}

std::vector<std::string> Ids(const boost::json::value& printed, const std::string& key) {
  std::vector<std::string> ids;
  for (const auto& item : printed.at(key).as_array()) {
    ids.emplace_back(item.at("id").as_string());
  }
  return ids;
}

class ListCommandsTest : public CliRunTest {};

TEST_F(ListCommandsTest, EveryListCommandFollowsTheCursorToTheLastPage) {
  for (const auto& c : ListCommands()) {
    SCOPED_TRACE(c.path);
    Serve([&](const FakeRequest& r) { return Page(r, c.key, 5, /*page_cap=*/2); });
    StoreSession(NewToken(crypto::CredentialKind::kSession));
    ASSERT_EQ(Run(With(c.args, {"-o", "json"})), 0) << err_.str();
    // Each page asks for what is still wanted (the cap and one more, to know whether more
    // exist), from where the last one ended.
    EXPECT_EQ(Targets(requests()),
              (std::vector<std::string>{c.path + "?limit=1000", c.path + "?limit=999&cursor=c2",
                                        c.path + "?limit=997&cursor=c4"}));
    const auto printed = boost::json::parse(out_.str());
    EXPECT_EQ(Ids(printed, c.key), (std::vector<std::string>{"i0", "i1", "i2", "i3", "i4"}));
    EXPECT_FALSE(printed.as_object().contains("next_cursor")) << out_.str();
    EXPECT_EQ(printed.as_object().size(), 1u) << out_.str();
    EXPECT_EQ(err_.str(), "");
  }
}

TEST_F(ListCommandsTest, ShowsTheFirstThousandWithANoteOnStderrOnly) {
  int total = 2500;
  Serve([&](const FakeRequest& r) { return Page(r, "api_tokens", total); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  const std::string path = "/v1/organizations/acme/api-tokens";
  const std::string note = "note: showing the first 1000 API tokens; use --limit to see more\n";

  ASSERT_EQ(Run({"org", "api-token", "list", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(Targets(requests()),
            (std::vector<std::string>{path + "?limit=1000", path + "?limit=1&cursor=c1000"}));
  // stdout is exactly one JSON document: parse() refuses anything after it.
  const auto printed = boost::json::parse(out_.str());
  const auto ids = Ids(printed, "api_tokens");
  ASSERT_EQ(ids.size(), 1000u);
  EXPECT_EQ(ids.front(), "i0");
  EXPECT_EQ(ids.back(), "i999");
  EXPECT_EQ(err_.str(), note);

  ASSERT_EQ(Run({"org", "api-token", "list"}), 0) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("note:")));
  const std::string table = out_.str();
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1001);  // header + rows
  EXPECT_EQ(err_.str(), note);

  // Exactly the cap: nothing more exists, no note.
  total = 1000;
  ASSERT_EQ(Run({"org", "api-token", "list", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(Ids(boost::json::parse(out_.str()), "api_tokens").size(), 1000u);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ListCommandsTest, LimitStopsEarlyAndAsksForNoMoreThanItNeeds) {
  Serve([](const FakeRequest& r) { return Page(r, "api_tokens", 2500); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  const std::string path = "/v1/organizations/acme/api-tokens";

  ASSERT_EQ(Run({"org", "api-token", "list", "--limit", "5", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(Targets(requests()), std::vector<std::string>{path + "?limit=5"});
  EXPECT_EQ(Ids(boost::json::parse(out_.str()), "api_tokens"),
            (std::vector<std::string>{"i0", "i1", "i2", "i3", "i4"}));
  EXPECT_EQ(err_.str(), "");  // the user chose the limit: no note

  ASSERT_EQ(Run({"org", "api-token", "list", "--all", "--limit", "2500", "-o", "json"}), 0);
  const auto all = Targets(requests());
  EXPECT_EQ(std::vector<std::string>(all.end() - 3, all.end()),
            (std::vector<std::string>{path + "?status=all&limit=1000",
                                      path + "?status=all&limit=1000&cursor=c1000",
                                      path + "?status=all&limit=500&cursor=c2000"}));
  EXPECT_EQ(Ids(boost::json::parse(out_.str()), "api_tokens").size(), 2500u);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ListCommandsTest, AServerWithoutCursorsIsAskedOnce) {
  // Older than pagination: ignores limit and cursor, answers every item, no next_cursor.
  int total = 3;
  Serve([&](const FakeRequest&) {
    boost::json::array items;
    for (int i = 0; i < total; ++i)
      items.push_back(boost::json::object{{"id", "i" + std::to_string(i)}});
    return FakeResponse{200, boost::json::serialize(boost::json::object{{"projects", items}})};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));

  ASSERT_EQ(Run({"project", "list", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(requests().size(), 1u);
  EXPECT_EQ(out_.str(), R"({"projects":[{"id":"i0"},{"id":"i1"},{"id":"i2"}]})"
                        "\n");
  EXPECT_EQ(err_.str(), "");

  total = 1200;
  ASSERT_EQ(Run({"project", "list", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(requests().size(), 2u);
  EXPECT_EQ(Ids(boost::json::parse(out_.str()), "projects").size(), 1000u);
  EXPECT_EQ(err_.str(), "note: showing the first 1000 projects; use --limit to see more\n");

  ASSERT_EQ(Run({"project", "list", "--limit", "5", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(requests().size(), 3u);
  EXPECT_EQ(Ids(boost::json::parse(out_.str()), "projects").size(), 5u);
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ListCommandsTest, ARepeatingCursorStopsWithAnError) {
  Serve([](const FakeRequest&) {
    return FakeResponse{200, R"({"workflows":[{"id":"w"}],"next_cursor":"again"})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run({"workflow", "list"}), 1);
  EXPECT_EQ(requests().size(), 2u);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(), HasSubstr("the control plane sent the same next_cursor twice while "
                                    "listing workflows"));

  EXPECT_EQ(Run({"workflow", "list", "-o", "json"}), 1);
  EXPECT_EQ(out_.str(), "");
  const auto error = boost::json::parse(err_.str());
  EXPECT_EQ(error.at("error").at("code").as_string(), "bad_response");
}

TEST_F(ListCommandsTest, ACursorThatIsNotTextIsABadResponse) {
  Serve([](const FakeRequest&) {
    return FakeResponse{200, R"({"workflows":[{"id":"w"}],"next_cursor":7})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  EXPECT_EQ(Run({"workflow", "list", "-o", "json"}), 1);
  EXPECT_EQ(requests().size(), 1u);
  EXPECT_EQ(boost::json::parse(err_.str()).at("error").at("code").as_string(), "bad_response");
}

TEST_F(ListCommandsTest, LimitIsCheckedOnTheCommandLine) {
  Serve([](const FakeRequest& r) { return Page(r, "x", 0); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  for (const auto& c : ListCommands()) {
    SCOPED_TRACE(c.path);
    for (const char* bad : {"0", "10001", "-3", "abc", "1.5"}) {
      EXPECT_EQ(Run(With(c.args, {"--limit", bad})), 2) << bad;
      EXPECT_THAT(err_.str(), HasSubstr("--limit")) << bad;
    }
    EXPECT_EQ(Run(With(c.args, {"--limit", "0", "-o", "json"})), 2);
    EXPECT_EQ(boost::json::parse(err_.str()).at("error").at("code").as_string(), "usage");
    EXPECT_TRUE(requests().empty());
  }
  Serve([](const FakeRequest& r) { return Page(r, "workflow_runs", 0); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"workflow", "run", "list", "--project", "web", "--limit", "10000"}), 0)
      << err_.str();
  EXPECT_EQ(requests().back().target,
            "/v1/organizations/acme/workflow-runs?project=web&limit=1000");
}

TEST_F(ListCommandsTest, EveryListCommandDocumentsLimit) {
  for (const auto& c : ListCommands()) {
    ASSERT_EQ(Run(With(c.args, {"--help"})), 0);
    EXPECT_THAT(out_.str(), HasSubstr("--limit N")) << c.path;
    EXPECT_THAT(out_.str(), HasSubstr("(1-10000; default: the first 1000)")) << c.path;
  }
}

TEST_F(ListCommandsTest, AuditFiltersBecomeTheQuery) {
  Serve([](const FakeRequest& r) { return Page(r, "audit_events", 0); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"organization", "audit", "list", "--action", "api_token.revoked", "--actor",
                 "jane@example.com", "--target", "t-1", "--since", "2026-02-01T10:00:00Z",
                 "--until", "2026-02-02T00:00:00+01:00", "--limit", "20"}),
            0)
      << err_.str();
  EXPECT_EQ(requests().back().path, "/v1/organizations/acme/audit-events");
  EXPECT_EQ(requests().back().query,
            "action=api_token.revoked&actor=jane%40example.com&target_id=t-1"
            "&since=2026-02-01T10%3A00%3A00Z&until=2026-02-02T00%3A00%3A00%2B01%3A00&limit=20");
  EXPECT_EQ(out_.str(), "No audit events found.\n");

  // The filters go with every page, before the cursor.
  Serve([](const FakeRequest& r) { return Page(r, "audit_events", 3, /*page_cap=*/2); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "audit", "ls", "--actor", "ci", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(Targets(requests()),
            (std::vector<std::string>{
                "/v1/organizations/acme/audit-events?actor=ci&limit=1000",
                "/v1/organizations/acme/audit-events?actor=ci&limit=999&cursor=c2"}));

  // An action the server does not have is a usage error naming the ones it has.
  EXPECT_EQ(Run({"org", "audit", "list", "--action", "api_token.deleted"}), 2);
  EXPECT_THAT(err_.str(), HasSubstr("api_token.revoked"));
  EXPECT_EQ(requests().size(), 2u);
}

TEST_F(ListCommandsTest, RelativeSinceAndUntilAreAgesBeforeTheClock) {
  Serve([](const FakeRequest& r) { return Page(r, "audit_events", 0); });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  now_ = ParseRfc3339("2026-03-01T12:00:00Z").value();
  ASSERT_EQ(Run({"org", "audit", "list", "--since", "7d", "--until", "90m"}), 0) << err_.str();
  auto q = Query(requests().back());
  EXPECT_EQ(q["since"], "2026-02-22T12%3A00%3A00Z");
  EXPECT_EQ(q["until"], "2026-03-01T10%3A30%3A00Z");
  now_ = ParseRfc3339("2026-03-02T00:00:00Z").value();
  ASSERT_EQ(Run({"org", "audit", "list", "--since", "24h"}), 0) << err_.str();
  EXPECT_EQ(Query(requests().back())["since"], "2026-03-01T00%3A00%3A00Z");
  EXPECT_EQ(Query(requests().back()).count("until"), 0u);
  const size_t asked = requests().size();

  EXPECT_EQ(Run({"org", "audit", "list", "--since", "yesterday"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--since 'yesterday' must be an RFC 3339 time"));
  EXPECT_EQ(Run({"org", "audit", "list", "--until", "2026-02-30T00:00:00Z"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--until"));
  EXPECT_EQ(Run({"org", "audit", "list", "--since", "1h", "--until", "2h"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--until must be later than --since"));
  EXPECT_EQ(requests().size(), asked);
}

TEST_F(ListCommandsTest, MemberUpdateFindsAMemberOnALaterPage) {
  Serve([](const FakeRequest& r) {
    if (r.method == "GET") return Page(r, "members", 5, /*page_cap=*/2);
    return FakeResponse{200, R"({"member":{"user_id":"i4","email":"i4@x","role":"admin"}})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"org", "member", "update", "--email", "i4@x", "--role", "admin"}), 0)
      << err_.str();
  EXPECT_EQ(requests().back().method, "PATCH");
  EXPECT_EQ(requests().back().path, "/v1/organizations/acme/members/i4");
  EXPECT_EQ(requests().size(), 4u);
}

TEST_F(ListCommandsTest, TheShellCompletesAuditActions) {
  ASSERT_EQ(Run({"completion", "bash"}), 0) << err_.str();
  for (const auto& action : AuditActionNames()) {
    EXPECT_THAT(out_.str(), HasSubstr(action));
  }
}

}  // namespace
}  // namespace cl::cli
