// Result<T> and Error: how every fallible call in the project reports failure (no exceptions).
//
// Error carries a small fixed category (`Code`, mapped to an HTTP status in exactly one place,
// api/errors.cc) and a machine-readable `Reason` (common/error_reason.h) whose wire string becomes
// the API error code (e.g. "token_expired"). Messages are for people and must never contain
// secrets.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "common/error_reason.h"

namespace cl {

class Error {
 public:
  enum class Code {
    kInvalidArgument,     // 400: the caller sent something malformed or out of range
    kUnauthenticated,     // 401: missing, malformed, unknown, expired or revoked credential
    kPermissionDenied,    // 403: valid principal without the permission
    kNotFound,            // 404
    kAlreadyExists,       // 409
    kFailedPrecondition,  // 409/412: state does not allow the operation
    kPayloadTooLarge,     // 413
    kResourceExhausted,   // 429
    kUnavailable,         // 503: a dependency (database, IdP) is down
    kInternal,            // 500
  };

  // `reason` is the API error code; the factories default it to the generic one of their Code.
  Error(Code code, std::string message, Reason reason)
      : code_(code), message_(std::move(message)), reason_(reason) {}

  static Error InvalidArgument(std::string msg, Reason reason = Reason::kInvalidArgument) {
    return Error(Code::kInvalidArgument, std::move(msg), reason);
  }
  static Error Unauthenticated(std::string msg, Reason reason = Reason::kInvalidToken) {
    return Error(Code::kUnauthenticated, std::move(msg), reason);
  }
  static Error PermissionDenied(std::string msg, Reason reason = Reason::kPermissionDenied) {
    return Error(Code::kPermissionDenied, std::move(msg), reason);
  }
  static Error NotFound(std::string msg, Reason reason = Reason::kNotFound) {
    return Error(Code::kNotFound, std::move(msg), reason);
  }
  static Error AlreadyExists(std::string msg, Reason reason = Reason::kAlreadyExists) {
    return Error(Code::kAlreadyExists, std::move(msg), reason);
  }
  static Error FailedPrecondition(std::string msg, Reason reason = Reason::kFailedPrecondition) {
    return Error(Code::kFailedPrecondition, std::move(msg), reason);
  }
  static Error PayloadTooLarge(std::string msg, Reason reason = Reason::kPayloadTooLarge) {
    return Error(Code::kPayloadTooLarge, std::move(msg), reason);
  }
  static Error ResourceExhausted(std::string msg, Reason reason = Reason::kRateLimited) {
    return Error(Code::kResourceExhausted, std::move(msg), reason);
  }
  static Error Unavailable(std::string msg, Reason reason = Reason::kUnavailable) {
    return Error(Code::kUnavailable, std::move(msg), reason);
  }
  static Error Internal(std::string msg, Reason reason = Reason::kInternal) {
    return Error(Code::kInternal, std::move(msg), reason);
  }

  // An error a peer reported with its own code: the CLI reading the control plane's
  // {"error":{"code"}}, the control plane passing on an IdP's OAuth `error`. A code in the table
  // becomes that Reason; any other is kept verbatim (reason() returns it, reason_code() is
  // kUnrecognized) so it can be shown as received. The only way from a string to an Error: never
  // for reasons this program decides itself.
  static Error FromWire(Code code, std::string message, std::string_view received_reason);

  // The same error (code and reason, a received one included) with another message: for
  // adding context while passing an error on.
  Error WithMessage(std::string message) const {
    Error e = *this;
    e.message_ = std::move(message);
    return e;
  }

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The wire string of the reason (ReasonName), or the received text for kUnrecognized.
  const std::string& reason() const;
  Reason reason_code() const { return reason_; }
  bool Is(Reason r) const { return reason_ == r; }

  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }
  bool IsUnauthenticated() const { return code_ == Code::kUnauthenticated; }
  bool IsPermissionDenied() const { return code_ == Code::kPermissionDenied; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }

  std::string ToString() const { return reason() + ": " + message_; }

 private:
  Code code_;
  std::string message_;
  Reason reason_;
  std::string received_reason_;  // only for kUnrecognized
};

template <typename T>
using Result = tl::expected<T, Error>;

// Status is a Result without a value.
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> Fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

inline Status Ok() { return {}; }

}  // namespace cl

// Propagates an error from an expression yielding Result/Status; evaluates to nothing.
#define CL_RETURN_IF_ERROR(expr)                            \
  do {                                                      \
    auto cl_status_ = (expr);                               \
    if (!cl_status_) return ::cl::Fail(cl_status_.error()); \
  } while (0)
// NOLINTBEGIN(bugprone-macro-parentheses): tmp is a name, lhs a declaration or an lvalue.
// Declares `lhs` from a Result expression, or returns its error.
#define CL_CONCAT_INNER_(a, b) a##b
#define CL_CONCAT_(a, b) CL_CONCAT_INNER_(a, b)
#define CL_ASSIGN_OR_RETURN(lhs, expr) \
  CL_ASSIGN_OR_RETURN_IMPL_(CL_CONCAT_(cl_result_, __LINE__), lhs, expr)
#define CL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)      \
  auto tmp = (expr);                                   \
  if (!tmp) return ::cl::Fail(std::move(tmp).error()); \
  lhs = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)
