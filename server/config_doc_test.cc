// Keeps docs/configuration.md and the server's settings in step: every key the server accepts
// (ConfigKeysWithHelp) has a row in the document's settings table, and every row names a key the
// server accepts.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "server/config.h"

#ifndef CL_SOURCE_DIR
#error "CL_SOURCE_DIR must be defined"
#endif

namespace cl::server {
namespace {

// The keys of the table whose header is "| key | default | meaning |": the first cell of each
// row, written as `key`. The table ends at the first line that is not a table row.
std::set<std::string> DocumentedKeys(std::istream& in) {
  std::set<std::string> keys;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (!in_table) {
      in_table = line.rfind("| key | default | meaning |", 0) == 0;
      continue;
    }
    if (line.rfind('|', 0) != 0) break;
    if (line.rfind("|---", 0) == 0) continue;
    size_t open = line.find('`');
    size_t close = open == std::string::npos ? open : line.find('`', open + 1);
    size_t cell_end = line.find('|', 1);
    EXPECT_TRUE(close != std::string::npos && close < cell_end)
        << "a settings row without a `key` in its first cell: " << line;
    if (close == std::string::npos || close > cell_end) continue;
    keys.insert(line.substr(open + 1, close - open - 1));
  }
  return keys;
}

TEST(ConfigDocTest, EverySettingIsDocumentedAndEveryDocumentedSettingExists) {
  std::ifstream in(std::string(CL_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "cannot open docs/configuration.md";
  std::set<std::string> documented = DocumentedKeys(in);
  ASSERT_FALSE(documented.empty()) << "no settings table found in docs/configuration.md";
  for (const auto& [key, help] : ConfigKeysWithHelp()) {
    EXPECT_TRUE(documented.count(key)) << "setting missing from docs/configuration.md: " << key;
  }
  for (const std::string& key : documented) {
    EXPECT_TRUE(ConfigKeysWithHelp().count(key))
        << "docs/configuration.md lists a setting the server does not know: " << key;
  }
}

TEST(ConfigDocTest, ReadsOnlyTheSettingsTable) {
  std::istringstream doc(
      "intro | `not_a_key` |\n"
      "| key | default | meaning |\n"
      "|---|---|---|\n"
      "| `listen` | `127.0.0.1:8000` | address, see `other` |\n"
      "| `data_dir` | `.data` | data |\n"
      "\n"
      "| `later_table` | x | y |\n");
  EXPECT_EQ(DocumentedKeys(doc), (std::set<std::string>{"listen", "data_dir"}));
}

}  // namespace
}  // namespace cl::server
