// FetchList: the page loop of the list commands; see the header.
#include "cli/list_pages.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <cassert>
#include <set>

#include "cli/output.h"
#include "common/http_client.h"

namespace cl::cli {
namespace {

// The page's next_cursor: nullopt when absent, null or "" (the last page).
Result<std::optional<std::string>> NextCursor(const boost::json::value& page,
                                              const ListQuery& query) {
  const auto* v = page.as_object().if_contains("next_cursor");
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) {
    return Fail(Error::Internal(
        "the control plane's " + query.things + " page has a next_cursor that is not a string",
        Reason::kBadResponse));
  }
  if (v->as_string().empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(v->as_string()));
}

}  // namespace

const boost::json::array& FetchedList::items() const {
  return response.as_object().at(array_key).as_array();
}

Result<FetchedList> FetchList(ApiClient& client, const ListQuery& query, std::optional<int> limit) {
  assert(!limit || (*limit >= 1 && *limit <= kMaxListLimit));
  // Without --limit, one more than the cap tells whether more exist.
  const size_t wanted = limit ? static_cast<size_t>(*limit) : kDefaultListCap + 1;
  std::optional<boost::json::value> first;  // the first page: what the output is built on
  boost::json::array items;
  std::set<std::string> seen_cursors;
  std::optional<std::string> cursor;
  bool more = false;  // the server has items beyond those kept
  while (true) {
    const size_t page_size = std::min(wanted - items.size(), static_cast<size_t>(kMaxPageSize));
    auto fields = query.filters;
    fields.emplace_back("limit", std::to_string(page_size));
    if (cursor) fields.emplace_back("cursor", *cursor);
    CL_ASSIGN_OR_RETURN(auto page, client.Get(query.path + "?" + FormEncode(fields)));
    CL_ASSIGN_OR_RETURN(const auto* page_items,
                        ArrayField(page, query.array_key, query.things + " list"));
    const bool page_empty = page_items->empty();
    // A server that ignores `limit` (older than pagination) may send more than asked for.
    for (const auto& item : *page_items) {
      if (items.size() == wanted) {
        more = true;
        break;
      }
      items.push_back(item);
    }
    CL_ASSIGN_OR_RETURN(auto next, NextCursor(page, query));
    if (!first) first = std::move(page);
    if (!next || page_empty) break;
    if (items.size() == wanted) {
      more = true;
      break;
    }
    if (!seen_cursors.insert(*next).second) {
      return Fail(
          Error::Internal("the control plane sent the same next_cursor twice while "
                          "listing " +
                              query.things + " (after " + std::to_string(items.size()) +
                              " of them); stopped instead of asking again",
                          Reason::kBadResponse));
    }
    cursor = std::move(next);
  }

  FetchedList out;
  out.array_key = query.array_key;
  if (!limit) {
    more = items.size() > static_cast<size_t>(kDefaultListCap);
    if (more) {
      items.resize(kDefaultListCap);
      out.note = "note: showing the first " + std::to_string(kDefaultListCap) + " " + query.things +
                 "; use --limit to see more\n";
    }
  }
  out.truncated = more;
  auto& obj = first->as_object();
  obj.erase("next_cursor");
  obj[query.array_key] = std::move(items);
  out.response = std::move(*first);
  return out;
}

void PrintList(CliContext& ctx, const FetchedList& list, const std::function<void()>& print_table) {
  if (ctx.json_output()) {
    ctx.PrintJson(list.response);
  } else {
    print_table();
  }
  ctx.err() << list.note;
}

}  // namespace cl::cli
