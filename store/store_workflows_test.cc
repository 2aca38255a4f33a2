// StoreTest (SQLite and PostgreSQL): workflows and workflow runs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

TYPED_TEST(StoreTest, GetOrCreateWorkflowIsIdempotent) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org = this->NewOrg("acme", u);
  std::string proj = this->NewProject(org, "web");
  std::string proj2 = this->NewProject(org, "api");

  Workflow wf{Id(), org, proj, "build", this->now_};
  EXPECT_TRUE(this->db_->GetWorkflow(proj, "build").error().IsNotFound());
  auto first = this->db_->GetOrCreateWorkflow(wf);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->id, wf.id);
  Workflow again = wf;
  again.id = Id();
  again.created_at = this->now_ + 100;
  auto second = this->db_->GetOrCreateWorkflow(again);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, wf.id);
  EXPECT_EQ(second->created_at, this->now_);
  auto third = this->db_->GetOrCreateWorkflow({Id(), org, proj2, "build", this->now_});
  ASSERT_TRUE(third);
  EXPECT_NE(third->id, wf.id);
  auto found = this->db_->GetWorkflow(proj, "build");
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->id, wf.id);
  EXPECT_EQ(found->project_id, proj);
  EXPECT_TRUE(this->db_->GetWorkflow(proj, "release").error().IsNotFound());

  auto list = this->db_->ListWorkflows(org);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
}

TYPED_TEST(StoreTest, WorkflowRuns) {
  this->Migrated();
  User u = this->NewUser("u@example.com");
  std::string org = this->NewOrg("acme", u);
  std::string web = this->NewProject(org, "web");
  std::string api = this->NewProject(org, "api");
  auto wf_web = *this->db_->GetOrCreateWorkflow({Id(), org, web, "build", this->now_});
  auto wf_api = *this->db_->GetOrCreateWorkflow({Id(), org, api, "release", this->now_});

  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    WorkflowRun r;
    r.id = Id();
    r.org_id = org;
    r.project_id = i % 2 == 0 ? web : api;
    r.workflow_id = i % 2 == 0 ? wf_web.id : wf_api.id;
    r.state = RunState::kInitialized;
    r.created_at = this->now_ + i * 1000;
    r.actor_kind = "user";
    r.actor_id = u.id;
    r.actor_name = "u@example.com";
    auto st = this->db_->CreateRun(r);
    ASSERT_TRUE(st) << st.error().ToString();
    ids.push_back(r.id);
  }

  WorkflowRun done;
  done.id = ids[0];
  done.org_id = org;
  done.finished_at = this->now_ + 10'000;
  done.statement = R"({"_type":"https://in-toto.io/Statement/v1"})";
  done.predicate_type = "https://slsa.dev/provenance/v1";
  done.statement_digest = "sha256:abc";
  done.actor_kind = "api_token";
  done.actor_id = "tok";
  done.actor_name = "ci";
  auto st = this->db_->CompleteRun(done);
  ASSERT_TRUE(st) << st.error().ToString();
  st = this->db_->CompleteRun(done);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Error::Code::kFailedPrecondition);
  WorkflowRun unknown = done;
  unknown.id = Id();
  EXPECT_TRUE(this->db_->CompleteRun(unknown).error().IsNotFound());

  auto got = this->db_->GetRun(org, ids[0]);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->state, RunState::kSucceeded);
  EXPECT_EQ(got->finished_at, this->now_ + 10'000);
  EXPECT_EQ(got->statement, done.statement);
  EXPECT_EQ(got->predicate_type, done.predicate_type);
  EXPECT_EQ(got->statement_digest, "sha256:abc");
  EXPECT_EQ(got->actor_kind, "api_token");
  EXPECT_EQ(got->workflow_name, "build");
  EXPECT_EQ(got->project_name, "web");
  auto open = this->db_->GetRun(org, ids[1]);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->state, RunState::kInitialized);
  EXPECT_FALSE(open->finished_at.has_value());
  EXPECT_EQ(open->workflow_name, "release");
  // Runs are scoped to their organization.
  User other_owner = this->NewUser("o@example.com");
  std::string other = this->NewOrg("other", other_owner);
  EXPECT_TRUE(this->db_->GetRun(other, ids[0]).error().IsNotFound());

  auto all = this->db_->ListRuns(org, std::nullopt, {.limit = 3});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[0].id, ids[3]);
  EXPECT_EQ(all->items[1].id, ids[2]);
  EXPECT_EQ(all->items[2].id, ids[1]);
  EXPECT_TRUE(all->next.has_value());
  auto web_runs = this->db_->ListRuns(org, web, {.limit = 10});
  ASSERT_TRUE(web_runs);
  ASSERT_EQ(web_runs->items.size(), 2u);
  EXPECT_FALSE(web_runs->next.has_value());
  EXPECT_EQ(web_runs->items[0].id, ids[2]);
  EXPECT_EQ(web_runs->items[1].id, ids[0]);
  EXPECT_TRUE(web_runs->items[1].statement.empty());
  EXPECT_EQ(web_runs->items[1].statement_digest, "sha256:abc");
  EXPECT_EQ(web_runs->items[1].project_name, "web");
  EXPECT_TRUE(this->db_->ListRuns(other, std::nullopt, {.limit = 10})->items.empty());
}

}  // namespace
}  // namespace cl::store::testing
