// Tests of CiTokenVerifier against a fake gitlab.com and GitHub Actions issuer (discovery + JWKS
// served from memory), with GitLab- and GitHub-shaped ID tokens and every failure code.
#include "oidc/ci_verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/hash.h"
#include "crypto/jose_testing.h"

namespace cl::oidc {
namespace {

namespace json = boost::json;
using crypto::TestSigningKey;

constexpr char kGitLab[] = "https://gitlab.com";
constexpr char kGitHub[] = "https://token.actions.githubusercontent.com";
constexpr char kGitLabDiscovery[] = "https://gitlab.com/.well-known/openid-configuration";
constexpr char kGitLabJwks[] = "https://gitlab.com/oauth/discovery/keys";
constexpr char kGitHubDiscovery[] =
    "https://token.actions.githubusercontent.com/.well-known/openid-configuration";
constexpr char kGitHubJwks[] = "https://token.actions.githubusercontent.com/.well-known/jwks";
constexpr char kAudience[] = "https://cp.example.com";

// Serves documents by URL; records every request; hosts can be taken down.
class FakeWeb {
 public:
  HttpFetchFn Fn() {
    return [this](const HttpClientRequest& req) -> Result<HttpClientResponse> {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req.url);
      for (const auto& prefix : down_) {
        if (req.url.rfind(prefix, 0) == 0) {
          return Fail(Error::Unavailable("connection refused", Reason::kUnavailable));
        }
      }
      auto it = docs_.find(req.url);
      if (it == docs_.end()) return HttpClientResponse{404, "not found", {}};
      return HttpClientResponse{200, it->second, {}};
    };
  }
  void Serve(const std::string& url, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    docs_[url] = std::move(body);
  }
  void SetDown(const std::string& prefix, bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    if (down) {
      down_.push_back(prefix);
    } else {
      std::erase(down_, prefix);
    }
  }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int Count(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count(requests_.begin(), requests_.end(), url));
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> docs_;
  std::vector<std::string> down_;
  std::vector<std::string> requests_;
};

std::string GitLabDiscoveryDoc() {
  return json::serialize(json::object{
      {"issuer", kGitLab},
      {"authorization_endpoint", "https://gitlab.com/oauth/authorize"},
      {"token_endpoint", "https://gitlab.com/oauth/token"},
      {"userinfo_endpoint", "https://gitlab.com/oauth/userinfo"},
      {"jwks_uri", kGitLabJwks},
      {"response_types_supported", json::array{"code"}},
      {"id_token_signing_alg_values_supported", json::array{"RS256"}},
  });
}

// GitHub's document has no authorization or token endpoint.
std::string GitHubDiscoveryDoc() {
  return json::serialize(json::object{
      {"issuer", kGitHub},
      {"jwks_uri", kGitHubJwks},
      {"subject_types_supported", json::array{"public", "pairwise"}},
      {"response_types_supported", json::array{"id_token"}},
      {"claims_supported", json::array{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref",
                                       "repository", "repository_id", "repository_owner_id"}},
      {"id_token_signing_alg_values_supported", json::array{"RS256"}},
      {"scopes_supported", json::array{"openid"}},
  });
}

// RSA key generation costs about a second here, so the issuers' keys are made once per binary.
struct IssuerKeys {
  TestSigningKey gl_rsa = TestSigningKey::GenerateRsa("gl-rsa-1");
  TestSigningKey gl_ec = TestSigningKey::GenerateEcP256("gl-ec-1");
  TestSigningKey gl_rotated = TestSigningKey::GenerateRsa("gl-rsa-2");
  TestSigningKey gh_rsa = TestSigningKey::GenerateRsa("gh-1");
};

const IssuerKeys& Keys() {
  static const IssuerKeys* keys = new IssuerKeys();
  return *keys;
}

class CiVerifierTest : public ::testing::Test {
 protected:
  CiVerifierTest()
      : gl_rsa_(Keys().gl_rsa),
        gl_ec_(Keys().gl_ec),
        gl_rotated_(Keys().gl_rotated),
        gh_rsa_(Keys().gh_rsa) {
    web_.Serve(kGitLabDiscovery, GitLabDiscoveryDoc());
    web_.Serve(kGitLabJwks, crypto::JwksJson({&gl_rsa_, &gl_ec_}));
    web_.Serve(kGitHubDiscovery, GitHubDiscoveryDoc());
    web_.Serve(kGitHubJwks, crypto::JwksJson({&gh_rsa_}));
    options_.fetch.fetch = web_.Fn();
    verifier_ = std::make_unique<CiTokenVerifier>(options_, clock_);
  }

  int64_t NowSeconds() const { return clock_.Now() / kMillisPerSecond; }

  // Claims shaped like GitLab's CI_JOB_JWT_V2 / id_tokens (GitLab docs), issued just now.
  json::object GitLabClaims() const {
    const int64_t now = NowSeconds();
    return json::object{
        {"namespace_id", "72"},
        {"namespace_path", "my-group"},
        {"project_id", "20"},
        {"project_path", "my-group/my-project"},
        {"user_id", "1"},
        {"user_login", "sample-user"},
        {"user_email", "sample-user@example.com"},
        {"user_access_level", "developer"},
        {"pipeline_id", "574"},
        {"pipeline_source", "push"},
        {"job_id", "302"},
        {"ref", "main"},
        {"ref_type", "branch"},
        {"ref_path", "refs/heads/main"},
        {"ref_protected", "true"},
        {"groups_direct", json::array{"my-group"}},
        {"runner_id", 1},
        {"runner_environment", "gitlab-hosted"},
        {"sha", "714a629c0b401fdce83e847fc9589983fc6f46bc"},
        {"project_visibility", "private"},
        {"ci_config_ref_uri", "gitlab.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main"},
        {"ci_config_sha", "714a629c0b401fdce83e847fc9589983fc6f46bc"},
        {"jti", "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b"},
        {"iss", kGitLab},
        {"iat", now},
        {"nbf", now - 5},
        {"exp", now + 300},
        {"sub", "project_path:my-group/my-project:ref_type:branch:ref:main"},
        {"aud", kAudience},
    };
  }

  // Claims shaped like a GitHub Actions OIDC token (GitHub docs).
  json::object GitHubClaims() const {
    const int64_t now = NowSeconds();
    return json::object{
        {"jti", "e2b6a4b1-4cb4-4b7f-9d0b-5f0b8f4c1a77"},
        {"sub", "repo:octo-org/octo-repo:ref:refs/heads/main"},
        {"aud", kAudience},
        {"ref", "refs/heads/main"},
        {"sha", "example-sha"},
        {"repository", "octo-org/octo-repo"},
        {"repository_owner", "octo-org"},
        {"repository_id", "74"},
        {"repository_owner_id", "65"},
        {"repository_visibility", "private"},
        {"actor", "octocat"},
        {"actor_id", "12"},
        {"run_id", "8123456789"},
        {"run_number", "10"},
        {"run_attempt", "1"},
        {"runner_environment", "github-hosted"},
        {"workflow", "release"},
        {"workflow_ref", "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main"},
        {"event_name", "push"},
        {"ref_type", "branch"},
        {"iss", kGitHub},
        {"nbf", now - 300},
        {"exp", now + 300},
        {"iat", now},
    };
  }

  TrustPolicy GitLabPolicy(std::string id = "pol-gl") const {
    TrustPolicy p;
    p.id = std::move(id);
    p.org_id = "org-1";
    p.name = "my-project main";
    p.issuer = kGitLab;
    p.audience = kAudience;
    p.bound_claims = {{"project_id", "20"}, {"ref", "main"}};
    p.permissions = {"workflow_run:create"};
    return p;
  }

  TrustPolicy GitHubPolicy() const {
    TrustPolicy p;
    p.id = "pol-gh";
    p.org_id = "org-1";
    p.name = "octo-repo";
    p.issuer = kGitHub;
    p.audience = kAudience;
    p.bound_claims = {{"repository", "octo-org/octo-repo"}, {"ref", "refs/heads/*"}};
    return p;
  }

  std::string GitLabToken(const json::object& claims) const { return gl_rsa_.Sign({}, claims); }

  static void ExpectFailure(const Result<CiIdentity>& r, Error::Code code,
                            const std::string& reason) {
    ASSERT_FALSE(r) << "unexpectedly verified; want " << reason;
    EXPECT_EQ(r.error().code(), code) << r.error().ToString();
    EXPECT_EQ(r.error().reason(), reason) << r.error().ToString();
  }

  FakeClock clock_;
  FakeWeb web_;
  CiVerifierOptions options_;
  const TestSigningKey &gl_rsa_, &gl_ec_, &gl_rotated_, &gh_rsa_;
  std::unique_ptr<CiTokenVerifier> verifier_;
};

TEST_F(CiVerifierTest, GitLabTokenWithExactBindings) {
  const std::vector<TrustPolicy> policies = {GitLabPolicy()};
  const std::string token = GitLabToken(GitLabClaims());
  auto id = verifier_->Verify(token, policies);
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(id->issuer, kGitLab);
  EXPECT_EQ(id->subject, "project_path:my-group/my-project:ref_type:branch:ref:main");
  EXPECT_EQ(id->jti, "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b");
  EXPECT_EQ(id->audience, kAudience);
  EXPECT_EQ(id->iat, NowSeconds());
  EXPECT_EQ(id->exp, NowSeconds() + 300);
  EXPECT_EQ(id->policy_id, "pol-gl");
  EXPECT_EQ(id->policy, &policies[0]);
  EXPECT_EQ(id->Claim("project_path"), "my-group/my-project");
  EXPECT_EQ(id->Claim("pipeline_id"), "574");
  EXPECT_EQ(id->Claim("ci_config_ref_uri"),
            "gitlab.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main");
  EXPECT_EQ(id->Claim("runner_id"), "1");    // numbers are printed
  EXPECT_FALSE(id->Claim("groups_direct"));  // arrays are not scalar claims

  // Discovery and keys are fetched once, then served from memory.
  ASSERT_TRUE(verifier_->Verify(token, policies));
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 1);
  EXPECT_EQ(web_.Count(kGitLabJwks), 1);
  EXPECT_EQ(web_.Requests().size(), 2u);
}

TEST_F(CiVerifierTest, Es256TokenAndGlobBindings) {
  TrustPolicy p = GitLabPolicy();
  p.bound_claims = {{"project_path", "my-group/my-*"}, {"ref", "release-?.*"}};
  json::object claims = GitLabClaims();
  claims["ref"] = "release-1.4";
  auto id = verifier_->Verify(gl_ec_.Sign({}, claims), {p});
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(id->Claim("ref"), "release-1.4");

  claims["ref"] = "release-10.0";  // '?' is exactly one character
  ExpectFailure(verifier_->Verify(gl_ec_.Sign({}, claims), {p}), Error::Code::kPermissionDenied,
                "no_matching_trust_policy");
}

TEST_F(CiVerifierTest, NumericClaimMatchesItsPrintedForm) {
  json::object claims = GitLabClaims();
  claims["project_id"] = 20;  // some issuers send ids as numbers
  auto id = verifier_->Verify(GitLabToken(claims), {GitLabPolicy()});
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(id->Claim("project_id"), "20");
}

TEST_F(CiVerifierTest, FirstMatchingPolicyWinsAndAudienceSelects) {
  TrustPolicy other_aud = GitLabPolicy("pol-other-aud");
  other_aud.audience = "https://other.example.com";
  TrustPolicy wrong_project = GitLabPolicy("pol-wrong-project");
  wrong_project.bound_claims = {{"project_id", "21"}};
  TrustPolicy first = GitLabPolicy("pol-first");
  TrustPolicy second = GitLabPolicy("pol-second");
  const std::vector<TrustPolicy> policies = {other_aud, wrong_project, first, second};
  auto id = verifier_->Verify(GitLabToken(GitLabClaims()), policies);
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(id->policy_id, "pol-first");
  EXPECT_EQ(id->policy, &policies[2]);
}

TEST_F(CiVerifierTest, ForkProjectPathDoesNotMatch) {
  TrustPolicy p = GitLabPolicy();
  p.bound_claims = {{"project_path", "my-group/my-*"}};
  json::object fork = GitLabClaims();
  fork["namespace_path"] = "attacker";
  fork["project_path"] = "attacker/my-project";
  ExpectFailure(verifier_->Verify(GitLabToken(fork), {p}), Error::Code::kPermissionDenied,
                "no_matching_trust_policy");
  fork["project_path"] = "my-group-evil/my-project";  // a prefix without the '/' boundary
  ExpectFailure(verifier_->Verify(GitLabToken(fork), {p}), Error::Code::kPermissionDenied,
                "no_matching_trust_policy");
}

TEST_F(CiVerifierTest, UntrustedIssuerIsNeverContacted) {
  TrustPolicy evil = GitLabPolicy();
  evil.issuer = "https://evil.example.com";  // even an org policy cannot widen the allow-list
  json::object claims = GitLabClaims();
  claims["iss"] = "https://evil.example.com";
  auto r = verifier_->Verify(GitLabToken(claims), {evil, GitLabPolicy()});
  ExpectFailure(r, Error::Code::kUnauthenticated, "untrusted_issuer");
  EXPECT_NE(r.error().message().find("https://evil.example.com"), std::string::npos);

  claims["iss"] = "https://gitlab.com/";  // exact comparison: no normalisation
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "untrusted_issuer");
  claims.erase("iss");
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "untrusted_issuer");
  EXPECT_TRUE(web_.Requests().empty());
}

TEST_F(CiVerifierTest, ConfiguredSelfManagedIssuer) {
  options_.allowed_issuers = {"https://gitlab.acme.internal"};
  CiTokenVerifier verifier(options_, clock_);
  web_.Serve("https://gitlab.acme.internal/.well-known/openid-configuration",
             json::serialize(json::object{{"issuer", "https://gitlab.acme.internal"},
                                          {"jwks_uri", "https://gitlab.acme.internal/keys"}}));
  web_.Serve("https://gitlab.acme.internal/keys", crypto::JwksJson({&gl_rsa_}));
  TrustPolicy p = GitLabPolicy();
  p.issuer = "https://gitlab.acme.internal";
  json::object claims = GitLabClaims();
  claims["iss"] = "https://gitlab.acme.internal";
  auto id = verifier.Verify(GitLabToken(claims), {p});
  ASSERT_TRUE(id) << id.error().ToString();
  // gitlab.com is no longer allowed on this instance.
  ExpectFailure(verifier.Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "untrusted_issuer");
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 0);
}

// Without a policy for the issuer, a genuine token learns "no matching policy", but a forged
// one learns nothing about which issuers the organization trusts: the signature comes first.
TEST_F(CiVerifierTest, NoPolicyForIssuerIsAnsweredOnlyAfterTheSignature) {
  auto other_issuer = verifier_->Verify(GitLabToken(GitLabClaims()), {GitHubPolicy()});
  ExpectFailure(other_issuer, Error::Code::kPermissionDenied, "no_matching_trust_policy");
  auto none = verifier_->Verify(GitLabToken(GitLabClaims()), {});
  ExpectFailure(none, Error::Code::kPermissionDenied, "no_matching_trust_policy");
  // The same words as a policy for the issuer whose claims differ.
  TrustPolicy elsewhere = GitLabPolicy();
  elsewhere.bound_claims = {{"project_id", "31337"}};
  auto differ = verifier_->Verify(GitLabToken(GitLabClaims()), {elsewhere});
  ExpectFailure(differ, Error::Code::kPermissionDenied, "no_matching_trust_policy");
  EXPECT_EQ(other_issuer.error().message(), differ.error().message());
  EXPECT_EQ(none.error().message(), differ.error().message());
  TestSigningKey forger = TestSigningKey::GenerateEcP256("gl-ec-1");
  ExpectFailure(verifier_->Verify(forger.Sign({}, GitLabClaims()), {}),
                Error::Code::kUnauthenticated, "bad_signature");
}

TEST_F(CiVerifierTest, BadSignature) {
  // A key with the same kid as the issuer's but different material.
  TestSigningKey imposter = TestSigningKey::GenerateEcP256("gl-ec-1");
  ExpectFailure(verifier_->Verify(imposter.Sign({}, GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "bad_signature");

  // A genuine signature over different claims.
  std::string good = GitLabToken(GitLabClaims());
  json::object forged_claims = GitLabClaims();
  forged_claims["project_id"] = "20";
  forged_claims["ref"] = "main";
  forged_claims["project_path"] = "attacker/x";
  std::string forged_payload = crypto::Base64UrlEncode(json::serialize(forged_claims));
  size_t d1 = good.find('.'), d2 = good.rfind('.');
  std::string spliced = good.substr(0, d1 + 1) + forged_payload + good.substr(d2);
  ExpectFailure(verifier_->Verify(spliced, {GitLabPolicy()}), Error::Code::kUnauthenticated,
                "bad_signature");
}

TEST_F(CiVerifierTest, AlgorithmConfusionIsRefused) {
  const std::string payload = crypto::Base64UrlEncode(json::serialize(GitLabClaims()));
  // alg: none, no signature.
  const std::string none =
      crypto::Base64UrlEncode(R"({"alg":"none","typ":"JWT","kid":"gl-rsa-1"})") + "." + payload +
      ".";
  ExpectFailure(verifier_->Verify(none, {GitLabPolicy()}), Error::Code::kUnauthenticated,
                "jwt_bad_alg");
  // HS256 "signed" with the issuer's public key as the HMAC secret.
  const std::string hs_input =
      crypto::Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":"gl-rsa-1"})") + "." + payload;
  const std::string hs =
      hs_input + "." +
      crypto::Base64UrlEncode(crypto::HmacSha256(gl_rsa_.PublicJwkJson(), hs_input));
  ExpectFailure(verifier_->Verify(hs, {GitLabPolicy()}), Error::Code::kUnauthenticated,
                "jwt_bad_alg");
  // The header claims ES256 for an RSA key.
  ExpectFailure(
      verifier_->Verify(gl_rsa_.Sign({{"alg", "ES256"}}, GitLabClaims()), {GitLabPolicy()}),
      Error::Code::kUnauthenticated, "jwt_key_alg_mismatch");
  // RS384 is not on the allow-list.
  ExpectFailure(
      verifier_->Verify(gl_rsa_.Sign({{"alg", "RS384"}}, GitLabClaims()), {GitLabPolicy()}),
      Error::Code::kUnauthenticated, "jwt_bad_alg");
}

TEST_F(CiVerifierTest, ExpiredWithLeeway) {
  json::object claims = GitLabClaims();
  claims["iat"] = NowSeconds() - 400;
  claims["nbf"] = NowSeconds() - 405;
  claims["exp"] = NowSeconds() - 30;  // within the 60 s leeway
  ASSERT_TRUE(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}));
  claims["exp"] = NowSeconds() - 60;
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "token_expired");
}

TEST_F(CiVerifierTest, LeewayIsCappedAtSixtySeconds) {
  options_.leeway_seconds = 3600;
  CiTokenVerifier lenient(options_, clock_);
  json::object claims = GitLabClaims();
  claims["exp"] = NowSeconds() - 61;
  ExpectFailure(lenient.Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "token_expired");
}

TEST_F(CiVerifierTest, NotYetValid) {
  json::object claims = GitLabClaims();
  claims["nbf"] = NowSeconds() + 120;
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_not_yet_valid");
  claims["nbf"] = NowSeconds() + 30;  // clock skew within leeway
  EXPECT_TRUE(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}));
}

TEST_F(CiVerifierTest, IssuedInFuture) {
  json::object claims = GitLabClaims();
  claims["iat"] = NowSeconds() + 600;
  claims["exp"] = NowSeconds() + 900;
  claims.erase("nbf");
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_issued_in_future");
}

TEST_F(CiVerifierTest, TooOld) {
  json::object claims = GitLabClaims();
  claims["iat"] = NowSeconds() - 3700;
  claims["nbf"] = NowSeconds() - 3700;
  claims["exp"] = NowSeconds() + 600;  // still unexpired: age alone refuses it
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_too_old");
}

// An audience no policy names is one more way of "no policy applies": the same answer as the
// others, so a genuine token cannot learn which audiences an organization's policies use.
TEST_F(CiVerifierTest, AudienceOfNoPolicyIsNoMatchingPolicy) {
  json::object claims = GitLabClaims();
  claims["aud"] = "https://vault.example.com";
  auto r = verifier_->Verify(GitLabToken(claims), {GitLabPolicy()});
  ExpectFailure(r, Error::Code::kPermissionDenied, "no_matching_trust_policy");
  EXPECT_EQ(r.error().message(), NoMatchingPolicyError().message());
  // One of several audiences is enough.
  claims["aud"] = json::array{"https://vault.example.com", kAudience};
  EXPECT_TRUE(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}));
}

TEST_F(CiVerifierTest, NoMatchingPolicyIsOneAnswerWithoutTheToken) {
  TrustPolicy a = GitLabPolicy("pol-a");
  a.bound_claims = {{"project_path", "my-group/app"}, {"ref", "main"}};
  TrustPolicy b = GitLabPolicy("pol-b");
  b.bound_claims = {{"project_id", "999"}, {"environment", "production"}};
  TrustPolicy other_aud = GitLabPolicy("pol-c");
  other_aud.audience = "https://other.example.com";
  other_aud.bound_claims = {{"project_id", "20"}, {"pipeline_source", "push"}};
  const std::string token = GitLabToken(GitLabClaims());
  auto r = verifier_->Verify(token, {a, b, other_aud});
  ExpectFailure(r, Error::Code::kPermissionDenied, "no_matching_trust_policy");
  const std::string& msg = r.error().message();
  // One answer whatever the reason: the claims checked go to the log only.
  EXPECT_EQ(msg, NoMatchingPolicyError().message());
  EXPECT_EQ(msg.find("my-group"), std::string::npos);
  EXPECT_EQ(msg.find(token), std::string::npos);
  EXPECT_EQ(msg.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(msg.find("sample-user@example.com"), std::string::npos);  // unbound claims stay out
  EXPECT_EQ(msg.find("pipeline_source"), std::string::npos);  // policy with another audience
}

TEST_F(CiVerifierTest, MissingJtiIsRefused) {
  json::object claims = GitLabClaims();
  claims.erase("jti");
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_missing_claim");
  claims["jti"] = 17;  // mistyped
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_missing_claim");
  claims["jti"] = std::string(CiTokenVerifier::kMaxJtiLength + 1, 'j');
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_malformed");
}

TEST_F(CiVerifierTest, OversizedAndMalformedTokens) {
  json::object claims = GitLabClaims();
  claims["padding"] = std::string(CiTokenVerifier::kMaxTokenBytes, 'x');
  ExpectFailure(verifier_->Verify(GitLabToken(claims), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_malformed");
  for (const char* bad :
       {"", "abc", "a.b", "a.b.c.d", "!!!.???.***", "e30.bm90anNvbg.", "e30.e30.e30.e30"}) {
    ExpectFailure(verifier_->Verify(bad, {GitLabPolicy()}), Error::Code::kUnauthenticated,
                  "jwt_malformed");
  }
  // Well-formed but without an issuer: nothing to route by.
  ExpectFailure(verifier_->Verify("e30.e30.", {GitLabPolicy()}), Error::Code::kUnauthenticated,
                "untrusted_issuer");
  EXPECT_TRUE(web_.Requests().empty());
}

TEST_F(CiVerifierTest, UnknownKidRefreshesOncePerCooldown) {
  ASSERT_TRUE(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}));
  EXPECT_EQ(web_.Count(kGitLabJwks), 1);

  // GitLab rotates; the new key is picked up on the first token that names it.
  web_.Serve(kGitLabJwks, crypto::JwksJson({&gl_rsa_, &gl_rotated_}));
  clock_.Advance(61 * kMillisPerSecond);
  auto id = verifier_->Verify(gl_rotated_.Sign({}, GitLabClaims()), {GitLabPolicy()});
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(web_.Count(kGitLabJwks), 2);

  // Made-up kids within the cooldown do not reach the issuer.
  for (int i = 0; i < 5; ++i) {
    TestSigningKey unknown = TestSigningKey::GenerateEcP256("made-up-" + std::to_string(i));
    clock_.Advance(5 * kMillisPerSecond);
    ExpectFailure(verifier_->Verify(unknown.Sign({}, GitLabClaims()), {GitLabPolicy()}),
                  Error::Code::kUnauthenticated, "jwt_unknown_kid");
  }
  EXPECT_EQ(web_.Count(kGitLabJwks), 2);
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 1);
  // Keys of the current set keep working meanwhile (gl-ec-1 left the set with the rotation).
  auto known = verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()});
  EXPECT_TRUE(known) << known.error().ToString();
  clock_.Advance(40 * kMillisPerSecond);
  TestSigningKey late = TestSigningKey::GenerateEcP256("late");
  ExpectFailure(verifier_->Verify(late.Sign({}, GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_unknown_kid");
  EXPECT_EQ(web_.Count(kGitLabJwks), 3);
}

// The unknown-kid cooldown counts from the previous unknown-kid refetch only: a rotation right
// after the first fetch of an issuer's keys is picked up by the next token naming the new key.
TEST_F(CiVerifierTest, RotationRightAfterTheFirstFetchIsPickedUp) {
  ASSERT_TRUE(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}));
  EXPECT_EQ(web_.Count(kGitLabJwks), 1);
  web_.Serve(kGitLabJwks, crypto::JwksJson({&gl_rotated_}));
  clock_.Advance(1 * kMillisPerSecond);
  auto id = verifier_->Verify(gl_rotated_.Sign({}, GitLabClaims()), {GitLabPolicy()});
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(web_.Count(kGitLabJwks), 2);
}

// Anyone can send a CI token naming a trusted issuer: a stream of made-up kids costs the issuer
// at most one key-set fetch per cooldown (plus the periodic one), however fast it comes.
TEST_F(CiVerifierTest, MadeUpKidFloodCostsTheIssuerOneFetchPerCooldown) {
  ASSERT_TRUE(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}));
  const UnixMillis period = 10 * kMillisPerMinute;
  const UnixMillis cooldown = options_.jwks_refresh_cooldown;
  ASSERT_EQ(cooldown, 60 * kMillisPerSecond);
  int n = 0;
  for (UnixMillis t = 0; t < period; t += 2 * kMillisPerSecond, ++n) {
    clock_.Advance(2 * kMillisPerSecond);
    TestSigningKey unknown = TestSigningKey::GenerateEcP256("made-up-" + std::to_string(n));
    ExpectFailure(verifier_->Verify(unknown.Sign({}, GitLabClaims()), {GitLabPolicy()}),
                  Error::Code::kUnauthenticated, "jwt_unknown_kid");
  }
  const int refetches = web_.Count(kGitLabJwks) - 1;
  EXPECT_LE(refetches, period / cooldown + 1 + period / options_.jwks_max_age + 1);
  EXPECT_GE(refetches, period / cooldown - 1);  // it does look for rotated keys
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 1);
}

TEST_F(CiVerifierTest, IssuerDownWithColdCacheIsUnavailable) {
  web_.SetDown(kGitLab, true);
  const std::string token = GitLabToken(GitLabClaims());
  auto r = verifier_->Verify(token, {GitLabPolicy()});
  ExpectFailure(r, Error::Code::kUnavailable, "issuer_unavailable");
  EXPECT_EQ(r.error().message().find(token), std::string::npos);
  // A dead issuer is not hit by every request...
  ExpectFailure(verifier_->Verify(token, {GitLabPolicy()}), Error::Code::kUnavailable,
                "issuer_unavailable");
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 1);
  // ...and is used again once it is back.
  web_.SetDown(kGitLab, false);
  clock_.Advance(6 * kMillisPerSecond);
  auto id = verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()});
  ASSERT_TRUE(id) << id.error().ToString();
}

TEST_F(CiVerifierTest, KeysUnavailableWithColdCacheIsUnavailable) {
  web_.SetDown(kGitLabJwks, true);  // discovery answers, the key set does not
  ExpectFailure(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnavailable, "issuer_unavailable");
}

TEST_F(CiVerifierTest, MalformedKeySetOrDiscoveryIsUnavailable) {
  web_.Serve(kGitLabJwks, R"({"keys": "nope"})");
  ExpectFailure(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnavailable, "issuer_unavailable");

  web_.Serve(kGitHubDiscovery, json::serialize(json::object{{"issuer", "https://evil.example.com"},
                                                            {"jwks_uri", kGitHubJwks}}));
  ExpectFailure(verifier_->Verify(gh_rsa_.Sign({}, GitHubClaims()), {GitHubPolicy()}),
                Error::Code::kUnavailable, "issuer_unavailable");
}

TEST_F(CiVerifierTest, InsecureJwksUriIsRefused) {
  web_.Serve(kGitLabDiscovery,
             json::serialize(json::object{{"issuer", kGitLab},
                                          {"jwks_uri", "http://gitlab.com/oauth/discovery/keys"}}));
  ExpectFailure(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnavailable, "issuer_unavailable");
  EXPECT_EQ(web_.Requests().size(), 1u);  // the http URL was never fetched
}

TEST_F(CiVerifierTest, WarmCacheKeepsVerifyingWhileIssuerIsDown) {
  ASSERT_TRUE(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}));
  web_.SetDown(kGitLab, true);
  clock_.Advance(10 * kMillisPerMinute);
  auto id = verifier_->Verify(gl_ec_.Sign({}, GitLabClaims()), {GitLabPolicy()});
  ASSERT_TRUE(id) << id.error().ToString();
  // An unknown kid tries a refresh, which fails; the last good keys stay in use.
  ExpectFailure(verifier_->Verify(gl_rotated_.Sign({}, GitLabClaims()), {GitLabPolicy()}),
                Error::Code::kUnauthenticated, "jwt_unknown_kid");
  EXPECT_TRUE(verifier_->Verify(GitLabToken(GitLabClaims()), {GitLabPolicy()}));
}

TEST_F(CiVerifierTest, GitHubTokenWithRepositoryBinding) {
  const std::vector<TrustPolicy> policies = {GitLabPolicy(), GitHubPolicy()};
  auto id = verifier_->Verify(gh_rsa_.Sign({}, GitHubClaims()), policies);
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(id->issuer, kGitHub);
  EXPECT_EQ(id->subject, "repo:octo-org/octo-repo:ref:refs/heads/main");
  EXPECT_EQ(id->policy_id, "pol-gh");
  EXPECT_EQ(id->Claim("repository_id"), "74");
  EXPECT_EQ(id->Claim("workflow_ref"),
            "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main");
  EXPECT_EQ(web_.Count(kGitHubDiscovery), 1);
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 0);

  json::object other_repo = GitHubClaims();
  other_repo["repository"] = "octo-org/octo-repo-fork";
  auto r = verifier_->Verify(gh_rsa_.Sign({}, other_repo), policies);
  ExpectFailure(r, Error::Code::kPermissionDenied, "no_matching_trust_policy");
  EXPECT_EQ(r.error().message(), NoMatchingPolicyError().message());

  // A GitLab key cannot sign for GitHub's issuer.
  ExpectFailure(verifier_->Verify(gl_rsa_.Sign({}, GitHubClaims()), policies),
                Error::Code::kUnauthenticated, "jwt_unknown_kid");
}

TEST_F(CiVerifierTest, InvalidPolicyNeverMatches) {
  TrustPolicy unbound = GitLabPolicy("pol-unbound");
  unbound.bound_claims.clear();  // would trust every gitlab.com job
  TrustPolicy wildcard = GitLabPolicy("pol-wildcard");
  wildcard.bound_claims = {{"project_path", "*"}};
  ExpectFailure(verifier_->Verify(GitLabToken(GitLabClaims()), {unbound, wildcard}),
                Error::Code::kPermissionDenied, "no_matching_trust_policy");
}

TEST_F(CiVerifierTest, ConcurrentColdRequestsShareOneDiscovery) {
  const std::vector<TrustPolicy> policies = {GitLabPolicy(), GitHubPolicy()};
  const std::string gl = GitLabToken(GitLabClaims());
  const std::string gh = gh_rsa_.Sign({}, GitHubClaims());
  // A gate wide enough for every thread: this test is about sharing, not refusing.
  CiVerifierOptions wide = options_;
  wide.max_concurrent_fetches = 8;
  CiTokenVerifier verifier(wide, clock_);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (verifier.Verify(t % 2 ? gl : gh, policies)) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 1);
  EXPECT_EQ(web_.Count(kGitLabJwks), 1);
  EXPECT_EQ(web_.Count(kGitHubDiscovery), 1);
  EXPECT_EQ(web_.Count(kGitHubJwks), 1);
}

// Tokens naming an allowed issuer come from anyone. While the issuer is slow, at most
// max_concurrent_fetches requests fetch or wait for its discovery document or keys; every other
// such request is refused at once (503 issuer_unavailable), so a flood cannot hold the server's
// workers. Verifications from keys already held never pass the gate, even while it is full.
TEST_F(CiVerifierTest, SlowIssuerHoldsNoMoreRequestsThanTheFetchGate) {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> fetching{0};
  std::atomic<int> refused{0};
  CiVerifierOptions o = options_;
  o.max_concurrent_fetches = 2;
  o.on_fetch_refused = [&] { ++refused; };
  HttpFetchFn inner = web_.Fn();
  o.fetch.fetch = [&](const HttpClientRequest& req) {
    ++fetching;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
    --fetching;
    return inner(req);
  };
  CiTokenVerifier verifier(o, clock_);
  const std::vector<TrustPolicy> policies = {GitLabPolicy()};
  auto wait_until = [](const std::function<bool()>& pred) {
    for (int i = 0; i < 5000 && !pred(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
  };
  auto refused_at_once = [&](const std::string& token, int n) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      auto r = verifier.Verify(token, policies);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().reason(), "issuer_unavailable");
      EXPECT_EQ(r.error().code(), Error::Code::kUnavailable);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  };

  // Cold: one request fetches discovery (held by the slow issuer), one waits for it.
  std::vector<std::thread> held;
  std::atomic<int> held_ok{0};
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([&] {
      if (verifier.Verify(GitLabToken(GitLabClaims()), policies)) ++held_ok;
    });
  }
  ASSERT_TRUE(wait_until([&] { return verifier.fetches_in_flight() == 2 && fetching == 1; }));
  refused_at_once(GitLabToken(GitLabClaims()), 20);
  EXPECT_EQ(refused.load(), 20);
  {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
  }
  cv.notify_all();
  for (auto& t : held) t.join();
  EXPECT_EQ(held_ok.load(), 2);
  EXPECT_EQ(web_.Count(kGitLabDiscovery), 1);

  // Warm: tokens naming an unknown kid refetch (slowly) and fill the gate; tokens signed with a
  // held key still verify, and another unknown kid is refused at once.
  {
    std::lock_guard<std::mutex> lock(mu);
    open = false;
  }
  held.clear();
  std::atomic<int> unknown_done{0};
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([&] {
      verifier.Verify(gl_rotated_.Sign({}, GitLabClaims()), policies);
      ++unknown_done;
    });
  }
  ASSERT_TRUE(wait_until([&] { return verifier.fetches_in_flight() == 2 && fetching == 1; }));
  for (int i = 0; i < 10; ++i) {
    auto r = verifier.Verify(GitLabToken(GitLabClaims()), policies);
    EXPECT_TRUE(r) << r.error().ToString();
  }
  refused_at_once(gl_rotated_.Sign({}, GitLabClaims()), 5);
  EXPECT_EQ(refused.load(), 25);
  {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
  }
  cv.notify_all();
  for (auto& t : held) t.join();
  EXPECT_EQ(unknown_done.load(), 2);
  EXPECT_EQ(verifier.fetches_in_flight(), 0);
}

}  // namespace
}  // namespace cl::oidc
