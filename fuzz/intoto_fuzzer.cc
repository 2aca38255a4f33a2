// Fuzz target: in-toto Statement validation (domain/attestations), the check every pushed
// attestation passes before it is stored.
//
// Invariant: a statement that validates has a known `_type`, a non-empty `predicateType` and a
// non-empty `subject` array whose every entry has a non-empty `digest` object of lower-case hex.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "domain/attestations.h"
#include "fuzz/fuzz_support.h"

using namespace cl;

namespace {

bool IsLowerHex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckValid(const boost::json::value& v) {
  fuzz::Check(v.is_object(), "a valid statement is an object");
  const auto& o = v.as_object();
  const auto* type = o.if_contains("_type");
  fuzz::Check(type && type->is_string() &&
                  (type->as_string() == "https://in-toto.io/Statement/v1" ||
                   type->as_string() == "https://in-toto.io/Statement/v0.1"),
              "_type is a known Statement type");
  const auto* pt = o.if_contains("predicateType");
  fuzz::Check(pt && pt->is_string() && !pt->as_string().empty(), "predicateType non-empty");
  const auto* subject = o.if_contains("subject");
  fuzz::Check(subject && subject->is_array() && !subject->as_array().empty(), "subject non-empty");
  for (const auto& s : subject->as_array()) {
    fuzz::Check(s.is_object(), "subject entry is an object");
    const auto* digest = s.as_object().if_contains("digest");
    fuzz::Check(digest && digest->is_object() && !digest->as_object().empty(), "digest non-empty");
    for (const auto& kv : digest->as_object()) {
      fuzz::Check(kv.value().is_string() && IsLowerHex(kv.value().as_string()),
                  "digest values are lower-case hex");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto value = ParseJson(in);
  if (!value) return 0;
  auto st = domain::ValidateInTotoStatement(*value);
  if (st) {
    CheckValid(*value);
  } else {
    fuzz::Check(st.error().Is(Reason::kInvalidStatement), "reason is invalid_statement");
  }
  return 0;
}
