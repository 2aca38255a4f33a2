// Tests of request ids (http/request_id.h): which client-sent ids are kept, and generated ones.
#include "http/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace cl::http {
namespace {

TEST(RequestIdTest, AcceptsShortIdsOfSafeCharactersOnly) {
  EXPECT_TRUE(IsAcceptableRequestId("abc-DEF_123"));
  EXPECT_TRUE(IsAcceptableRequestId(std::string(64, 'a')));
  EXPECT_FALSE(IsAcceptableRequestId(""));
  EXPECT_FALSE(IsAcceptableRequestId(std::string(65, 'a')));
  for (const char* bad : {"a b", "a\"b", "a\nb", "a=b", "a.b", "a/b", "\xc3\xa9"}) {
    EXPECT_FALSE(IsAcceptableRequestId(bad)) << bad;
  }
}

TEST(RequestIdTest, GeneratedIdsAreSixteenHexDigitsAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewRequestId();
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(IsAcceptableRequestId(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace cl::http
