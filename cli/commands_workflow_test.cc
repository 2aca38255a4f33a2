// Tests of attestations and workflow runs against a fake control plane: init, push (and local
// checks of statement files), run list and describe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/cli_test_support.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/control_plane_url.h"
#include "common/json.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

using testing::CommandTest;
using testing::ErrorBody;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using testing::ModeOf;
using testing::NewToken;

TEST_F(CommandTest, AttestationInitAndPush) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations/acme/workflow-runs" && r.method == "POST") {
      EXPECT_EQ(r.body, R"({"workflow":"build","project":"web"})");
      return FakeResponse{201, R"({"workflow_run":{"id":"run-7","workflow":"build",)"
                               R"("project":"web","state":"initialized"}})"};
    }
    if (r.path == "/v1/organizations/acme/workflow-runs/run-7/attestation") {
      auto body = ParseJson(r.body);
      EXPECT_TRUE(body.has_value());
      EXPECT_EQ(body->at("statement").at("_type").as_string(), "https://in-toto.io/Statement/v1");
      return FakeResponse{200, R"({"workflow_run":{"id":"run-7","state":"success",)"
                               R"("statement_digest":"sha256:abc",)"
                               R"("attested_by":{"kind":"user","id":"u1","name":"alice"}}})"};
    }
    return FakeResponse{404, ErrorBody("not_found", "no")};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run([](CliContext& c) { return AttestationInit(c, "build", "web"); }), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Attestation ID: run-7\n"));
  std::string state_path =
      AttestationStatePath(config_path(), *NormalizeControlPlaneUrl(server_->url()), "session");
  EXPECT_EQ(ModeOf(state_path), 0600);
  EXPECT_EQ(ModeOf(dir_.path() + "/chainloop/attestations"), 0700);

  std::string statement = dir_.path() + "/statement.json";
  std::ofstream(statement) << R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})";
  ASSERT_EQ(Run([&](CliContext& c) { return AttestationPush(c, statement, ""); }), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("Digest: sha256:abc\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Attested by: alice (user)\n"));
  EXPECT_FALSE(std::filesystem::exists(state_path));

  // Without a current attestation the CLI says what to do.
  EXPECT_EQ(Run([&](CliContext& c) { return AttestationPush(c, statement, ""); }), 1);
  EXPECT_THAT(err_.str(), HasSubstr("attestation init"));
}

TEST_F(CommandTest, PushRejectsBadStatementFilesLocally) {
  Serve([](const FakeRequest&) { return FakeResponse{500, "{}"}; });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  std::string path = dir_.path() + "/s.json";
  auto push = [&](CliContext& c) { return AttestationPush(c, path, "run-1"); };

  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("does not exist"));
  std::ofstream(path) << "{not json";
  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("is not valid JSON"));
  std::ofstream(path) << "[1,2]";
  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("JSON object"));
  std::ofstream(path) << "{\"a\":\"" << std::string(kMaxStatementBytes, 'x') << "\"}";
  EXPECT_EQ(Run(push), 1);
  EXPECT_THAT(err_.str(), HasSubstr("1 MiB"));
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(CommandTest, RunListAndDescribe) {
  Serve([](const FakeRequest& r) {
    if (r.path == "/v1/organizations/acme/workflow-runs") {
      return FakeResponse{
          200, R"({"workflow_runs":[{"id":"r1","workflow":"build",)"
               R"("project":"web","state":"success","created_at":"2026-01-01T00:00:00Z",)"
               R"("attested_by":{"kind":"api_token","id":"t1","name":"ci"}}]})"};
    }
    return FakeResponse{200,
                        R"({"workflow_run":{"id":"r1","workflow":"build","project":"web",)"
                        R"("state":"success","predicate_type":"https://slsa.dev/provenance/v1",)"
                        R"("statement_digest":"sha256:ff","statement":{"_type":"x"}}})"};
  });
  StoreSession(NewToken(crypto::CredentialKind::kSession));
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunList(c, "", std::nullopt); }), 0);
  EXPECT_EQ(out_.str(),
            "ID   WORKFLOW   PROJECT   STATE     ATTESTED BY      CREATED AT\n"
            "r1   build      web       success   ci (api_token)   2026-01-01T00:00:00Z\n");
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunDescribe(c, "r1"); }), 0);
  EXPECT_THAT(out_.str(), HasSubstr("Predicate type: https://slsa.dev/provenance/v1\n"));
  EXPECT_THAT(out_.str(), HasSubstr("Statement digest: sha256:ff\n"));
  options_.output = "json";
  ASSERT_EQ(Run([](CliContext& c) { return WorkflowRunDescribe(c, "r1"); }), 0);
  EXPECT_THAT(out_.str(), HasSubstr(R"("statement":{"_type":"x"})"));
}

}  // namespace
}  // namespace cl::cli
