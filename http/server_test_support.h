// Shared by the Beast server tests: Socket, a raw loopback client that can play malformed,
// oversized and silent clients, and ServerTest, a fixture with a router of test routes, a log
// sink and metrics, which starts a server on port 0.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "common/log.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/server.h"

namespace cl::http {

using namespace std::chrono_literals;

class Socket {
 public:
  // Connects to 127.0.0.1:port, from `source` (another loopback address) when given.
  explicit Socket(uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source != nullptr) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &src.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (!connected_) connect_errno_ = errno;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return connected_; }

  // True when the server turned this connection away within `timeout`: it was closed after
  // the handshake, or its reset arrived before connect() returned (which happens on a busy
  // machine: the server accepts and resets before the connecting thread runs again).
  bool RefusedWithin(std::chrono::milliseconds timeout) {
    if (!connected_) return connect_errno_ == ECONNRESET || connect_errno_ == ECONNREFUSED;
    return ClosedWithin(timeout);
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads up to `max` bytes; "" on EOF/error/timeout. `eof` tells EOF apart from timeout.
  std::string ReadSome(std::chrono::milliseconds timeout, bool* eof = nullptr) {
    pollfd p{fd_, POLLIN, 0};
    if (eof) *eof = false;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (eof) *eof = true;
      return {};
    }
    return std::string(buf, static_cast<size_t>(n));
  }

  // Everything the peer still sends (including what ReadReply() buffered) until it closes or
  // `timeout` passes; `closed` tells whether it closed.
  std::string RestUntilClosed(std::chrono::milliseconds timeout, bool* closed) {
    std::string rest = std::move(pending_);
    pending_.clear();
    *closed = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      bool eof = false;
      std::string got = ReadSome(std::max(left, 1ms), &eof);
      if (eof) {
        *closed = true;
        break;
      }
      if (got.empty()) break;
      rest += got;
    }
    return rest;
  }

  // True when the peer closes (EOF or reset) within `timeout`, discarding any data.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      bool eof = false;
      std::string got = ReadSome(std::max(left, 1ms), &eof);
      if (eof) return true;
      if (got.empty()) return false;
    }
    return false;
  }

  struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  // Reads one response framed by Content-Length (the server always sends one).
  std::optional<Reply> ReadReply(std::chrono::milliseconds timeout = 5s, bool head = false) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    Reply r;
    std::string head_text = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
      size_t end = head_text.find("\r\n", pos);
      if (end == std::string::npos) end = head_text.size();
      std::string line = head_text.substr(pos, end - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = end + 2;
    }
    size_t length = 0;
    if (!head && r.headers.count("content-length"))
      length = std::stoul(r.headers["content-length"]);
    while (pending_.size() < length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return r;
  }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    std::string got = ReadSome(left);
    if (got.empty()) return false;
    pending_ += got;
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  std::string pending_;
};

inline std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         std::string(extra_headers) + "\r\n";
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest(&log_);
    router_.Add(
        "GET", "/hello", [](Request&) { return Response::Text(200, "hi"); },
        /*blocking=*/false);
    router_.Add("POST", "/v1/orgs/{org}/echo", [](Request& req) {
      std::string body = "org=" + req.PathParam("org") + ";q=" + req.QueryParam("q").value_or("") +
                         ";ct=" + std::string(req.Header("Content-Type")) + ";body=" + req.body +
                         ";remote=" + req.remote_addr;
      return Response::Text(200, body);
    });
    router_.Add("GET", "/slow", [this](Request&) {
      slow_started_ = true;
      std::this_thread::sleep_for(300ms);
      return Response::Text(200, "slow done");
    });
    router_.Add("GET", "/throw", [](Request&) -> Response { throw std::runtime_error("boom"); });
    router_.Add("GET", "/nocontent", [](Request&) { return Response::NoContent(); });
    router_.Add("GET", "/id", [](Request& req) { return Response::Text(200, req.request_id); });
    router_.Add("GET", "/smuggled", [this](Request&) {
      ++smuggled_;
      return Response::Text(200, "smuggled");
    });
    router_.Add("POST", "/v1/orgs/{org}/big", [](Request& req) {
      return Response::Text(200, "got " + std::to_string(req.body.size()));
    });
    router_.SetMaxBodyBytes("POST", "/v1/orgs/{org}/big", kLargeBody);
    router_.Add("GET", "/hugeheader", [](Request&) {
      Response r = Response::Text(200, "never sent");
      r.SetHeader("X-Huge", std::string(100 * 1024, 'h'));  // beyond what Beast accepts
      r.SetHeader("X-Injected", "a\r\nSet-Cookie: evil=1");
      return r;
    });
  }
  void TearDown() override {
    server_.reset();
    SetLogSinkForTest(nullptr);
  }

  void StartServer(ServerOptions opts = {}) {
    opts.io_threads = opts.io_threads == 0 ? 2 : opts.io_threads;
    opts.worker_threads = 2;
    if (opts.read_timeout == ServerOptions{}.read_timeout) opts.read_timeout = 2s;
    server_ = std::make_unique<Server>(opts, router_, &metrics_);
    auto st = server_->Start();
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
    ASSERT_NE(server_->port(), 0);
  }

  // Sends one request on a fresh connection and returns the reply.
  std::optional<Socket::Reply> Roundtrip(const std::string& request) {
    Socket s(server_->port());
    if (!s.connected() || !s.Send(request)) return std::nullopt;
    return s.ReadReply();
  }

  std::string log_;
  Router router_;
  Metrics metrics_;
  std::atomic<bool> slow_started_{false};
  std::atomic<int> smuggled_{0};  // requests that reached GET /smuggled
  std::unique_ptr<Server> server_;
};

}  // namespace cl::http
