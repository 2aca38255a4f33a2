// RedactSecrets: the one function that masks credential-shaped text before anything a client
// supplied is echoed back: error envelopes (api/errors.cc), browser error pages, every string a
// log line carries (common/log.cc), the request paths of the access log included.
//
// Masked wherever they start, also glued to other text ("xclapi_...", "/v1/organizations/
// clapi_..."): control-plane credentials, `cl<kind>_` with a kind of up to six lower-case
// letters followed by 20 or more base62 characters (the prefix is kept: "clapi_<redacted>"),
// webhook signing secrets, "clwhsec_" followed by base64url ('-' and '_' included),
// and JWTs, "eyJ" followed by base64url text with at least two dots ("<redacted-jwt>").
#pragma once

#include <string>
#include <string_view>

namespace cl {

// `text` with every credential-shaped part masked. Thread-safe; linear in the size of `text`.
std::string RedactSecrets(std::string_view text);

// True when RedactSecrets would change `text`; never allocates (for hot paths: mask only then).
bool MayHoldSecret(std::string_view text);

}  // namespace cl
