// Test fixtures for the domain services against a real store (SQLite in a temp directory), a
// fake clock and a fake IdP: DomainTest wires every service like the server does; ApiTokenTest
// adds an organization "acme" with projects "backend" and "frontend"; FederationTest a fake
// gitlab.com (discovery and JWKS served from memory) and a FederationService;
// FederationRevocationTest a hook inside an exchange. For tests where the SQL interplay is the
// point (caching against concurrent revocation, sweeps, store-side re-checks).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "crypto/credential.h"
#include "crypto/hash.h"
#include "crypto/jose_testing.h"
#include "domain/api_tokens.h"
#include "domain/attestations.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/federation.h"
#include "domain/idp_testing.h"
#include "domain/login.h"
#include "domain/organizations.h"
#include "domain/token_inactivity.h"
#include "domain/usage_recorder.h"
#include "jobs/token_revoker.h"
#include "store/store.h"

namespace cl::domain {

// The rows of one page of a listing, as the vector the tests compare (or its error).
template <typename T, typename Key>
Result<std::vector<T>> Items(Result<store::Page<T, Key>> page) {
  if (!page) return Fail(page.error());
  return std::move(page->items);
}

using testing::FakeIdp;

inline std::string Verifier() { return std::string(43, 'v'); }

class DomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cl-domain-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = store::OpenDatabase("sqlite:" + (dir_ / "db.sqlite").string());
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    authn_ = std::make_unique<Authenticator>(
        Authenticator::Stores{
            .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
        hasher_, clock_, &usage_);
    authz_ = std::make_unique<Authorizer>(*db_, *db_);
    login_ = std::make_unique<LoginService>(
        LoginService::Stores{
            .users = *db_, .invitations = *db_, .sessions = *db_, .login_state = *db_},
        idp_, hasher_, *authn_, clock_, random_, LoginConfig{});
    orgs_ = std::make_unique<OrganizationService>(
        OrganizationService::Stores{
            .orgs = *db_, .projects = *db_, .invitations = *db_, .audit = *db_},
        *authz_, clock_, random_);
    atts_ = std::make_unique<AttestationService>(
        AttestationService::Stores{.workflows = *db_, .projects = *db_}, *authz_, *orgs_, clock_,
        random_);
    tokens_ =
        std::make_unique<ApiTokenService>(ApiTokenService::Stores{.tokens = *db_, .projects = *db_},
                                          *authz_, *orgs_, *authn_, hasher_, clock_, random_);
  }
  void TearDown() override {
    tokens_.reset();
    atts_.reset();
    orgs_.reset();
    login_.reset();
    authn_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs the whole browser flow for `identity` and returns the session token.
  std::string LoginAs(const std::string& sub, const std::string& email, bool verified = true) {
    clock_.Advance(kMillisPerSecond);  // distinct timestamps keep "newest first" unambiguous
    idp_.next = VerifiedIdentity{"https://idp.test", sub, email, verified, sub};
    std::string challenge = crypto::PkceS256Challenge(Verifier());
    auto url =
        login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "cli-state", challenge, "S256");
    EXPECT_TRUE(url) << url.error().ToString();
    auto redirect = login_->CompleteCallback("idp-code", idp_.last_state);
    EXPECT_TRUE(redirect) << redirect.error().ToString();
    std::string code = CodeFrom(*redirect);
    auto session = login_->ExchangeCode(code, Verifier());
    EXPECT_TRUE(session) << session.error().ToString();
    return session ? session->token : "";
  }

  static std::string CodeFrom(const std::string& redirect) {
    auto start = redirect.find("code=") + 5;
    return redirect.substr(start, redirect.find('&', start) - start);
  }

  Principal Auth(const std::string& token) {
    auto p = authn_->Authenticate("Bearer " + token);
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? *p : Principal{};
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  crypto::CredentialHasher hasher_{"test-pepper-test-pepper-test-pepper"};
  FakeIdp idp_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<LoginService> login_;
  std::unique_ptr<OrganizationService> orgs_;
  std::unique_ptr<AttestationService> atts_;
  std::unique_ptr<ApiTokenService> tokens_;
  UsageRecorder usage_;
};

inline boost::json::value Statement() {
  return *ParseJson(R"({"_type":"https://in-toto.io/Statement/v1",
      "subject":[{"name":"app","digest":{"sha256":"abcdef0123"}}],
      "predicateType":"https://slsa.dev/provenance/v1","predicate":{}})");
}

class ApiTokenTest : public DomainTest {
 protected:
  void SetUp() override {
    DomainTest::SetUp();
    owner_ = Auth(LoginAs("owner", "owner@example.com"));
    ASSERT_TRUE(orgs_->Create(owner_, "acme"));
    ASSERT_TRUE(orgs_->CreateProject(owner_, "acme", "backend"));
    ASSERT_TRUE(orgs_->CreateProject(owner_, "acme", "frontend"));
  }
  CreatedApiToken MustCreate(const Principal& p, CreateApiTokenRequest req) {
    auto t = tokens_->Create(p, "acme", req);
    EXPECT_TRUE(t) << t.error().ToString();
    return t ? *t : CreatedApiToken{};
  }
  // The inactivity sweep as another instance runs it: the store call alone, which sees only
  // usage already written, not what this instance's UsageRecorder holds.
  std::vector<store::RevokedToken> OtherInstanceSweep() {
    const UnixMillis now = clock_.Now();
    auto sweep = db_->RevokeInactiveApiTokens(now, [&](const store::RevokedToken& t) {
      return jobs::InactivityRevocationEvent(t, now, random_);
    });
    EXPECT_TRUE(sweep) << sweep.error().ToString();
    return sweep ? sweep->revoked : std::vector<store::RevokedToken>{};
  }
  // Revokes `t` in the database only, as another instance would: this instance's cache is not
  // told (no Forget).
  Status RevokeOnAnotherInstance(const store::ApiToken& t) {
    return db_->RevokeApiToken(t.org_id, t.id, clock_.Now(), store::RevocationReason::kManual,
                               "other instance",
                               store::AuditEvent{.id = "ev-other-" + t.id,
                                                 .org_id = t.org_id,
                                                 .actor_kind = "user",
                                                 .actor_id = "x",
                                                 .actor_name = "x",
                                                 .action = "api_token.revoked",
                                                 .target_kind = "api_token",
                                                 .target_id = t.id,
                                                 .message = "revoked elsewhere",
                                                 .created_at = clock_.Now()});
  }
  Principal owner_;
};

// ---- keyless CI (FederationService) against a fake gitlab.com served from memory.

constexpr char kGitLab[] = "https://gitlab.com";
constexpr char kAudience[] = "https://cp.example.com";

inline const crypto::TestSigningKey& GitLabKey() {
  static const auto* key =
      new crypto::TestSigningKey(crypto::TestSigningKey::GenerateEcP256("gl-1"));
  return *key;
}

class FederationTest : public ApiTokenTest {
 protected:
  void SetUp() override {
    ApiTokenTest::SetUp();
    oidc::CiVerifierOptions options;
    options.allowed_issuers = {kGitLab};
    options.fetch.fetch = [this](const HttpClientRequest& req) -> Result<HttpClientResponse> {
      ++fetches_;
      if (req.url == std::string(kGitLab) + "/.well-known/openid-configuration") {
        boost::json::object doc{{"issuer", kGitLab},
                                {"authorization_endpoint", "https://gitlab.com/oauth/authorize"},
                                {"token_endpoint", "https://gitlab.com/oauth/token"},
                                {"jwks_uri", "https://gitlab.com/oauth/discovery/keys"},
                                {"response_types_supported", boost::json::array{"code"}}};
        return HttpClientResponse{200, SerializeJson(doc), {}};
      }
      if (req.url == "https://gitlab.com/oauth/discovery/keys") {
        if (on_keys_fetch_) {
          auto hook = std::move(on_keys_fetch_);
          on_keys_fetch_ = nullptr;
          hook();
        }
        return HttpClientResponse{200, crypto::JwksJson({&GitLabKey()}), {}};
      }
      return HttpClientResponse{404, "not found", {}};
    };
    verifier_ = std::make_unique<oidc::CiTokenVerifier>(options, clock_);
    FederationConfig config;
    config.default_audience = kAudience;
    // Wired like the server: the service tells the authenticator which tokens a policy
    // deletion ended.
    fed_ = std::make_unique<FederationService>(
        FederationService::Stores{
            .federation = *db_, .orgs = *db_, .projects = *db_, .audit = *db_},
        *authz_, *orgs_, *verifier_, hasher_, clock_, random_, config, authn_.get());
  }
  void TearDown() override {
    fed_.reset();
    verifier_.reset();
    ApiTokenTest::TearDown();
  }

  // GitLab-shaped claims (docs.gitlab.com, "ID token authentication").
  boost::json::object Claims(const std::string& project_path = "acme/backend",
                             int64_t lifetime_s = 3600) {
    int64_t now = clock_.Now() / kMillisPerSecond;
    return boost::json::object{
        {"iss", kGitLab},
        {"aud", kAudience},
        {"sub", "project_path:" + project_path + ":ref_type:branch:ref:main"},
        {"jti", "jti-" + std::to_string(++jti_)},
        {"iat", now},
        {"nbf", now},
        {"exp", now + lifetime_s},
        {"namespace_id", "72"},
        {"namespace_path", project_path.substr(0, project_path.find('/'))},
        {"project_id", "4711"},
        {"project_path", project_path},
        {"user_login", "alice"},
        {"pipeline_id", "1001"},
        {"pipeline_source", "push"},
        {"job_id", "2002"},
        {"ref", "main"},
        {"ref_type", "branch"},
        {"ref_protected", "true"},
        {"ci_config_ref_uri", "gitlab.com/" + project_path + "//.gitlab-ci.yml@refs/heads/main"},
    };
  }
  std::string Mint(const boost::json::object& claims) { return GitLabKey().Sign({}, claims); }

  Result<store::TrustPolicyRecord> CreatePolicy(const Principal& p, CreateTrustPolicyRequest req) {
    return fed_->CreatePolicy(p, "acme", req);
  }
  CreateTrustPolicyRequest BackendPolicy() {
    CreateTrustPolicyRequest req;
    req.name = "gitlab-backend";
    req.issuer = kGitLab;
    req.bound_claims = {{"namespace_path", "acme"}, {"ref", "main"}};
    req.project = "backend";
    return req;
  }

  std::unique_ptr<oidc::CiTokenVerifier> verifier_;
  std::unique_ptr<FederationService> fed_;
  int jti_ = 0;
  int fetches_ = 0;
  // Run once, when the verifier next fetches the issuer's keys: that happens after an exchange
  // has read the organization's policies, so a deletion placed there overlaps the exchange.
  std::function<void()> on_keys_fetch_;
};

// ---- revocations that overlap a request: no security decision outlives the revocation.

// Uses FederationTest's on_keys_fetch_ hook to place a policy deletion inside an exchange.
class FederationRevocationTest : public FederationTest {
 protected:
  bool Exchanged() {
    auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 100}));
    EXPECT_TRUE(events);
    if (!events) return false;
    return std::any_of(events->begin(), events->end(), [](const store::AuditEvent& e) {
      return e.action == "federation.token_exchanged";
    });
  }
};

}  // namespace cl::domain
