// FakeHttpServer: a tiny HTTP/1.1 responder on 127.0.0.1 (port 0) for the CLI's tests. Each
// connection carries one request (Connection: close); a handler decides the answer and every
// request is recorded. Test-only: serial, small bodies, no keep-alive.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cl::cli::testing {

struct FakeRequest {
  std::string method;
  std::string target;  // path + query
  std::string path;
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};  // e.g. {"Location", "..."}
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // Starts listening and serving at once. Aborts the test binary if it cannot listen.
  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Copies of the requests served so far. Thread-safe.
  std::vector<FakeRequest> requests() const;

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  mutable std::mutex mu_;
  std::vector<FakeRequest> requests_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace cl::cli::testing
