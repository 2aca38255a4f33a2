// HTTP/1.1 message framing rules (RFC 9112 sections 2, 5, 6) that the server enforces on top of
// Boost.Beast's parser. Beast is lenient where leniency lets a request hide inside another one:
// it folds obsolete line folding into the value, and it ignores a Transfer-Encoding whose last
// coding is not `chunked`, so the body of such a request would be read as the next request on the
// connection. These checks are Beast-free so that they can be tested as plain functions; the
// server runs them on the raw header bytes before Beast parses them and on the parsed framing
// fields before any body byte is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "common/error_reason.h"

namespace cl::http {

// A request whose framing is refused: the server answers `status` with the JSON error `code`
// and `message`, then closes the connection, because once the framing is in doubt the bytes
// after the header cannot be trusted to be (or not to be) another request.
struct FramingError {
  int status;                // 400, or 501 for a transfer coding the server does not implement
  Reason code;               // kBadRequest or kNotImplemented
  std::string_view message;  // says which rule was broken; never echoes request bytes
};

// Finds the end of a request's header section in `buffered` (the bytes received so far, from the
// first byte of the request line) and checks the line structure on the way: every line ends in
// CRLF (a bare CR or a bare LF is an error at once, without waiting for more bytes), no field
// line starts with whitespace (obs-fold, or whitespace before the first field), and no
// whitespace separates a field name from its colon. Scanning resumes where the previous call
// stopped, so a header trickled in byte by byte costs linear time.
//
// Not thread-safe; one scanner per request. `buffered` must grow by appending only.
class HeaderScanner {
 public:
  enum class State { kNeedMore, kComplete, kError };

  State Scan(std::string_view buffered);
  // When kComplete: the header's size in bytes, its final empty line included.
  size_t header_size() const { return header_size_; }
  // When kError: what was wrong.
  const FramingError& error() const { return error_; }

 private:
  State Fail(std::string_view message);
  // The per-line rules for a non-empty line without its CRLF: what is wrong, or "".
  std::string_view LineProblem(std::string_view line) const;

  size_t pos_ = 0;         // next byte to look at
  size_t line_start_ = 0;  // first byte of the current line
  bool first_line_ = true;
  size_t header_size_ = 0;
  FramingError error_{400, Reason::kBadRequest, ""};
};

// How the body of a request is delimited.
struct BodyFraming {
  enum class Kind { kNone, kLength, kChunked };
  Kind kind = Kind::kNone;
  uint64_t length = 0;  // kLength only
};

// Decides the body framing of a request from its HTTP version (10 or 11) and the values of all
// its Transfer-Encoding and Content-Length fields, in order (RFC 9112 6.1 and 6.3):
// - Transfer-Encoding (several fields are one comma-separated list): refused in HTTP/1.0 and
//   together with Content-Length (400); the last coding must be `chunked` (else 400) and it must
//   occur once; any other coding is 501, since the server decodes none.
// - Content-Length: exactly one field whose value is 1*DIGIT within 64 bits; duplicates (even
//   equal ones), lists, signs, inner spaces and overflow are 400.
// - neither: no body.
tl::expected<BodyFraming, FramingError> DecideBodyFraming(
    unsigned version, const std::vector<std::string_view>& transfer_encoding,
    const std::vector<std::string_view>& content_length);

}  // namespace cl::http
