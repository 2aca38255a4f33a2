// Client address keys and address blocks (common/address.h), by table.
#include "common/address.h"

#include <gtest/gtest.h>

#include <string>

namespace cl {
namespace {

TEST(CidrTest, ParsesAndMatches) {
  auto v4 = Cidr::Parse("10.0.0.0/8");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->Contains("10.255.0.1"));
  EXPECT_TRUE(v4->Contains("::ffff:10.0.0.1"));
  EXPECT_FALSE(v4->Contains("11.0.0.1"));
  EXPECT_FALSE(v4->Contains("::1"));
  EXPECT_FALSE(v4->Contains("not an address"));

  auto odd = Cidr::Parse("192.168.0.0/23");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->Contains("192.168.1.200"));
  EXPECT_FALSE(odd->Contains("192.168.2.1"));

  auto v6 = Cidr::Parse("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->Contains("fd12:3456::1"));
  EXPECT_FALSE(v6->Contains("fe80::1"));

  auto one = Cidr::Parse("127.0.0.1");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->Contains("127.0.0.1"));
  EXPECT_FALSE(one->Contains("127.0.0.2"));

  auto all = Cidr::Parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->Contains("8.8.8.8"));

  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0/8", "x/8",
                          "10.0.0.0/-1", "10.0.0.0/8x"}) {
    EXPECT_FALSE(Cidr::Parse(bad)) << bad;
  }
}

// ---------------------------------------------------------------------------------------------

TEST(ClientAddressKeyTest, Ipv4AsIsIpv6Per64MappedAsIpv4) {
  struct Case {
    const char* address;
    const char* key;
  } cases[] = {
      {"198.51.100.7", "198.51.100.7"},
      {"::ffff:198.51.100.7", "198.51.100.7"},
      {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
      {"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
      {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
      {"not-an-address", "not-an-address"},
      {"", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(ClientAddressKey(c.address), c.key) << c.address;
  EXPECT_EQ(ClientAddressKey(std::string(200, 'x')).size(), 64u);
}

// ---------------------------------------------------------------------------------------------

TEST(CanonicalAddressTest, OneSpellingPerAddressNothingElse) {
  struct Case {
    const char* text;
    const char* canonical;  // nullptr: not an address
  } cases[] = {
      {"198.51.100.7", "198.51.100.7"},
      {"::ffff:198.51.100.7", "198.51.100.7"},
      {"::FFFF:c633:6407", "198.51.100.7"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"::1", "::1"},
      {"198.51.100.7:443", nullptr},
      {"[2001:db8::1]", nullptr},
      {"[2001:db8::1]:443", nullptr},
      {"fe80::1%eth0", nullptr},
      {" 198.51.100.7", nullptr},
      {"198.51.100.7 ", nullptr},
      {"198.51.100", nullptr},
      {"unknown", nullptr},
      {"", nullptr},
  };
  for (const Case& c : cases) {
    auto got = CanonicalAddress(c.text);
    if (c.canonical == nullptr) {
      EXPECT_FALSE(got) << c.text;
    } else {
      ASSERT_TRUE(got) << c.text;
      EXPECT_EQ(*got, c.canonical) << c.text;
    }
  }
  EXPECT_FALSE(CanonicalAddress(std::string(200, '1')));
}

}  // namespace
}  // namespace cl
