// RedactSecrets and MayHoldSecret (common/redact.h): one linear scan for credential shapes.
#include "common/redact.h"

namespace cl {
namespace {

constexpr size_t kMinSecretChars = 20;  // shorter runs are ids, names or words, not secrets
constexpr size_t kMaxKindChars = 6;     // "cl" + kind: clapi_, clses_, clfed_, ...
constexpr std::string_view kWebhookSecretPrefix = "clwhsec_";

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsBase64Url(char c) { return IsBase62(c) || c == '-' || c == '_' || c == '.'; }

// Length of the credential starting at `i` ("cl" + kind + '_' + secret), or 0; *prefix gets the
// length of the part kept visible ("clapi_").
size_t CredentialAt(std::string_view s, size_t i, size_t* prefix) {
  if (s.compare(i, 2, "cl") != 0) return 0;
  size_t j = i + 2;
  while (j < s.size() && j - i - 2 < kMaxKindChars && s[j] >= 'a' && s[j] <= 'z') ++j;
  if (j >= s.size() || s[j] != '_') return 0;
  // Webhook signing secrets are base64url: their run goes on over '-' and '_'.
  const bool base64url = s.compare(i, j + 1 - i, kWebhookSecretPrefix) == 0;
  size_t k = j + 1;
  while (k < s.size() && (IsBase62(s[k]) || (base64url && (s[k] == '-' || s[k] == '_')))) ++k;
  if (k - j - 1 < kMinSecretChars) return 0;
  *prefix = j + 1 - i;
  return k - i;
}

// Length of the JWT starting at `i`, or 0.
size_t JwtAt(std::string_view s, size_t i) {
  if (s.compare(i, 3, "eyJ") != 0) return 0;
  size_t k = i;
  int dots = 0;
  while (k < s.size() && IsBase64Url(s[k])) dots += s[k++] == '.';
  return dots >= 2 && k - i >= kMinSecretChars ? k - i : 0;
}

}  // namespace

bool MayHoldSecret(std::string_view text) {
  // Exact, and allocation-free: the logger asks this for every string of every line, and words
  // such as "client" or "close" must not cost a copy. Every shape is at least kMinSecretChars
  // long and starts with "cl" or "eyJ": other positions are skipped with one byte compare.
  if (text.size() < kMinSecretChars) return false;
  const size_t last = text.size() - kMinSecretChars;
  size_t prefix = 0;
  for (size_t i = 0; i <= last; ++i) {
    const char c = text[i];
    if (c == 'c') {
      if (text[i + 1] == 'l' && CredentialAt(text, i, &prefix) > 0) return true;
    } else if (c == 'e') {
      if (text[i + 1] == 'y' && JwtAt(text, i) > 0) return true;
    }
  }
  return false;
}

std::string RedactSecrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t prefix = 0;
    if (size_t n = CredentialAt(text, i, &prefix); n > 0) {
      out.append(text.substr(i, prefix));
      out += "<redacted>";
      i += n;
      continue;
    }
    if (size_t n = JwtAt(text, i); n > 0) {
      out += "<redacted-jwt>";
      i += n;
      continue;
    }
    out.push_back(text[i++]);
  }
  return out;
}

}  // namespace cl
