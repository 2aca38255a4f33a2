// Control plane URLs: which ones the CLI accepts, and the normalized form a stored login
// session is bound to (so a session is only ever sent back to the control plane that issued it).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace cl::cli {

inline constexpr char kDefaultControlPlane[] = "http://127.0.0.1:8000";

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

// True when `url` starts with "https://" (any case).
bool IsHttpsUrl(std::string_view url);

// Host part of an http(s) URL ("[::1]" is returned as "::1"); empty if it cannot be found.
std::string UrlHost(std::string_view url);

// The control plane's identity: "scheme://host:port/path" with the scheme and host lower-cased,
// the port always explicit (80/443 when omitted) and no trailing slash. Two URLs name the same
// control plane exactly when their normalized forms are equal.
//
// Strict on purpose, so that this parser and libcurl cannot disagree about the host: only
// http/https; no user information ('@'), query or fragment; a host of letters, digits, '.', '-'
// and '_' or a bracketed IPv6 literal; a numeric port 1..65535; no spaces, backslashes or
// control characters anywhere. Anything else is InvalidArgument.
Result<std::string> NormalizeControlPlaneUrl(std::string_view url);

// Accepts https:// anywhere and http:// to a loopback host; plain http:// to any other host
// only with `insecure`. The URL must also normalize (above). Anything else is InvalidArgument
// with a message saying what to do.
Status CheckControlPlaneUrl(std::string_view url, bool insecure);

}  // namespace cl::cli
