// SecretBox (crypto/secret_box.h): AES-256-GCM on OpenSSL 3 EVP.
#include "crypto/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
#include <utility>

#include "crypto/hash.h"

namespace cl::crypto {
namespace {

constexpr std::string_view kVersion = "v1";
constexpr std::string_view kKeyLabel = "chainloop webhook secret key v1";
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

// Fetched once per process: the by-name lookup is the expensive part of a short operation.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (c == nullptr) std::abort();  // OpenSSL without AES-GCM: nothing sensible to do
    return c;
  }();
  return cipher;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx NewCtx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) std::abort();
  return ctx;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Header(std::string_view pepper_id) {
  return std::string(kVersion) + "." + std::string(pepper_id);
}

Error CannotOpen(std::string why) { return Error::Internal("webhook secret: " + std::move(why)); }

}  // namespace

SecretBox::SecretBox(std::vector<std::string> peppers) {
  if (peppers.empty()) std::abort();  // REQUIRES violated
  for (std::string& pepper : peppers) {
    ids_.push_back(CredentialHasher::PepperIdOf(pepper));
    keys_.push_back(HmacSha256(pepper, kKeyLabel));
    OPENSSL_cleanse(pepper.data(), pepper.size());  // this copy is ours: no need to keep it
  }
}

SecretBox::~SecretBox() {
  for (std::string& key : keys_) OPENSSL_cleanse(key.data(), key.size());
}

std::string SecretBox::Seal(std::string_view plaintext, Random& random) const {
  const std::string header = Header(ids_.front());
  std::string box(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  random.Fill(out, kNonceBytes);
  CipherCtx ctx = NewCtx();
  int len = 0;
  int total = 0;
  // Every call below fails only on misuse of the API or an exhausted allocator.
  if (EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), Bytes(keys_.front()), out, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(header), static_cast<int>(header.size())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    std::abort();
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagBytes),
                          out + kNonceBytes + plaintext.size()) != 1) {
    std::abort();
  }
  return header + "." + Base64UrlEncode(box);
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  const size_t first = sealed.find('.');
  const size_t second = first == std::string_view::npos ? first : sealed.find('.', first + 1);
  if (second == std::string_view::npos || sealed.substr(0, first) != kVersion) {
    return Fail(CannotOpen("not a sealed secret"));
  }
  const std::string_view pepper_id = sealed.substr(first + 1, second - first - 1);
  size_t index = 0;
  while (index < ids_.size() && ids_[index] != pepper_id) ++index;
  if (index == ids_.size()) {
    return Fail(CannotOpen("sealed under a pepper that is not configured (id " +
                           std::string(pepper_id.substr(0, 16)) + ")"));
  }
  auto box = Base64UrlDecode(sealed.substr(second + 1));
  if (!box || box->size() < kNonceBytes + kTagBytes) {
    return Fail(CannotOpen("not a sealed secret"));
  }
  const std::string header = Header(pepper_id);
  const auto* in = Bytes(*box);
  const size_t cipher_bytes = box->size() - kNonceBytes - kTagBytes;
  std::string plaintext(cipher_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CipherCtx ctx = NewCtx();
  int len = 0;
  if (EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), Bytes(keys_[index]), in, nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(header), static_cast<int>(header.size())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonceBytes, static_cast<int>(cipher_bytes)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagBytes),
                          const_cast<unsigned char*>(in + kNonceBytes + cipher_bytes)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Fail(CannotOpen("authentication failed (changed, or sealed under another key)"));
  }
  return plaintext;
}

bool SecretBox::SealedUnderNewest(std::string_view sealed) const {
  return sealed.substr(0, kVersion.size() + 1) == Header("") && PepperIdOf(sealed) == ids_.front();
}

std::string SecretBox::PepperIdOf(std::string_view sealed) {
  const size_t first = sealed.find('.');
  if (first == std::string_view::npos) return "";
  const size_t second = sealed.find('.', first + 1);
  if (second == std::string_view::npos) return "";
  return std::string(sealed.substr(first + 1, second - first - 1));
}

}  // namespace cl::crypto
