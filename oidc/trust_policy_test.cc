// Table tests of ValidateTrustPolicy: each rule accepted and refused, with its message.
#include "oidc/trust_policy.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace cl::oidc {
namespace {

TrustPolicy GitLabPolicy() {
  TrustPolicy p;
  p.id = "pol-1";
  p.org_id = "org-1";
  p.name = "app pipelines";
  p.issuer = "https://gitlab.com";
  p.audience = "https://cp.example.com";
  p.bound_claims = {{"project_id", "4242"}, {"ref", "main"}};
  return p;
}

TrustPolicy GitHubPolicy() {
  TrustPolicy p = GitLabPolicy();
  p.issuer = "https://token.actions.githubusercontent.com";
  p.bound_claims = {{"repository", "acme/app"}};
  return p;
}

struct PolicyCase {
  const char* name;
  std::function<TrustPolicy()> make;
  bool ok;
  const char* message_part;  // expected in the error message when !ok
};

TEST(ValidateTrustPolicyTest, Table) {
  auto with = [](TrustPolicy base, std::function<void(TrustPolicy&)> edit) {
    return [base, edit]() {
      TrustPolicy p = base;
      edit(p);
      return p;
    };
  };
  const TrustPolicy gl = GitLabPolicy();
  const TrustPolicy gh = GitHubPolicy();
  const PolicyCase cases[] = {
      {"gitlab ok", with(gl, [](TrustPolicy&) {}), true, ""},
      {"github ok (inferred)", with(gh, [](TrustPolicy&) {}), true, ""},
      {"gitlab project_path glob",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"project_path", "group/*"}};
            }),
       true, ""},
      {"gitlab namespace_id",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"namespace_id", "7"}};
            }),
       true, ""},
      {"gitlab namespace_path",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"namespace_path", "group"}};
            }),
       true, ""},
      {"github repository_id",
       with(gh,
            [](TrustPolicy& p) {
              p.bound_claims = {{"repository_id", "99"}};
            }),
       true, ""},
      {"github repository_owner_id",
       with(gh,
            [](TrustPolicy& p) {
              p.bound_claims = {{"repository_owner_id", "5"}};
            }),
       true, ""},
      {"self-managed gitlab, explicit provider",
       with(gl,
            [](TrustPolicy& p) {
              p.issuer = "https://gitlab.acme.internal";
              p.provider = "gitlab";
            }),
       true, ""},
      {"github enterprise issuer with provider github",
       with(gh,
            [](TrustPolicy& p) {
              p.issuer = "https://ghe.acme.internal/_services/token";
              p.provider = "github";
            }),
       true, ""},
      {"loopback http issuer", with(gl, [](TrustPolicy& p) { p.issuer = "http://127.0.0.1:8080"; }),
       true, ""},
      {"project scope", with(gl, [](TrustPolicy& p) { p.project_id = "proj-1"; }), true, ""},

      {"empty name", with(gl, [](TrustPolicy& p) { p.name.clear(); }), false, "name"},
      {"http issuer", with(gl, [](TrustPolicy& p) { p.issuer = "http://gitlab.com"; }), false,
       "issuer"},
      {"issuer not a URL", with(gl, [](TrustPolicy& p) { p.issuer = "gitlab.com"; }), false,
       "issuer"},
      {"unknown provider", with(gl, [](TrustPolicy& p) { p.provider = "jenkins"; }), false,
       "provider"},
      {"github issuer with gitlab provider",
       with(gh, [](TrustPolicy& p) { p.provider = "gitlab"; }), false, "provider \"github\""},
      {"empty audience", with(gl, [](TrustPolicy& p) { p.audience.clear(); }), false, "audience"},
      {"no bound claims", with(gl, [](TrustPolicy& p) { p.bound_claims.clear(); }), false,
       "at least one bound claim"},
      {"too many bound claims",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims.clear();
              for (size_t i = 0; i <= kMaxBoundClaims; ++i) {
                p.bound_claims.emplace_back("claim_" + std::string(i + 1, 'x'), "v");
              }
            }),
       false, "at most"},
      {"claim name with uppercase",
       with(gl, [](TrustPolicy& p) { p.bound_claims.emplace_back("Ref", "main"); }), false,
       "[a-z_]"},
      {"claim name with digit",
       with(gl, [](TrustPolicy& p) { p.bound_claims.emplace_back("ref2", "main"); }), false,
       "[a-z_]"},
      {"claim name too long",
       with(gl, [](TrustPolicy& p) { p.bound_claims.emplace_back(std::string(65, 'a'), "x"); }),
       false, "[a-z_]"},
      {"duplicate claim",
       with(gl, [](TrustPolicy& p) { p.bound_claims.emplace_back("ref", "dev"); }), false,
       "more than once"},
      {"empty pattern",
       with(gl, [](TrustPolicy& p) { p.bound_claims.emplace_back("ref_type", ""); }), false,
       "pattern"},
      {"pattern too long",
       with(gl,
            [](TrustPolicy& p) { p.bound_claims.emplace_back("ref_type", std::string(257, 'a')); }),
       false, "pattern"},
      {"gitlab without identifying claim",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"ref", "main"}};
            }),
       false, "project_id, project_path, namespace_id or namespace_path"},
      {"gitlab identifying claim is '*'",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"project_path", "*"}, {"ref", "main"}};
            }),
       false, "not only wildcards"},
      {"gitlab identifying claim is only wildcards",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"project_id", "*?*"}};
            }),
       false, "not only wildcards"},
      {"github with a gitlab claim",
       with(gh,
            [](TrustPolicy& p) {
              p.bound_claims = {{"project_path", "acme/app"}};
            }),
       false, "repository_id, repository or repository_owner_id"},
      {"github repository '*'",
       with(gh,
            [](TrustPolicy& p) {
              p.bound_claims = {{"repository", "*"}};
            }),
       false, "not only wildcards"},
      {"empty project scope", with(gl, [](TrustPolicy& p) { p.project_id = ""; }), false,
       "project"},
  };
  for (const auto& c : cases) {
    Status s = ValidateTrustPolicy(c.make());
    if (c.ok) {
      EXPECT_TRUE(s) << c.name << ": " << s.error().ToString();
      continue;
    }
    ASSERT_FALSE(s) << c.name;
    EXPECT_TRUE(s.error().IsInvalidArgument()) << c.name;
    EXPECT_EQ(s.error().reason(), "invalid_trust_policy") << c.name;
    EXPECT_NE(s.error().message().find(c.message_part), std::string::npos)
        << c.name << ": " << s.error().message();
  }
}

TEST(TrustPolicyTest, InferProvider) {
  EXPECT_EQ(InferProvider("https://token.actions.githubusercontent.com"), "github");
  EXPECT_EQ(InferProvider("https://gitlab.com"), "gitlab");
  EXPECT_EQ(InferProvider("https://gitlab.acme.internal"), "gitlab");
  TrustPolicy p = GitHubPolicy();
  EXPECT_EQ(EffectiveProvider(p), "github");
  p.provider = "gitlab";
  EXPECT_EQ(EffectiveProvider(p), "gitlab");
}

}  // namespace
}  // namespace cl::oidc
