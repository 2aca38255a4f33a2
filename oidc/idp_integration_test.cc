// Integration test against the real development IdP (devenv/idp.mjs, npm oidc-provider):
// discovery, the authorization URL, a full code + PKCE login driven by devenv/driver.mjs with a
// real ID token verified by crypto::VerifyJwt, and the device flow. Skipped when
// devenv/node_modules is missing (run `npm ci` in devenv/).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "crypto/hash.h"
#include "oidc/upstream.h"

extern char** environ;

namespace cl::oidc {
namespace {

const std::string kDevenv = std::string(CL_SOURCE_DIR) + "/devenv";

// A child process with its stdout on a pipe; SIGTERM and reaped on destruction.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      Wait();
    }
    if (out_ >= 0) close(out_);
  }

  // Reads stdout up to the first newline (or EOF / timeout).
  std::string ReadLine(int timeout_ms) {
    std::string line;
    char c;
    while (true) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) break;
      if (read(out_, &c, 1) != 1 || c == '\n') break;
      line.push_back(c);
    }
    return line;
  }
  std::string ReadAll(int timeout_ms) {
    std::string all;
    char buf[4096];
    while (true) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) break;
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) break;
      all.append(buf, n);
    }
    return all;
  }
  int Wait() {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, 0) == pid_) pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// Answers every HTTP request on 127.0.0.1:<port> with 200 "ok": the redirect URI target.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 8) != 0) {
      ADD_FAILURE() << "loopback listener: " << std::strerror(errno);
    }
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackListener() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[2048];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd cp{c, POLLIN, 0};
        if (poll(&cp, 1, 2000) <= 0) break;
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, n);
      }
      const char kResp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)!write(c, kResp, sizeof kResp - 1);
      close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string QueryParam(const std::string& url, const std::string& name) {
  auto q = url.find('?');
  if (q == std::string::npos) return {};
  std::string query = url.substr(q + 1);
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (part.rfind(name + "=", 0) == 0) {
      std::string v = part.substr(name.size() + 1), out;
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
          out.push_back(static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16)));
          i += 2;
        } else {
          out.push_back(v[i] == '+' ? ' ' : v[i]);
        }
      }
      return out;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return {};
}

class DevIdpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kDevenv + "/node_modules/oidc-provider")) {
      GTEST_SKIP() << "devenv/node_modules is missing: run `npm ci` in " << kDevenv
                   << " to enable the development IdP integration test";
    }
    redirect_uri_ = "http://127.0.0.1:" + std::to_string(listener_.port()) + "/auth/callback";
    idp_ = std::make_unique<Child>(std::vector<std::string>{
        "node", kDevenv + "/idp.mjs", "--port", "0", "--redirect-uri", redirect_uri_, "--client-id",
        "it-client", "--client-secret", "it-secret"});
    if (!idp_->started()) GTEST_SKIP() << "cannot run `node`: the development IdP needs Node 20+";
    std::string line = idp_->ReadLine(20'000);
    // {"issuer":"http://127.0.0.1:PORT","port":PORT}
    auto start = line.find("\"issuer\":\"");
    ASSERT_NE(start, std::string::npos) << "idp.mjs did not announce itself: " << line;
    start += 10;
    issuer_ = line.substr(start, line.find('"', start) - start);
    ASSERT_EQ(issuer_.rfind("http://127.0.0.1:", 0), 0u) << issuer_;
  }

  UpstreamConfig Config() const {
    UpstreamConfig c;
    c.issuer = issuer_;
    c.client_id = "it-client";
    c.client_secret = "it-secret";
    c.redirect_uri = redirect_uri_;
    return c;
  }

  // Runs `node devenv/driver.mjs <command> <url> <login>`; returns {exit code, stdout}.
  std::pair<int, std::string> Driver(const std::string& command, const std::string& url,
                                     const std::string& login) {
    Child driver({"node", kDevenv + "/driver.mjs", command, url, login});
    std::string out = driver.ReadAll(30'000);
    int rc = driver.Wait();
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return {rc, out};
  }

  LoopbackListener listener_;
  std::unique_ptr<Child> idp_;
  std::string issuer_, redirect_uri_;
  SystemClock clock_;
};

TEST_F(DevIdpTest, DiscoveryAndAuthorizationUrl) {
  FetchOptions opts;
  auto md = FetchDiscovery(issuer_, opts);
  ASSERT_TRUE(md) << md.error().ToString();
  EXPECT_EQ(md->issuer, issuer_);
  EXPECT_EQ(md->token_endpoint, issuer_ + "/token");
  EXPECT_FALSE(md->device_authorization_endpoint.empty());

  UpstreamIdp idp(Config(), clock_);
  ASSERT_TRUE(idp.Init());
  auto url = idp.AuthorizationUrl("state-1", "nonce-1", crypto::PkceS256Challenge("v"));
  ASSERT_TRUE(url) << url.error().ToString();
  EXPECT_EQ(url->rfind(md->authorization_endpoint + "?", 0), 0u);
}

TEST_F(DevIdpTest, CodeFlowWithPkceEndToEnd) {
  UpstreamIdp idp(Config(), clock_);
  const std::string verifier = "integration-test-verifier-0123456789-abcdefghij";
  auto url = idp.AuthorizationUrl("state-42", "nonce-42", crypto::PkceS256Challenge(verifier));
  ASSERT_TRUE(url) << url.error().ToString();
  auto [rc, final_url] = Driver("browser-login", *url, "alice.smith");
  ASSERT_EQ(rc, 0) << final_url;
  ASSERT_EQ(final_url.rfind(redirect_uri_ + "?", 0), 0u) << final_url;
  EXPECT_EQ(QueryParam(final_url, "state"), "state-42");
  EXPECT_EQ(QueryParam(final_url, "iss"), issuer_);
  std::string code = QueryParam(final_url, "code");
  ASSERT_FALSE(code.empty());

  // Wrong nonce first would spend the code; check the verifier is enforced by the IdP instead.
  auto bad = idp.ExchangeCode(code, "not-the-verifier-0123456789-abcdefghijklmnop", "nonce-42");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason(), "invalid_grant");

  auto again = Driver("browser-login", *url, "alice.smith");
  ASSERT_EQ(again.first, 0) << again.second;
  code = QueryParam(again.second, "code");
  auto claims = idp.ExchangeCode(code, verifier, "nonce-42");
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->issuer, issuer_);
  EXPECT_EQ(claims->subject, "alice.smith");
  EXPECT_EQ(claims->email, "alice.smith@example.com");
  EXPECT_TRUE(claims->email_verified);
  EXPECT_EQ(claims->name, "Alice Smith");

  // Codes are single use.
  auto reused = idp.ExchangeCode(code, verifier, "nonce-42");
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().reason(), "invalid_grant");
}

TEST_F(DevIdpTest, DeviceFlowEndToEnd) {
  UpstreamIdp idp(Config(), clock_);
  auto start = idp.StartDeviceAuthorization();
  ASSERT_TRUE(start) << start.error().ToString();
  auto pending = idp.PollDeviceToken(start->device_code);
  ASSERT_TRUE(pending) << pending.error().ToString();
  EXPECT_EQ(pending->state, DevicePoll::State::kPending);

  auto [rc, out] = Driver("approve-device", start->verification_uri_complete, "unverified-bob");
  ASSERT_EQ(rc, 0) << out;
  auto done = idp.PollDeviceToken(start->device_code);
  ASSERT_TRUE(done) << done.error().ToString();
  // The IdP may ask us to slow down since we polled twice in quick succession.
  if (done->state == DevicePoll::State::kSlowDown) {
    std::this_thread::sleep_for(std::chrono::seconds(start->interval + 1));
    done = idp.PollDeviceToken(start->device_code);
    ASSERT_TRUE(done) << done.error().ToString();
  }
  ASSERT_EQ(done->state, DevicePoll::State::kSuccess);
  ASSERT_TRUE(done->claims);
  EXPECT_EQ(done->claims->subject, "unverified-bob");
  EXPECT_EQ(done->claims->email, "unverified-bob@example.com");
  EXPECT_FALSE(done->claims->email_verified);
}

TEST_F(DevIdpTest, IdpGoneIsIdpUnavailable) {
  idp_.reset();  // SIGTERM: the port is closed now
  UpstreamIdp idp(Config(), clock_);
  auto s = idp.Init();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().reason(), "idp_unavailable");
}

}  // namespace
}  // namespace cl::oidc
