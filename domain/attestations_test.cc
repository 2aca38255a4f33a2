// AttestationService: who attested, and in-toto Statement validation.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "domain/testing/service_fixtures.h"
#include "jobs/usage_flusher.h"

namespace cl::domain {
namespace {

using testing::FakeIdp;

TEST_F(DomainTest, AttestationRecordsWhoAttested) {
  Principal owner = Auth(LoginAs("owner", "owner@example.com"));
  ASSERT_TRUE(orgs_->Create(owner, "acme"));
  ASSERT_TRUE(orgs_->CreateProject(owner, "acme", "backend"));
  auto run = atts_->Init(owner, "acme", "build", "backend");
  ASSERT_TRUE(run) << run.error().ToString();
  auto statement = ParseJson(R"({"_type":"https://in-toto.io/Statement/v1",
      "subject":[{"name":"app","digest":{"sha256":"abcdef0123"}}],
      "predicateType":"https://slsa.dev/provenance/v1","predicate":{}})");
  ASSERT_TRUE(statement);
  auto pushed = atts_->Push(owner, "acme", run->id, *statement);
  ASSERT_TRUE(pushed) << pushed.error().ToString();
  EXPECT_EQ(pushed->state, store::RunState::kSucceeded);
  EXPECT_EQ(pushed->actor_kind, "user");
  EXPECT_EQ(pushed->actor_name, "owner@example.com");
  EXPECT_EQ(pushed->statement_digest.rfind("sha256:", 0), 0u);
  EXPECT_TRUE(atts_->Push(owner, "acme", run->id, *statement).error().code() ==
              Error::Code::kFailedPrecondition);
  auto runs = Items(atts_->ListRuns(owner, "acme", std::string("backend"), {.limit = 10}));
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->at(0).workflow_name, "build");
}

TEST(InTotoStatement, Validation) {
  struct Case {
    const char* json;
    bool ok;
  } cases[] = {
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"x"})",
       true},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"})", false},
      {R"({"_type":"https://in-toto.io/Statement/v1","predicateType":"x"})", false},
      {R"({"_type":"other","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"x"})", false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{}}],"predicateType":"x"})",
       false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"XYZ"}}],"predicateType":"x"})",
       false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}]})",
       false},
      {R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"x","predicate":[]})",
       false},
      {R"([1,2])", false},
  };
  for (const auto& c : cases) {
    auto v = ParseJson(c.json);
    ASSERT_TRUE(v);
    auto st = ValidateInTotoStatement(*v);
    EXPECT_EQ(static_cast<bool>(st), c.ok) << c.json;
    if (!st) {
      EXPECT_EQ(st.error().reason(), "invalid_statement");
    }
  }
}

}  // namespace
}  // namespace cl::domain
