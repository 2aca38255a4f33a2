// The vocabulary of keyset pagination shared by the store's listings (store.h) and their callers:
// the typed keys a list is ordered by, the page asked for and the page answered.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace cl::store {

// Keyset pagination: a list has a fixed total order (its key columns, the last one an id), and a
// page is the first `limit` rows after a given key in that order. The key of a page's last row
// asks for the next page, so rows inserted meanwhile never shift or repeat the rows already seen
// (no OFFSET). Keys hold the sort values of one row; callers get them only from Page::next.
struct NameKey {  // ordered by a name (or email), then id
  std::string name;
  std::string id;
};
struct TimeKey {  // ordered by created_at, then id
  UnixMillis created_at = 0;
  std::string id;
};
struct WorkflowKey {  // ordered by project name, workflow name, then id
  std::string project_name;
  std::string workflow_name;
  std::string id;
};

template <typename Key>
struct PageRequest {
  int limit = 100;  // REQUIRES: >= 1 (the API allows 1..1000)
  // The key of the last row of the previous page; empty: the first page.
  std::optional<Key> after;
};

template <typename T, typename Key>
struct Page {
  std::vector<T> items;  // at most PageRequest::limit, in the list's order
  // Set when more rows followed this page when it was read: the PageRequest::after of the next.
  std::optional<Key> next;
};

}  // namespace cl::store
