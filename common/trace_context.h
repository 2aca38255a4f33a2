// W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace id a request belongs to,
// taken from its `traceparent` header or made fresh, and the header outbound calls carry so the
// IdP's or a CI issuer's logs can be joined with ours.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cl {

// The trace id (32 lowercase hex digits) of a valid traceparent header value; nullopt when the
// value is malformed (wrong length, uppercase, all-zero ids, version ff, ...), in which case the
// request starts a new trace.
std::optional<std::string> TraceIdFromTraceparent(std::string_view header);

// A fresh random trace id (32 hex digits, never all zero) and span id (16).
std::string NewTraceId();
std::string NewSpanId();

// The traceparent header value for an outbound call made within trace `trace_id`: version 00,
// a fresh span id, sampled.
std::string OutboundTraceparent(std::string_view trace_id);

}  // namespace cl
