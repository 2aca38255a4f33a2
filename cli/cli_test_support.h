// Shared by the CLI unit tests: a temporary directory, credential and error-body makers, and
// CommandTest, the fixture that runs a command against a fake control plane with its own config.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "cli/config.h"
#include "cli/context.h"
#include "cli/control_plane_url.h"
#include "cli/fake_http_server.h"
#include "common/random.h"
#include "crypto/credential.h"

namespace cl::cli::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

inline std::string NewToken(crypto::CredentialKind kind) {
  SystemRandom random;
  return crypto::GenerateCredential(kind, random);
}

inline std::string ErrorBody(const std::string& code, const std::string& message) {
  return R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
}

class CommandTest : public ::testing::Test {
 protected:
  // Runs `fn` with a context on the fake server; returns the exit status main() would use.
  int Run(const std::function<Status(CliContext&)>& fn) {
    out_.str("");
    err_.str("");
    GlobalOptions opts = options_;
    if (opts.control_plane.empty() && server_) opts.control_plane = server_->url();
    opts.config_path = config_path();
    CliContext ctx(opts, env_, out_, err_);
    if (auto st = ctx.Init(); !st) return ctx.ReportError(st.error());
    if (auto st = fn(ctx); !st) return ctx.ReportError(st.error());
    return 0;
  }

  void Serve(FakeHttpServer::Handler h) {
    server_ = std::make_unique<FakeHttpServer>(std::move(h));
  }
  std::string config_path() const { return dir_.path() + "/chainloop/config.toml"; }
  // Stores `token` as the session of the control plane the test talks to.
  void StoreSession(const std::string& token, const std::string& org = "acme") {
    std::string url = !options_.control_plane.empty() ? options_.control_plane
                      : server_                       ? server_->url()
                                                      : kDefaultControlPlane;
    CliConfig cfg{"", org, {}};
    if (!token.empty()) cfg.sessions.push_back({*NormalizeControlPlaneUrl(url), token, kExpiry});
    ASSERT_TRUE(SaveConfig(config_path(), cfg).has_value());
  }
  static constexpr char kExpiry[] = "2030-01-01T00:00:00Z";

  TempDir dir_;
  GlobalOptions options_;
  CliEnvironment env_;
  std::unique_ptr<FakeHttpServer> server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

}  // namespace cl::cli::testing
