// Tables of the framing rules of framing.h as plain functions; http/server_test.cc plays the
// same rules over a socket against the real server.
#include "http/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cl::http {
namespace {

struct ScanCase {
  const char* name;
  std::string bytes;
  HeaderScanner::State state;
  size_t header_size = 0;  // kComplete only
};

TEST(HeaderScanner, Table) {
  const std::string ok = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::vector<ScanCase> cases = {
      {"complete", ok, HeaderScanner::State::kComplete, ok.size()},
      {"complete with body after it", ok + "GET /next", HeaderScanner::State::kComplete, ok.size()},
      {"no empty line yet", "GET / HTTP/1.1\r\nHost: h\r\n", HeaderScanner::State::kNeedMore},
      {"ends in CR: LF may follow", "GET / HTTP/1.1\r", HeaderScanner::State::kNeedMore},
      {"bare LF line ending", "GET / HTTP/1.1\nHost: h\n\n", HeaderScanner::State::kError},
      {"bare LF inside a value", "GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", HeaderScanner::State::kError},
      {"bare LF as the empty line", "GET / HTTP/1.1\r\nHost: h\r\n\n",
       HeaderScanner::State::kError},
      {"bare CR inside a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", HeaderScanner::State::kError},
      {"bare CR in the request line", "GET /\r HTTP/1.1\r\n\r\n", HeaderScanner::State::kError},
      {"obs-fold with a space", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
       HeaderScanner::State::kError},
      {"obs-fold with a tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
       HeaderScanner::State::kError},
      {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
       HeaderScanner::State::kError},
      {"space before the colon", "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
       HeaderScanner::State::kError},
      {"tab before the colon", "GET / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n",
       HeaderScanner::State::kError},
      {"space after the colon is fine", "GET / HTTP/1.1\r\nX:  a \r\n\r\n",
       HeaderScanner::State::kComplete, 26},
      {"empty line before the request line", "\r\nGET / HTTP/1.1\r\n\r\n",
       HeaderScanner::State::kError},
  };
  for (const auto& c : cases) {
    HeaderScanner scanner;
    EXPECT_EQ(scanner.Scan(c.bytes), c.state) << c.name;
    if (c.state == HeaderScanner::State::kComplete) {
      EXPECT_EQ(scanner.header_size(), c.header_size) << c.name;
    }
    if (c.state == HeaderScanner::State::kError) {
      EXPECT_EQ(scanner.error().status, 400) << c.name;
      EXPECT_FALSE(scanner.error().message.empty()) << c.name;
    }
  }
}

TEST(HeaderScanner, ByteByByteGivesTheSameAnswer) {
  for (const std::string& bytes : {std::string("GET / HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\nBODY"),
                                   std::string("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n")}) {
    HeaderScanner whole;
    HeaderScanner::State expected = whole.Scan(bytes);
    HeaderScanner trickled;
    HeaderScanner::State state = HeaderScanner::State::kNeedMore;
    for (size_t n = 1; n <= bytes.size() && state == HeaderScanner::State::kNeedMore; ++n) {
      state = trickled.Scan(std::string_view(bytes).substr(0, n));
    }
    EXPECT_EQ(state, expected) << bytes;
    if (state == HeaderScanner::State::kComplete) {
      EXPECT_EQ(trickled.header_size(), whole.header_size());
    }
  }
}

struct FramingCase {
  const char* name;
  unsigned version;
  std::vector<std::string_view> te;
  std::vector<std::string_view> cl;
  int status;  // 0: accepted
  BodyFraming::Kind kind = BodyFraming::Kind::kNone;
  uint64_t length = 0;
};

TEST(DecideBodyFraming, Table) {
  using K = BodyFraming::Kind;
  const std::vector<FramingCase> cases = {
      {"no body", 11, {}, {}, 0, K::kNone},
      {"content-length", 11, {}, {"5"}, 0, K::kLength, 5},
      {"content-length zero", 11, {}, {"0"}, 0, K::kLength, 0},
      {"leading zeros", 11, {}, {"007"}, 0, K::kLength, 7},
      {"largest 64-bit length",
       11,
       {},
       {"18446744073709551615"},
       0,
       K::kLength,
       18446744073709551615ull},
      {"64-bit overflow", 11, {}, {"18446744073709551616"}, 400},
      {"sign", 11, {}, {"+5"}, 400},
      {"negative", 11, {}, {"-1"}, 400},
      {"space inside", 11, {}, {"5 5"}, 400},
      {"hex", 11, {}, {"0x5"}, 400},
      {"empty", 11, {}, {""}, 400},
      {"comma-joined equal", 11, {}, {"5, 5"}, 400},
      {"comma-joined differing", 11, {}, {"5, 6"}, 400},
      {"two equal fields", 11, {}, {"5", "5"}, 400},
      {"two differing fields", 11, {}, {"5", "6"}, 400},
      {"chunked", 11, {"chunked"}, {}, 0, K::kChunked},
      {"chunked in capitals", 11, {"Chunked"}, {}, 0, K::kChunked},
      {"chunked with OWS and empty elements", 11, {" , chunked ,"}, {}, 0, K::kChunked},
      {"chunked, identity", 11, {"chunked, identity"}, {}, 400},
      {"xchunked", 11, {"xchunked"}, {}, 400},
      {"gzip alone", 11, {"gzip"}, {}, 400},
      {"gzip, chunked", 11, {"gzip, chunked"}, {}, 501},
      {"gzip then chunked in two fields", 11, {"gzip", "chunked"}, {}, 501},
      {"chunked then identity in two fields", 11, {"chunked", "identity"}, {}, 400},
      {"chunked twice", 11, {"chunked, chunked"}, {}, 400},
      {"chunked twice in two fields", 11, {"chunked", "chunked"}, {}, 400},
      {"chunked with a parameter", 11, {"chunked;x=1"}, {}, 400},
      {"empty transfer-encoding", 11, {""}, {}, 400},
      {"chunked and content-length", 11, {"chunked"}, {"5"}, 400},
      {"xchunked and content-length", 11, {"xchunked"}, {"5"}, 400},
      {"transfer-encoding in HTTP/1.0", 10, {"chunked"}, {}, 400},
      {"content-length in HTTP/1.0", 10, {}, {"3"}, 0, K::kLength, 3},
  };
  for (const auto& c : cases) {
    auto got = DecideBodyFraming(c.version, c.te, c.cl);
    if (c.status == 0) {
      ASSERT_TRUE(got.has_value()) << c.name << ": " << got.error().message;
      EXPECT_EQ(got->kind, c.kind) << c.name;
      EXPECT_EQ(got->length, c.length) << c.name;
    } else {
      ASSERT_FALSE(got.has_value()) << c.name;
      EXPECT_EQ(got.error().status, c.status) << c.name;
      EXPECT_EQ(ReasonName(got.error().code), c.status == 501 ? "not_implemented" : "bad_request")
          << c.name;
    }
  }
}

}  // namespace
}  // namespace cl::http
