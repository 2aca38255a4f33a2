// Framing checks of the HTTP server; see framing.h for the rules and why they exist.
#include "http/framing.h"

#include <limits>

#include "http/http.h"

namespace cl::http {
namespace {

bool IsWhitespace(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && IsWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

tl::unexpected<FramingError> Refuse(std::string_view message) {
  return tl::unexpected(FramingError{400, Reason::kBadRequest, message});
}

}  // namespace

HeaderScanner::State HeaderScanner::Fail(std::string_view message) {
  error_ = FramingError{400, Reason::kBadRequest, message};
  return State::kError;
}

std::string_view HeaderScanner::LineProblem(std::string_view line) const {
  if (first_line_) return {};  // the request line is Beast's to parse
  if (IsWhitespace(line.front())) {
    return "obsolete line folding (a header line starting with whitespace)";
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0 && IsWhitespace(line[colon - 1])) {
    return "whitespace between a header field name and its colon";
  }
  return {};
}

HeaderScanner::State HeaderScanner::Scan(std::string_view buffered) {
  while (pos_ < buffered.size()) {
    char c = buffered[pos_];
    if (c == '\n') return Fail("a bare LF line ending (lines must end in CRLF)");
    if (c != '\r') {
      ++pos_;
      continue;
    }
    if (pos_ + 1 >= buffered.size()) return State::kNeedMore;  // is the LF next?
    if (buffered[pos_ + 1] != '\n') return Fail("a bare CR in the request header");
    std::string_view line = buffered.substr(line_start_, pos_ - line_start_);
    pos_ += 2;
    line_start_ = pos_;
    if (line.empty()) {
      // An empty first line is not a request line; Beast refuses it (bad method).
      if (first_line_) return Fail("an empty line before the request line");
      header_size_ = pos_;
      return State::kComplete;
    }
    if (std::string_view problem = LineProblem(line); !problem.empty()) return Fail(problem);
    first_line_ = false;
  }
  return State::kNeedMore;
}

tl::expected<BodyFraming, FramingError> DecideBodyFraming(
    unsigned version, const std::vector<std::string_view>& transfer_encoding,
    const std::vector<std::string_view>& content_length) {
  BodyFraming framing;
  if (!transfer_encoding.empty()) {
    // RFC 9112 6.1: HTTP/1.0 has no transfer codings, so its framing is faulty; with both
    // fields, two parsers on the path may pick different ones (the smuggling primitive).
    if (version < 11) return Refuse("Transfer-Encoding in an HTTP/1.0 request");
    if (!content_length.empty()) return Refuse("both Transfer-Encoding and Content-Length");
    std::vector<std::string_view> codings;
    for (std::string_view value : transfer_encoding) {
      while (true) {
        size_t comma = value.find(',');
        std::string_view coding = TrimWhitespace(value.substr(0, comma));
        if (!coding.empty()) codings.push_back(coding);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
    }
    if (codings.empty()) return Refuse("an empty Transfer-Encoding");
    if (!EqualsIgnoreCase(codings.back(), "chunked")) {
      return Refuse("the last transfer coding is not chunked, so the body length is unknown");
    }
    for (size_t i = 0; i + 1 < codings.size(); ++i) {
      if (EqualsIgnoreCase(codings[i], "chunked")) return Refuse("chunked applied twice");
    }
    if (codings.size() > 1) {
      return tl::unexpected(FramingError{501, Reason::kNotImplemented,
                                         "transfer codings other than chunked are not supported"});
    }
    framing.kind = BodyFraming::Kind::kChunked;
    return framing;
  }
  if (!content_length.empty()) {
    if (content_length.size() > 1) return Refuse("more than one Content-Length");
    std::string_view value = content_length.front();
    if (value.empty()) return Refuse("an empty Content-Length");
    uint64_t n = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return Refuse("a Content-Length that is not a decimal number");
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
        return Refuse("a Content-Length that overflows 64 bits");
      }
      n = n * 10 + digit;
    }
    framing.kind = BodyFraming::Kind::kLength;
    framing.length = n;
  }
  return framing;
}

}  // namespace cl::http
