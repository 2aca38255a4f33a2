#include "api/web.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "api/errors.h"

namespace cl::api {
namespace {

std::string ContentTypeFor(std::string_view path) {
  auto dot = path.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json") return "application/json";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// Reads a regular file of at most 16 MiB.
std::optional<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done != out.size()) return std::nullopt;
  return out;
}

// A request path is safe when every segment is a plain name (no "..", no hidden files).
bool SafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg.empty() && j != path.size()) return false;
    if (!seg.empty() && seg.front() == '.') return false;
    if (seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos) {
      return false;
    }
    i = j + 1;
  }
  return true;
}

}  // namespace

void AddSecurityHeaders(http::Response& r) {
  r.SetHeader("Content-Security-Policy",
              "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Referrer-Policy", "no-referrer");
  r.SetHeader("X-Frame-Options", "DENY");
}

std::optional<std::string> CookieValue(const http::Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (k != "cookie") continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::string SetCookieHeader(std::string_view name, std::string_view value, std::string_view path,
                            long max_age_seconds, bool http_only, bool secure) {
  std::string c(name);
  c += "=";
  c += value;
  c += "; Path=";
  c += path;
  c += "; Max-Age=" + std::to_string(max_age_seconds);
  if (http_only) c += "; HttpOnly";
  c += "; SameSite=Lax";
  if (secure) c += "; Secure";
  return c;
}

http::Handler StaticFilesHandler(std::string dir) {
  return [dir = std::move(dir)](http::Request& req) -> http::Response {
    http::Response r;
    std::string path = req.path;
    // API and login paths never fall back to the UI: an unknown one is a plain 404.
    if (path == "/v1" || path.rfind("/v1/", 0) == 0 || path.rfind("/auth/", 0) == 0) {
      r = ErrorResponse(Error::NotFound("no route for " + req.method + " " + path));
      AddSecurityHeaders(r);
      return r;
    }
    if (!SafeRelativePath(path)) {
      r = ErrorResponse(Error::NotFound("not found"));
      AddSecurityHeaders(r);
      return r;
    }
    std::optional<std::string> body;
    std::string served = path;
    if (path != "/" && path.back() != '/') body = ReadFile(dir + path);
    if (!body) {
      // Unknown assets are 404s; anything else is a client-side route.
      if (path.rfind("/assets/", 0) == 0) {
        r = ErrorResponse(Error::NotFound("not found"));
        AddSecurityHeaders(r);
        return r;
      }
      served = "/index.html";
      body = ReadFile(dir + served);
    }
    if (!body) {
      r = ErrorResponse(Error::NotFound(
          "the web UI is not built (run `npm ci && npm run build` in web/)", Reason::kUiNotBuilt));
      AddSecurityHeaders(r);
      return r;
    }
    r.status = 200;
    r.body = std::move(*body);
    r.SetHeader("Content-Type", ContentTypeFor(served));
    r.SetHeader("Cache-Control", served.rfind("/assets/", 0) == 0
                                     ? "public, max-age=31536000, immutable"
                                     : "no-cache");
    AddSecurityHeaders(r);
    return r;
  };
}

}  // namespace cl::api
