// Tests of the error reason table: names, parsing, Error's use of it, and agreement with the
// list of error codes in docs/api.md.
#include "common/error_reason.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/result.h"

namespace cl {
namespace {

bool IsSnakeCase(std::string_view s) {
  if (s.empty() || s.front() == '_' || s.back() == '_') return false;
  if (!(s.front() >= 'a' && s.front() <= 'z')) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok || (c == '_' && s[i + 1] == '_')) return false;
  }
  return true;
}

TEST(ErrorReasonTest, EveryReasonHasAUniqueSnakeCaseNameThatParsesBack) {
  std::set<std::string_view> seen;
  for (Reason r : kAllReasons) {
    std::string_view name = ReasonName(r);
    EXPECT_TRUE(IsSnakeCase(name)) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate wire name " << name;
    auto parsed = ParseReason(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, r) << name;
  }
  EXPECT_EQ(seen.size(), std::size(kAllReasons));
  EXPECT_EQ(static_cast<size_t>(Reason::kUnrecognized), std::size(kAllReasons));
}

TEST(ErrorReasonTest, ParseIsExact) {
  EXPECT_EQ(ParseReason("token_expired"), Reason::kTokenExpired);
  EXPECT_FALSE(ParseReason("").has_value());
  EXPECT_FALSE(ParseReason("Token_Expired").has_value());
  EXPECT_FALSE(ParseReason("token_expired ").has_value());
  EXPECT_FALSE(ParseReason("unrecognized").has_value());
}

TEST(ErrorReasonTest, FactoriesDefaultToTheGenericReasonOfTheirCode) {
  EXPECT_EQ(Error::InvalidArgument("m").reason(), "invalid_argument");
  EXPECT_EQ(Error::Unauthenticated("m").reason(), "invalid_token");
  EXPECT_EQ(Error::PermissionDenied("m").reason(), "permission_denied");
  EXPECT_EQ(Error::NotFound("m").reason(), "not_found");
  EXPECT_EQ(Error::AlreadyExists("m").reason(), "already_exists");
  EXPECT_EQ(Error::FailedPrecondition("m").reason(), "failed_precondition");
  EXPECT_EQ(Error::PayloadTooLarge("m").reason(), "payload_too_large");
  EXPECT_EQ(Error::ResourceExhausted("m").reason(), "rate_limited");
  EXPECT_EQ(Error::Unavailable("m").reason(), "unavailable");
  EXPECT_EQ(Error::Internal("m").reason(), "internal");
  Error e = Error::Unauthenticated("expired", Reason::kTokenExpired);
  EXPECT_TRUE(e.Is(Reason::kTokenExpired));
  EXPECT_EQ(e.reason_code(), Reason::kTokenExpired);
  EXPECT_EQ(e.ToString(), "token_expired: expired");
}

TEST(ErrorReasonTest, FromWireKeepsAnUnknownCodeVerbatim) {
  Error known = Error::FromWire(Error::Code::kUnauthenticated, "m", "session_revoked");
  EXPECT_TRUE(known.Is(Reason::kSessionRevoked));
  EXPECT_EQ(known.reason(), "session_revoked");

  Error other = Error::FromWire(Error::Code::kFailedPrecondition, "m", "brand_new_code");
  EXPECT_EQ(other.reason_code(), Reason::kUnrecognized);
  EXPECT_EQ(other.reason(), "brand_new_code");
  EXPECT_FALSE(other.Is(Reason::kFailedPrecondition));

  Error rewrapped = other.WithMessage("context: m");
  EXPECT_EQ(rewrapped.reason(), "brand_new_code");
  EXPECT_EQ(rewrapped.message(), "context: m");
  EXPECT_EQ(rewrapped.code(), Error::Code::kFailedPrecondition);
}

// Reasons the control plane never puts in an API answer, so docs/api.md need not list them.
const std::set<Reason> kInternalOnly = {
    // The CLI's own failures.
    Reason::kUnreachable,
    Reason::kBadResponse,
    Reason::kLoginFailed,
    Reason::kLoginCancelled,
    Reason::kLoginTimeout,
    Reason::kCiTokenUnavailable,
    // Between the store and the domain: answered as no_matching_trust_policy.
    Reason::kTrustPolicyDeleted,
    // Key set parsing: JwksCache and the CI verifier answer idp_unavailable / issuer_unavailable.
    Reason::kJwksMalformed,
    Reason::kJwkUnsupported,
    // Issuer URLs are checked when the configuration is loaded.
    Reason::kBadIssuerUrl,
    // The outbound address guard: recorded in a webhook's delivery log, never an API answer.
    Reason::kAddressNotAllowed,
};

// The codes of the table under "## Errors" in docs/api.md (its last column, in backticks).
std::set<std::string> DocumentedCodes() {
  std::ifstream in(std::string(CL_SOURCE_DIR) + "/docs/api.md");
  EXPECT_TRUE(in.good()) << "cannot read docs/api.md";
  std::set<std::string> codes;
  std::string line;
  bool in_errors = false;
  const std::regex code_re("`([a-z0-9_]+)`");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_errors = line == "## Errors";
    if (!in_errors || line.rfind("| ", 0) != 0) continue;
    std::string last = line.substr(line.rfind('|', line.size() - 2));
    for (std::sregex_iterator it(last.begin(), last.end(), code_re), end; it != end; ++it) {
      codes.insert((*it)[1].str());
    }
  }
  return codes;
}

TEST(ErrorReasonTest, DocsListEveryCodeTheServerSendsAndNoOther) {
  std::set<std::string> documented = DocumentedCodes();
  ASSERT_FALSE(documented.empty());
  for (const std::string& code : documented) {
    auto r = ParseReason(code);
    EXPECT_TRUE(r.has_value()) << "docs/api.md lists `" << code << "`, which is no Reason";
    if (r) {
      EXPECT_FALSE(kInternalOnly.count(*r)) << code << " is documented but internal-only";
    }
  }
  for (Reason r : kAllReasons) {
    if (kInternalOnly.count(r)) continue;
    EXPECT_TRUE(documented.count(std::string(ReasonName(r))))
        << "`" << ReasonName(r) << "` is missing from the error table of docs/api.md";
  }
}

}  // namespace
}  // namespace cl
