// Tests for crypto/secret_box.h: the sealed format, round trips, refusal of every changed part
// and of unknown peppers, and opening under older peppers.
#include "crypto/secret_box.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crypto/hash.h"

namespace cl::crypto {
namespace {

const std::string kNew = "new-pepper-0123456789abcdef0123456789abcdef";
const std::string kOld = "old-pepper-0123456789abcdef0123456789abcdef";
const std::string kSecret = "clwhsec_3q2-7wAbCdEfGhIjKlMnOpQrStUvWxYz012345_";

struct Parts {
  std::string version, pepper_id, box;
};

Parts Split(const std::string& sealed) {
  const size_t a = sealed.find('.');
  const size_t b = sealed.find('.', a + 1);
  return {sealed.substr(0, a), sealed.substr(a + 1, b - a - 1), sealed.substr(b + 1)};
}

// Decrypts `sealed` with OpenSSL directly, as the format is documented: a second reading of
// the contract that does not go through SecretBox.
std::string OpenByHand(const std::string& sealed, const std::string& pepper) {
  const Parts p = Split(sealed);
  const std::string key = HmacSha256(pepper, "chainloop webhook secret key v1");
  const std::string box = *Base64UrlDecode(p.box);
  const std::string aad = p.version + "." + p.pepper_id;
  const auto* in = reinterpret_cast<const unsigned char*>(box.data());
  const size_t n = box.size() - 12 - 16;
  std::string out(n, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  int len = 0;
  EXPECT_EQ(EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               reinterpret_cast<const unsigned char*>(key.data()), in),
            1);
  EXPECT_EQ(EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())),
            1);
  EXPECT_EQ(EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                              in + 12, static_cast<int>(n)),
            1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, 16,
                                const_cast<unsigned char*>(in + 12 + n)),
            1);
  EXPECT_EQ(
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len), 1);
  return out;
}

TEST(SecretBox, SealedFormatFollowsTheContract) {
  SystemRandom random;
  SecretBox box({kNew});
  const std::string sealed = box.Seal(kSecret, random);
  const Parts p = Split(sealed);
  EXPECT_EQ(p.version, "v1");
  EXPECT_EQ(p.pepper_id, CredentialHasher::PepperIdOf(kNew));
  EXPECT_EQ(SecretBox::PepperIdOf(sealed), CredentialHasher::PepperIdOf(kNew));
  auto raw = Base64UrlDecode(p.box);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 12 + kSecret.size() + 16);
  EXPECT_EQ(sealed.find(kSecret), std::string::npos);
  EXPECT_EQ(OpenByHand(sealed, kNew), kSecret);
}

TEST(SecretBox, RoundTrip) {
  SystemRandom random;
  SecretBox box({kNew});
  for (const std::string& plaintext : {kSecret, std::string(), std::string(1000, 'x')}) {
    const std::string sealed = box.Seal(plaintext, random);
    auto opened = box.Open(sealed);
    ASSERT_TRUE(opened) << opened.error().ToString();
    EXPECT_EQ(*opened, plaintext);
    EXPECT_TRUE(box.SealedUnderNewest(sealed));
  }
}

TEST(SecretBox, NoncesDiffer) {
  SystemRandom random;
  SecretBox box({kNew});
  std::set<std::string> nonces;
  std::set<std::string> sealed;
  for (int i = 0; i < 50; ++i) {
    const std::string s = box.Seal(kSecret, random);
    sealed.insert(s);
    nonces.insert(Base64UrlDecode(Split(s).box)->substr(0, 12));
  }
  EXPECT_EQ(nonces.size(), 50u);
  EXPECT_EQ(sealed.size(), 50u);
}

// Flips one bit of byte `at` of the box part.
std::string TamperBox(const std::string& sealed, size_t at) {
  Parts p = Split(sealed);
  std::string raw = *Base64UrlDecode(p.box);
  raw[at] = static_cast<char>(raw[at] ^ 0x01);
  return p.version + "." + p.pepper_id + "." + Base64UrlEncode(raw);
}

TEST(SecretBox, EveryChangedPartIsRefused) {
  SystemRandom random;
  SecretBox box({kNew, kOld});
  const std::string sealed = box.Seal(kSecret, random);
  const Parts p = Split(sealed);
  const size_t n = kSecret.size();
  const std::vector<std::pair<std::string, std::string>> tampered = {
      {"nonce", TamperBox(sealed, 0)},
      {"nonce (last byte)", TamperBox(sealed, 11)},
      {"ciphertext", TamperBox(sealed, 12)},
      {"ciphertext (last byte)", TamperBox(sealed, 12 + n - 1)},
      {"tag", TamperBox(sealed, 12 + n)},
      {"tag (last byte)", TamperBox(sealed, 12 + n + 15)},
      {"truncated tag", p.version + "." + p.pepper_id + "." +
                            Base64UrlEncode(Base64UrlDecode(p.box)->substr(0, 12 + n + 15))},
      {"shorter than nonce and tag",
       p.version + "." + p.pepper_id + "." + Base64UrlEncode(std::string(27, 'a'))},
      // The other configured pepper's id: its key does not open it, and the header is bound.
      {"pepper id", p.version + "." + CredentialHasher::PepperIdOf(kOld) + "." + p.box},
      {"version", "v2." + p.pepper_id + "." + p.box},
      {"not base64url", p.version + "." + p.pepper_id + ".***"},
      {"no box", p.version + "." + p.pepper_id},
      {"empty", ""},
  };
  for (const auto& [what, text] : tampered) {
    auto opened = box.Open(text);
    ASSERT_FALSE(opened) << what;
    EXPECT_EQ(opened.error().message().find(kSecret), std::string::npos) << what;
  }
  EXPECT_TRUE(box.Open(sealed));
}

TEST(SecretBox, UnknownPepperIsRefused) {
  SystemRandom random;
  const std::string sealed = SecretBox({kOld}).Seal(kSecret, random);
  auto opened = SecretBox({kNew}).Open(sealed);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message().find("not configured"), std::string::npos)
      << opened.error().message();
  EXPECT_EQ(opened.error().message().find(kSecret), std::string::npos);
}

TEST(SecretBox, OpensUnderAnOlderPepperAndSaysItIsNotTheNewest) {
  SystemRandom random;
  const std::string old_sealed = SecretBox({kOld}).Seal(kSecret, random);
  SecretBox rotated({kNew, kOld});
  auto opened = rotated.Open(old_sealed);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(*opened, kSecret);
  EXPECT_FALSE(rotated.SealedUnderNewest(old_sealed));
  // Re-sealed, it is under the newest, and still opens.
  const std::string resealed = rotated.Seal(*opened, random);
  EXPECT_TRUE(rotated.SealedUnderNewest(resealed));
  EXPECT_EQ(SecretBox::PepperIdOf(resealed), CredentialHasher::PepperIdOf(kNew));
  EXPECT_EQ(*rotated.Open(resealed), kSecret);
  EXPECT_FALSE(rotated.SealedUnderNewest("v2." + CredentialHasher::PepperIdOf(kNew) + ".AAAA"));
  EXPECT_FALSE(rotated.SealedUnderNewest("garbage"));
  EXPECT_EQ(SecretBox::PepperIdOf("garbage"), "");
}

}  // namespace
}  // namespace cl::crypto
