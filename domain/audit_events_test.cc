// Audit events: the wire-name tables, the actors, and that each service records the same event
// fields (action, target kind, actor, message) it recorded before the builder existed.
#include "domain/audit_events.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "domain/testing/service_fixtures.h"

namespace cl::domain {
namespace {

TEST(AuditEvents, EveryActionHasAUniqueDottedWireName) {
  const std::regex dotted("[a-z_]+\\.[a-z_]+");
  std::set<std::string_view> seen;
  for (AuditAction a : AllAuditActions()) {
    std::string_view name = AuditActionName(a);
    EXPECT_TRUE(std::regex_match(std::string(name), dotted)) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
  }
  EXPECT_EQ(seen.size(), 19u);
}

TEST(AuditEvents, WireNamesAreTheReleasedOnes) {
  // Stored in databases and shown by the CLI: a rename breaks them.
  const std::pair<AuditAction, std::string_view> released[] = {
      {AuditAction::kOrganizationCreated, "organization.created"},
      {AuditAction::kOrganizationUpdated, "organization.updated"},
      {AuditAction::kInvitationCreated, "invitation.created"},
      {AuditAction::kInvitationAccepted, "invitation.accepted"},
      {AuditAction::kProjectCreated, "project.created"},
      {AuditAction::kApiTokenCreated, "api_token.created"},
      {AuditAction::kApiTokenRevoked, "api_token.revoked"},
      {AuditAction::kTrustPolicyCreated, "trust_policy.created"},
      {AuditAction::kTrustPolicyDeleted, "trust_policy.deleted"},
      {AuditAction::kFederationTokenExchanged, "federation.token_exchanged"},
      {AuditAction::kFederationCiTokenUsed, "federation.ci_token_used"},
      {AuditAction::kMemberRoleChanged, "member.role_changed"},
      {AuditAction::kMemberRemoved, "member.removed"},
      {AuditAction::kInvitationRevoked, "invitation.revoked"},
      {AuditAction::kApiTokenLeaked, "api_token.leaked"},
      {AuditAction::kCredentialLeaked, "credential.leaked"},
      {AuditAction::kApiTokenRotated, "api_token.rotated"},
      {AuditAction::kWebhookCreated, "webhook.created"},
      {AuditAction::kWebhookDeleted, "webhook.deleted"},
  };
  for (const auto& [action, name] : released) EXPECT_EQ(AuditActionName(action), name);
  const std::pair<AuditTarget, std::string_view> targets[] = {
      {AuditTarget::kOrganization, "organization"},
      {AuditTarget::kInvitation, "invitation"},
      {AuditTarget::kProject, "project"},
      {AuditTarget::kApiToken, "api_token"},
      {AuditTarget::kTrustPolicy, "trust_policy"},
      {AuditTarget::kMember, "member"},
      {AuditTarget::kSession, "session"},
      {AuditTarget::kFederatedToken, "federated_token"},
      {AuditTarget::kWebhook, "webhook"},
  };
  std::set<std::string_view> seen;
  for (const auto& [target, name] : targets) {
    EXPECT_EQ(AuditTargetName(target), name);
    seen.insert(name);
  }
  EXPECT_EQ(seen.size(), AllAuditTargets().size());
}

TEST(AuditEvents, ASystemEventNamesTheSystemThrice) {
  SystemRandom random;
  store::AuditEvent e = NewAuditEvent(
      AuditActor::System(),
      {"org-id", AuditAction::kApiTokenRevoked, AuditTarget::kApiToken, "tok", "m"}, 1234, random);
  EXPECT_TRUE(IsUuid(e.id));
  EXPECT_EQ(e.org_id, "org-id");
  EXPECT_EQ(e.actor_kind, "system");
  EXPECT_EQ(e.actor_id, "system");
  EXPECT_EQ(e.actor_name, "system");
  EXPECT_EQ(e.action, "api_token.revoked");
  EXPECT_EQ(e.target_kind, "api_token");
  EXPECT_EQ(e.target_id, "tok");
  EXPECT_EQ(e.message, "m");
  EXPECT_EQ(e.created_at, 1234);
  EXPECT_NE(NewAuditEvent(AuditActor::System(), {}, 0, random).id, e.id);
}

TEST(AuditEvents, ActorsOfPrincipalsUsersAndCiJobs) {
  Principal token;
  token.kind = Principal::Kind::kApiToken;
  token.id = "tok-id";
  token.display_name = "ci";
  token.client_address = "203.0.113.7";
  AuditActor a = AuditActor::Of(token);
  EXPECT_EQ(a.kind, "api_token");
  EXPECT_EQ(a.id, "tok-id");
  EXPECT_EQ(a.name, "ci");
  EXPECT_EQ(a.client_address, "203.0.113.7");
  SystemRandom random;
  EXPECT_EQ(NewAuditEvent(a, {}, 0, random).client_address, "203.0.113.7");
  EXPECT_EQ(NewAuditEvent(AuditActor::System(), {}, 0, random).client_address, "");

  store::User user;
  user.id = "user-id";
  user.email = "amy@example.com";
  user.name = "Amy";
  a = AuditActor::User(user, "2001:db8::1");
  EXPECT_EQ(a.kind, "user");
  EXPECT_EQ(a.id, "user-id");
  EXPECT_EQ(a.name, "amy@example.com");
  EXPECT_EQ(a.client_address, "2001:db8::1");

  // A CI job is recorded under its trust policy's id, not its issuer|subject.
  a = AuditActor::CiJob("policy-id", "gitlab: group/app", "198.51.100.2");
  EXPECT_EQ(a.kind, "federated");
  EXPECT_EQ(a.id, "policy-id");
  EXPECT_EQ(a.name, "gitlab: group/app");
  EXPECT_EQ(a.client_address, "198.51.100.2");
}

// The event a service wrote, found by action and target id.
const store::AuditEvent* Find(const std::vector<store::AuditEvent>& events, std::string_view action,
                              const std::string& target_id) {
  for (const auto& e : events) {
    if (e.action == action && e.target_id == target_id) return &e;
  }
  return nullptr;
}

struct Expected {
  std::string action, target_kind, target_id, actor_kind, actor_id, actor_name, message;
  UnixMillis at = 0;  // 0: the clock's reading when the events are checked
};

void ExpectEvent(const std::vector<store::AuditEvent>& events, const Expected& x,
                 const std::string& org_id, UnixMillis now) {
  const UnixMillis at = x.at != 0 ? x.at : now;
  const store::AuditEvent* e = Find(events, x.action, x.target_id);
  ASSERT_NE(e, nullptr) << x.action << " " << x.target_id;
  EXPECT_TRUE(IsUuid(e->id)) << x.action;
  EXPECT_EQ(e->org_id, org_id) << x.action;
  EXPECT_EQ(e->target_kind, x.target_kind) << x.action;
  EXPECT_EQ(e->actor_kind, x.actor_kind) << x.action;
  EXPECT_EQ(e->actor_id, x.actor_id) << x.action;
  EXPECT_EQ(e->actor_name, x.actor_name) << x.action;
  EXPECT_EQ(e->message, x.message) << x.action;
  EXPECT_EQ(e->created_at, at) << x.action;
}

TEST_F(ApiTokenTest, EachServiceRecordsTheSameEventFieldsAsBefore) {
  const UnixMillis before = clock_.Now();  // SetUp created the organization and projects
  auto org = orgs_->Describe(owner_, "acme");
  ASSERT_TRUE(org);
  const std::string org_id = org->org.id;
  auto invitation = orgs_->Invite(owner_, "acme", "amy@example.com", store::OrgRole::kMember);
  ASSERT_TRUE(invitation);
  Principal amy = Auth(LoginAs("amy", "amy@example.com"));
  ASSERT_TRUE(orgs_->SetApiTokenMaxDaysInactive(owner_, "acme", 30));
  CreatedApiToken t = MustCreate(owner_, {.name = "ci"});
  ASSERT_TRUE(tokens_->Revoke(owner_, "acme", t.record.id));
  auto projects = Items(orgs_->ListProjects(owner_, "acme", {}));
  ASSERT_TRUE(projects);
  ASSERT_FALSE(projects->empty());
  const store::Project& backend = projects->front();
  ASSERT_EQ(backend.name, "backend");

  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 100}));
  ASSERT_TRUE(events);
  const UnixMillis now = clock_.Now();  // a login moves the fake clock; nothing else does
  const std::string owner = owner_.id;
  const std::string o = "owner@example.com";
  const Expected expected[] = {
      {"organization.created", "organization", org_id, "user", owner, o,
       o + " created the organization acme", before},
      {"project.created", "project", backend.id, "user", owner, o,
       o + " created the project backend", before},
      {"invitation.created", "invitation", invitation->id, "user", owner, o,
       o + " invited amy@example.com as member", before},
      {"invitation.accepted", "invitation", invitation->id, "user", amy.id, "amy@example.com",
       "amy@example.com joined as member"},
      {"organization.updated", "organization", org_id, "user", owner, o,
       o + " set API token auto-revocation to 30 days of inactivity"},
      {"api_token.created", "api_token", t.record.id, "user", owner, o,
       o + " created the API token ci for the organization"},
      {"api_token.revoked", "api_token", t.record.id, "user", owner, o,
       o + " revoked the API token ci"},
  };
  for (const Expected& x : expected) ExpectEvent(*events, x, org_id, now);
  EXPECT_EQ(events->size(), std::size(expected) + 1);  // plus the second project
}

TEST_F(FederationTest, FederationRecordsTheSameEventFieldsAsBefore) {
  auto policy = CreatePolicy(owner_, BackendPolicy());
  ASSERT_TRUE(policy) << policy.error().ToString();
  ASSERT_TRUE(fed_->Exchange("acme", Mint(Claims())));
  ASSERT_TRUE(fed_->AuthenticateCiToken("acme", Mint(Claims()), "init"));
  ASSERT_TRUE(fed_->DeletePolicy(owner_, "acme", policy->id));

  auto events = Items(orgs_->ListAuditEvents(owner_, "acme", {}, {.limit = 100}));
  ASSERT_TRUE(events);
  const std::string o = "owner@example.com";
  const std::string id = policy->id;
  const std::string sub = "project_path:acme/backend:ref_type:branch:ref:main";
  const std::string ci = "gitlab: acme/backend@main";
  const Expected expected[] = {
      {"trust_policy.created", "trust_policy", id, "user", owner_.id, o,
       o + " created the trust policy gitlab-backend for https://gitlab.com "
           "(namespace_path=acme, ref=main)"},
      {"federation.token_exchanged", "trust_policy", id, "federated", id, ci,
       "CI token of https://gitlab.com (sub " + sub +
           ") exchanged under trust policy gitlab-backend"},
      {"federation.ci_token_used", "trust_policy", id, "federated", id, ci,
       "CI token of https://gitlab.com (sub " + sub +
           ") used directly for attestation init under trust policy gitlab-backend"},
      {"trust_policy.deleted", "trust_policy", id, "user", owner_.id, o,
       o + " deleted the trust policy gitlab-backend"},
  };
  for (const Expected& x : expected) ExpectEvent(*events, x, policy->org_id, clock_.Now());
}

}  // namespace
}  // namespace cl::domain
