// SecretScanningService: report parsing and verification, and revocation of leaked credentials.
#include "domain/secret_scanning.h"

#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "common/json.h"
#include "common/log.h"
#include "crypto/credential.h"
#include "domain/audit_events.h"
#include "domain/authenticator.h"

namespace cl::domain {
namespace {

Error BadReport(std::string message) {
  return Error::InvalidArgument("secret scanning report: " + std::move(message));
}

Error BadSignature(std::string message) {
  return Error::Unauthenticated(std::move(message), Reason::kBadSignature);
}

// A string member of `o` into `out` (absent: unchanged). False for another type or a value
// longer than `max`.
bool StringField(const boost::json::object& o, std::string_view name, size_t max,
                 std::string& out) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return true;
  if (!it->value().is_string() || it->value().get_string().size() > max) return false;
  out = std::string(it->value().get_string());
  return true;
}

// The message of an event about a leaked credential: who reported it and where it was found.
std::string LeakMessage(std::string_view what, const std::string& scanner,
                        const LeakReport& report) {
  std::string message = std::string(what) + " was reported leaked by " + scanner;
  if (!report.url.empty()) message += " at " + SanitizeReportedUrl(report.url);
  message += " and revoked";
  return message;
}

AuditActor ScannerActor(const std::string& scanner, const std::string& client_address) {
  AuditActor actor = AuditActor::System();
  actor.id = "secret_scanning";
  actor.name = scanner;
  actor.client_address = client_address;
  return actor;
}

}  // namespace

Result<std::vector<LeakReport>> ParseLeakReports(std::string_view body) {
  if (body.size() > kMaxReportBytes) return Fail(BadReport("larger than 1 MiB"));
  auto doc = ParseJson(body);
  if (!doc || !doc->is_array()) return Fail(BadReport("not a JSON array"));
  const auto& entries = doc->get_array();
  if (entries.size() > kMaxReportEntries) {
    return Fail(BadReport("more than " + std::to_string(kMaxReportEntries) + " entries"));
  }
  std::vector<LeakReport> reports;
  reports.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string where = "entry " + std::to_string(i);
    if (!entries[i].is_object()) return Fail(BadReport(where + " is not an object"));
    const auto& o = entries[i].get_object();
    LeakReport r;
    auto token = o.find("token");
    if (token == o.end() || !token->value().is_string()) {
      return Fail(BadReport(where + " has no string \"token\""));
    }
    if (token->value().get_string().size() > kMaxReportedTokenChars) {
      return Fail(BadReport(where + ": token longer than " +
                            std::to_string(kMaxReportedTokenChars) + " characters"));
    }
    r.token = std::string(token->value().get_string());
    if (!StringField(o, "type", kMaxReportFieldChars, r.type) ||
        !StringField(o, "url", kMaxReportFieldChars, r.url) ||
        !StringField(o, "source", kMaxReportFieldChars, r.source)) {
      return Fail(BadReport(where + ": type, url and source must be strings of at most " +
                            std::to_string(kMaxReportFieldChars) + " characters"));
    }
    reports.push_back(std::move(r));
  }
  return reports;
}

std::string SanitizeReportedUrl(std::string_view url) {
  std::string out;
  const bool cut = url.size() > kMaxRecordedUrlChars;
  for (char c : url.substr(0, cut ? kMaxRecordedUrlChars - 3 : url.size())) {
    out += (c >= 0x21 && c < 0x7f) ? c : '?';
  }
  if (cut) out += "...";
  return out;
}

std::string_view LeakLabelName(LeakLabel label) {
  return label == LeakLabel::kTruePositive ? "true_positive" : "false_positive";
}

std::string GenericReportSignature(std::string_view secret, std::string_view timestamp,
                                   std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append(".").append(body);
  return "sha256=" + crypto::HexEncode(crypto::HmacSha256(secret, message));
}

SecretScanningService::SecretScanningService(Stores stores, const crypto::CredentialHasher& hasher,
                                             const Clock& clock, Random& random,
                                             SecretScanningConfig config,
                                             ScannerKeyCache* github_keys,
                                             Authenticator* authenticator)
    : tokens_(stores.tokens),
      sessions_(stores.sessions),
      federation_(stores.federation),
      orgs_(stores.orgs),
      audit_(stores.audit),
      hasher_(hasher),
      clock_(clock),
      random_(random),
      config_(std::move(config)),
      github_keys_(github_keys),
      authenticator_(authenticator),
      report_limit_(config_.reports_per_minute, config_.reports_burst, clock, 10'000) {}

std::optional<UnixMillis> SecretScanningService::Admit(std::string_view client_address) {
  return report_limit_.TryTake(client_address);
}

Status SecretScanningService::VerifyGithub(std::string_view body, std::string_view key_id,
                                           std::string_view signature_base64) {
  if (github_keys_ == nullptr) return Fail(Error::Internal("GitHub secret scanning is off"));
  if (key_id.empty() || key_id.size() > kMaxScannerKeyIdBytes) {
    return Fail(BadSignature("missing or invalid Github-Public-Key-Identifier"));
  }
  if (signature_base64.empty() || signature_base64.size() > 256) {
    return Fail(BadSignature("missing or invalid Github-Public-Key-Signature"));
  }
  auto signature = crypto::Base64Decode(signature_base64);
  if (!signature) return Fail(BadSignature("Github-Public-Key-Signature is not base64"));
  CL_ASSIGN_OR_RETURN(auto key, github_keys_->Find(key_id));
  if (!key->Verify(body, *signature)) {
    return Fail(BadSignature("the report's signature does not verify"));
  }
  return Ok();
}

Status SecretScanningService::VerifyGeneric(std::string_view body, std::string_view timestamp,
                                            std::string_view signature) {
  if (config_.hmac_secret.empty()) return Fail(Error::Internal("generic secret scanning is off"));
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), seconds);
  if (timestamp.empty() || timestamp.size() > 12 || ec != std::errc() ||
      end != timestamp.data() + timestamp.size() || seconds < 0) {
    return Fail(BadSignature("missing or invalid X-Chainloop-Timestamp (Unix seconds)"));
  }
  const UnixMillis at = seconds * kMillisPerSecond;
  const UnixMillis now = clock_.Now();
  if (at > now + kMaxClockSkew || at < now - kMaxClockSkew) {
    return Fail(BadSignature("X-Chainloop-Timestamp is more than 5 minutes from now"));
  }
  if (signature.size() != 7 + 64 || signature.substr(0, 7) != "sha256=") {
    return Fail(BadSignature("missing or invalid X-Chainloop-Signature-256"));
  }
  const std::string want = GenericReportSignature(config_.hmac_secret, timestamp, body);
  if (!crypto::ConstantTimeEquals(want, signature)) {
    return Fail(BadSignature("the report's signature does not verify"));
  }
  return Ok();
}

Result<std::vector<LeakFeedback>> SecretScanningService::Process(
    const std::vector<LeakReport>& reports, const std::string& scanner,
    const std::string& client_address) {
  std::vector<LeakFeedback> feedback;
  feedback.reserve(reports.size());
  // A token listed twice gets the same label both times.
  std::map<std::string, LeakLabel, std::less<>> labels;
  int64_t revoked = 0;
  for (const LeakReport& report : reports) {
    LeakFeedback f;
    f.token_hash = crypto::HexEncode(crypto::Sha256(report.token));
    f.token_type = report.type;
    if (auto seen = labels.find(f.token_hash); seen != labels.end()) {
      f.label = seen->second;
    } else {
      CL_ASSIGN_OR_RETURN(bool live, RevokeIfLive(report, scanner, client_address));
      f.label = live ? LeakLabel::kTruePositive : LeakLabel::kFalsePositive;
      labels.emplace(f.token_hash, f.label);
      revoked += live;
    }
    feedback.push_back(std::move(f));
  }
  Log(LogLevel::kInfo, "secret scanning report processed",
      {{"scanner", scanner},
       {"entries", static_cast<int64_t>(reports.size())},
       {"revoked", revoked}});
  return feedback;
}

Result<bool> SecretScanningService::RevokeIfLive(const LeakReport& report,
                                                 const std::string& scanner,
                                                 const std::string& client_address) {
  // Offline first: a wrong shape or checksum is not one of ours, and costs no query.
  auto kind = crypto::ParseCredential(report.token);
  if (!kind) return false;
  switch (*kind) {
    case crypto::CredentialKind::kApiToken:
      return RevokeApiToken(report.token, report, scanner, client_address);
    case crypto::CredentialKind::kSession:
      return RevokeSession(report.token, report, scanner, client_address);
    case crypto::CredentialKind::kFederated:
      return RevokeFederated(report.token, report, scanner, client_address);
    default:
      return false;  // one-time login codes and device handles authenticate nothing
  }
}

Result<bool> SecretScanningService::RevokeApiToken(const std::string& token,
                                                   const LeakReport& report,
                                                   const std::string& scanner,
                                                   const std::string& client_address) {
  for (size_t i = 0; i < hasher_.pepper_count(); ++i) {
    auto found = tokens_.GetApiTokenByHash(hasher_.HashWith(i, token));
    if (!found) {
      if (found.error().IsNotFound()) continue;
      return Fail(found.error());
    }
    const UnixMillis now = clock_.Now();
    if (found->revoked_at || (found->expires_at && *found->expires_at <= now)) return false;
    auto event =
        NewAuditEvent(ScannerActor(scanner, client_address),
                      {found->org_id, AuditAction::kApiTokenLeaked, AuditTarget::kApiToken,
                       found->id, LeakMessage("The API token " + found->name, scanner, report)},
                      now, random_);
    auto st = tokens_.RevokeApiToken(found->org_id, found->id, now,
                                     store::RevocationReason::kLeaked, scanner, event);
    if (!st) {
      // Revoked (or deleted) meanwhile by someone else: not this report's doing.
      if (st.error().code() == Error::Code::kFailedPrecondition || st.error().IsNotFound()) {
        return false;
      }
      return Fail(st.error());
    }
    Log(LogLevel::kWarn, "api token revoked: reported leaked",
        {{"id", found->id}, {"org_id", found->org_id}, {"scanner", scanner}});
    Forget(token, found->token_hash);
    return true;
  }
  return false;
}

Result<bool> SecretScanningService::RevokeSession(const std::string& token,
                                                  const LeakReport& report,
                                                  const std::string& scanner,
                                                  const std::string& client_address) {
  for (size_t i = 0; i < hasher_.pepper_count(); ++i) {
    auto found = sessions_.GetSessionByHash(hasher_.HashWith(i, token));
    if (!found) {
      if (found.error().IsNotFound()) continue;
      return Fail(found.error());
    }
    const UnixMillis now = clock_.Now();
    if (found->revoked_at || found->expires_at <= now) return false;
    // As a logout does: the session ends at once, everywhere.
    CL_RETURN_IF_ERROR(sessions_.RevokeSession(found->id, now));
    Forget(token, found->token_hash);
    Log(LogLevel::kWarn, "session revoked: reported leaked",
        {{"session_id", found->id}, {"user_id", found->user_id}, {"scanner", scanner}});
    // A session belongs to a person, not to an organization: each of their organizations
    // records it (best effort: the session is revoked whatever happens here).
    auto memberships = orgs_.ListMembershipsForUser(found->user_id);
    if (!memberships) {
      Log(LogLevel::kWarn, "cannot record a leaked session in its user's organizations",
          {{"session_id", found->id}, {"error", memberships.error().message()}});
      return true;
    }
    for (const auto& m : *memberships) {
      auto event =
          NewAuditEvent(ScannerActor(scanner, client_address),
                        {m.org_id, AuditAction::kCredentialLeaked, AuditTarget::kSession, found->id,
                         LeakMessage("A login session of a member", scanner, report)},
                        now, random_);
      if (auto st = audit_.AppendAuditEvent(event); !st) {
        Log(LogLevel::kWarn, "cannot record a leaked session",
            {{"session_id", found->id}, {"org_id", m.org_id}, {"error", st.error().message()}});
      }
    }
    return true;
  }
  return false;
}

Result<bool> SecretScanningService::RevokeFederated(const std::string& token,
                                                    const LeakReport& report,
                                                    const std::string& scanner,
                                                    const std::string& client_address) {
  for (size_t i = 0; i < hasher_.pepper_count(); ++i) {
    auto found = federation_.GetFederatedTokenByHash(hasher_.HashWith(i, token));
    if (!found) {
      if (found.error().IsNotFound()) continue;
      return Fail(found.error());
    }
    const UnixMillis now = clock_.Now();
    if (found->revoked_at || found->expires_at <= now) return false;
    auto event = NewAuditEvent(
        ScannerActor(scanner, client_address),
        {found->org_id, AuditAction::kCredentialLeaked, AuditTarget::kFederatedToken, found->id,
         LeakMessage("The federated token of " + found->display_name, scanner, report)},
        now, random_);
    auto st = federation_.RevokeFederatedToken(found->org_id, found->id, now, event);
    if (!st) {
      if (st.error().code() == Error::Code::kFailedPrecondition || st.error().IsNotFound()) {
        return false;
      }
      return Fail(st.error());
    }
    Log(LogLevel::kWarn, "federated token revoked: reported leaked",
        {{"id", found->id}, {"org_id", found->org_id}, {"scanner", scanner}});
    Forget(token, found->token_hash);
    return true;
  }
  return false;
}

void SecretScanningService::Forget(const std::string& token, const std::string& stored_hash) {
  if (authenticator_ == nullptr) return;
  // The cache is keyed by the newest pepper's hash; the stored one may be an older pepper's.
  authenticator_->NotifyRevoked(stored_hash);
  for (size_t i = 0; i < hasher_.pepper_count(); ++i) {
    authenticator_->NotifyRevoked(hasher_.HashWith(i, token));
  }
}

}  // namespace cl::domain
