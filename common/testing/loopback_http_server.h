// LoopbackHttpServer: a test-only HTTP/1.1 receiver on 127.0.0.1 or [::1] (port 0), one thread
// per connection so a slow answer to one request does not hold the others. Each connection
// carries one request (Connection: close); a handler decides the answer, which may be delayed or
// large, and every request is recorded. For the outbound client's and the webhook dispatcher's
// tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cl::testing {

struct LoopbackRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The value of header `lower_name`, "" when absent.
  std::string Header(const std::string& lower_name) const;
};

struct LoopbackResponse {
  int status = 200;
  std::string body;
  // Wait this long before answering (cut short when the server is destroyed).
  std::chrono::milliseconds delay{0};
};

class LoopbackHttpServer {
 public:
  using Handler = std::function<LoopbackResponse(const LoopbackRequest&)>;

  // Listens on 127.0.0.1 (or ::1) port 0 and serves at once. Aborts if it cannot listen.
  explicit LoopbackHttpServer(Handler handler, bool ipv6 = false);
  ~LoopbackHttpServer();  // wakes delayed answers, joins every thread
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" or "http://[::1]:PORT".
  std::string url() const;

  // Copies of the requests read so far, in arrival order. Thread-safe.
  std::vector<LoopbackRequest> requests() const;
  // Connections accepted so far (a refused address never gets this far). Thread-safe.
  int connections() const;

 private:
  void Serve();
  void HandleConnection(int fd);

  const Handler handler_;
  const bool ipv6_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;                  // guarded by mu_
  int connections_ = 0;                    // guarded by mu_
  std::vector<LoopbackRequest> requests_;  // guarded by mu_
  std::vector<std::thread> workers_;       // guarded by mu_
  std::thread acceptor_;
};

}  // namespace cl::testing
