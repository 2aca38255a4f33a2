// The wire strings of error reasons, and the Error accessors that read them.
#include "common/error_reason.h"

#include <string>

#include "common/result.h"

namespace cl {
namespace {

// std::string (not string_view) so that Error::reason() can hand out a reference.
const std::string& NameOf(Reason r) {
  static const std::string kNames[] = {
#define CL_ERROR_REASON_NAME_(name, wire) wire,
      CL_ERROR_REASONS(CL_ERROR_REASON_NAME_)
#undef CL_ERROR_REASON_NAME_
  };
  static const std::string kUnrecognizedName = "unrecognized";
  auto i = static_cast<std::size_t>(r);
  return i < std::size(kNames) ? kNames[i] : kUnrecognizedName;
}

}  // namespace

std::string_view ReasonName(Reason r) { return NameOf(r); }

std::optional<Reason> ParseReason(std::string_view name) {
  for (Reason r : kAllReasons) {
    if (NameOf(r) == name) return r;
  }
  return std::nullopt;
}

Error Error::FromWire(Code code, std::string message, std::string_view received_reason) {
  if (auto known = ParseReason(received_reason)) return Error(code, std::move(message), *known);
  Error e(code, std::move(message), Reason::kUnrecognized);
  e.received_reason_ = std::string(received_reason);
  return e;
}

const std::string& Error::reason() const {
  return reason_ == Reason::kUnrecognized ? received_reason_ : NameOf(reason_);
}

}  // namespace cl
