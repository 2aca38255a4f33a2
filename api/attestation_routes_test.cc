// Handler tests of the attestation routes (api/attestation_routes.cc): workflows, and runs
// (init, push of the statement, list, describe), through the router.
#include <string>

#include "api/api_testing.h"

namespace cl::api {
namespace {

using testing::Answer;

constexpr char kRuns[] = "/v1/organizations/acme/workflow-runs";
using testing::kStatement;

class AttestationRoutesTest : public testing::AcmeApiTest {
 protected:
  void SetUp() override {
    AcmeApiTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(Call("POST", "/v1/organizations/acme/projects", owner_, R"({"name":"web"})").status,
              201);
  }
  std::string InitRun() {
    Answer a = Call("POST", kRuns, owner_, R"({"workflow":"build","project":"web"})");
    EXPECT_EQ(a.status, 201) << SerializeJson(a.body);
    return a.status == 201 ? std::string(a.body.at("workflow_run").at("id").as_string()) : "";
  }
};

TEST_F(AttestationRoutesTest, InitPushDescribeAndList) {
  Answer init = Call("POST", kRuns, owner_, R"({"workflow":"build","project":"web"})");
  ASSERT_EQ(init.status, 201) << SerializeJson(init.body);
  const auto& run = init.body.at("workflow_run").as_object();
  EXPECT_EQ(run.at("workflow").as_string(), "build");
  EXPECT_EQ(run.at("project").as_string(), "web");
  EXPECT_TRUE(run.at("state").is_string());
  EXPECT_TRUE(run.at("finished_at").is_null());
  EXPECT_EQ(run.at("attested_by").at("kind").as_string(), "user");
  EXPECT_TRUE(run.at("attested_by").at("claims").as_object().empty());
  EXPECT_FALSE(run.contains("statement"));
  std::string id(run.at("id").as_string());

  Answer before = Call("GET", std::string(kRuns) + "/" + id, owner_);
  ASSERT_EQ(before.status, 200);
  EXPECT_TRUE(before.body.at("workflow_run").at("statement").is_null());

  Answer push = Call("POST", std::string(kRuns) + "/" + id + "/attestation", owner_, kStatement);
  ASSERT_EQ(push.status, 200) << SerializeJson(push.body);
  EXPECT_TRUE(push.body.at("workflow_run").at("finished_at").is_string());
  EXPECT_FALSE(push.body.at("workflow_run").as_object().contains("statement"));

  Answer after = Call("GET", std::string(kRuns) + "/" + id, owner_);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body.at("workflow_run").at("statement").at("predicateType").as_string(),
            "https://slsa.dev/provenance/v1");

  Answer list = Call("GET", std::string(kRuns) + "?project=web&limit=10", owner_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.at("workflow_runs").as_array().size(), 1u);

  Answer wfs = Call("GET", "/v1/organizations/acme/workflows", owner_);
  ASSERT_EQ(wfs.status, 200);
  const auto& arr = wfs.body.at("workflows").as_array();
  ASSERT_EQ(arr.size(), 1u);
  EXPECT_EQ(arr[0].at("name").as_string(), "build");
  EXPECT_EQ(arr[0].at("project").as_string(), "web");
  EXPECT_TRUE(arr[0].at("id").is_string());
  EXPECT_TRUE(arr[0].at("created_at").is_string());
}

TEST_F(AttestationRoutesTest, InitAndPushDecodeStrictly) {
  struct Case {
    const char* body;
    const char* code;
  } cases[] = {
      {R"({"workflow":"build"})", "missing_field"},
      {R"({"workflow":1,"project":"web"})", "invalid_field_type"},
      {R"({"workflow":"build","project":"web","ref":"main"})", "unknown_field"},
  };
  for (const auto& c : cases) {
    Answer a = Call("POST", kRuns, owner_, c.body);
    EXPECT_EQ(a.status, 400) << c.body;
    EXPECT_EQ(a.code, c.code) << c.body;
  }
  std::string push = std::string(kRuns) + "/" + InitRun() + "/attestation";
  EXPECT_EQ(Call("POST", push, owner_, "{}").code, "missing_field");
  EXPECT_EQ(Call("POST", push, owner_, R"({"statement":{},"x":1})").code, "unknown_field");
  EXPECT_EQ(Call("POST", push, owner_, "not json").status, 400);
}

TEST_F(AttestationRoutesTest, RoutesNeedACredential) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/organizations/acme/workflows"},
           {"POST", kRuns},
           {"GET", kRuns},
           {"GET", std::string(kRuns) + "/x"},
           {"POST", std::string(kRuns) + "/x/attestation"}}) {
    Answer a = Call(method, path, "", "{}");
    EXPECT_EQ(a.status, 401) << method << " " << path;
    EXPECT_EQ(a.code, "unauthenticated") << method << " " << path;
  }
}

TEST_F(AttestationRoutesTest, ErrorsMapTo403And404) {
  EXPECT_EQ(Call("GET", std::string(kRuns) + "/not-a-uuid", owner_).status, 404);
  EXPECT_EQ(Call("GET", std::string(kRuns) + "/00000000-0000-4000-8000-000000000000", owner_).code,
            "not_found");
  Answer no_project = Call("POST", kRuns, owner_, R"({"workflow":"build","project":"nope"})");
  EXPECT_EQ(no_project.status, 404);
  std::string outsider = LoginAs("eve", "eve@example.com");
  EXPECT_EQ(Call("GET", kRuns, outsider).status, 404);
  std::string viewer = JoinAs(owner_, "acme", "vera", "viewer");
  Answer refused = Call("POST", kRuns, viewer, R"({"workflow":"build","project":"web"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.code, "permission_denied");
  EXPECT_EQ(Call("GET", kRuns, viewer).status, 200);
}

TEST_F(AttestationRoutesTest, ListLimitIsChecked) {
  for (const char* bad : {"0", "1001", "-1", "x"}) {
    Answer a = Call("GET", std::string(kRuns) + "?limit=" + bad, owner_);
    EXPECT_EQ(a.status, 400) << bad;
    EXPECT_EQ(a.code, "invalid_argument") << bad;
  }
}

TEST_F(AttestationRoutesTest, ACiTokenNoPolicyAdmitsIsRefused) {
  // A JWT-shaped credential goes to keyless verification, not to the token store.
  Answer a = Call("POST", kRuns, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
                  R"({"workflow":"build","project":"web"})");
  EXPECT_EQ(a.status, 401) << SerializeJson(a.body);
}

}  // namespace
}  // namespace cl::api
