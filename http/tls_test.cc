// HTTPS: the server serves TLS 1.2+ with a certificate from a throwaway CA generated here, a client
// that trusts that CA gets answers, plain HTTP and old protocol versions are refused, and bad key
// files fail Start() without echoing their contents.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/http_client.h"
#include "common/log.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/server.h"

namespace cl::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null).
Cert MakeCert(EVP_PKEY* key, EVP_PKEY* issuer_key, X509* issuer, const char* cn, bool ca,
              long serial) {
  Cert x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer ? issuer : x.get();
  X509_set_issuer_name(x.get(), X509_get_subject_name(signer));
  if (ca) {
    AddExt(x.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExt(x.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    AddExt(x.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(x.get(), signer, NID_key_usage, "critical,digitalSignature");
    AddExt(x.get(), signer, NID_ext_key_usage, "serverAuth");
    AddExt(x.get(), signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    AddExt(x.get(), signer, NID_authority_key_identifier, "keyid");
  }
  X509_sign(x.get(), issuer_key, EVP_sha256());
  return x;
}

void WriteCert(const fs::path& p, X509* cert) {
  FILE* f = std::fopen(p.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, cert);
  std::fclose(f);
}

void WriteKey(const fs::path& p, EVP_PKEY* key) {
  FILE* f = std::fopen(p.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest(&log_);
    dir_ = fs::temp_directory_path() / ("cl-tls-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(dir_);
    Key ca_key(EVP_EC_gen("P-256"));
    Key leaf_key(EVP_EC_gen("P-256"));
    ASSERT_TRUE(ca_key && leaf_key);
    Cert ca = MakeCert(ca_key.get(), ca_key.get(), nullptr, "test CA", /*ca=*/true, 1);
    Cert leaf = MakeCert(leaf_key.get(), ca_key.get(), ca.get(), "127.0.0.1", /*ca=*/false, 2);
    WriteCert(dir_ / "ca.pem", ca.get());
    WriteCert(dir_ / "server.pem", leaf.get());
    WriteKey(dir_ / "server.key", leaf_key.get());
    // An unrelated CA, to show that trust is really checked.
    Key other_key(EVP_EC_gen("P-256"));
    Cert other = MakeCert(other_key.get(), other_key.get(), nullptr, "other CA", true, 3);
    WriteCert(dir_ / "other-ca.pem", other.get());

    router_.Add(
        "GET", "/scheme",
        [](Request& req) { return Response::Text(200, req.secure ? "https" : "http"); },
        /*blocking=*/false);
  }
  void TearDown() override {
    server_.reset();
    SetLogSinkForTest(nullptr);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ServerOptions TlsOptions() {
    ServerOptions o;
    o.io_threads = 1;
    o.worker_threads = 1;
    o.read_timeout = 2s;
    o.tls_cert_file = (dir_ / "server.pem").string();
    o.tls_key_file = (dir_ / "server.key").string();
    return o;
  }

  void Start(const ServerOptions& o) {
    server_ = std::make_unique<Server>(o, router_, &metrics_);
    auto st = server_->Start();
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
  }

  std::string Url(std::string_view path) {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }

  // Connects a raw socket to the server.
  int Connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  // Performs a TLS handshake limited to versions [min, max]; true if it succeeds.
  bool HandshakeWith(int min_version, int max_version) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx, 0);  // let the client offer old versions at all
    SSL_CTX_set_min_proto_version(ctx, min_version);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL* ssl = SSL_new(ctx);
    int fd = Connect();
    SSL_set_fd(ssl, fd);
    bool ok = SSL_connect(ssl) == 1;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
    return ok;
  }

  fs::path dir_;
  std::string log_;
  Router router_;
  Metrics metrics_;
  std::unique_ptr<Server> server_;
};

TEST_F(TlsServerTest, ClientTrustingTheCaIsServedOverHttps) {
  Start(TlsOptions());
  HttpClientRequest req;
  req.url = Url("/scheme");
  req.ca_file = (dir_ / "ca.pem").string();
  auto res = HttpFetch(req);
  ASSERT_TRUE(res.has_value()) << res.error().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "https");  // handlers see Request::secure
}

TEST_F(TlsServerTest, ClientNotTrustingTheCaIsRefused) {
  Start(TlsOptions());
  HttpClientRequest req;
  req.url = Url("/scheme");
  req.ca_file = (dir_ / "other-ca.pem").string();
  auto res = HttpFetch(req);
  EXPECT_FALSE(res.has_value());
}

TEST_F(TlsServerTest, PlainHttpOnTheTlsPortGetsNoHttpAnswer) {
  Start(TlsOptions());
  int fd = Connect();
  ASSERT_GE(fd, 0);
  std::string get = "GET /scheme HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);  // the server answers (TLS alert) or closes, quickly
  char buf[512];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  std::string got = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos);
  ::close(fd);
  // The server is still up for proper clients.
  HttpClientRequest req;
  req.url = Url("/scheme");
  req.ca_file = (dir_ / "ca.pem").string();
  auto res = HttpFetch(req);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
}

TEST_F(TlsServerTest, OnlyTls12AndNewerAreAccepted) {
  Start(TlsOptions());
  EXPECT_FALSE(HandshakeWith(TLS1_VERSION, TLS1_VERSION));
  EXPECT_FALSE(HandshakeWith(TLS1_1_VERSION, TLS1_1_VERSION));
  EXPECT_TRUE(HandshakeWith(TLS1_2_VERSION, TLS1_2_VERSION));
  EXPECT_TRUE(HandshakeWith(TLS1_3_VERSION, TLS1_3_VERSION));
}

TEST_F(TlsServerTest, BadKeyFileFailsStartWithoutEchoingIt) {
  { std::ofstream(dir_ / "bad.key") << "-----BEGIN PRIVATE KEY-----\nNOT-A-REAL-KEY-SECRET\n"; }
  ServerOptions o = TlsOptions();
  o.tls_key_file = (dir_ / "bad.key").string();
  Server server(o, router_, &metrics_);
  auto st = server.Start();
  ASSERT_FALSE(st.has_value());
  EXPECT_TRUE(st.error().IsInvalidArgument());
  EXPECT_EQ(st.error().ToString().find("NOT-A-REAL-KEY-SECRET"), std::string::npos);
  EXPECT_NE(st.error().ToString().find("bad.key"), std::string::npos);

  ServerOptions only_cert = TlsOptions();
  only_cert.tls_key_file.clear();
  Server half(only_cert, router_, &metrics_);
  EXPECT_FALSE(half.Start().has_value());
}

TEST_F(TlsServerTest, KeyThatDoesNotMatchTheCertificateIsRefused) {
  Key stray(EVP_EC_gen("P-256"));
  WriteKey(dir_ / "stray.key", stray.get());
  ServerOptions o = TlsOptions();
  o.tls_key_file = (dir_ / "stray.key").string();
  Server server(o, router_, &metrics_);
  auto st = server.Start();
  ASSERT_FALSE(st.has_value());
  EXPECT_TRUE(st.error().IsInvalidArgument());
}

}  // namespace
}  // namespace cl::http
