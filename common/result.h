// Result<T> and Error: how every fallible call in the project reports failure (no exceptions).
//
// Error carries a small fixed category (`Code`, mapped to an HTTP status in exactly one place,
// api/errors.cc) and a machine-readable `reason` that becomes the API error code
// (e.g. "token_expired"). Messages are for people and must never contain secrets.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

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

  Error(Code code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static Error InvalidArgument(std::string msg, std::string reason = "invalid_argument") {
    return Error(Code::kInvalidArgument, std::move(msg), std::move(reason));
  }
  static Error Unauthenticated(std::string msg, std::string reason = "invalid_token") {
    return Error(Code::kUnauthenticated, std::move(msg), std::move(reason));
  }
  static Error PermissionDenied(std::string msg, std::string reason = "permission_denied") {
    return Error(Code::kPermissionDenied, std::move(msg), std::move(reason));
  }
  static Error NotFound(std::string msg, std::string reason = "not_found") {
    return Error(Code::kNotFound, std::move(msg), std::move(reason));
  }
  static Error AlreadyExists(std::string msg, std::string reason = "already_exists") {
    return Error(Code::kAlreadyExists, std::move(msg), std::move(reason));
  }
  static Error FailedPrecondition(std::string msg, std::string reason = "failed_precondition") {
    return Error(Code::kFailedPrecondition, std::move(msg), std::move(reason));
  }
  static Error PayloadTooLarge(std::string msg, std::string reason = "payload_too_large") {
    return Error(Code::kPayloadTooLarge, std::move(msg), std::move(reason));
  }
  static Error ResourceExhausted(std::string msg, std::string reason = "rate_limited") {
    return Error(Code::kResourceExhausted, std::move(msg), std::move(reason));
  }
  static Error Unavailable(std::string msg, std::string reason = "unavailable") {
    return Error(Code::kUnavailable, std::move(msg), std::move(reason));
  }
  static Error Internal(std::string msg, std::string reason = "internal") {
    return Error(Code::kInternal, std::move(msg), std::move(reason));
  }

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& reason() const { return reason_; }

  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }
  bool IsUnauthenticated() const { return code_ == Code::kUnauthenticated; }
  bool IsPermissionDenied() const { return code_ == Code::kPermissionDenied; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }

  std::string ToString() const { return reason_ + ": " + message_; }

 private:
  Code code_;
  std::string message_;
  std::string reason_;
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
