// LoopbackHttpServer: poll() on the listener and a wake-up pipe; a thread per connection reads
// one request, asks the handler, waits out its delay and writes the answer.
#include "common/testing/loopback_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

#include "common/http_status.h"

namespace cl::testing {
namespace {

bool RecvSome(int fd, std::string& buf) {
  char tmp[8192];
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) <= 0) return false;
  ssize_t n = recv(fd, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the client went away (e.g. it stopped reading at its size cap)
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::string LoopbackRequest::Header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

LoopbackHttpServer::LoopbackHttpServer(Handler handler, bool ipv6)
    : handler_(std::move(handler)), ipv6_(ipv6) {
  listen_fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = listen_fd_ >= 0;
  if (ok && ipv6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof addr;
    ok = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
         getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin6_port);
  } else if (ok) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ok = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
         getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
  }
  if (!ok || listen(listen_fd_, 64) != 0 || pipe(wake_pipe_) != 0) std::abort();
  acceptor_ = std::thread([this] { Serve(); });
}

LoopbackHttpServer::~LoopbackHttpServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  char c = 'x';
  (void)!write(wake_pipe_[1], &c, 1);
  acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
  close(listen_fd_);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

std::string LoopbackHttpServer::url() const {
  return (ipv6_ ? "http://[::1]:" : "http://127.0.0.1:") + std::to_string(port_);
}

std::vector<LoopbackRequest> LoopbackHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int LoopbackHttpServer::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

void LoopbackHttpServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    ++connections_;
    workers_.emplace_back([this, fd] {
      HandleConnection(fd);
      close(fd);
    });
  }
}

void LoopbackHttpServer::HandleConnection(int fd) {
  std::string buf;
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!RecvSome(fd, buf)) return;
  }
  LoopbackRequest req;
  const std::string head = buf.substr(0, head_end);
  const size_t line_end = std::min(head.find("\r\n"), head.size());
  const std::string request_line = head.substr(0, line_end);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.find(' ', sp1 + 1);
  req.method = request_line.substr(0, sp1);
  req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end + 2;
  size_t content_length = 0;
  while (pos < head.size()) {
    size_t eol = std::min(head.find("\r\n", pos), head.size());
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "content-length") content_length = std::strtoul(value.c_str(), nullptr, 10);
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  req.body = buf.substr(head_end + 4);
  while (req.body.size() < content_length) {
    if (!RecvSome(fd, req.body)) return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(req);
  }
  LoopbackResponse resp = handler_(req);
  if (resp.delay.count() > 0) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_cv_.wait_for(lock, resp.delay, [this] { return stopping_; })) return;
  }
  SendAll(fd, "HTTP/1.1 " + std::to_string(resp.status) + " " +
                  std::string(HttpReasonPhrase(resp.status)) +
                  "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                  std::to_string(resp.body.size()) + "\r\n\r\n");
  SendAll(fd, resp.body);
}

}  // namespace cl::testing
