// CiTokenVerifier: allow-listed issuers, per-issuer discovery and key cache, JOSE verification,
// then trust policy matching on the verified claims.
#include "oidc/ci_verifier.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "common/json.h"
#include "common/log.h"
#include "crypto/jose.h"
#include "oidc/glob.h"

namespace cl::oidc {
namespace {

constexpr size_t kMaxShownValue = 100;

// Attacker-chosen text made safe for an error message: printable ASCII, bounded length.
std::string Printable(std::string_view s, size_t max = kMaxShownValue) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

Error IssuerUnavailable(const std::string& issuer, const Error& cause) {
  return Error::Unavailable("CI issuer " + issuer + " is unavailable: " + cause.message(),
                            Reason::kIssuerUnavailable);
}

// A claim's value as policies see it; nullopt for null, object and array values.
std::optional<std::string> ScalarValue(const boost::json::value& v) {
  if (v.is_bool()) return std::string(v.get_bool() ? "true" : "false");
  if (v.is_string() || v.is_number()) return crypto::JsonScalarText(v);
  return std::nullopt;
}

// As ScalarValue, and nullopt for an absent claim.
std::optional<std::string> ScalarClaim(const crypto::Jwt& jwt, std::string_view name) {
  auto it = jwt.claims.find(name);
  if (it == jwt.claims.end()) return std::nullopt;
  return ScalarValue(it->value());
}

// Discovery for CI issuers needs only `issuer` and `jwks_uri`: GitHub Actions publishes no
// authorization or token endpoint, so ParseDiscovery's login-oriented checks do not fit.
Result<std::string> JwksUriFromDiscovery(std::string_view json, const std::string& issuer) {
  auto invalid = [](std::string message) {
    return Error::Unavailable(std::move(message), Reason::kIdpDiscoveryInvalid);
  };
  auto parsed = ParseJson(json);
  if (!parsed || !parsed->is_object()) {
    return Fail(invalid("discovery document is not a JSON object"));
  }
  const boost::json::object& obj = parsed->as_object();
  auto iss = obj.find("issuer");
  if (iss == obj.end() || !iss->value().is_string() || iss->value().get_string() != issuer) {
    return Fail(invalid("discovery issuer does not match \"" + issuer + "\""));
  }
  auto uri = obj.find("jwks_uri");
  if (uri == obj.end() || !uri->value().is_string()) {
    return Fail(invalid("discovery document lacks \"jwks_uri\""));
  }
  std::string jwks_uri(uri->value().get_string());
  if (!IsAllowedIssuerUrl(jwks_uri)) {
    return Fail(invalid("discovery jwks_uri must be an https URL (http only on loopback)"));
  }
  return jwks_uri;
}

// The first instant at which a token issued at `iat` is too old for a policy allowing
// `max_age_seconds` (the rule of crypto::JwtCheck::max_age_seconds).
UnixMillis TooOldFrom(int64_t iat, int64_t max_age_seconds, int64_t leeway_seconds) {
  return (iat + max_age_seconds + leeway_seconds) * kMillisPerSecond;
}

bool PolicyMatches(const TrustPolicy& policy, const crypto::Jwt& jwt) {
  for (const auto& [claim, pattern] : policy.bound_claims) {
    auto it = jwt.claims.find(claim);
    if (it == jwt.claims.end()) return false;
    if (it->value().is_string()) {  // the common case, matched without a copy
      if (!GlobMatch(pattern, it->value().get_string())) return false;
      continue;
    }
    auto value = ScalarValue(it->value());
    if (!value || !GlobMatch(pattern, *value)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> CiIdentity::Claim(std::string_view name) const {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  return ScalarValue(it->value());
}

struct CiTokenVerifier::IssuerState {
  std::mutex mu;  // held during discovery, so concurrent first requests share one fetch
  std::shared_ptr<JwksCache> jwks;  // GUARDED_BY(mu); set once discovery succeeded
  // Set (release) once `jwks` is, which then never changes: readers that see it (acquire) read
  // `jwks` without the lock.
  std::atomic<bool> discovered{false};
  UnixMillis last_failure = 0;      // GUARDED_BY(mu)
  std::optional<Error> last_error;  // GUARDED_BY(mu)
};

CiTokenVerifier::CiTokenVerifier(CiVerifierOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      fetch_gate_(options_.max_concurrent_fetches,
                  Error::Unavailable("CI issuer keys are being fetched for other requests; retry "
                                     "in a few seconds",
                                     Reason::kIssuerUnavailable),
                  options_.on_fetch_refused) {}

CiTokenVerifier::~CiTokenVerifier() = default;

bool CiTokenVerifier::IsAllowedIssuer(std::string_view issuer) const {
  return !issuer.empty() &&
         std::find(options_.allowed_issuers.begin(), options_.allowed_issuers.end(), issuer) !=
             options_.allowed_issuers.end();
}

Result<std::shared_ptr<JwksCache>> CiTokenVerifier::KeysFor(const std::string& issuer) {
  std::shared_ptr<IssuerState> state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Bounded by the allow-list: only allowed issuers get here.
    auto& slot = issuers_[issuer];
    if (!slot) slot = std::make_shared<IssuerState>();
    state = slot;
  }
  // The common case: discovery done, answered without any lock (a lock briefly held by another
  // request must not send this one through the gate, which refuses when full). Until then,
  // requests wait, or fetch, only through the gate.
  if (state->discovered.load(std::memory_order_acquire)) return state->jwks;
  return fetch_gate_.Call([&] { return Discover(issuer, *state); });
}

Result<std::shared_ptr<JwksCache>> CiTokenVerifier::Discover(const std::string& issuer,
                                                             IssuerState& issuer_state) {
  IssuerState* state = &issuer_state;
  std::lock_guard<std::mutex> lock(state->mu);
  if (state->jwks) return state->jwks;
  const UnixMillis now = clock_.Now();
  if (state->last_error && now - state->last_failure < options_.discovery_retry_ms) {
    return Fail(IssuerUnavailable(issuer, *state->last_error));
  }
  std::string base = issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto jwks_uri = [&]() -> Result<std::string> {
    CL_ASSIGN_OR_RETURN(std::string body, FetchDocument(base + "/.well-known/openid-configuration",
                                                        options_.fetch, "discovery document"));
    return JwksUriFromDiscovery(body, issuer);
  }();
  if (options_.on_fetch) options_.on_fetch(issuer, "discovery", jwks_uri.has_value());
  if (!jwks_uri) {
    state->last_error = jwks_uri.error();
    state->last_failure = now;
    Log(LogLevel::kWarn, "ci issuer discovery failed",
        {{"issuer", issuer},
         {"reason", jwks_uri.error().reason()},
         {"error", jwks_uri.error().message()}});
    return Fail(IssuerUnavailable(issuer, jwks_uri.error()));
  }
  state->last_error.reset();
  FetchOptions fetch = options_.fetch;
  state->jwks = std::make_shared<JwksCache>(
      *jwks_uri,
      [fetch, issuer, on_fetch = options_.on_fetch](const std::string& url) {
        auto body = FetchDocument(url, fetch, "JWKS");
        if (on_fetch) on_fetch(issuer, "jwks", body.has_value());
        return body;
      },
      clock_, options_.jwks_refresh_cooldown, options_.jwks_max_age);
  state->discovered.store(true, std::memory_order_release);
  Log(LogLevel::kInfo, "ci issuer discovery done", {{"issuer", issuer}});
  return state->jwks;
}

Error NoMatchingPolicyError() {
  return Error::PermissionDenied(
      "no trust policy of this organization admits this CI token (the issuer, audience and bound "
      "claims of each policy are compared with the token's)",
      Reason::kNoMatchingTrustPolicy);
}

Result<CiIdentity> CiTokenVerifier::Verify(std::string_view token,
                                           const std::vector<TrustPolicy>& policies) {
  if (token.size() > kMaxTokenBytes) {
    return Fail(Error::Unauthenticated(
        "CI token is larger than " + std::to_string(kMaxTokenBytes) + " bytes",
        Reason::kJwtMalformed));
  }
  // Decoded once: `iss` routes to the issuer's keys, then the same decoded token is verified.
  // Nothing read before VerifyDecodedJwt succeeds is trusted.
  CL_ASSIGN_OR_RETURN(crypto::DecodedJwt decoded, crypto::DecodeJwt(token));
  const std::string& issuer = decoded.jwt.iss;
  if (!IsAllowedIssuer(issuer)) {
    return Fail(Error::Unauthenticated(
        "CI token issuer \"" + Printable(issuer) + "\" is not trusted by this instance",
        Reason::kUntrustedIssuer));
  }

  std::vector<const TrustPolicy*> candidates;
  for (const TrustPolicy& p : policies) {
    if (p.issuer == issuer) candidates.push_back(&p);
  }
  // Every way of "no policy applies" (no policy for this issuer, none for the token's audience,
  // none whose claims match, an unknown organization) gets one answer, NoMatchingPolicyError(),
  // and only for a genuine token: answering before the signature is checked would let anyone
  // probe, with a forged token, which organizations trust which issuers, and distinct answers
  // would let a genuine token probe it. So the signature and times are verified against any
  // `aud` the token carries; the audience is then matched per policy, like the bound claims.
  const bool no_candidates = candidates.empty();

  CL_ASSIGN_OR_RETURN(std::shared_ptr<JwksCache> cache, KeysFor(issuer));
  crypto::JwtCheck check;
  check.issuer = issuer;
  check.audiences = decoded.jwt.aud;
  check.now = clock_.Now();
  check.leeway_seconds = std::clamp<int64_t>(options_.leeway_seconds, 0, 60);
  // The signature and times are checked against the most lenient candidate's maximum age;
  // each policy's own maximum is applied when matching, below.
  int64_t max_age = options_.max_token_age_seconds;
  if (!candidates.empty()) {
    max_age = 0;
    for (const TrustPolicy* p : candidates) {
      max_age = std::max(max_age,
                         std::clamp<int64_t>(p->max_token_age_seconds, 0, kMaxMaxTokenAgeSeconds));
    }
  }
  check.max_age_seconds = max_age;
  check.allowed_algs = {"RS256", "ES256"};

  // Only the paths that may wait on the issuer pass the fetch gate: a cold cache, and a refetch
  // for an unknown kid. Verifying with held keys never does.
  auto keys = cache->HasKeys() ? cache->Get() : fetch_gate_.Call([&] { return cache->Get(); });
  if (!keys) {
    if (keys.error().Is(Reason::kIssuerUnavailable)) return Fail(keys.error());
    return Fail(IssuerUnavailable(issuer, keys.error()));
  }
  auto verified = crypto::VerifyDecodedJwt(decoded, **keys, check);
  if (!verified && verified.error().Is(Reason::kJwtUnknownKid)) {
    // The issuer may have rotated its keys; JwksCache bounds how often this refetches.
    keys = fetch_gate_.Call([&] { return cache->RefreshForUnknownKid(); });
    if (!keys) {
      if (keys.error().Is(Reason::kIssuerUnavailable)) return Fail(keys.error());
      return Fail(IssuerUnavailable(issuer, keys.error()));
    }
    verified = crypto::VerifyDecodedJwt(decoded, **keys, check);
  }
  if (!verified) return Fail(verified.error());
  if (no_candidates) {
    Log(LogLevel::kInfo, "ci token: no trust policy applies",
        {{"issuer", Printable(issuer)}, {"why", "no policy for this issuer"}});
    return Fail(NoMatchingPolicyError());
  }
  crypto::Jwt& jwt = decoded.jwt;  // verified from here on

  // Replay protection is keyed on jti, so a token without one cannot be accepted.
  if (jwt.jti.empty()) {
    return Fail(Error::Unauthenticated("CI token claim 'jti' is missing or mistyped",
                                       Reason::kJwtMissingClaim));
  }
  if (jwt.jti.size() > kMaxJtiLength) {
    return Fail(Error::Unauthenticated(
        "CI token claim 'jti' is longer than " + std::to_string(kMaxJtiLength) + " characters",
        Reason::kJwtMalformed));
  }

  const TrustPolicy* matched = nullptr;
  std::vector<std::string_view> checked_claims;
  std::set<std::string_view> seen;
  size_t audience_matches = 0;
  bool too_old_for_a_match = false;
  for (const TrustPolicy* p : candidates) {
    if (std::find(jwt.aud.begin(), jwt.aud.end(), p->audience) == jwt.aud.end()) continue;
    ++audience_matches;
    // Defense in depth: a policy that somehow skipped validation (say, one binding nothing)
    // must not admit every job of the issuer.
    if (auto valid = ValidateTrustPolicy(*p); !valid) {
      Log(LogLevel::kWarn, "skipping invalid trust policy",
          {{"policy_id", p->id}, {"error", valid.error().message()}});
      continue;
    }
    if (PolicyMatches(*p, jwt)) {
      if (check.now >= TooOldFrom(jwt.iat, p->max_token_age_seconds, check.leeway_seconds)) {
        too_old_for_a_match = true;
        continue;
      }
      matched = p;
      break;
    }
    for (const auto& binding : p->bound_claims) {
      if (seen.insert(binding.first).second) checked_claims.push_back(binding.first);
    }
  }
  if (matched == nullptr && too_old_for_a_match) {
    // A policy admits this job, but not this late: say so, so the CI author knows to raise the
    // policy's max_token_age rather than hunt for a claim that differs.
    return Fail(Error::Unauthenticated(
        "CI token was issued longer ago than the trust policy's max_token_age allows",
        Reason::kJwtTooOld));
  }
  if (matched == nullptr) {
    // The details are for the operator's log only (claims of the token, never the token).
    std::string claims;
    for (size_t i = 0; i < checked_claims.size(); ++i) {
      if (i > 0) claims += ", ";
      auto value = ScalarClaim(jwt, checked_claims[i]);
      claims += std::string(checked_claims[i]) + "=" + (value ? Printable(*value) : "(absent)");
    }
    Log(LogLevel::kInfo, "ci token: no trust policy applies",
        {{"issuer", Printable(issuer)},
         {"subject", Printable(jwt.sub)},
         {"why",
          audience_matches == 0 ? "no policy for the token's audience" : "bound claims differ"},
         {"claims", claims}});
    return Fail(NoMatchingPolicyError());
  }

  CiIdentity id;
  id.issuer = std::move(jwt.iss);
  id.subject = std::move(jwt.sub);
  id.jti = std::move(jwt.jti);
  id.audience = matched->audience;
  id.exp = jwt.exp;
  id.iat = jwt.iat;
  id.accepted_until =
      std::min((jwt.exp + check.leeway_seconds) * kMillisPerSecond,
               TooOldFrom(jwt.iat, matched->max_token_age_seconds, check.leeway_seconds));
  id.claims = std::move(jwt.claims);
  id.policy_id = matched->id;
  id.policy = matched;
  return id;
}

}  // namespace cl::oidc
