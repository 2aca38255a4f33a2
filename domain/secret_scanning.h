// SecretScanningService: acts on leaked-credential reports from secret scanners.
//
// A scanner (GitHub's secret scanning partner program, or any scanner given a shared secret)
// POSTs a JSON array of {"token","type","url","source"}. The report is authenticated first,
// over its raw bytes: GitHub's by an ECDSA P-256 / SHA-256 signature from a key in its published
// key list (ScannerKeyCache), others by HMAC-SHA256 of "<timestamp>.<body>" with the shared
// secret and a timestamp within kMaxClockSkew. Then each reported credential of ours (API token,
// session, federated token) is looked up by its keyed hash under every pepper, as
// authentication does; a live one is revoked (API tokens with reason "leaked"), recorded in an
// audit event of its organization with the URL where it was found, and dropped from every
// instance's authentication cache. The answer is GitHub's feedback array: "true_positive" for a
// credential that was live and is now revoked, "false_positive" for everything else (unknown,
// already revoked or expired, malformed), without saying which. Tokens are never logged.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "crypto/hash.h"
#include "domain/rate_limiter.h"
#include "domain/scanner_key_cache.h"
#include "store/store.h"

namespace cl::domain {

class Authenticator;

// One entry of a report.
struct LeakReport {
  std::string token;
  std::string type;    // the scanner's name for the token type, echoed in the feedback
  std::string url;     // where it was found
  std::string source;  // e.g. "content", "commit", "issue"
};

// Bounds of a report (the route also caps the body at kMaxReportBytes).
inline constexpr size_t kMaxReportBytes = 1 << 20;
inline constexpr size_t kMaxReportEntries = 1000;
inline constexpr size_t kMaxReportedTokenChars = 512;
inline constexpr size_t kMaxReportFieldChars = 2048;  // type, url, source
inline constexpr size_t kMaxRecordedUrlChars = 512;   // what an audit event keeps of the url

// Parses a report body: a JSON array of objects with a string "token" (at most 512 chars) and
// optional strings "type", "url", "source"; other members are ignored. InvalidArgument for
// anything else (not an array, more than kMaxReportEntries entries, a missing token, ...).
Result<std::vector<LeakReport>> ParseLeakReports(std::string_view body);

// The URL as an audit event records it: printable ASCII only (anything else becomes '?'), at
// most kMaxRecordedUrlChars characters ("..." marks a cut).
std::string SanitizeReportedUrl(std::string_view url);

enum class LeakLabel { kTruePositive, kFalsePositive };
std::string_view LeakLabelName(LeakLabel label);  // "true_positive", "false_positive"

struct LeakFeedback {
  std::string token_hash;  // SHA-256 hex of the reported token (not our keyed hash)
  std::string token_type;  // the report's "type"
  LeakLabel label = LeakLabel::kFalsePositive;
};

// HMAC-signed reports: the largest accepted distance between X-Chainloop-Timestamp and now.
inline constexpr UnixMillis kMaxClockSkew = 5 * kMillisPerMinute;

// The signature header value of the generic variant for `body` sent at `timestamp` (decimal Unix
// seconds, as sent): "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
std::string GenericReportSignature(std::string_view secret, std::string_view timestamp,
                                   std::string_view body);

struct SecretScanningConfig {
  // GitHub's variant is on when `github_keys` is set; the generic one when `hmac_secret` is not
  // empty.
  std::string hmac_secret;
  // Reports per client address per minute (token bucket), counted before verification.
  int64_t reports_per_minute = 60;
  int64_t reports_burst = 30;
};

class SecretScanningService {
 public:
  struct Stores {
    store::ApiTokenStore& tokens;
    store::SessionStore& sessions;
    store::FederationStore& federation;
    store::OrganizationStore& orgs;
    store::AuditStore& audit;
  };

  // REQUIRES: every reference and pointer outlives the service. `github_keys` (nullable: the
  // GitHub variant is off) supplies GitHub's keys; `authenticator` (nullable in tests) is told
  // of every revoked credential.
  SecretScanningService(Stores stores, const crypto::CredentialHasher& hasher, const Clock& clock,
                        Random& random, SecretScanningConfig config, ScannerKeyCache* github_keys,
                        Authenticator* authenticator);

  bool github_enabled() const { return github_keys_ != nullptr; }
  bool generic_enabled() const { return !config_.hmac_secret.empty(); }

  // nullopt when `client_address` may send a report now (one unit is taken); else how long to
  // wait.
  std::optional<UnixMillis> Admit(std::string_view client_address);

  // GitHub's headers: Github-Public-Key-Identifier and Github-Public-Key-Signature (base64 of a
  // DER signature of `body`). Unauthenticated "bad_signature" for a missing or malformed header,
  // an unknown key (after the refetch ScannerKeyCache allows) or a wrong signature; Unavailable
  // when no key list can be had. REQUIRES: github_enabled().
  Status VerifyGithub(std::string_view body, std::string_view key_id,
                      std::string_view signature_base64);

  // The generic variant's headers: X-Chainloop-Timestamp (decimal Unix seconds) and
  // X-Chainloop-Signature-256 ("sha256=" + 64 lower-case hex digits, see
  // GenericReportSignature), compared in constant time. Unauthenticated "bad_signature" for a
  // missing or malformed header, a timestamp more than kMaxClockSkew from now, or a wrong
  // signature. REQUIRES: generic_enabled().
  Status VerifyGeneric(std::string_view body, std::string_view timestamp,
                       std::string_view signature);

  // Acts on verified reports; one feedback entry per report, in order. `scanner` names the
  // reporter in audit events and revocations ("GitHub secret scanning"), `client_address` is
  // the request's. Unavailable when the database fails (what was revoked before stays revoked).
  Result<std::vector<LeakFeedback>> Process(const std::vector<LeakReport>& reports,
                                            const std::string& scanner,
                                            const std::string& client_address);

 private:
  // Revokes the credential `token` names if it is live: true when it did.
  Result<bool> RevokeIfLive(const LeakReport& report, const std::string& scanner,
                            const std::string& client_address);
  Result<bool> RevokeApiToken(const std::string& token, const LeakReport& report,
                              const std::string& scanner, const std::string& client_address);
  Result<bool> RevokeSession(const std::string& token, const LeakReport& report,
                             const std::string& scanner, const std::string& client_address);
  Result<bool> RevokeFederated(const std::string& token, const LeakReport& report,
                               const std::string& scanner, const std::string& client_address);
  // Drops `token` from authentication caches, here and (PostgreSQL) everywhere.
  void Forget(const std::string& token, const std::string& stored_hash);

  store::ApiTokenStore& tokens_;
  store::SessionStore& sessions_;
  store::FederationStore& federation_;
  store::OrganizationStore& orgs_;
  store::AuditStore& audit_;
  const crypto::CredentialHasher& hasher_;
  const Clock& clock_;
  Random& random_;
  const SecretScanningConfig config_;
  ScannerKeyCache* github_keys_;
  Authenticator* authenticator_;
  RateLimiter report_limit_;
};

}  // namespace cl::domain
