// Tests of keyless CI authentication in the CLI (JWT detection, discovery in GitLab CI and
// GitHub Actions, the token exchange, credential precedence, error reporting) and of
// `chainloop organization federation create|list|delete`, against a fake control plane.
#include "cli/keyless.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/app.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/context.h"
#include "cli/fake_http_server.h"
#include "common/http_client.h"
#include "common/json.h"
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

std::string NewToken(crypto::CredentialKind kind) {
  SystemRandom random;
  return crypto::GenerateCredential(kind, random);
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  return R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
}

// A GitLab-shaped ID token (unsigned: the CLI never verifies, the server does).
std::string MakeJwt(const std::string& issuer = "https://gitlab.com",
                    const std::string& extra = R"("project_path":"acme/web")") {
  std::string header = R"({"alg":"RS256","kid":"k1","typ":"JWT"})";
  std::string payload = R"({"iss":")" + issuer + R"(","sub":"project_path:acme/web:ref_type:)" +
                        R"(branch:ref:main","aud":"http://127.0.0.1","jti":"j-1",)" + extra + "}";
  return crypto::Base64UrlEncode(header) + "." + crypto::Base64UrlEncode(payload) + "." +
         crypto::Base64UrlEncode(std::string(256, '\x5a'));
}

// ---------------------------------------------------------------------------------------------
// JWT detection

TEST(KeylessTest, DetectsJwtShape) {
  std::string jwt = MakeJwt();
  EXPECT_TRUE(LooksLikeJwt(jwt));
  EXPECT_TRUE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJ9.c2ln"));
  EXPECT_FALSE(LooksLikeJwt(NewToken(crypto::CredentialKind::kApiToken)));
  EXPECT_FALSE(LooksLikeJwt(NewToken(crypto::CredentialKind::kSession)));
  EXPECT_FALSE(LooksLikeJwt(""));
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJ9"));           // two parts
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJ9.c2ln.eHg"));  // four parts (JWE-ish)
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0..c2ln"));          // empty payload
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJ9."));          // empty signature
  EXPECT_FALSE(LooksLikeJwt("abcGciOiJub25lIn0.eyJ9.c2ln"));        // header not JSON object
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJ9.c2l=n"));     // padding / bad char
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJ9.c2ln\n"));    // trailing newline
  EXPECT_FALSE(LooksLikeJwt("eyJ" + std::string(20000, 'a') + ".eyJ9.c2ln"));  // oversized
}

TEST(KeylessTest, UnverifiedIssuerIsForDisplayOnly) {
  EXPECT_EQ(UnverifiedJwtIssuer(MakeJwt("https://gitlab.example.com")),
            "https://gitlab.example.com");
  EXPECT_EQ(UnverifiedJwtIssuer("eyJhbGciOiJub25lIn0.bm90IGpzb24.c2ln"), "");  // "not json"
  EXPECT_EQ(UnverifiedJwtIssuer(crypto::Base64UrlEncode("{}") + "." +
                                crypto::Base64UrlEncode(R"({"iss":42})") + ".c2ln"),
            "");
  EXPECT_EQ(UnverifiedJwtIssuer("clapi_x"), "");
}

TEST(KeylessTest, ResolveCredentialMarksJwtAndSkipsPrefixCheck) {
  std::string jwt = MakeJwt();
  auto from_env = ResolveCredential("", jwt, "");
  ASSERT_TRUE(from_env.has_value()) << from_env.error().ToString();
  EXPECT_TRUE(from_env->is_ci_id_token);
  EXPECT_EQ(from_env->source, CredentialSource::kEnv);
  auto from_flag = ResolveCredential(jwt, "", "");
  ASSERT_TRUE(from_flag.has_value());
  EXPECT_TRUE(from_flag->is_ci_id_token);
  auto api = ResolveCredential(NewToken(crypto::CredentialKind::kApiToken), "", "");
  ASSERT_TRUE(api.has_value());
  EXPECT_FALSE(api->is_ci_id_token);
  // Something JWT-like but broken is still checked as a chainloop token, and refused.
  EXPECT_FALSE(ResolveCredential("", "eyJhbGciOiJub25lIn0.eyJ9", "").has_value());
}

TEST(KeylessTest, DiscoveryOrderAndNoCiMeansNothing) {
  CliEnvironment env;
  auto none = DiscoverCiIdToken(env, "http://127.0.0.1:1");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->jwt.empty());

  // $GITLAB_OIDC counts only inside GitLab CI.
  env.gitlab_oidc = MakeJwt("https://gitlab.example.com");
  EXPECT_TRUE(DiscoverCiIdToken(env, "x")->jwt.empty());
  env.gitlab_ci = "true";
  env.ci_job_url = "https://gitlab.example.com/acme/web/-/jobs/1";
  auto gitlab = DiscoverCiIdToken(env, "x");
  ASSERT_TRUE(gitlab.has_value());
  EXPECT_EQ(gitlab->jwt, env.gitlab_oidc);
  EXPECT_EQ(gitlab->source, "$GITLAB_OIDC");

  env.chainloop_oidc_token = MakeJwt();
  auto chainloop = DiscoverCiIdToken(env, "x");
  ASSERT_TRUE(chainloop.has_value());
  EXPECT_EQ(chainloop->jwt, env.chainloop_oidc_token);
  EXPECT_EQ(chainloop->source, "$CHAINLOOP_OIDC_TOKEN");

  env.chainloop_oidc_token = "not-a-jwt-secret-value";
  auto bad = DiscoverCiIdToken(env, "x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("$CHAINLOOP_OIDC_TOKEN"));
  EXPECT_THAT(bad.error().message(), Not(HasSubstr("not-a-jwt-secret-value")));
}

TEST(KeylessTest, GitHubRequestUrlMustBeHttpsOrLoopback) {
  CliEnvironment env;
  env.actions_id_token_request_url = "http://evil.example/token?api-version=2.0";
  env.actions_id_token_request_token = "ghs_request_secret";
  auto r = DiscoverCiIdToken(env, "https://cp.example.com");
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("https://"));
  EXPECT_THAT(r.error().message(), Not(HasSubstr("ghs_request_secret")));
}

// ---------------------------------------------------------------------------------------------
// Whole command lines against a fake control plane

class KeylessCliTest : public ::testing::Test {
 protected:
  KeylessCliTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_keyless-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~KeylessCliTest() override { std::filesystem::remove_all(dir_); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    args.push_back("--control-plane");
    args.push_back(server_->url());
    args.push_back("--config");
    args.push_back(config_path());
    return RunCli(args, env_, out_, err_);
  }

  // The fake control plane: the exchange answers `exchange_status`/`exchange_body`; every
  // other request gets `api_body`.
  void Serve() {
    server_ = std::make_unique<FakeHttpServer>([this](const FakeRequest& r) {
      if (r.path == kExchangePath) return FakeResponse{exchange_status_, exchange_body_};
      if (r.path == "/github/token") {
        return FakeResponse{200, R"({"count":1,"value":")" + github_jwt_ + R"("})"};
      }
      return FakeResponse{api_status_, api_body_};
    });
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
  int CountPath(const std::string& path) const {
    int n = 0;
    for (const auto& r : server_->requests()) n += r.path == path ? 1 : 0;
    return n;
  }

  std::string dir_;
  CliEnvironment env_;
  std::unique_ptr<FakeHttpServer> server_;
  std::ostringstream out_;
  std::ostringstream err_;
  std::string fed_token_ = NewToken(crypto::CredentialKind::kFederated);
  int exchange_status_ = 200;
  std::string exchange_body_ =
      R"({"access_token":")" + fed_token_ +
      R"(","issued_token_type":"urn:ietf:params:oauth:token-type:access_token",)"
      R"("token_type":"Bearer","expires_in":900})";
  int api_status_ = 200;
  std::string api_body_ = R"({"projects":[]})";
  std::string github_jwt_ = MakeJwt("https://token.actions.githubusercontent.com",
                                    R"("repository":"acme/web","repository_id":"42")");
};

// ---- keyless exchange

TEST_F(KeylessCliTest, OidcTokenIsExchangedOnceAndClfedTokenUsedAfterwards) {
  Serve();
  std::string jwt = MakeJwt();
  env_.chainloop_oidc_token = jwt;
  GlobalOptions opts;
  opts.control_plane = server_->url();
  opts.config_path = config_path();
  opts.org = "acme";
  CliContext ctx(opts, env_, out_, err_);
  ASSERT_TRUE(ctx.Init().has_value());
  auto client = ctx.AuthenticatedClient();
  ASSERT_TRUE(client.has_value()) << client.error().ToString();
  EXPECT_TRUE(ctx.using_keyless());
  ASSERT_TRUE((*client)->Get("/v1/organizations/acme/projects").has_value());
  auto again = ctx.AuthenticatedClient();
  ASSERT_TRUE(again.has_value());
  ASSERT_TRUE((*again)->Get("/v1/organizations/acme/workflows").has_value());

  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].path, kExchangePath);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].Header("authorization"), "");  // the ID token travels in the body only
  auto body = ParseJson(reqs[0].body);
  ASSERT_TRUE(body.has_value() && body->is_object());
  const auto& o = body->as_object();
  EXPECT_EQ(o.at("grant_type").as_string(), "urn:ietf:params:oauth:grant-type:token-exchange");
  EXPECT_EQ(o.at("subject_token").as_string(), jwt);
  EXPECT_EQ(o.at("subject_token_type").as_string(), "urn:ietf:params:oauth:token-type:id_token");
  EXPECT_EQ(o.at("organization").as_string(), "acme");
  for (size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_EQ(reqs[i].Header("authorization"), "Bearer " + fed_token_);
  }
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(KeylessCliTest, CommandLineWithOidcTokenUsesExchangedToken) {
  Serve();
  env_.chainloop_oidc_token = MakeJwt();
  ASSERT_EQ(Run({"project", "list", "--org", "acme"}), 0) << err_.str();
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(requests()[0].path, kExchangePath);
  EXPECT_EQ(requests()[1].path, "/v1/organizations/acme/projects");
  EXPECT_EQ(requests()[1].Header("authorization"), "Bearer " + fed_token_);
  EXPECT_THAT(out_.str(), HasSubstr("No projects found."));
}

// A CI job runs init and push as two processes with the same ID token, which can be exchanged
// only once: both send the ID token itself to the attestation endpoints, and nothing else.
TEST_F(KeylessCliTest, AttestationInitAndPushSendTheIdTokenItself) {
  api_body_ = R"({"workflow_run":{"id":"11111111-2222-4333-8444-555555555555","workflow":"build",)"
              R"("project":"app","state":"initialized","created_at":"2026-11-27T00:00:00Z",)"
              R"("attested_by":{"kind":"federated","id":"p","name":"gitlab: group/app@main"},)"
              R"("statement_digest":"","predicate_type":""}})";
  Serve();
  std::string jwt = MakeJwt();
  env_.chainloop_oidc_token = jwt;
  ASSERT_EQ(
      Run({"attestation", "init", "--workflow", "build", "--project", "app", "--org", "acme"}), 0)
      << err_.str();
  std::string statement = dir_ + "/statement.json";
  std::ofstream(statement) << R"({"_type":"https://in-toto.io/Statement/v1",)"
                              R"("subject":[{"name":"a","digest":{"sha256":"ab"}}],)"
                              R"("predicateType":"x","predicate":{}})";
  ASSERT_EQ(Run({"attestation", "push", "--statement", statement, "--org", "acme"}), 0)
      << err_.str();
  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(CountPath(kExchangePath), 0);
  EXPECT_EQ(reqs[0].path, "/v1/organizations/acme/workflow-runs");
  EXPECT_EQ(
      reqs[1].path,
      "/v1/organizations/acme/workflow-runs/11111111-2222-4333-8444-555555555555/attestation");
  for (const auto& r : reqs) EXPECT_EQ(r.Header("authorization"), "Bearer " + jwt);
  EXPECT_EQ(out_.str().find(jwt), std::string::npos);
  EXPECT_EQ(err_.str().find(jwt), std::string::npos);
}

TEST_F(KeylessCliTest, StoredSessionBeatsOidcToken) {
  Serve();
  std::string session = NewToken(crypto::CredentialKind::kSession);
  StoreSession(session);
  env_.chainloop_oidc_token = MakeJwt();
  ASSERT_EQ(Run({"project", "list"}), 0) << err_.str();
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].Header("authorization"), "Bearer " + session);
  EXPECT_EQ(CountPath(kExchangePath), 0);
}

TEST_F(KeylessCliTest, ApiTokenInEnvBeatsOidcToken) {
  Serve();
  std::string api = NewToken(crypto::CredentialKind::kApiToken);
  env_.chainloop_token = api;
  env_.chainloop_oidc_token = MakeJwt();
  ASSERT_EQ(Run({"project", "list", "--org", "acme"}), 0) << err_.str();
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].Header("authorization"), "Bearer " + api);
}

TEST_F(KeylessCliTest, JwtInChainloopTokenOrFlagIsExchanged) {
  Serve();
  std::string session = NewToken(crypto::CredentialKind::kSession);
  StoreSession(session);
  std::string jwt = MakeJwt();
  env_.chainloop_token = jwt;
  ASSERT_EQ(Run({"project", "list", "--org", "acme"}), 0) << err_.str();
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_THAT(requests()[0].body, HasSubstr(jwt));
  EXPECT_EQ(requests()[1].Header("authorization"), "Bearer " + fed_token_);

  std::string flag_jwt = MakeJwt("https://gitlab.example.com");
  ASSERT_EQ(Run({"project", "list", "--org", "acme", "--token", flag_jwt}), 0) << err_.str();
  ASSERT_EQ(requests().size(), 4u);
  EXPECT_THAT(requests()[2].body, HasSubstr(flag_jwt));
  EXPECT_EQ(requests()[3].Header("authorization"), "Bearer " + fed_token_);
  EXPECT_THAT(err_.str(), Not(HasSubstr(flag_jwt)));
}

TEST_F(KeylessCliTest, KeylessNeedsOrgFlag) {
  Serve();
  StoreSession("", "acme");  // a configured organization is not enough
  env_.chainloop_oidc_token = MakeJwt();
  EXPECT_EQ(Run({"project", "list"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--org"));
  EXPECT_THAT(err_.str(), HasSubstr("$CHAINLOOP_OIDC_TOKEN"));
  EXPECT_TRUE(requests().empty());

  env_.chainloop_oidc_token.clear();
  env_.chainloop_token = MakeJwt();
  EXPECT_EQ(Run({"project", "list"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("$CHAINLOOP_TOKEN"));
  EXPECT_TRUE(requests().empty());
}

TEST_F(KeylessCliTest, NoCredentialAnywhereMentionsCiOption) {
  Serve();
  EXPECT_EQ(Run({"project", "list", "--org", "acme"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("chainloop auth login"));
  EXPECT_THAT(err_.str(), HasSubstr("$CHAINLOOP_OIDC_TOKEN"));
  EXPECT_TRUE(requests().empty());
}

TEST_F(KeylessCliTest, GitLabCiVariableIsUsed) {
  Serve();
  env_.gitlab_ci = "true";
  env_.ci_job_url = "https://gitlab.com/acme/web/-/jobs/7";
  env_.gitlab_oidc = MakeJwt();
  ASSERT_EQ(Run({"project", "list", "--org", "acme"}), 0) << err_.str();
  ASSERT_EQ(CountPath(kExchangePath), 1);
  EXPECT_THAT(requests()[0].body, HasSubstr(env_.gitlab_oidc));
}

TEST_F(KeylessCliTest, GitHubActionsRequestFlow) {
  Serve();
  env_.actions_id_token_request_url = server_->url() + "/github/token?api-version=2.0";
  env_.actions_id_token_request_token = "ghs_request_secret_123";
  ASSERT_EQ(Run({"project", "list", "--org", "acme", "--debug"}), 0) << err_.str();
  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/github/token");
  EXPECT_EQ(reqs[0].query, "api-version=2.0&audience=" + UrlEncode(server_->url()));
  EXPECT_EQ(reqs[0].Header("authorization"), "bearer ghs_request_secret_123");
  EXPECT_EQ(reqs[1].path, kExchangePath);
  EXPECT_THAT(reqs[1].body, HasSubstr(github_jwt_));
  EXPECT_EQ(reqs[2].Header("authorization"), "Bearer " + fed_token_);
  // --debug says that keyless exchange happened and from which issuer, never the secrets.
  EXPECT_THAT(err_.str(), HasSubstr("keyless"));
  EXPECT_THAT(err_.str(), HasSubstr("https://token.actions.githubusercontent.com"));
  EXPECT_THAT(err_.str(), HasSubstr("GitHub Actions"));
  EXPECT_THAT(err_.str(), Not(HasSubstr(github_jwt_)));
  EXPECT_THAT(err_.str(), Not(HasSubstr(github_jwt_.substr(0, github_jwt_.find('.')))));
  EXPECT_THAT(err_.str(), Not(HasSubstr(fed_token_)));
  EXPECT_THAT(err_.str(), Not(HasSubstr("ghs_request_secret_123")));
}

TEST_F(KeylessCliTest, GitHubActionsRefusalIsExplained) {
  server_ = std::make_unique<FakeHttpServer>([](const FakeRequest&) {
    return FakeResponse{403, R"({"message":"no"})"};
  });
  env_.actions_id_token_request_url = server_->url() + "/github/token?api-version=2.0";
  env_.actions_id_token_request_token = "ghs_request_secret_123";
  EXPECT_EQ(Run({"project", "list", "--org", "acme"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("id-token: write"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("ghs_request_secret_123")));
  EXPECT_EQ(requests().size(), 1u);  // no exchange attempted
}

TEST_F(KeylessCliTest, ExchangeErrorCodesArePrintedWithMessages) {
  struct Case {
    int status;
    std::string code;
    std::string message;
    std::string hint;  // expected extra text, may be empty
  };
  const std::vector<Case> cases = {
      {401, "untrusted_issuer", "issuer https://gitlab.example.com is not trusted", "operator"},
      {401, "bad_signature", "signature does not verify", ""},
      {401, "token_expired", "the ID token expired", ""},
      {401, "bad_audience", "audience does not match", "audience"},
      {401, "replayed_token", "this ID token was already exchanged", ""},
      {403, "no_matching_trust_policy", "no trust policy matches project_path=acme/web",
       "organization federation create"},
      {503, "issuer_unavailable", "cannot fetch the issuer's keys", ""},
  };
  Serve();
  std::string jwt = MakeJwt();
  env_.chainloop_oidc_token = jwt;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.code);
    exchange_status_ = c.status;
    exchange_body_ = ErrorBody(c.code, c.message);
    size_t before = requests().size();
    EXPECT_EQ(Run({"project", "list", "--org", "acme"}), 1);
    EXPECT_THAT(err_.str(), HasSubstr("keyless authentication failed: " + c.message));
    EXPECT_THAT(err_.str(), HasSubstr("(" + c.code + ")"));
    if (!c.hint.empty()) {
      EXPECT_THAT(err_.str(), HasSubstr(c.hint));
    }
    EXPECT_THAT(err_.str(), Not(HasSubstr(jwt)));
    EXPECT_THAT(err_.str(), Not(HasSubstr("session has ended")));
    EXPECT_EQ(requests().size(), before + 1) << "nothing after a failed exchange";
  }
}

TEST_F(KeylessCliTest, ExchangeAnswerWithoutTokenIsAnError) {
  Serve();
  exchange_body_ = R"({"token_type":"Bearer"})";
  env_.chainloop_oidc_token = MakeJwt();
  EXPECT_EQ(Run({"project", "list", "--org", "acme"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("without a token"));
  EXPECT_EQ(requests().size(), 1u);
}

// ---- organization federation

constexpr char kPolicy[] =
    R"({"id":"fp-1","name":"web-main","issuer":"https://gitlab.com","provider":"gitlab",)"
    R"("audience":"https://cp.example.com","bound_claims":{"project_path":"acme/web",)"
    R"("ref":"main"},"project":"web","permissions":["workflow_run:create","workflow:read"],)"
    R"("max_token_age_seconds":7200,"created_at":"2026-03-01T00:00:00Z"})";

TEST_F(KeylessCliTest, FederationCreateSendsPolicyAndPrintsIt) {
  Serve();
  api_status_ = 201;
  api_body_ = std::string(R"({"policy":)") + kPolicy + "}";
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run({"organization", "federation", "create", "--name", "web-main", "--issuer",
                 "https://gitlab.com", "--bound-claim", "project_path=acme/web", "--bound-claim",
                 "ref=main", "--project", "web", "--audience", "https://cp.example.com",
                 "--permission", "workflow_run:create,workflow:read", "--max-token-age", "2h"}),
            0)
      << err_.str();
  ASSERT_EQ(requests().size(), 1u);
  const FakeRequest r = requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/organizations/acme/federation-policies");
  auto body = ParseJson(r.body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(
      SerializeJson(*body),
      R"({"name":"web-main","issuer":"https://gitlab.com","provider":"gitlab",)"
      R"("bound_claims":{"project_path":"acme/web","ref":"main"},)"
      R"("audience":"https://cp.example.com","project":"web",)"
      R"("max_token_age_seconds":7200,"permissions":["workflow_run:create","workflow:read"]})");
  EXPECT_EQ(out_.str(),
            "Federation policy web-main created (ID fp-1)\n"
            "Issuer: https://gitlab.com (gitlab)\n"
            "Audience: https://cp.example.com\n"
            "Bound claims: project_path=acme/web, ref=main\n"
            "Project: web\n"
            "Permissions: workflow_run:create,workflow:read\n"
            "Max token age: 2h\n");

  // GitHub's issuer selects the github provider; optional fields are left out.
  ASSERT_EQ(Run({"org", "federation", "create", "--name", "gh", "--issuer",
                 "https://token.actions.githubusercontent.com", "--bound-claim",
                 "repository=acme/*", "-o", "json"}),
            0)
      << err_.str();
  auto gh = ParseJson(requests().back().body);
  ASSERT_TRUE(gh.has_value());
  EXPECT_EQ(SerializeJson(*gh),
            R"({"name":"gh","issuer":"https://token.actions.githubusercontent.com",)"
            R"("provider":"github","bound_claims":{"repository":"acme/*"}})");
  EXPECT_THAT(out_.str(), HasSubstr(R"("policy":{"id":"fp-1")"));
}

TEST_F(KeylessCliTest, FederationCreateValidatesLocally) {
  Serve();
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  const std::vector<std::string> base = {"org", "federation", "create", "--name", "p", "--issuer"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  EXPECT_EQ(run({"https://gitlab.com"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("at least one --bound-claim KEY=PATTERN"));

  EXPECT_EQ(run({"https://gitlab.com", "--bound-claim", "project_path"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("'project_path' must look like KEY=PATTERN"));
  EXPECT_EQ(run({"https://gitlab.com", "--bound-claim", "=acme/web"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("KEY=PATTERN"));
  EXPECT_EQ(run({"https://gitlab.com", "--bound-claim", "project_path="}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("KEY=PATTERN"));
  EXPECT_EQ(run({"https://gitlab.com", "--bound-claim", "project_path=a", "--bound-claim",
                 "project_path=b"}),
            1);
  EXPECT_THAT(err_.str(), HasSubstr("more than once"));

  // No identifying claim: a ref alone would trust every project on gitlab.com.
  EXPECT_EQ(run({"https://gitlab.com", "--bound-claim", "ref=main"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("project_id, project_path, namespace_id, namespace_path"));
  // GitHub (inferred from the issuer) has its own identifying claims.
  EXPECT_EQ(run({"https://token.actions.githubusercontent.com", "--bound-claim",
                 "project_path=acme/web"}),
            1);
  EXPECT_THAT(err_.str(), HasSubstr("repository_id, repository, repository_owner_id"));
  // An explicit provider overrides the inference.
  EXPECT_EQ(run({"https://gitlab.example.com", "--provider", "github", "--bound-claim",
                 "namespace_id=7"}),
            1);
  EXPECT_THAT(err_.str(), HasSubstr("github trust policy"));
  EXPECT_EQ(run({"https://gitlab.com", "--provider", "bitbucket", "--bound-claim", "project_id=1"}),
            2);  // a usage error
  EXPECT_THAT(err_.str(), HasSubstr("--provider: must be gitlab or github"));

  EXPECT_EQ(run({"gitlab.com", "--bound-claim", "project_id=1"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--issuer must be"));
  EXPECT_EQ(run({"http://gitlab.example.com", "--bound-claim", "project_id=1"}), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--issuer must be"));
  EXPECT_EQ(
      run({"https://gitlab.com", "--bound-claim", "project_id=1", "--permission", "Workflow-Run"}),
      1);
  EXPECT_THAT(err_.str(), HasSubstr("resource:action"));

  EXPECT_EQ(Run({"org", "federation", "create", "--issuer", "https://gitlab.com"}), 2);
  for (const char* age : {"30s", "25h", "2 hours"}) {
    EXPECT_EQ(run({"https://gitlab.com", "--bound-claim", "project_id=1", "--max-token-age", age}),
              1)
        << age;
    EXPECT_THAT(err_.str(), HasSubstr("--max-token-age")) << age;
  }
  EXPECT_TRUE(requests().empty()) << "validation failures must not reach the server";

  // A loopback http issuer (test issuers) is fine.
  api_body_ = std::string(R"({"policy":)") + kPolicy + "}";
  EXPECT_EQ(run({"http://127.0.0.1:9999", "--bound-claim", "namespace_path=acme"}), 0)
      << err_.str();
}

TEST_F(KeylessCliTest, FederationListShowsColumns) {
  Serve();
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  api_body_ = std::string(R"({"policies":[)") + kPolicy +
              R"(,{"id":"fp-2","name":"gh","issuer":"https://token.actions.githubusercontent.com",)"
              R"("provider":"github","audience":"https://cp.example.com",)"
              R"("bound_claims":{"repository_id":"42"},"project":null,"permissions":[],)"
              R"("max_token_age_seconds":5400,"created_at":"2026-03-02T00:00:00Z"}]})";
  ASSERT_EQ(Run({"org", "federation", "ls"}), 0) << err_.str();
  EXPECT_EQ(requests().back().method, "GET");
  EXPECT_EQ(requests().back().path, "/v1/organizations/acme/federation-policies");
  // Columns padded to the widest cell; policies without project or permissions show "-".
  const std::string h =
      "ID     NAME       ISSUER                                        BOUND CLAIMS"
      "                      PROJECT   PERMISSIONS                         MAX AGE   CREATED AT\n";
  const std::string row1 =
      "fp-1   web-main   https://gitlab.com                            project_path=acme/web, "
      "ref=main   web       workflow_run:create,workflow:read   2h        2026-03-01T00:00:00Z\n";
  const std::string row2 =
      "fp-2   gh         https://token.actions.githubusercontent.com   repository_id=42"
      "                  -         -                                   90m       "
      "2026-03-02T00:00:00Z\n";
  EXPECT_EQ(out_.str(), h + row1 + row2);

  api_body_ = R"({"policies":[]})";
  ASSERT_EQ(Run({"org", "federation", "list", "--org", "other"}), 0);
  EXPECT_EQ(requests().back().path, "/v1/organizations/other/federation-policies");
  EXPECT_EQ(out_.str(), "No federation policies found.\n");
}

TEST_F(KeylessCliTest, FederationDelete) {
  Serve();
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  api_status_ = 204;
  api_body_ = "";
  ASSERT_EQ(Run({"org", "federation", "delete", "--id", "fp 1"}), 0) << err_.str();
  EXPECT_EQ(requests().back().method, "DELETE");
  EXPECT_EQ(requests().back().target, "/v1/organizations/acme/federation-policies/fp%201");
  EXPECT_EQ(out_.str(), "Federation policy fp 1 deleted\n");

  api_status_ = 404;
  api_body_ = ErrorBody("not_found", "no federation policy fp-9");
  EXPECT_EQ(Run({"org", "federation", "delete", "--id", "fp-9"}), 1);
  EXPECT_EQ(err_.str(), "Error: no federation policy fp-9\n");
  EXPECT_EQ(Run({"org", "federation", "delete"}), 2);
}

TEST_F(KeylessCliTest, HelpShowsFederation) {
  Serve();
  ASSERT_EQ(Run({"org", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("federation"));
  ASSERT_EQ(Run({"org", "federation", "create", "--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--bound-claim"));
  EXPECT_THAT(out_.str(), HasSubstr("--provider"));
  EXPECT_THAT(out_.str(), HasSubstr("--max-token-age DURATION"));
  // The examples bind the ref's kind and protection, not only its name.
  EXPECT_THAT(out_.str(), HasSubstr("Examples:"));
  EXPECT_THAT(out_.str(), HasSubstr("--bound-claim ref_protected=true"));
  EXPECT_THAT(out_.str(), HasSubstr("--bound-claim event_name=push"));
  EXPECT_THAT(out_.str(), HasSubstr("--audience chainloop"));
}

}  // namespace
}  // namespace cl::cli
