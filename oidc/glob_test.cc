// Tests of GlobMatch: literal, '?', '*' semantics, anchoring, and linear-ish time on
// pathological patterns.
#include "oidc/glob.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace cl::oidc {
namespace {

struct GlobCase {
  const char* pattern;
  const char* value;
  bool want;
};

TEST(GlobMatchTest, Table) {
  const GlobCase cases[] = {
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"abc", "abc", true},
      {"abc", "abd", false},
      {"abc", "abcd", false},  // anchored at the end
      {"bcd", "abcd", false},  // and at the start
      {"*", "", true},
      {"*", "anything/at/all", true},
      {"**", "x", true},
      {"group/*", "group/app", true},
      {"group/*", "group/sub/app", true},  // '*' crosses '/'
      {"group/*", "group/", true},
      {"group/*", "group", false},
      {"group/*", "attacker/group/app", false},
      {"*/app", "fork/app", true},
      {"refs/heads/release-?", "refs/heads/release-1", true},
      {"refs/heads/release-?", "refs/heads/release-10", false},
      {"refs/heads/release-?", "refs/heads/release-", false},
      {"?", "", false},
      {"???", "abc", true},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYYcZ", false},
      {"a*b*c", "abc", true},
      {"a*bc", "abcbc", true},  // needs the star to extend past a false start
      {"*a", "aaab", false},
      {"[ab]", "[ab]", true},  // no character classes: brackets are literal
      {"[ab]", "a", false},
      {"\\*", "\\anything", true},  // no escapes: backslash is literal
      {"123", "1234", false},
      {"12*", "1234", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.value), c.want)
        << "pattern \"" << c.pattern << "\" value \"" << c.value << "\"";
  }
}

TEST(GlobMatchTest, CaseSensitive) {
  EXPECT_FALSE(GlobMatch("Group/App", "group/app"));
  EXPECT_TRUE(GlobMatch("Group/*", "Group/app"));
}

TEST(GlobMatchTest, PatternLengthCap) {
  std::string at_cap(kMaxGlobPatternLength, 'a');
  EXPECT_TRUE(GlobMatch(at_cap, at_cap));
  std::string over = at_cap + "a";
  EXPECT_FALSE(GlobMatch(over, over));
  EXPECT_FALSE(GlobMatch(std::string(kMaxGlobPatternLength + 1, '*'), "x"));
}

TEST(GlobMatchTest, PathologicalPatternsFinishFast) {
  // "a*a*a*...*b" against "aaaa...": a backtracking matcher takes exponential time here.
  std::string pattern;
  while (pattern.size() + 2 < kMaxGlobPatternLength) pattern += "a*";
  pattern += "b";
  const std::string value(16 * 1024, 'a');
  const std::string ending_b = value + "b";
  std::string many_stars(kMaxGlobPatternLength - 1, '*');
  many_stars += "b";

  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(GlobMatch(pattern, value));
  EXPECT_TRUE(GlobMatch(pattern, ending_b));
  EXPECT_FALSE(GlobMatch(many_stars, value));
  EXPECT_FALSE(GlobMatch("*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?b", value));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST(GlobMatchTest, WildcardOnly) {
  EXPECT_TRUE(GlobIsWildcardOnly("*"));
  EXPECT_TRUE(GlobIsWildcardOnly("*?*"));
  EXPECT_TRUE(GlobIsWildcardOnly(""));
  EXPECT_FALSE(GlobIsWildcardOnly("*/*"));
  EXPECT_FALSE(GlobIsWildcardOnly("group/*"));
}

}  // namespace
}  // namespace cl::oidc
