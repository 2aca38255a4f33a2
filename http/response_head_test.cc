// Tests of SerializeHead (http/response_head.h) on its own, without a socket: the status line,
// the headers that are dropped, and the framing headers the server always writes itself.
#include "http/response_head.h"

#include <gtest/gtest.h>

#include <string>

#include "http/http.h"

namespace cl::http {
namespace {

std::string Head(const Response& res, unsigned version = 11, bool keep_alive = true) {
  std::string head = "left over from the previous response";
  EXPECT_TRUE(SerializeHead(res, version, keep_alive, "rid1", head));
  return head;
}

TEST(ResponseHeadTest, StatusLineHeadersRequestIdAndLength) {
  Response res;
  res.status = 201;
  res.headers = {{"Content-Type", "application/json"}, {"X-Extra", "1"}};
  res.body = "{}";
  EXPECT_EQ(Head(res),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Extra: 1\r\n"
            "X-Request-Id: rid1\r\nContent-Length: 2\r\n\r\n");
}

TEST(ResponseHeadTest, UnknownStatusGetsAGenericReason) {
  Response res;
  res.status = 299;
  EXPECT_EQ(Head(res), "HTTP/1.1 299 Status\r\nX-Request-Id: rid1\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseHeadTest, ConnectionHeaderFollowsVersionAndKeepAlive) {
  Response res = Response::NoContent();
  EXPECT_EQ(Head(res, 11, true), "HTTP/1.1 204 No Content\r\nX-Request-Id: rid1\r\n\r\n");
  EXPECT_EQ(Head(res, 11, false),
            "HTTP/1.1 204 No Content\r\nX-Request-Id: rid1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Head(res, 10, true),
            "HTTP/1.0 204 No Content\r\nX-Request-Id: rid1\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(Head(res, 10, false), "HTTP/1.0 204 No Content\r\nX-Request-Id: rid1\r\n\r\n");
}

TEST(ResponseHeadTest, StatusesWithoutBodyHaveNoContentLength) {
  for (int status : {100, 204, 304}) {
    Response res;
    res.status = status;
    res.body = "ignored";
    EXPECT_EQ(Head(res).find("Content-Length"), std::string::npos) << status;
  }
}

TEST(ResponseHeadTest, FramingInjectionAndInvalidHeadersAreDropped) {
  Response res;
  res.headers = {{"content-length", "99"},
                 {"Transfer-Encoding", "chunked"},
                 {"CONNECTION", "keep-alive"},
                 {"X-Injected", "a\r\nSet-Cookie: evil=1"},
                 {"X-Nul", std::string("a\0b", 3)},
                 {"Bad Name", "v"},
                 {"", "v"},
                 {"X:Colon", "v"},
                 {"X-Kept", "v"}};
  res.body = "abc";
  EXPECT_EQ(Head(res),
            "HTTP/1.1 200 OK\r\nX-Kept: v\r\nX-Request-Id: rid1\r\nContent-Length: 3\r\n\r\n");
}

TEST(ResponseHeadTest, HeaderTooLargeToSendIsRefused) {
  Response res;
  res.headers = {{"X-Huge", std::string(64 * 1024, 'h')}};
  std::string head;
  EXPECT_FALSE(SerializeHead(res, 11, true, "rid1", head));
  res.headers = {{"X-Big", std::string(64 * 1024 - 5, 'h')}};  // name + value exactly 64 KiB
  EXPECT_TRUE(SerializeHead(res, 11, true, "rid1", head));
}

}  // namespace
}  // namespace cl::http
