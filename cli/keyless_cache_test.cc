// Tests of the per-job cache of exchanged keyless tokens (ExchangedTokenCache): one exchange
// for every command of a CI job, re-exchange after expiry, files and directories that another
// account could read or plant ignored; and the note when $GITLAB_OIDC is set outside GitLab CI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/app.h"
#include "cli/context.h"
#include "cli/fake_http_server.h"
#include "cli/keyless.h"
#include "common/random.h"
#include "crypto/credential.h"
#include "crypto/hash.h"

namespace cl::cli {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kExchangePath[] = "/v1/auth/federated/exchange";
constexpr char kRunId[] = "11111111-2222-4333-8444-555555555555";

std::string NewFederatedToken() {
  SystemRandom random;
  return crypto::GenerateCredential(crypto::CredentialKind::kFederated, random);
}

// A GitLab-shaped ID token (unsigned: the CLI never verifies, the server does).
std::string MakeJwt(const std::string& jti = "j-1") {
  std::string header = R"({"alg":"RS256","kid":"k1","typ":"JWT"})";
  std::string payload = R"({"iss":"https://gitlab.com","sub":"project_path:acme/web:ref_type:)"
                        R"(branch:ref:main","aud":"http://127.0.0.1","jti":")" +
                        jti + R"("})";
  return crypto::Base64UrlEncode(header) + "." + crypto::Base64UrlEncode(payload) + "." +
         crypto::Base64UrlEncode(std::string(256, '\x5a'));
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class KeylessCacheTest : public ::testing::Test {
 protected:
  KeylessCacheTest() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "cli_keyless_cache-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    tmp_ = dir_ + "/tmp";
    std::filesystem::create_directories(tmp_);
    env_.tmpdir = tmp_;
    env_.chainloop_oidc_token = jwt_;
    server_ = std::make_unique<FakeHttpServer>([this](const FakeRequest& r) {
      if (r.path == kExchangePath) {
        std::string token = fed_tokens_[std::min(exchanges_++, fed_tokens_.size() - 1)];
        return FakeResponse{200, R"({"access_token":")" + token +
                                     R"(","issued_token_type":"urn:ietf:params:oauth:token-type:)"
                                     R"(access_token","token_type":"Bearer","expires_in":)" +
                                     std::to_string(expires_in_) + "}"};
      }
      if (r.path.find("/workflow-runs") != std::string::npos) {
        return FakeResponse{200,
                            std::string(R"({"workflow_run":{"id":")") + kRunId +
                                R"(","workflow":"build","project":"app","state":"initialized",)"
                                R"("created_at":"2026-11-27T00:00:00Z",)"
                                R"("attested_by":{"kind":"federated","id":"p","name":"ci"},)"
                                R"("statement_digest":"","predicate_type":""}})"};
      }
      return FakeResponse{200, R"({"projects":[]})"};
    });
  }
  ~KeylessCacheTest() override { std::filesystem::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    for (const char* a : {"--org", "acme", "--control-plane"}) args.push_back(a);
    args.push_back(server_->url());
    args.push_back("--config");
    args.push_back(dir_ + "/chainloop/config.toml");
    return RunCli(args, env_, out_, err_);
  }
  int CountPath(const std::string& path) const {
    int n = 0;
    for (const auto& r : server_->requests()) n += r.path == path ? 1 : 0;
    return n;
  }
  std::string CacheDir() const { return tmp_ + "/chainloop-keyless-" + std::to_string(geteuid()); }
  std::vector<std::string> CacheFiles() const {
    std::vector<std::string> files;
    if (!std::filesystem::exists(CacheDir())) return files;
    for (const auto& e : std::filesystem::directory_iterator(CacheDir())) {
      files.push_back(e.path().string());
    }
    return files;
  }
  std::string StatementFile() {
    std::string path = dir_ + "/statement.json";
    std::ofstream(path) << R"({"_type":"https://in-toto.io/Statement/v1",)"
                           R"("subject":[{"name":"a","digest":{"sha256":"ab"}}],)"
                           R"("predicateType":"x","predicate":{}})";
    return path;
  }
  // Every request but the exchanges carries `token`.
  void ExpectOnlyBearer(const std::string& token) {
    for (const auto& r : server_->requests()) {
      if (r.path == kExchangePath) continue;
      EXPECT_EQ(r.Header("authorization"), "Bearer " + token) << r.path;
    }
  }

  std::string dir_, tmp_;
  std::string jwt_ = MakeJwt();
  CliEnvironment env_;
  std::vector<std::string> fed_tokens_ = {NewFederatedToken(), NewFederatedToken()};
  size_t exchanges_ = 0;
  int64_t expires_in_ = 900;
  std::unique_ptr<FakeHttpServer> server_;
  std::ostringstream out_, err_;
};

// The GitLab job that used to fail with replayed_token: init, other commands, push, all with one
// ID token. One exchange; every call afterwards carries the exchanged token.
TEST_F(KeylessCacheTest, EveryCommandOfAJobUsesOneExchange) {
  ASSERT_EQ(Run({"attestation", "init", "--workflow", "build", "--project", "app"}), 0)
      << err_.str();
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  ASSERT_EQ(Run({"attestation", "push", "--statement", StatementFile()}), 0) << err_.str();
  EXPECT_EQ(CountPath(kExchangePath), 1);
  EXPECT_EQ(server_->requests().size(), 5u);
  ExpectOnlyBearer(fed_tokens_[0]);

  // One file, 0600, in a 0700 directory; it names nothing and holds no ID token.
  ASSERT_EQ(CacheFiles().size(), 1u);
  EXPECT_EQ(ModeOf(CacheDir()), 0700u);
  EXPECT_EQ(ModeOf(CacheFiles()[0]), 0600u);
  std::stringstream text;
  text << std::ifstream(CacheFiles()[0]).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr(fed_tokens_[0]));
  EXPECT_THAT(text.str(), Not(HasSubstr(jwt_)));
  EXPECT_THAT(CacheFiles()[0], Not(HasSubstr("acme")));
  // Never in the user's config.
  std::stringstream config;
  config << std::ifstream(dir_ + "/chainloop/config.toml").rdbuf();
  EXPECT_THAT(config.str(), Not(HasSubstr(fed_tokens_[0])));
}

// Another ID token (GitHub mints one per command; another job; another organization) is another
// entry.
TEST_F(KeylessCacheTest, TheEntryIsPerIdTokenAndOrganization) {
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  env_.chainloop_oidc_token = MakeJwt("j-2");
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  EXPECT_EQ(CountPath(kExchangePath), 2);
  EXPECT_EQ(CacheFiles().size(), 2u);
  EXPECT_EQ(server_->requests().back().Header("authorization"), "Bearer " + fed_tokens_[1]);
}

// An exchanged token within a minute of its expiry is not used: the command exchanges again.
TEST_F(KeylessCacheTest, AnExpiringCachedTokenIsExchangedAgain) {
  expires_in_ = 59;
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  EXPECT_EQ(CountPath(kExchangePath), 2);
  EXPECT_EQ(server_->requests().back().Header("authorization"), "Bearer " + fed_tokens_[1]);

  // The boundary, with an explicit clock.
  ExchangedTokenCache cache(tmp_, geteuid());
  const UnixMillis expires_at = 1'800'000'000'000;
  ASSERT_TRUE(cache.Store("k", "acme", jwt_, fed_tokens_[0], expires_at));
  EXPECT_EQ(cache.Load("k", "acme", jwt_, expires_at - ExchangedTokenCache::kExpiryMargin - 1),
            fed_tokens_[0]);
  std::string why;
  EXPECT_FALSE(
      cache.Load("k", "acme", jwt_, expires_at - ExchangedTokenCache::kExpiryMargin, &why));
  EXPECT_EQ(why, "the cached token expired");
  EXPECT_FALSE(cache.Load("k", "other", jwt_, 0));
  EXPECT_FALSE(cache.Load("k", "acme", MakeJwt("j-9"), 0));
}

// A token planted by someone else, or left readable by others, is never used.
TEST_F(KeylessCacheTest, ACacheFileOpenToOthersOrOfAnotherOwnerIsIgnored) {
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  ASSERT_EQ(CacheFiles().size(), 1u);
  const std::string file = CacheFiles()[0];
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  ASSERT_EQ(Run({"project", "list", "--debug"}), 0) << err_.str();
  EXPECT_EQ(CountPath(kExchangePath), 2);
  EXPECT_THAT(err_.str(), HasSubstr("open to others"));
  EXPECT_EQ(server_->requests().back().Header("authorization"), "Bearer " + fed_tokens_[1]);
  // Replaced by a private file.
  EXPECT_EQ(ModeOf(file), 0600u);

  ExchangedTokenCache cache(tmp_, geteuid());
  ASSERT_TRUE(cache.Store("k", "acme", jwt_, fed_tokens_[0], 1'800'000'000'000));
  ASSERT_TRUE(cache.Load("k", "acme", jwt_, 0));
  if (geteuid() != 0) GTEST_SKIP() << "changing a file's owner needs root";
  for (const auto& f : CacheFiles()) ASSERT_EQ(chown(f.c_str(), 4242, 4242), 0);
  std::string why;
  EXPECT_FALSE(cache.Load("k", "acme", jwt_, 0, &why));
  EXPECT_THAT(why, HasSubstr("belongs to another user"));
  const size_t before = server_->requests().size();
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  EXPECT_EQ(server_->requests()[before].path, kExchangePath);
}

// A directory open to others (or a symlink to one) is neither read nor written; attestation
// init and push then send the ID token itself, as without a cache.
TEST_F(KeylessCacheTest, ADirectoryOpenToOthersOrASymlinkIsNotUsed) {
  std::filesystem::create_directories(CacheDir());
  ASSERT_EQ(chmod(CacheDir().c_str(), 0755), 0);
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  ASSERT_EQ(Run({"attestation", "init", "--workflow", "build", "--project", "app"}), 0)
      << err_.str();
  EXPECT_EQ(CountPath(kExchangePath), 1);
  EXPECT_TRUE(CacheFiles().empty());
  EXPECT_EQ(server_->requests().back().Header("authorization"), "Bearer " + jwt_);

  std::filesystem::remove_all(CacheDir());
  std::string elsewhere = dir_ + "/elsewhere";
  std::filesystem::create_directories(elsewhere);
  ASSERT_EQ(chmod(elsewhere.c_str(), 0700), 0);
  std::filesystem::create_directory_symlink(elsewhere, CacheDir());
  ExchangedTokenCache cache(tmp_, geteuid());
  EXPECT_FALSE(cache.Usable());
  EXPECT_FALSE(cache.Store("k", "acme", jwt_, fed_tokens_[0], 1'800'000'000'000));
  EXPECT_TRUE(std::filesystem::is_empty(elsewhere));
}

TEST_F(KeylessCacheTest, GitLabOidcOutsideGitLabCiIsIgnoredWithANote) {
  env_.chainloop_oidc_token.clear();
  env_.gitlab_oidc = jwt_;
  EXPECT_EQ(Run({"project", "list"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("ignoring $GITLAB_OIDC"));
  EXPECT_THAT(err_.str(), HasSubstr("$GITLAB_CI and $CI_JOB_URL are not set"));
  EXPECT_THAT(err_.str(), HasSubstr("$CHAINLOOP_OIDC_TOKEN"));
  EXPECT_THAT(err_.str(), Not(HasSubstr(jwt_)));
  EXPECT_EQ(server_->requests().size(), 0u);

  env_.gitlab_ci = "true";
  EXPECT_EQ(Run({"project", "list"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("$CI_JOB_URL is not set"));

  env_.ci_job_url = "https://gitlab.com/acme/web/-/jobs/1";
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  EXPECT_THAT(err_.str(), Not(HasSubstr("ignoring")));
  EXPECT_EQ(CountPath(kExchangePath), 1);
}

}  // namespace
}  // namespace cl::cli
