// SHA-256, HMAC-SHA256, hex, constant-time compare and base64url on OpenSSL 3 EVP.
//
// OpenSSL 3 fetches algorithm implementations by name; that lookup is the expensive part of a
// short MAC, so the EVP_MD / EVP_MAC are fetched once per process and each thread keeps its own
// EVP_MAC_CTX, re-keyed only when the key changes (it is nearly always the same pepper).
#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstdlib>
#include <cstring>

namespace cl::crypto {
namespace {

// Fetched once, deliberately never freed: contexts created from them keep their own references,
// and freeing at exit would race with thread-local destructors of late threads.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();  // OpenSSL without SHA-256 is not a usable build.
    return m;
  }();
  return md;
}

EVP_MAC* HmacMac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) std::abort();
    return m;
  }();
  return mac;
}

// One per thread: EVP_MAC_CTX is not safe to share, and creating one per call costs more than
// the MAC itself.
class ThreadHmac {
 public:
  ThreadHmac() {
    ctx_ = EVP_MAC_CTX_new(HmacMac());
    if (ctx_ == nullptr) std::abort();
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(ctx_, params) != 1) std::abort();
  }
  ~ThreadHmac() {
    OPENSSL_cleanse(key_.data(), key_.size());
    EVP_MAC_CTX_free(ctx_);
  }
  ThreadHmac(const ThreadHmac&) = delete;
  ThreadHmac& operator=(const ThreadHmac&) = delete;

  void Mac(std::string_view key, std::string_view data, unsigned char* out) {
    // The HMAC implementation keeps the derived inner/outer pads; passing a null key re-uses
    // them, which skips hashing the key again.
    bool same_key = keyed_ && key.size() == key_.size() &&
                    (key.empty() || std::memcmp(key.data(), key_.data(), key.size()) == 0);
    int ok;
    if (same_key) {
      ok = EVP_MAC_init(ctx_, nullptr, 0, nullptr);
    } else {
      // A non-null pointer even for an empty key, so that OpenSSL sets (not re-uses) the key.
      static const unsigned char kEmpty = 0;
      const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
      ok = EVP_MAC_init(ctx_, k, key.size(), nullptr);
      OPENSSL_cleanse(key_.data(), key_.size());
      key_.assign(key);
      keyed_ = ok == 1;
    }
    size_t out_len = 0;
    if (ok != 1 ||
        EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
            1 ||
        EVP_MAC_final(ctx_, out, &out_len, 32) != 1 || out_len != 32) {
      std::abort();  // Cannot happen with a working provider; never return a wrong MAC.
    }
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  std::string key_;
  bool keyed_ = false;
};

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> MakeB64UrlDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64Url[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kB64UrlDecode = MakeB64UrlDecodeTable();

}  // namespace

std::string Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 Sha256Md(), nullptr) != 1 ||
      len != 32) {
    std::abort();
  }
  return out;
}

void HmacSha256Into(std::string_view key, std::string_view data, Digest256& out) {
  thread_local ThreadHmac hmac;
  hmac.Mac(key, data, out.data());
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  Digest256 d;
  HmacSha256Into(key, data, d);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::optional<Digest256> DigestFromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case is not what HexEncode writes
  };
  Digest256 d;
  for (size_t i = 0; i < d.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return d;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHex[b >> 4];
    out[2 * i + 1] = kHex[b & 0xf];
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
    out.push_back(kB64Url[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
  }
  return out;
}

// Unpadded base64url, four characters per step into a buffer sized once: this runs on every part
// of every JWT verified. Leftover bits must be zero, so one byte string has exactly one encoding
// and a token cannot be re-spelled (e.g. to dodge a replay cache keyed by its text).
Result<std::string> Base64UrlDecode(std::string_view text) {
  auto bad_char = [] {
    return Fail(Error::InvalidArgument("invalid base64url character", Reason::kMalformedBase64url));
  };
  auto non_canonical = [] {
    return Fail(Error::InvalidArgument("non-canonical base64url", Reason::kMalformedBase64url));
  };
  const size_t full = text.size() / 4, rem = text.size() % 4;
  // A length of 1 mod 4 cannot come from any byte string.
  if (rem == 1) {
    return Fail(Error::InvalidArgument("invalid base64url length", Reason::kMalformedBase64url));
  }
  std::string out(full * 3 + (rem == 0 ? 0 : rem - 1), '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  char* o = out.data();
  auto at = [&](size_t i) { return static_cast<int32_t>(kB64UrlDecode[p[i]]); };
  for (size_t g = 0; g < full; ++g, p += 4, o += 3) {
    const int32_t a = at(0), b = at(1), c = at(2), d = at(3);
    if ((a | b | c | d) < 0) return bad_char();
    const uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                       (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
    o[0] = static_cast<char>(v >> 16);
    o[1] = static_cast<char>(v >> 8);
    o[2] = static_cast<char>(v);
  }
  if (rem == 2) {
    const int32_t a = at(0), b = at(1);
    if ((a | b) < 0) return bad_char();
    const uint32_t v = (static_cast<uint32_t>(a) << 6) | static_cast<uint32_t>(b);
    if ((v & 0xf) != 0) return non_canonical();
    o[0] = static_cast<char>(v >> 4);
  } else if (rem == 3) {
    const int32_t a = at(0), b = at(1), c = at(2);
    if ((a | b | c) < 0) return bad_char();
    const uint32_t v = (static_cast<uint32_t>(a) << 12) | (static_cast<uint32_t>(b) << 6) |
                       static_cast<uint32_t>(c);
    if ((v & 0x3) != 0) return non_canonical();
    o[0] = static_cast<char>(v >> 10);
    o[1] = static_cast<char>(v >> 2);
  }
  return out;
}

CredentialHasher::CredentialHasher(std::string pepper)
    : CredentialHasher(std::vector<std::string>{std::move(pepper)}) {}

CredentialHasher::CredentialHasher(std::vector<std::string> peppers)
    : peppers_(std::move(peppers)) {
  if (peppers_.empty()) std::abort();  // a precondition, checked by the configuration loader
  ids_.reserve(peppers_.size());
  for (const auto& p : peppers_) ids_.push_back(PepperIdOf(p));
}

std::string CredentialHasher::PepperIdOf(std::string_view pepper) {
  return HexEncode(Sha256(pepper)).substr(0, 8);
}

Result<std::string> Base64Decode(std::string_view text) {
  auto bad = [] {
    return Fail(Error::InvalidArgument("invalid base64", Reason::kMalformedBase64url));
  };
  if (text.size() % 4 == 0 && !text.empty()) {
    size_t pad = 0;
    while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
    text.remove_suffix(pad);
  }
  // The rest maps one to one onto base64url, whose decoder checks the length and trailing bits.
  std::string url(text);
  for (char& c : url) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    } else if (c == '-' || c == '_' || c == '=') {
      return bad();
    }
  }
  auto out = Base64UrlDecode(url);
  if (!out) return bad();
  return out;
}

std::string PkceS256Challenge(std::string_view verifier) {
  return Base64UrlEncode(Sha256(verifier));
}

}  // namespace cl::crypto
