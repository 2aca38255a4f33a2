// The outbound HTTP client against a loopback receiver: the address guard (refused by default,
// allowed by block, names and IPv6 forms checked at connect time, proxies ignored) and the
// response size cap with and without truncation.
#include "common/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "common/testing/loopback_http_server.h"

namespace cl {
namespace {

using testing::LoopbackHttpServer;
using testing::LoopbackRequest;
using testing::LoopbackResponse;

LoopbackHttpServer::Handler Hello() {
  return [](const LoopbackRequest&) { return LoopbackResponse{200, "hello"}; };
}

AddressPolicy Allowing(std::initializer_list<std::string> blocks) {
  auto policy = AddressPolicy::Parse(blocks);
  EXPECT_TRUE(policy);
  return policy ? *policy : AddressPolicy();
}

Result<HttpClientResponse> Get(const std::string& url, const AddressPolicy* policy) {
  HttpClientRequest req;
  req.url = url;
  req.timeout_ms = 5000;
  req.address_policy = policy;
  return HttpFetch(req);
}

void ExpectRefused(const Result<HttpClientResponse>& got, const std::string& address) {
  ASSERT_FALSE(got) << "status " << got->status;
  EXPECT_TRUE(got.error().Is(Reason::kAddressNotAllowed)) << got.error().ToString();
  EXPECT_EQ(got.error().message(), "address not allowed: " + address);
}

bool CanListenOnIpv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(HttpClientAddressGuardTest, LoopbackIsRefusedByDefaultBeforeAnyConnection) {
  LoopbackHttpServer server(Hello());
  AddressPolicy policy;
  ExpectRefused(Get(server.url() + "/hook", &policy), "127.0.0.1");
  EXPECT_EQ(server.connections(), 0);
  // Without a policy the same call goes through: the refusal is the guard's.
  auto open = Get(server.url() + "/hook", nullptr);
  ASSERT_TRUE(open) << open.error().ToString();
  EXPECT_EQ(open->status, 200);
}

TEST(HttpClientAddressGuardTest, AnAllowedBlockLetsTheCallThrough) {
  LoopbackHttpServer server(Hello());
  AddressPolicy policy = Allowing({"127.0.0.1/32"});
  auto got = Get(server.url() + "/hook", &policy);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "hello");
  EXPECT_EQ(server.connections(), 1);

  AddressPolicy other = Allowing({"127.0.0.2/32", "10.0.0.0/8"});
  ExpectRefused(Get(server.url() + "/hook", &other), "127.0.0.1");
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClientAddressGuardTest, AHostNameIsJudgedByTheAddressItResolvesTo) {
  LoopbackHttpServer server(Hello());
  AddressPolicy policy;
  auto got = Get("http://localhost:" + std::to_string(server.port()) + "/hook", &policy);
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().Is(Reason::kAddressNotAllowed)) << got.error().ToString();
  const std::string& m = got.error().message();
  EXPECT_TRUE(m == "address not allowed: 127.0.0.1" || m == "address not allowed: ::1") << m;
  EXPECT_EQ(server.connections(), 0);
}

TEST(HttpClientAddressGuardTest, Ipv6LoopbackAndIpv4MappedLoopbackAreRefused) {
  AddressPolicy policy = Allowing({"127.0.0.2/32"});
  LoopbackHttpServer v4(Hello());
  ExpectRefused(Get("http://[::ffff:127.0.0.1]:" + std::to_string(v4.port()) + "/", &policy),
                "::ffff:127.0.0.1");
  EXPECT_EQ(v4.connections(), 0);
  if (!CanListenOnIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  LoopbackHttpServer v6(Hello(), /*ipv6=*/true);
  ExpectRefused(Get(v6.url() + "/", &policy), "::1");
  EXPECT_EQ(v6.connections(), 0);
  AddressPolicy v6_allowed = Allowing({"::1/128"});
  auto got = Get(v6.url() + "/", &v6_allowed);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->status, 200);
}

TEST(HttpClientAddressGuardTest, ProxiesFromTheEnvironmentAreIgnored) {
  LoopbackHttpServer server(Hello());
  LoopbackHttpServer proxy([](const LoopbackRequest&) { return LoopbackResponse{502, "proxy"}; });
  ScopedEnv http_proxy("http_proxy", proxy.url().c_str());
  ScopedEnv all_proxy("ALL_PROXY", nullptr);
  ScopedEnv no_proxy_lower("no_proxy", nullptr);
  ScopedEnv no_proxy_upper("NO_PROXY", nullptr);
  // Without a policy the proxy is used (the check below is not vacuous)...
  auto proxied = Get(server.url() + "/", nullptr);
  ASSERT_TRUE(proxied) << proxied.error().ToString();
  EXPECT_EQ(proxied->status, 502);
  // ...with one, the call goes straight to the receiver.
  AddressPolicy policy = Allowing({"127.0.0.1/32"});
  auto direct = Get(server.url() + "/", &policy);
  ASSERT_TRUE(direct) << direct.error().ToString();
  EXPECT_EQ(direct->status, 200);
  EXPECT_EQ(proxy.connections(), 1);
}

TEST(HttpClientTest, ALargeResponseFailsOrIsCutAtTheCap) {
  const std::string big(1 << 20, 'x');
  LoopbackHttpServer server([&](const LoopbackRequest&) { return LoopbackResponse{201, big}; });
  HttpClientRequest req;
  req.url = server.url() + "/";
  req.max_response_bytes = 64 * 1024;
  auto refused = HttpFetch(req);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Error::Code::kPayloadTooLarge);

  req.truncate_response = true;
  auto cut = HttpFetch(req);
  ASSERT_TRUE(cut) << cut.error().ToString();
  EXPECT_EQ(cut->status, 201);
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->body, big.substr(0, 64 * 1024));

  req.max_response_bytes = 2 << 20;
  auto whole = HttpFetch(req);
  ASSERT_TRUE(whole) << whole.error().ToString();
  EXPECT_FALSE(whole->truncated);
  EXPECT_EQ(whole->body.size(), big.size());
}

}  // namespace
}  // namespace cl
