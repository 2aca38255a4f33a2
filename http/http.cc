// Request/Response helpers, percent-decoding and the segment router. No Boost.Beast here.
#include "http/http.h"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "common/redact.h"

namespace cl::http {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

// Splits "/a/b" into {"a", "b"}; "/" gives {""} and "/a/" gives {"a", ""}.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);  // callers check the leading '/'
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      break;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// True when `a` should win over `b`: at the first segment where one is literal and the other a
// parameter, the literal wins.
bool MoreSpecific(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    bool pa = IsParam(a[i]), pb = IsParam(b[i]);
    if (pa != pb) return !pa;
  }
  return false;
}

bool SegmentsMatch(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsParam(pattern[i])) {
      if (path[i].empty()) return false;
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string PercentDecode(std::string_view s) { return Decode(s, /*plus_is_space=*/false); }

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (Decode(key, /*plus_is_space=*/true) == name) return Decode(value, /*plus_is_space=*/true);
  }
  return std::nullopt;
}

std::string Request::PathParam(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string{} : it->second;
}

void Response::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

Response Response::Error(int status, std::string_view code, std::string_view message) {
  Response r = Json(status, ErrorEnvelope(code, message));
  r.error_code = std::string(code);
  return r;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.reserve(6);  // room for the security headers most API answers get
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::move(content_type));
  return r;
}

Response Response::Redirect(std::string location, int status) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  return r;
}

void Router::Add(std::string method, std::string pattern, Handler handler, bool blocking) {
  std::vector<std::string> segs;
  if (!pattern.empty() && pattern.front() == '/') {
    for (std::string_view s : SplitPath(pattern)) segs.emplace_back(s);
  }
  // A pattern not starting with '/' keeps no segments and therefore never matches.
  segments_.push_back(std::move(segs));
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  route.blocking = blocking;
  routes_.push_back(std::move(route));
}

void Router::AddWithFastPath(std::string method, std::string pattern, FastHandler fast,
                             Handler handler) {
  Add(std::move(method), std::move(pattern), std::move(handler), true);
  routes_.back().fast = std::move(fast);
}

void Router::SetMaxBodyBytes(std::string_view method, std::string_view pattern, size_t bytes) {
  for (Route& route : routes_) {
    if (route.method == method && route.pattern == pattern) {
      route.max_body_bytes = bytes;
      return;
    }
  }
  std::fprintf(stderr, "Router::SetMaxBodyBytes: no route %.*s %.*s\n",
               static_cast<int>(method.size()), method.data(), static_cast<int>(pattern.size()),
               pattern.data());
  std::abort();
}

Router::MatchResult Router::Match(std::string_view method, std::string_view path) const {
  MatchResult result;
  if (path.empty() || path.front() != '/') return result;
  std::vector<std::string> decoded;
  for (std::string_view s : SplitPath(path)) decoded.push_back(PercentDecode(s));

  auto best_for = [&](std::string_view m) -> int {
    int best = -1;
    for (size_t i = 0; i < routes_.size(); ++i) {
      if (routes_[i].method != m || segments_[i].empty()) continue;
      if (!SegmentsMatch(segments_[i], decoded)) continue;
      if (best < 0 || MoreSpecific(segments_[i], segments_[best])) best = static_cast<int>(i);
    }
    return best;
  };

  int best = best_for(method);
  if (best < 0 && method == "HEAD") best = best_for("GET");
  if (best >= 0) {
    result.route = &routes_[best];
    const auto& segs = segments_[best];
    for (size_t i = 0; i < segs.size(); ++i) {
      if (IsParam(segs[i])) {
        result.params.emplace(segs[i].substr(1, segs[i].size() - 2), std::move(decoded[i]));
      }
    }
    return result;
  }

  for (size_t i = 0; i < routes_.size(); ++i) {
    if (segments_[i].empty() || !SegmentsMatch(segments_[i], decoded)) continue;
    result.method_not_allowed = true;
    const std::string& m = routes_[i].method;
    if (std::find(result.allowed_methods.begin(), result.allowed_methods.end(), m) ==
        result.allowed_methods.end()) {
      result.allowed_methods.push_back(m);
    }
  }
  if (result.method_not_allowed &&
      std::find(result.allowed_methods.begin(), result.allowed_methods.end(), "GET") !=
          result.allowed_methods.end() &&
      std::find(result.allowed_methods.begin(), result.allowed_methods.end(), "HEAD") ==
          result.allowed_methods.end()) {
    result.allowed_methods.push_back("HEAD");
  }
  std::sort(result.allowed_methods.begin(), result.allowed_methods.end());
  return result;
}

std::string ErrorEnvelope(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(out, code);
  out += ",\"message\":";
  if (MayHoldSecret(message)) {
    AppendJsonString(out, RedactSecrets(message));
  } else {
    AppendJsonString(out, message);
  }
  out += "}}";
  return out;
}

}  // namespace cl::http
