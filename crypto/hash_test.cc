// Tests for crypto/hash.h: RFC 4231 HMAC vectors, SHA-256, PKCE (RFC 7636 B), base64url.
#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <cctype>
#include <thread>
#include <vector>

namespace cl::crypto {
namespace {

std::string Repeat(char c, size_t n) { return std::string(n, c); }

TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

struct HmacVector {
  std::string key, data, hex;
};

// RFC 4231 test cases 1, 2, 3, 4, 6, 7 (case 5 is a truncated output).
std::vector<HmacVector> Rfc4231() {
  std::string key4;
  for (char c = 1; c <= 25; ++c) key4.push_back(c);
  return {
      {Repeat('\x0b', 20), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {Repeat('\xaa', 20), Repeat('\xdd', 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {key4, Repeat('\xcd', 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {Repeat('\xaa', 131), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {Repeat('\xaa', 131),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
      {"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
  };
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  for (const auto& v : Rfc4231()) {
    EXPECT_EQ(HexEncode(HmacSha256(v.key, v.data)), v.hex) << v.data.substr(0, 20);
  }
}

TEST(HmacSha256Test, SwitchingKeysOnOneThreadGivesCorrectResults) {
  // The per-thread context re-uses the last key; alternating keys must not leak state.
  auto vectors = Rfc4231();
  for (int round = 0; round < 3; ++round) {
    for (const auto& v : vectors) {
      ASSERT_EQ(HexEncode(HmacSha256(v.key, v.data)), v.hex);
      ASSERT_EQ(HexEncode(HmacSha256(v.key, v.data)), v.hex);  // same key twice in a row
    }
  }
}

TEST(HmacSha256Test, ConcurrentThreadsAgree) {
  auto vectors = Rfc4231();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto& v = vectors[(i + t) % vectors.size()];
        if (HexEncode(HmacSha256(v.key, v.data)) != v.hex) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(CredentialHasherTest, HexOfHmac) {
  CredentialHasher hasher("Jefe");
  EXPECT_EQ(hasher.Hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CredentialHasherTest, DigestIsTheRawFormOfHashAndRoundTripsThroughHex) {
  CredentialHasher hasher("Jefe");
  Digest256 d = hasher.Digest("what do ya want for nothing?");
  std::string raw(reinterpret_cast<const char*>(d.data()), d.size());
  EXPECT_EQ(HexEncode(raw), hasher.Hash("what do ya want for nothing?"));
  auto back = DigestFromHex(hasher.Hash("what do ya want for nothing?"));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, d);
  // Only what HexEncode writes is accepted: 64 lower-case hex characters.
  std::string hex = hasher.Hash("x");
  EXPECT_FALSE(DigestFromHex(hex.substr(1)));
  EXPECT_FALSE(DigestFromHex(hex + "0"));
  EXPECT_FALSE(DigestFromHex(""));
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper != hex) {
    EXPECT_FALSE(DigestFromHex(upper));
  }
  hex[10] = 'g';
  EXPECT_FALSE(DigestFromHex(hex));
}

TEST(CredentialHasherTest, NewestPepperHashesAndOlderOnesStayReachable) {
  CredentialHasher hasher(std::vector<std::string>{"Jefe", Repeat('\x0b', 20)});
  ASSERT_EQ(hasher.pepper_count(), 2u);
  // Hash() is the newest pepper; HashWith(i) each listed one (RFC 4231 cases 2 and 1).
  EXPECT_EQ(hasher.Hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hasher.HashWith(0, "what do ya want for nothing?"),
            hasher.Hash("what do ya want for nothing?"));
  EXPECT_EQ(hasher.HashWith(1, "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Interleaving peppers on one thread (the per-thread HMAC context re-keys) stays correct.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(hasher.HashWith(1, "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hasher.Hash("what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
}

TEST(CredentialHasherTest, PepperIdsArePrefixesOfSha256AndDiffer) {
  // SHA-256("abc") = ba7816bf...: the id an operator gets from `sha256sum | cut -c1-8`.
  EXPECT_EQ(CredentialHasher::PepperIdOf("abc"), "ba7816bf");
  CredentialHasher hasher(std::vector<std::string>{"abc", ""});
  EXPECT_EQ(hasher.current_pepper_id(), "ba7816bf");
  EXPECT_EQ(hasher.pepper_id(0), "ba7816bf");
  EXPECT_EQ(hasher.pepper_id(1), "e3b0c442");
  CredentialHasher single("abc");
  EXPECT_EQ(single.pepper_count(), 1u);
  EXPECT_EQ(single.current_pepper_id(), "ba7816bf");
  // The id reveals nothing usable: it is not the pepper and not a prefix of the stored hashes.
  EXPECT_NE(single.Hash("abc").substr(0, 8), single.current_pepper_id());
}

TEST(HexEncodeTest, LowerCase) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(ConstantTimeEqualsTest, Cases) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(PkceTest, Rfc7636AppendixB) {
  EXPECT_EQ(PkceS256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Base64UrlTest, Rfc4648VectorsRoundTrip) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {std::string("\xfb\xff", 2), "-_8"},  // '+' and '/' in standard base64
  };
  for (const auto& [raw, enc] : cases) {
    EXPECT_EQ(Base64UrlEncode(raw), enc);
    auto dec = Base64UrlDecode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, raw);
  }
}

TEST(Base64UrlTest, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    std::string s = all.substr(0, len);
    auto dec = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, s);
  }
}

TEST(Base64UrlTest, RejectsNonCanonicalAlphabetAndPadding) {
  for (std::string_view bad : std::vector<std::string_view>{
           "Zg==", "Zm8=", "Zm9v+", "Zm9v/w", "Zm 9v", "Zm9v\n", "Z", "Zm9vY", "Zm9v\t", "Zm9v.",
           "Zm9v\xc3\xa9", "Zh", "Zm9", "Zm9vYh", std::string_view("Zm\0v", 4)}) {
    auto r = Base64UrlDecode(bad);
    EXPECT_FALSE(r.has_value()) << "accepted: " << bad;
    if (!r) {
      EXPECT_TRUE(r.error().IsInvalidArgument());
    }
  }
}

}  // namespace
}  // namespace cl::crypto
