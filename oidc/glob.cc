// GlobMatch: the classic two-pointer wildcard matcher with single-star backtracking.
#include "oidc/glob.h"

namespace cl::oidc {

bool GlobMatch(std::string_view pattern, std::string_view value) {
  if (pattern.size() > kMaxGlobPatternLength) return false;
  size_t p = 0, v = 0;
  // Position after the most recent '*' and the value position it is currently matched up to.
  // Only the latest star needs remembering: whatever an earlier star would absorb, the latest one
  // can absorb just as well, which is what bounds the work to |pattern| * |value|.
  size_t star_p = std::string_view::npos, star_v = 0;
  while (v < value.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_v = v;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == value[v])) {
      ++p;
      ++v;
    } else if (star_p != std::string_view::npos) {
      // Mismatch: let the last star swallow one more character and retry after it.
      p = star_p;
      v = ++star_v;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool GlobIsWildcardOnly(std::string_view pattern) {
  for (char c : pattern) {
    if (c != '*' && c != '?') return false;
  }
  return true;
}

}  // namespace cl::oidc
