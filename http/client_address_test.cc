// The client address behind trusted proxies (http/client_address.h), by table: spoofed entries,
// several header instances, IPv6, IPv4-mapped peers, malformed entries and hop limits.
#include "http/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace cl::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TrustedProxies Trusted(ForwardedHeader header = ForwardedHeader::kXForwardedFor) {
  std::vector<Cidr> blocks;
  for (const char* b : {"10.0.0.0/8", "127.0.0.1", "fd00::/8"}) blocks.push_back(*Cidr::Parse(b));
  return TrustedProxies(std::move(blocks), header);
}

struct Case {
  const char* name;
  const char* peer;
  Headers headers;
  const char* client;
};

void RunCases(const std::vector<Case>& cases, const TrustedProxies& trusted) {
  for (const Case& c : cases) {
    EXPECT_EQ(ClientAddress(c.peer, c.headers, trusted), c.client) << c.name;
  }
}

TEST(ClientAddressTest, WithoutTrustedProxiesTheHeadersAreIgnored) {
  const TrustedProxies none;
  RunCases(
      {
          {"no header", "198.51.100.7", {}, "198.51.100.7"},
          {"spoofed", "198.51.100.7", {{"x-forwarded-for", "203.0.113.9"}}, "198.51.100.7"},
          {"spoofed forwarded", "198.51.100.7", {{"forwarded", "for=203.0.113.9"}}, "198.51.100.7"},
          {"loopback peer", "127.0.0.1", {{"x-forwarded-for", "203.0.113.9"}}, "127.0.0.1"},
      },
      none);
}

TEST(ClientAddressTest, XForwardedForFromTheRight) {
  RunCases(
      {
          {"untrusted peer ignores the header",
           "198.51.100.7",
           {{"x-forwarded-for", "203.0.113.9"}},
           "198.51.100.7"},
          {"no header: the proxy", "10.0.0.1", {}, "10.0.0.1"},
          {"one hop", "10.0.0.1", {{"x-forwarded-for", "203.0.113.9"}}, "203.0.113.9"},
          {"spoofed leftmost entries are skipped",
           "10.0.0.1",
           {{"x-forwarded-for", "1.2.3.4, 5.6.7.8, 203.0.113.9"}},
           "203.0.113.9"},
          {"trusted hops are skipped",
           "10.0.0.1",
           {{"x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.1.1, 127.0.0.1"}},
           "203.0.113.9"},
          {"every entry trusted: the peer",
           "10.0.0.1",
           {{"x-forwarded-for", "10.2.2.2, 10.1.1.1"}},
           "10.0.0.1"},
          {"instances form one list",
           "10.0.0.1",
           {{"x-forwarded-for", "1.2.3.4"}, {"x-forwarded-for", "203.0.113.9, 10.1.1.1"}},
           "203.0.113.9"},
          {"the last instance is rightmost",
           "10.0.0.1",
           {{"x-forwarded-for", "203.0.113.9"}, {"x-forwarded-for", "198.51.100.1"}},
           "198.51.100.1"},
          {"other headers ignored",
           "10.0.0.1",
           {{"forwarded", "for=1.2.3.4"}, {"x-real-ip", "5.6.7.8"}},
           "10.0.0.1"},
          {"tabs and spaces",
           "10.0.0.1",
           {{"x-forwarded-for", "1.2.3.4 ,\t203.0.113.9\t"}},
           "203.0.113.9"},
          {"IPv6 client, canonical",
           "10.0.0.1",
           {{"x-forwarded-for", "2001:DB8:0::1"}},
           "2001:db8::1"},
          {"IPv6 trusted proxy",
           "fd00::1",
           {{"x-forwarded-for", "203.0.113.9, fd00::2"}},
           "203.0.113.9"},
          {"mapped peer is trusted",
           "::ffff:10.0.0.1",
           {{"x-forwarded-for", "203.0.113.9"}},
           "203.0.113.9"},
          {"mapped entry normalised",
           "10.0.0.1",
           {{"x-forwarded-for", "::ffff:203.0.113.9"}},
           "203.0.113.9"},
          {"mapped trusted entry skipped",
           "10.0.0.1",
           {{"x-forwarded-for", "203.0.113.9, ::ffff:10.9.9.9"}},
           "203.0.113.9"},
      },
      Trusted());
}

TEST(ClientAddressTest, MalformedEntriesStopTheWalk) {
  RunCases(
      {
          {"garbage rightmost: the peer",
           "10.0.0.1",
           {{"x-forwarded-for", "1.2.3.4, garbage"}},
           "10.0.0.1"},
          {"garbage behind a trusted hop: that hop",
           "10.0.0.1",
           {{"x-forwarded-for", "1.2.3.4, garbage, 10.1.1.1"}},
           "10.1.1.1"},
          {"garbage left of the client is never reached",
           "10.0.0.1",
           {{"x-forwarded-for", "garbage, 203.0.113.9"}},
           "203.0.113.9"},
          {"port", "10.0.0.1", {{"x-forwarded-for", "1.2.3.4, 203.0.113.9:4711"}}, "10.0.0.1"},
          {"bracketed IPv6", "10.0.0.1", {{"x-forwarded-for", "[2001:db8::1]"}}, "10.0.0.1"},
          {"zone id", "10.0.0.1", {{"x-forwarded-for", "fe80::1%eth0"}}, "10.0.0.1"},
          {"unknown", "10.0.0.1", {{"x-forwarded-for", "1.2.3.4, unknown"}}, "10.0.0.1"},
          {"empty header", "10.0.0.1", {{"x-forwarded-for", ""}}, "10.0.0.1"},
          {"empty entry", "10.0.0.1", {{"x-forwarded-for", "1.2.3.4,,10.1.1.1"}}, "10.1.1.1"},
          {"trailing comma", "10.0.0.1", {{"x-forwarded-for", "1.2.3.4,"}}, "10.0.0.1"},
          {"short IPv4", "10.0.0.1", {{"x-forwarded-for", "1.2.3"}}, "10.0.0.1"},
          {"leading zeros", "10.0.0.1", {{"x-forwarded-for", "010.0.0.1"}}, "10.0.0.1"},
          {"over-long entry",
           "10.0.0.1",
           {{"x-forwarded-for", std::string(5000, '1')}},
           "10.0.0.1"},
          {"a quote does not swallow the appended entry",
           "10.0.0.1",
           {{"x-forwarded-for", "\"1.2.3.4, 203.0.113.9"}},
           "203.0.113.9"},
      },
      Trusted());
}

TEST(ClientAddressTest, AtMostMaxHopsAreRead) {
  std::string chain = "203.0.113.9";
  for (size_t i = 0; i < kMaxForwardedHops - 1; ++i) chain += ", 10.0.0." + std::to_string(i + 2);
  // The client is exactly kMaxForwardedHops entries from the right: still found.
  EXPECT_EQ(ClientAddress("10.0.0.1", {{"x-forwarded-for", chain}}, Trusted()), "203.0.113.9");
  // One more trusted hop: the walk stops at the last trusted hop it read.
  chain += ", 10.0.1.1";
  EXPECT_EQ(ClientAddress("10.0.0.1", {{"x-forwarded-for", chain}}, Trusted()), "10.0.0.2");
  // Thousands of entries: the rightmost few decide.
  std::string flood;
  for (int i = 0; i < 2000; ++i) flood += "1.1.1.1, ";
  flood += "203.0.113.9";
  EXPECT_EQ(ClientAddress("10.0.0.1", {{"x-forwarded-for", flood}}, Trusted()), "203.0.113.9");
}

TEST(ClientAddressTest, ForwardedForParameters) {
  RunCases(
      {
          {"untrusted peer ignores the header",
           "198.51.100.7",
           {{"forwarded", "for=203.0.113.9"}},
           "198.51.100.7"},
          {"one hop", "10.0.0.1", {{"forwarded", "for=203.0.113.9"}}, "203.0.113.9"},
          {"other parameters",
           "10.0.0.1",
           {{"forwarded", "proto=https;For=203.0.113.9;by=10.0.0.1"}},
           "203.0.113.9"},
          {"spoofed leftmost",
           "10.0.0.1",
           {{"forwarded", "for=1.2.3.4, for=203.0.113.9, for=10.1.1.1"}},
           "203.0.113.9"},
          {"quoted IPv6 with port",
           "10.0.0.1",
           {{"forwarded", "for=\"[2001:DB8:cafe::17]:4711\""}},
           "2001:db8:cafe::17"},
          {"quoted IPv6", "10.0.0.1", {{"forwarded", "for=\"[2001:db8::1]\""}}, "2001:db8::1"},
          {"IPv4 with port", "10.0.0.1", {{"forwarded", "for=\"203.0.113.9:80\""}}, "203.0.113.9"},
          {"instances form one list",
           "10.0.0.1",
           {{"forwarded", "for=1.2.3.4"}, {"forwarded", "for=203.0.113.9"}},
           "203.0.113.9"},
          {"X-Forwarded-For ignored", "10.0.0.1", {{"x-forwarded-for", "1.2.3.4"}}, "10.0.0.1"},
          {"unknown", "10.0.0.1", {{"forwarded", "for=1.2.3.4, for=unknown"}}, "10.0.0.1"},
          {"obfuscated", "10.0.0.1", {{"forwarded", "for=_hidden, for=10.1.1.1"}}, "10.1.1.1"},
          {"no for", "10.0.0.1", {{"forwarded", "for=1.2.3.4, proto=https"}}, "10.0.0.1"},
          {"two for in one element",
           "10.0.0.1",
           {{"forwarded", "for=1.2.3.4;for=203.0.113.9"}},
           "10.0.0.1"},
          {"unbracketed IPv6", "10.0.0.1", {{"forwarded", "for=2001:db8::1"}}, "10.0.0.1"},
          {"bracketed IPv4", "10.0.0.1", {{"forwarded", "for=\"[203.0.113.9]\""}}, "10.0.0.1"},
          {"unterminated quote", "10.0.0.1", {{"forwarded", "for=\"203.0.113.9"}}, "10.0.0.1"},
          {"escapes", "10.0.0.1", {{"forwarded", "for=\"203.0.113.\\9\""}}, "10.0.0.1"},
          {"bad port", "10.0.0.1", {{"forwarded", "for=\"203.0.113.9:_p\""}}, "10.0.0.1"},
          {"empty port", "10.0.0.1", {{"forwarded", "for=\"[::1]:\""}}, "10.0.0.1"},
          {"garbage after the bracket", "10.0.0.1", {{"forwarded", "for=\"[::1]x\""}}, "10.0.0.1"},
          {"empty", "10.0.0.1", {{"forwarded", ""}}, "10.0.0.1"},
      },
      Trusted(ForwardedHeader::kForwarded));
}

}  // namespace
}  // namespace cl::http
