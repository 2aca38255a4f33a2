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
  auto with = [](const TrustPolicy& base, const std::function<void(TrustPolicy&)>& edit) {
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
              p.bound_claims = {{"project_path", "group/app-*"}};
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
       false, "first path segment"},
      {"gitlab identifying claim is only wildcards",
       with(gl,
            [](TrustPolicy& p) {
              p.bound_claims = {{"project_id", "*?*"}};
            }),
       false, "exact numeric id"},
      {"github with a gitlab claim",
       with(gh,
            [](TrustPolicy& p) {
              p.bound_claims = {{"project_path", "acme/app"}};
            }),
       false, "repository_id, repository, repository_owner_id or repository_owner"},
      {"github repository '*'",
       with(gh,
            [](TrustPolicy& p) {
              p.bound_claims = {{"repository", "*"}};
            }),
       false, "first path segment"},
      {"empty project scope", with(gl, [](TrustPolicy& p) { p.project_id = ""; }), false,
       "project"},
      {"escape in name", with(gl, [](TrustPolicy& p) { p.name = "ci\x1b]52;c;aGk=\x07"; }), false,
       "name must be printable"},
      {"newline in name", with(gl, [](TrustPolicy& p) { p.name = "a\nb"; }), false,
       "name must be printable"},
      {"bidi override in name", with(gl, [](TrustPolicy& p) { p.name = "ci \xe2\x80\xae"; }), false,
       "name must be printable"},
      {"unicode name", with(gl, [](TrustPolicy& p) { p.name = "déploiement 🚀"; }), true, ""},
      {"C1 in audience",
       with(gl,
            [](TrustPolicy& p) {
              p.audience =
                  "https://x\xc2\x9b"
                  "2J";
            }),
       false, "audience must be printable"},
      {"escape in pattern",
       with(gl, [](TrustPolicy& p) { p.bound_claims.emplace_back("environment", "main\x1b[2J"); }),
       false, "must be printable"},
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

// The pinning rule, as a table of patterns per identifying claim: a policy must not trust the
// repositories of every owner, however the wildcard is dressed up.
TEST(ValidateTrustPolicyTest, IdentifyingClaimsMustPinTheOwner) {
  struct Pattern {
    const char* claim;
    const char* pattern;
    bool ok;
  };
  const Pattern gitlab[] = {
      {"project_path", "acme/app", true},
      {"project_path", "acme/app-*", true},
      {"project_path", "acme/*-svc", true},
      {"project_path", "acme/sub/app", true},
      {"project_path", "acme/sub/a?p", true},
      {"project_path", "my-group/x", true},
      {"project_path", "*/*", false},
      {"project_path", "*/*/*", false},
      {"project_path", "*-*", false},
      {"project_path", "*1*", false},
      {"project_path", "*", false},
      {"project_path", "?", false},
      {"project_path", "a*/app", false},
      {"project_path", "?cme/app", false},
      {"project_path", "acme*", false},
      {"project_path", "acme/*", false},
      {"project_path", "acme/*-*", false},
      {"project_path", "acme/*_*", false},
      {"project_path", "acme/*.*", false},
      {"project_path", "acme//app", false},
      {"project_path", "/app", false},
      {"project_path", "acme/app/", false},
      {"project_path", "-/app", false},
      {"namespace_path", "acme", true},
      {"namespace_path", "acme/team", true},
      {"namespace_path", "*", false},
      {"namespace_path", "ac*", false},
      {"namespace_path", "acme/*", false},
      {"project_id", "4242", true},
      {"project_id", "42*", false},
      {"project_id", "*", false},
      {"project_id", "4?42", false},
      {"project_id", "abc", false},
      {"project_id", "-1", false},
      {"namespace_id", "7", true},
      {"namespace_id", "7*", false},
  };
  const Pattern github[] = {
      {"repository", "acme/app", true},      {"repository", "acme/app-*", true},
      {"repository", "*/*", false},          {"repository", "*/app", false},
      {"repository", "acme/*", false},       {"repository", "acme*/app", false},
      {"repository_owner", "acme", true},    {"repository_owner", "*", false},
      {"repository_owner", "acme-*", false}, {"repository_id", "99", true},
      {"repository_id", "9*", false},        {"repository_owner_id", "5", true},
      {"repository_owner_id", "*5", false},
  };
  auto check = [](TrustPolicy base, const Pattern& c) {
    base.bound_claims = {{c.claim, c.pattern}, {"ref", "main"}};
    Status s = ValidateTrustPolicy(base);
    EXPECT_EQ(static_cast<bool>(s), c.ok) << c.claim << "=" << c.pattern;
    if (!s && !c.ok) {
      EXPECT_EQ(s.error().reason(), "invalid_trust_policy");
      EXPECT_NE(s.error().message().find(c.claim), std::string::npos) << s.error().message();
    }
    // A loose identifying binding is refused even next to a tight one.
    if (!c.ok) {
      base.bound_claims = {{"ref", "main"}, {c.claim, c.pattern}};
      base.bound_claims.emplace_back(
          base.issuer == "https://gitlab.com" ? "namespace_id" : "repository_owner_id", "1");
      if (std::string(c.claim) != base.bound_claims.back().first) {
        EXPECT_FALSE(ValidateTrustPolicy(base)) << c.claim << "=" << c.pattern << " beside an id";
      }
    }
  };
  for (const auto& c : gitlab) check(GitLabPolicy(), c);
  for (const auto& c : github) check(GitHubPolicy(), c);
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
