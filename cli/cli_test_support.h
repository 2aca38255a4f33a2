// Shared by the CLI unit tests: a temporary directory, credential and error-body makers,
// CommandTest, the fixture that runs a command against a fake control plane with its own config,
// and CliRunTest, which runs whole command lines the same way.
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
#include <vector>

#include "cli/app.h"
#include "cli/config.h"
#include "cli/context.h"
#include "cli/control_plane_url.h"
#include "cli/fake_http_server.h"
#include "cli/validation.h"
#include "common/clock.h"
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

// Runs whole command lines (RunCli) against a fake control plane, with a fixed clock.
class CliRunTest : public ::testing::Test {
 protected:
  CliRunTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_token_test-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~CliRunTest() override { std::filesystem::remove_all(dir_); }

  // Runs `chainloop ARGS --control-plane <fake> --config <tmp>`; returns the exit status.
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    if (server_) {
      args.push_back("--control-plane");
      args.push_back(server_->url());
    }
    args.push_back("--config");
    args.push_back(config_path());
    RunCliHooks hooks;
    hooks.clock = std::make_unique<FakeClock>(now_);
    return RunCli(args, env_, out_, err_, std::move(hooks));
  }

  void Serve(FakeHttpServer::Handler h) {
    server_ = std::make_unique<FakeHttpServer>(std::move(h));
  }
  std::string config_path() const { return dir_ + "/chainloop/config.toml"; }
  // Stores `token` as the session of the fake control plane.
  void StoreSession(const std::string& token, const std::string& org = "acme") {
    std::string url = server_ ? server_->url() : kDefaultControlPlane;
    CliConfig cfg{"", org, {}};
    if (!token.empty()) {
      cfg.sessions.push_back({*NormalizeControlPlaneUrl(url), token, "2030-01-01T00:00:00Z"});
    }
    ASSERT_TRUE(SaveConfig(config_path(), cfg).has_value());
  }
  std::vector<FakeRequest> requests() const { return server_->requests(); }

  std::string dir_;
  CliEnvironment env_;
  UnixMillis now_ = ParseRfc3339("2026-03-01T00:00:00Z").value();
  std::unique_ptr<FakeHttpServer> server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

}  // namespace cl::cli::testing
