// What the browser UI needs from the server: static files with SPA fallback, security headers,
// cookies, and the CSRF check for cookie-authenticated writes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"

namespace cl::api {

inline constexpr std::string_view kSessionCookie = "cl_session";
inline constexpr std::string_view kCsrfCookie = "cl_csrf";
inline constexpr std::string_view kWebLoginCookie = "cl_weblogin";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

// Adds Content-Security-Policy (no inline scripts or styles), X-Content-Type-Options,
// Referrer-Policy and frame denial to `r`.
void AddSecurityHeaders(http::Response& r);

// The value of cookie `name` in the request's Cookie headers, if present.
std::optional<std::string> CookieValue(const http::Request& req, std::string_view name);

// "name=value; Path=...; Max-Age=...; HttpOnly; SameSite=Lax[; Secure]".
std::string SetCookieHeader(std::string_view name, std::string_view value, std::string_view path,
                            long max_age_seconds, bool http_only, bool secure);

// Serves files under `dir` (GET/HEAD): /assets/* with long caching, anything else that is not a
// file falls back to index.html (client-side routes). Never serves outside `dir`. 404 JSON
// envelope when the UI is not built.
http::Handler StaticFilesHandler(std::string dir);

}  // namespace cl::api
