// GlobMatch: the pattern language of trust policy bound claims ("group/*", "refs/heads/release-?").
//
// '*' matches any run of characters (including '/' and the empty run), '?' exactly one
// character, and every other character only itself: there are no character classes and no
// escapes. Matching is iterative with at most O(|pattern| * |value|) steps, so no pattern can
// cause exponential backtracking on attacker-chosen claim values.
#pragma once

#include <cstddef>
#include <string_view>

namespace cl::oidc {

// Longest pattern GlobMatch accepts; a longer pattern matches nothing.
inline constexpr size_t kMaxGlobPatternLength = 256;

// True when `value` matches all of `pattern` (anchored at both ends). Thread-safe, no allocation.
bool GlobMatch(std::string_view pattern, std::string_view value);

// True when `pattern` has no literal character (only '*' and '?'): it then says nothing about
// which repository or project a token comes from.
bool GlobIsWildcardOnly(std::string_view pattern);

}  // namespace cl::oidc
