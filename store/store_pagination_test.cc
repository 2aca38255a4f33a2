// StoreTest (SQLite and PostgreSQL): keyset pagination of every listing. Following `next` from
// the first page returns every row exactly once, in the listing's order, with ties on the sort
// value broken by id, rows inserted meanwhile neither repeating nor hiding rows already due,
// and the last page (full or not) saying there is no next one; plus the audit log's filters.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "store/store_test_fixture.h"

namespace cl::store::testing {
namespace {

// Every row of a listing, page after page of `limit` rows, through `fetch(PageRequest<Key>)`.
// Checks each page's size and that only the last has no `next`; `pages` counts them.
template <typename T, typename Key, typename Fetch>
std::vector<T> AllPages(Fetch fetch, int limit, int* pages = nullptr) {
  PageRequest<Key> request{.limit = limit};
  std::vector<T> out;
  int count = 0;
  for (int guard = 0; guard < 10000; ++guard) {
    Result<Page<T, Key>> page = fetch(request);
    EXPECT_TRUE(page) << page.error().ToString();
    if (!page) break;
    ++count;
    EXPECT_LE(page->items.size(), static_cast<size_t>(limit));
    if (page->next) {
      EXPECT_EQ(page->items.size(), static_cast<size_t>(limit)) << "a short page before the end";
    }
    out.insert(out.end(), page->items.begin(), page->items.end());
    if (!page->next) break;
    request.after = page->next;
  }
  if (pages != nullptr) *pages = count;
  return out;
}

template <typename T>
std::vector<std::string> Ids(const std::vector<T>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

bool Unique(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return std::adjacent_find(ids.begin(), ids.end()) == ids.end();
}

TYPED_TEST(StoreTest, AuditEventPagesCoverEveryRowOnceNewestFirst) {
  this->Migrated();
  const std::string org = Id();
  // 20 events on 7 distinct times: ties on created_at are broken by id.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(this->db_->AppendAuditEvent(this->Event(org, "a", this->now_ + (i % 7))));
  }
  ASSERT_TRUE(this->db_->AppendAuditEvent(this->Event(Id(), "elsewhere")));
  auto fetch = [&](const PageRequest<TimeKey>& r) {
    return this->db_->ListAuditEvents(AuditEventFilter{.org_id = org}, r);
  };
  for (int limit : {1, 3, 5, 7, 20, 1000}) {
    int pages = 0;
    auto all = AllPages<AuditEvent, TimeKey>(fetch, limit, &pages);
    ASSERT_EQ(all.size(), 20u) << "limit " << limit;
    EXPECT_TRUE(Unique(Ids(all)));
    // 20 rows in pages of 5 or 20: the last page is full and still says "no next page".
    EXPECT_EQ(pages, (20 + limit - 1) / limit) << "limit " << limit;
    for (size_t i = 1; i < all.size(); ++i) {
      EXPECT_GT(std::tie(all[i - 1].created_at, all[i - 1].id),
                std::tie(all[i].created_at, all[i].id));
    }
  }
  // Below 1, a page still has one row (the API refuses such limits before the store).
  auto one = this->db_->ListAuditEvents(AuditEventFilter{.org_id = org}, {.limit = 0});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->items.size(), 1u);
  auto none = this->db_->ListAuditEvents(AuditEventFilter{.org_id = Id()}, {.limit = 5});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
  EXPECT_FALSE(none->next);
}

TYPED_TEST(StoreTest, ApiTokenPagesIgnoreRowsInsertedBetweenPages) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", owner);
  std::vector<std::string> before;
  for (int i = 0; i < 10; ++i) {
    // Pairs of tokens created at the same instant.
    ApiToken t = Token(org, "t" + std::to_string(i), this->now_ + 100 + i / 2);
    ASSERT_TRUE(this->db_->CreateApiToken(t, this->Event(org, "api_token.created")));
    before.push_back(t.id);
  }
  ApiTokenFilter filter{.org_id = org, .status = ApiTokenFilter::Status::kAll, .now = this->now_};
  auto first = this->db_->ListApiTokens(filter, {.limit = 4});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 4u);
  ASSERT_TRUE(first->next);
  // A newer token sorts before the pages already read; an older one after them.
  ApiToken newer = Token(org, "newer", this->now_ + 1000);
  ApiToken older = Token(org, "older", this->now_);
  ASSERT_TRUE(this->db_->CreateApiToken(newer, this->Event(org, "api_token.created")));
  ASSERT_TRUE(this->db_->CreateApiToken(older, this->Event(org, "api_token.created")));
  std::vector<ApiToken> seen = first->items;
  auto rest = AllPages<ApiToken, TimeKey>(
      [&](PageRequest<TimeKey> r) {
        if (!r.after) r.after = first->next;
        return this->db_->ListApiTokens(filter, r);
      },
      4);
  seen.insert(seen.end(), rest.begin(), rest.end());
  std::vector<std::string> ids = Ids(seen);
  EXPECT_TRUE(Unique(ids));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), newer.id), 0);
  EXPECT_EQ(ids.back(), older.id);
  for (const auto& id : before) EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 1) << id;
  // The unbounded listing has the same order: created_at descending, then id descending.
  auto unbounded = this->db_->ListApiTokens(filter);
  ASSERT_TRUE(unbounded);
  auto paged = AllPages<ApiToken, TimeKey>(
      [&](const PageRequest<TimeKey>& r) { return this->db_->ListApiTokens(filter, r); }, 3);
  EXPECT_EQ(Ids(*unbounded), Ids(paged));
  for (size_t i = 1; i < paged.size(); ++i) {
    EXPECT_GT(std::tie(paged[i - 1].created_at, paged[i - 1].id),
              std::tie(paged[i].created_at, paged[i].id));
  }
}

TYPED_TEST(StoreTest, MemberPagesBreakTiesOnEmailById) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", owner);
  // Five accounts (different subjects) share one email; two have none.
  std::vector<User> users = {owner};
  for (int i = 0; i < 7; ++i) {
    User u;
    u.id = Id();
    u.issuer = "https://idp.example";
    u.subject = "shared-" + std::to_string(i);
    u.email = i < 5 ? "shared@example.com" : "";
    u.created_at = u.updated_at = this->now_;
    ASSERT_TRUE(this->db_->UpsertUser(u));
    Invitation inv = Invite(Id(), org, "x" + std::to_string(i) + "@example.com", OrgRole::kViewer,
                            owner.id, InvitationStatus::kPending, this->now_);
    ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
    ASSERT_TRUE(this->db_->AcceptInvitation(inv.id, Member(org, u.id, OrgRole::kViewer, 0),
                                            this->now_, this->Event(org, "invitation.accepted")));
    users.push_back(u);
  }
  auto all = AllPages<Membership, NameKey>(
      [&](const PageRequest<NameKey>& r) { return this->db_->ListMembers(org, r); }, 2);
  ASSERT_EQ(all.size(), users.size());
  std::set<std::string> seen;
  for (const auto& m : all) seen.insert(m.user_id);
  EXPECT_EQ(seen.size(), users.size());
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(std::tie(all[i - 1].user_email, all[i - 1].user_id),
              std::tie(all[i].user_email, all[i].user_id));
  }
  auto unbounded = this->db_->ListMembers(org);
  ASSERT_TRUE(unbounded);
  ASSERT_EQ(unbounded->size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ((*unbounded)[i].user_id, all[i].user_id);
}

TYPED_TEST(StoreTest, InvitationPagesOldestFirstWithTies) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", owner);
  for (int i = 0; i < 9; ++i) {
    Invitation inv = Invite(Id(), org, "p" + std::to_string(i) + "@example.com", OrgRole::kViewer,
                            owner.id, InvitationStatus::kPending, this->now_ + i / 3);
    ASSERT_TRUE(this->db_->CreateInvitation(inv, this->Event(org, "invitation.created")));
  }
  auto all = AllPages<Invitation, TimeKey>(
      [&](const PageRequest<TimeKey>& r) { return this->db_->ListPendingInvitations(org, r); }, 2);
  ASSERT_EQ(all.size(), 9u);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(std::tie(all[i - 1].created_at, all[i - 1].id),
              std::tie(all[i].created_at, all[i].id));
  }
}

TYPED_TEST(StoreTest, OrganizationProjectAndPolicyPagesByName) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  std::vector<std::string> orgs;
  for (const char* name : {"delta", "alpha", "echo", "charlie", "bravo"}) {
    orgs.push_back(this->NewOrg(name, owner));
  }
  auto mine = AllPages<Membership, NameKey>(
      [&](const PageRequest<NameKey>& r) { return this->db_->ListMembershipsForUser(owner.id, r); },
      2);
  std::vector<std::string> names;
  for (const auto& m : mine) names.push_back(m.org_name);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "bravo", "charlie", "delta", "echo"}));

  const std::string org = orgs[0];
  std::vector<std::string> project_ids;
  for (const char* name : {"web", "api", "cli", "docs"}) {
    project_ids.push_back(this->NewProject(org, name));
  }
  auto projects = AllPages<Project, NameKey>(
      [&](const PageRequest<NameKey>& r) { return this->db_->ListProjects(org, std::nullopt, r); },
      3);
  names.clear();
  for (const auto& p : projects) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"api", "cli", "docs", "web"}));
  // A project-scoped caller's listing holds its project only, on one full page.
  auto only = this->db_->ListProjects(org, project_ids[2], {.limit = 1});
  ASSERT_TRUE(only);
  ASSERT_EQ(only->items.size(), 1u);
  EXPECT_EQ(only->items[0].name, "cli");
  EXPECT_FALSE(only->next);

  for (const char* name : {"p3", "p1", "p2"}) {
    ASSERT_TRUE(this->db_->CreateTrustPolicy(Policy(org, name, "https://gitlab.com", this->now_),
                                             this->Event(org, "trust_policy.created")));
  }
  auto policies = AllPages<TrustPolicyRecord, NameKey>(
      [&](const PageRequest<NameKey>& r) { return this->db_->ListTrustPolicies(org, r); }, 1);
  names.clear();
  for (const auto& p : policies) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"p1", "p2", "p3"}));
}

TYPED_TEST(StoreTest, WorkflowAndRunPages) {
  this->Migrated();
  User owner = this->NewUser("owner@example.com");
  const std::string org = this->NewOrg("acme", owner);
  const std::string web = this->NewProject(org, "web");
  const std::string api = this->NewProject(org, "api");
  std::vector<Workflow> workflows;
  for (const auto& [project, name] : std::vector<std::pair<std::string, std::string>>{
           {web, "build"}, {api, "test"}, {web, "alpha"}, {api, "build"}, {web, "zeta"}}) {
    auto wf = this->db_->GetOrCreateWorkflow({Id(), org, project, name, this->now_});
    ASSERT_TRUE(wf);
    workflows.push_back(*wf);
  }
  auto all = AllPages<Workflow, WorkflowKey>(
      [&](const PageRequest<WorkflowKey>& r) {
        return this->db_->ListWorkflows(org, std::nullopt, r);
      },
      2);
  std::vector<std::string> names;
  for (const auto& w : all) names.push_back(w.project_name + "/" + w.name);
  EXPECT_EQ(names, (std::vector<std::string>{"api/build", "api/test", "web/alpha", "web/build",
                                             "web/zeta"}));
  auto of_web = AllPages<Workflow, WorkflowKey>(
      [&](const PageRequest<WorkflowKey>& r) { return this->db_->ListWorkflows(org, web, r); }, 2);
  EXPECT_EQ(of_web.size(), 3u);
  for (const auto& w : of_web) EXPECT_EQ(w.project_id, web);

  for (int i = 0; i < 11; ++i) {
    WorkflowRun run;
    run.id = Id();
    run.org_id = org;
    run.project_id = i % 2 == 0 ? web : api;
    run.workflow_id = i % 2 == 0 ? workflows[0].id : workflows[1].id;
    run.created_at = this->now_ + i / 4;
    ASSERT_TRUE(this->db_->CreateRun(run));
  }
  auto runs = AllPages<WorkflowRun, TimeKey>(
      [&](const PageRequest<TimeKey>& r) { return this->db_->ListRuns(org, std::nullopt, r); }, 3);
  ASSERT_EQ(runs.size(), 11u);
  EXPECT_TRUE(Unique(Ids(runs)));
  for (size_t i = 1; i < runs.size(); ++i) {
    EXPECT_GT(std::tie(runs[i - 1].created_at, runs[i - 1].id),
              std::tie(runs[i].created_at, runs[i].id));
  }
  auto web_runs = AllPages<WorkflowRun, TimeKey>(
      [&](const PageRequest<TimeKey>& r) { return this->db_->ListRuns(org, web, r); }, 4);
  EXPECT_EQ(web_runs.size(), 6u);
}

TYPED_TEST(StoreTest, AuditEventFiltersAreAndedAndPaged) {
  this->Migrated();
  const std::string org = Id();
  const std::string token_id = Id();
  auto event = [&](const std::string& action, const std::string& actor_id,
                   const std::string& actor_name, const std::string& target, UnixMillis at) {
    AuditEvent e = this->Event(org, action, at);
    e.actor_id = actor_id;
    e.actor_name = actor_name;
    e.target_id = target;
    EXPECT_TRUE(this->db_->AppendAuditEvent(e));
    return e.id;
  };
  const UnixMillis t0 = this->now_;
  std::vector<std::string> revocations;
  for (int i = 0; i < 6; ++i) {
    revocations.push_back(
        event("api_token.revoked", "u1", "ann@example.com", token_id, t0 + i * 1000));
  }
  event("api_token.created", "u1", "ann@example.com", token_id, t0 + 500);
  event("api_token.revoked", "system", "system", Id(), t0 + 2500);
  event("project.created", "tok-id", "ci-token", Id(), t0 + 3000);

  auto list = [&](AuditEventFilter f, int limit = 2) {
    f.org_id = org;
    return AllPages<AuditEvent, TimeKey>(
        [&](const PageRequest<TimeKey>& r) { return this->db_->ListAuditEvents(f, r); }, limit);
  };
  EXPECT_EQ(list({}).size(), 9u);
  EXPECT_EQ(list({.action = "api_token.revoked"}).size(), 7u);
  EXPECT_EQ(list({.action = "no.such"}).size(), 0u);
  // The actor matches by id or by name, exactly.
  EXPECT_EQ(list({.actor = "u1"}).size(), 7u);
  EXPECT_EQ(list({.actor = "ann@example.com"}).size(), 7u);
  EXPECT_EQ(list({.actor = "ci-token"}).size(), 1u);
  EXPECT_EQ(list({.actor = "tok-id"}).size(), 1u);
  EXPECT_EQ(list({.actor = "ann"}).size(), 0u);
  EXPECT_EQ(list({.target_id = token_id}).size(), 7u);
  // since <= created_at < until.
  EXPECT_EQ(list({.since = t0 + 1000}).size(), 7u);
  EXPECT_EQ(list({.until = t0 + 1000}).size(), 2u);
  EXPECT_EQ(list({.since = t0 + 1000, .until = t0 + 3000}).size(), 3u);
  auto combined = list(
      {.action = "api_token.revoked", .actor = "u1", .target_id = token_id, .since = t0 + 1000}, 1);
  std::vector<std::string> expected(revocations.rbegin(), revocations.rend() - 1);
  EXPECT_EQ(Ids(combined), expected);
}

}  // namespace
}  // namespace cl::store::testing
