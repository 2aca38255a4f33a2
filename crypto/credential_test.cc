// Tests for crypto/credential.h: format, checksum, rejection of mistyped or truncated tokens.
#include "crypto/credential.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace cl::crypto {
namespace {

constexpr CredentialKind kAllKinds[] = {CredentialKind::kApiToken, CredentialKind::kSession,
                                        CredentialKind::kFederated, CredentialKind::kLoginCode,
                                        CredentialKind::kDeviceHandle};

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Deterministic byte source for tests that need to drive rejection sampling.
class SequenceRandom final : public Random {
 public:
  explicit SequenceRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = bytes_[pos_++ % bytes_.size()];
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
};

void ExpectMalformed(std::string_view token, std::string_view what) {
  auto r = ParseCredential(token);
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_TRUE(r.error().IsUnauthenticated()) << what;
  EXPECT_EQ(r.error().reason(), "malformed_token") << what;
  if (!token.empty()) {
    EXPECT_EQ(r.error().message().find(token), std::string::npos) << "message echoes token";
  }
}

TEST(Crc32Test, CheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

TEST(Base62Test, FixedWidth) {
  EXPECT_EQ(Base62Fixed(0, 6), "000000");
  EXPECT_EQ(Base62Fixed(61, 6), "00000z");
  EXPECT_EQ(Base62Fixed(62, 6), "000010");
  EXPECT_EQ(Base62Fixed(0xFFFFFFFFu, 6), "4gfFC3");  // the widest CRC32 fits in 6 digits
  EXPECT_TRUE(IsBase62(kAlphabet));
  EXPECT_FALSE(IsBase62("abc_"));
  EXPECT_FALSE(IsBase62("ab-c"));
  EXPECT_FALSE(IsBase62("\xc3\xa9"));
}

TEST(CredentialTest, RoundTripEachKind) {
  SystemRandom random;
  const std::pair<CredentialKind, std::string> prefixes[] = {
      {CredentialKind::kApiToken, "clapi"},
      {CredentialKind::kSession, "clses"},
      {CredentialKind::kFederated, "clfed"},
      {CredentialKind::kLoginCode, "clcode"},
      {CredentialKind::kDeviceHandle, "cldev"}};
  for (const auto& [kind, prefix] : prefixes) {
    EXPECT_EQ(CredentialPrefix(kind), prefix);
    std::string token = GenerateCredential(kind, random);
    EXPECT_EQ(token.size(), prefix.size() + 1 + kCredentialSecretChars + kCredentialChecksumChars);
    EXPECT_EQ(token.substr(0, prefix.size() + 1), prefix + "_");
    EXPECT_TRUE(IsBase62(token.substr(prefix.size() + 1)));
    auto parsed = ParseCredential(token);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
    EXPECT_EQ(*parsed, kind);
  }
}

TEST(CredentialTest, ChecksumIsCrcOfPrecedingText) {
  SystemRandom random;
  std::string token = GenerateCredential(CredentialKind::kApiToken, random);
  std::string body = token.substr(0, token.size() - kCredentialChecksumChars);
  EXPECT_EQ(token.substr(body.size()), Base62Fixed(Crc32(body), kCredentialChecksumChars));
}

TEST(CredentialTest, EverySingleCharacterMutationIsRejected) {
  SystemRandom random;
  for (CredentialKind kind : kAllKinds) {
    std::string token = GenerateCredential(kind, random);
    for (size_t i = 0; i < token.size(); ++i) {
      for (char c : std::string(kAlphabet) + "_-") {
        if (c == token[i]) continue;
        std::string mutated = token;
        mutated[i] = c;
        ASSERT_FALSE(ParseCredential(mutated).has_value()) << "position " << i << " -> " << c;
      }
    }
  }
}

TEST(CredentialTest, TruncatedOrExtendedIsRejected) {
  SystemRandom random;
  std::string token = GenerateCredential(CredentialKind::kSession, random);
  for (size_t len = 0; len < token.size(); ++len) {
    ExpectMalformed(token.substr(0, len), "truncated to " + std::to_string(len));
  }
  ExpectMalformed(token + "a", "extended");
  ExpectMalformed(token + token, "doubled");
}

TEST(CredentialTest, WrongOrMissingPrefixIsRejected) {
  SystemRandom random;
  std::string token = GenerateCredential(CredentialKind::kApiToken, random);
  std::string rest = token.substr(std::string("clapi_").size());
  for (std::string prefix : {"clxyz_", "CLAPI_", "_", "", "clapi__", "clapiclapi_", "ghp_"}) {
    ExpectMalformed(prefix + rest, "prefix " + prefix);
  }
  // A well-formed token of another kind, re-prefixed, fails its checksum.
  ExpectMalformed("clses_" + rest, "re-prefixed");
  auto r = ParseCredential("clses_" + rest);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("checksum mismatch"), std::string::npos);
}

TEST(CredentialTest, NonAlphabetCharactersAreRejected) {
  SystemRandom random;
  std::string token = GenerateCredential(CredentialKind::kApiToken, random);
  std::string bad = token;
  bad[10] = '+';
  ExpectMalformed(bad, "plus");
  bad[10] = ' ';
  ExpectMalformed(bad, "space");
  bad[10] = '\0';
  ExpectMalformed(bad, "nul");
}

TEST(CredentialTest, AllAlphabetCharactersAppear) {
  SystemRandom random;
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    std::string token = GenerateCredential(CredentialKind::kApiToken, random);
    std::string secret = token.substr(6, kCredentialSecretChars);
    seen.insert(secret.begin(), secret.end());
  }
  EXPECT_EQ(seen.size(), 62u);
}

TEST(CredentialTest, BytesAbove247AreRejectedNotFolded) {
  // 248..255 would map to '0'..'7' a second time and bias them; they must be skipped.
  std::vector<uint8_t> bytes = {248, 249, 250, 251, 252, 253, 254, 255, 61, 0};
  SequenceRandom random(bytes);
  std::string token = GenerateCredential(CredentialKind::kApiToken, random);
  std::string secret = token.substr(6, kCredentialSecretChars);
  for (size_t i = 0; i < secret.size(); ++i) {
    EXPECT_EQ(secret[i], i % 2 == 0 ? 'z' : '0') << i;
  }
  EXPECT_TRUE(ParseCredential(token).has_value());
}

}  // namespace
}  // namespace cl::crypto
