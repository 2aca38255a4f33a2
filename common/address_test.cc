// Client address keys, address blocks and the outbound address classification
// (common/address.h), by table.
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

// ---------------------------------------------------------------------------------------------

TEST(IsNonPublicAddressTest, EveryRefusedRangeAndItsEdges) {
  struct Case {
    const char* address;
    bool non_public;
  } cases[] = {
      // Public neighbours of each range.
      {"8.8.8.8", false},
      {"1.1.1.1", false},
      {"9.255.255.255", false},
      {"11.0.0.0", false},
      {"172.15.255.255", false},
      {"172.32.0.0", false},
      {"100.63.255.255", false},
      {"100.128.0.0", false},
      {"169.253.255.255", false},
      {"192.167.255.255", false},
      {"192.169.0.0", false},
      {"223.255.255.255", false},
      {"1.0.0.0", false},
      {"126.255.255.255", false},
      {"128.0.0.0", false},
      {"2001:db8::1", false},
      {"2606:4700::1111", false},
      {"fbff:ffff::1", false},
      {"fe7f::1", false},
      {"::ffff:8.8.8.8", false},
      // Refused ranges, first and last addresses.
      {"0.0.0.0", true},
      {"0.255.255.255", true},
      {"10.0.0.0", true},
      {"10.255.255.255", true},
      {"100.64.0.0", true},
      {"100.127.255.255", true},
      {"127.0.0.1", true},
      {"127.255.255.254", true},
      {"169.254.0.0", true},
      {"169.254.169.254", true},
      {"172.16.0.0", true},
      {"172.31.255.255", true},
      {"192.168.0.0", true},
      {"192.168.255.255", true},
      {"224.0.0.1", true},
      {"239.255.255.255", true},
      {"240.0.0.0", true},
      {"255.255.255.255", true},
      {"::", true},
      {"::1", true},
      {"::7f00:1", true},  // IPv4-compatible 127.0.0.1
      {"fc00::1", true},
      {"fdff:ffff::1", true},
      {"fe80::1", true},
      {"febf:ffff::1", true},
      {"fec0::1", true},
      {"ff02::1", true},
      // IPv4-mapped forms are judged as IPv4.
      {"::ffff:127.0.0.1", true},
      {"::ffff:10.0.0.5", true},
      {"::ffff:169.254.169.254", true},
      {"::ffff:100.64.0.1", true},
      // What is not an address cannot be called public.
      {"localhost", true},
      {"", true},
      {"10.0.0.5:80", true},
  };
  for (const Case& c : cases) EXPECT_EQ(IsNonPublicAddress(c.address), c.non_public) << c.address;
}

TEST(AddressPolicyTest, AllowsPublicAndOnlyTheListedNonPublicBlocks) {
  AddressPolicy none;
  EXPECT_TRUE(none.Allows("8.8.8.8"));
  EXPECT_TRUE(none.Allows("2001:db8::1"));
  EXPECT_FALSE(none.Allows("127.0.0.1"));
  EXPECT_FALSE(none.Allows("::1"));
  EXPECT_FALSE(none.Allows("not-an-address"));

  auto loopback = AddressPolicy::Parse({"127.0.0.1/32", "fd00:1::/32"});
  ASSERT_TRUE(loopback);
  EXPECT_TRUE(loopback->Allows("127.0.0.1"));
  EXPECT_TRUE(loopback->Allows("::ffff:127.0.0.1"));
  EXPECT_TRUE(loopback->Allows("fd00:1::5"));
  EXPECT_FALSE(loopback->Allows("127.0.0.2"));
  EXPECT_FALSE(loopback->Allows("::1"));
  EXPECT_FALSE(loopback->Allows("10.0.0.5"));
  EXPECT_FALSE(loopback->Allows("fd00:2::5"));
  EXPECT_TRUE(loopback->Allows("8.8.8.8"));

  auto bad = AddressPolicy::Parse({"127.0.0.1/32", "10.0.0.0/33"});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().IsInvalidArgument());
}

}  // namespace
}  // namespace cl
