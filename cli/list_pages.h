// Fetching a list endpoint page by page, for every list command: follows next_cursor
// (docs/api.md, "Pagination") until --limit items, the default cap, or the last page.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/api_client.h"
#include "cli/context.h"
#include "common/result.h"

namespace cl::cli {

// Items a list command shows without --limit.
inline constexpr int kDefaultListCap = 1000;
// The largest --limit.
inline constexpr int kMaxListLimit = 10000;
// The largest page the API serves (its `limit` query parameter).
inline constexpr int kMaxPageSize = 1000;

// One list endpoint and its filters.
struct ListQuery {
  std::string path;  // e.g. "/v1/organizations/acme/api-tokens", without a query
  // The endpoint's own filters, sent with every page, before `limit` and `cursor`.
  std::vector<std::pair<std::string, std::string>> filters;
  std::string array_key;  // the answer's array: "api_tokens"
  std::string things;     // what the items are, for messages: "API tokens"
};

struct FetchedList {
  // The first page's answer with every fetched item under the array key and no next_cursor:
  // what `-o json` prints.
  boost::json::value response;
  // More items exist than were fetched (the cap or --limit stopped the listing).
  bool truncated = false;
  // "note: showing the first 1000 ...; use --limit to see more\n" when the default cap
  // truncated the listing (never with --limit), else empty. For stderr, never stdout.
  std::string note;
  std::string array_key;

  // The fetched items (response[array_key]).
  const boost::json::array& items() const;
};

// Fetches up to `limit` items (default kDefaultListCap), asking for pages of at most
// min(items still wanted, kMaxPageSize) and following next_cursor. A server that sends no
// next_cursor (one older than pagination) is asked once. Without `limit` one item more than
// the cap is asked for, so `truncated` means that more exist, not that they may.
// A next_cursor the server already sent fails with Internal("bad_response") instead of looping;
// so does an answer without the array or with a next_cursor that is not a string or null.
// REQUIRES: `limit`, when given, is in 1..kMaxListLimit.
Result<FetchedList> FetchList(ApiClient& client, const ListQuery& query, std::optional<int> limit);

// Prints a fetched list the CLI's way: with -o json, its response as one JSON document on
// stdout; else what `print_table` writes. Then the truncation note, if any, on stderr.
void PrintList(CliContext& ctx, const FetchedList& list, const std::function<void()>& print_table);

}  // namespace cl::cli
