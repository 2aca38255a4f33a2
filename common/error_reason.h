// The closed set of error reasons: the machine-readable code an Error carries and the API sends
// as {"error":{"code": ...}} (docs/api.md). One value per precise failure, each with its wire
// string in exactly one table (CL_ERROR_REASONS below), as google/jwt_verify_lib does with Status.
// The wire strings are part of the API contract: the CLI and scripts match on them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace cl {

// X(enumerator, "wire string"). Grouped by where the reason arises; the order carries no meaning.
#define CL_ERROR_REASONS(X)                                                 \
  /* The defaults of the Error factories, one per Error::Code. */           \
  X(kInvalidArgument, "invalid_argument")                                   \
  X(kInvalidToken, "invalid_token")                                         \
  X(kPermissionDenied, "permission_denied")                                 \
  X(kNotFound, "not_found")                                                 \
  X(kAlreadyExists, "already_exists")                                       \
  X(kFailedPrecondition, "failed_precondition")                             \
  X(kPayloadTooLarge, "payload_too_large")                                  \
  X(kRateLimited, "rate_limited")                                           \
  X(kUnavailable, "unavailable")                                            \
  X(kInternal, "internal")                                                  \
  /* HTTP framing, answered before any handler runs. */                     \
  X(kMethodNotAllowed, "method_not_allowed")                                \
  X(kHeadersTooLarge, "headers_too_large")                                  \
  X(kBadRequest, "bad_request")                                             \
  X(kNotImplemented, "not_implemented")                                     \
  X(kExpectationFailed, "expectation_failed")                               \
  X(kOverloaded, "overloaded")                                              \
  /* Request bodies and parameters. */                                      \
  X(kMalformedJson, "malformed_json")                                       \
  X(kInvalidFieldType, "invalid_field_type")                                \
  X(kUnknownField, "unknown_field")                                         \
  X(kMissingField, "missing_field")                                         \
  X(kMalformedBase64url, "malformed_base64url")                             \
  X(kInvalidCursor, "invalid_cursor")                                       \
  /* Credentials. */                                                        \
  X(kUnauthenticated, "unauthenticated")                                    \
  X(kMalformedToken, "malformed_token")                                     \
  X(kTokenExpired, "token_expired")                                         \
  X(kTokenRevoked, "token_revoked")                                         \
  X(kSessionExpired, "session_expired")                                     \
  X(kSessionRevoked, "session_revoked")                                     \
  X(kCsrfFailed, "csrf_failed")                                             \
  X(kTooManyFailedAttempts, "too_many_failed_attempts")                     \
  /* Login (browser and device flows). */                                   \
  X(kInvalidRequest, "invalid_request")                                     \
  X(kInvalidRedirectUri, "invalid_redirect_uri")                            \
  X(kInvalidState, "invalid_state")                                         \
  X(kInvalidCallback, "invalid_callback")                                   \
  X(kInvalidGrant, "invalid_grant")                                         \
  X(kUnsupportedGrantType, "unsupported_grant_type")                        \
  X(kExpiredToken, "expired_token")                                         \
  X(kAuthorizationPending, "authorization_pending")                         \
  X(kSlowDown, "slow_down")                                                 \
  X(kAccessDenied, "access_denied")                                         \
  X(kLoginCapacityExhausted, "login_capacity_exhausted")                    \
  X(kIdpError, "idp_error")                                                 \
  X(kUiNotBuilt, "ui_not_built")                                            \
  /* The upstream identity provider. */                                     \
  X(kIdpUnavailable, "idp_unavailable")                                     \
  X(kIdpDiscoveryInvalid, "idp_discovery_invalid")                          \
  X(kBadIssuerUrl, "bad_issuer_url")                                        \
  X(kIdpClientRejected, "idp_client_rejected")                              \
  X(kIdpTokenError, "idp_token_error")                                      \
  X(kDeviceFlowUnsupported, "device_flow_unsupported")                      \
  X(kBadNonce, "bad_nonce")                                                 \
  X(kMissingIdToken, "missing_id_token")                                    \
  X(kUserinfoSubMismatch, "userinfo_sub_mismatch")                          \
  /* JOSE (crypto::JoseError; its token_expired is kTokenExpired above). */ \
  X(kJwtMalformed, "jwt_malformed")                                         \
  X(kJwtBadAlg, "jwt_bad_alg")                                              \
  X(kJwtUnknownKid, "jwt_unknown_kid")                                      \
  X(kJwtKeyAlgMismatch, "jwt_key_alg_mismatch")                             \
  X(kBadSignature, "bad_signature")                                         \
  X(kJwtNotYetValid, "jwt_not_yet_valid")                                   \
  X(kJwtIssuedInFuture, "jwt_issued_in_future")                             \
  X(kJwtTooOld, "jwt_too_old")                                              \
  X(kBadIssuer, "bad_issuer")                                               \
  X(kBadAudience, "bad_audience")                                           \
  X(kJwtMissingClaim, "jwt_missing_claim")                                  \
  X(kJwksMalformed, "jwks_malformed")                                       \
  X(kJwkUnsupported, "jwk_unsupported")                                     \
  /* Keyless CI: trust policies and CI tokens. */                           \
  X(kUntrustedIssuer, "untrusted_issuer")                                   \
  X(kIssuerUnavailable, "issuer_unavailable")                               \
  X(kInvalidTrustPolicy, "invalid_trust_policy")                            \
  X(kNoMatchingTrustPolicy, "no_matching_trust_policy")                     \
  X(kReplayedToken, "replayed_token")                                       \
  X(kTrustPolicyDeleted, "trust_policy_deleted")                            \
  /* API tokens and attestations. */                                        \
  X(kAlreadyRevoked, "already_revoked")                                     \
  X(kInvalidStatement, "invalid_statement")                                 \
  X(kNotRunInitiator, "not_run_initiator")                                  \
  /* Organization members. */                                               \
  X(kLastOwner, "last_owner")                                               \
  /* Outbound calls to URLs someone else chose (webhooks). */               \
  X(kAddressNotAllowed, "address_not_allowed")                              \
  /* The CLI's own failures (never sent by the control plane). */           \
  X(kUnreachable, "unreachable")                                            \
  X(kBadResponse, "bad_response")                                           \
  X(kLoginFailed, "login_failed")                                           \
  X(kLoginCancelled, "login_cancelled")                                     \
  X(kLoginTimeout, "login_timeout")                                         \
  X(kCiTokenUnavailable, "ci_token_unavailable")

enum class Reason {
#define CL_ERROR_REASON_ENUMERATOR_(name, wire) name,
  CL_ERROR_REASONS(CL_ERROR_REASON_ENUMERATOR_)
#undef CL_ERROR_REASON_ENUMERATOR_
  // Not in the table: a code received from a peer (the control plane's answer to the CLI) that
  // this build does not know. Only Error::FromWire produces it; the Error keeps the text as
  // received, so it can be shown verbatim.
  kUnrecognized,
};

// Every value of the table, in table order (kUnrecognized is not one of them).
inline constexpr Reason kAllReasons[] = {
#define CL_ERROR_REASON_VALUE_(name, wire) Reason::name,
    CL_ERROR_REASONS(CL_ERROR_REASON_VALUE_)
#undef CL_ERROR_REASON_VALUE_
};

// The wire string of `r` (e.g. "token_expired"); "unrecognized" for kUnrecognized, whose text
// lives in the Error that carries it.
std::string_view ReasonName(Reason r);

// The table value whose wire string is exactly `name`, else nullopt (never kUnrecognized).
std::optional<Reason> ParseReason(std::string_view name);

}  // namespace cl
