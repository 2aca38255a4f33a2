// DNS-1123 names and e-mail normalization (domain/names.h).
#include "domain/names.h"

#include <gtest/gtest.h>

namespace cl::domain {
namespace {

TEST(Names, Dns1123Labels) {
  EXPECT_TRUE(ValidateDnsLabel("my-org-1", "name"));
  for (const char* bad : {"", "-a", "a-", "UPPER", "a_b", "a.b", "ä"}) {
    EXPECT_FALSE(ValidateDnsLabel(bad, "name")) << bad;
  }
  EXPECT_TRUE(ValidateDnsLabel(std::string(63, 'a'), "name"));
  EXPECT_FALSE(ValidateDnsLabel(std::string(64, 'a'), "name"));
  EXPECT_EQ(*NormalizeEmail("Bob@Example.COM"), "bob@example.com");
  EXPECT_FALSE(NormalizeEmail("bob"));
  EXPECT_FALSE(NormalizeEmail("a@b@c"));
}

}  // namespace
}  // namespace cl::domain
