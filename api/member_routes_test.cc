// Handler tests of the membership-changing routes (api/organization_routes.cc): changing a
// member's role, removing a member and cancelling an invitation, through the router, with the
// rules of domain/organizations.h (admins never touch owners, the last owner stays) and their
// status codes.
#include <string>
#include <vector>

#include "api/api_testing.h"

namespace cl::api {
namespace {

using testing::Answer;

class MemberRoutesTest : public testing::AcmeApiTest {
 protected:
  static std::string Members(const std::string& rest = "") {
    return "/v1/organizations/acme/members" + rest;
  }
  // The user id of the member with `email`, from the members list `caller` reads (default: the
  // owner's); empty when absent.
  std::string UserId(const std::string& email, std::string caller = "") {
    Answer a = Call("GET", Members(), caller.empty() ? owner_ : caller);
    EXPECT_EQ(a.status, 200) << SerializeJson(a.body);
    if (a.status != 200) return "";
    for (const auto& m : a.body.at("members").as_array()) {
      if (m.at("email").as_string() == email) return std::string(m.at("user_id").as_string());
    }
    return "";
  }
  Answer SetRole(const std::string& caller, const std::string& user_id, const std::string& role) {
    return Call("PATCH", Members("/" + user_id), caller, R"({"role":")" + role + R"("})");
  }
  Answer Remove(const std::string& caller, const std::string& user_id) {
    return Call("DELETE", Members("/" + user_id), caller);
  }
  // The actions of the audit log, newest first.
  std::vector<std::string> AuditActions() {
    Answer a = Call("GET", "/v1/organizations/acme/audit-events", owner_);
    EXPECT_EQ(a.status, 200);
    std::vector<std::string> out;
    for (const auto& e : a.body.at("audit_events").as_array()) {
      out.emplace_back(e.at("action").as_string());
    }
    return out;
  }
};

TEST_F(MemberRoutesTest, OwnerChangesARoleAndTheChangeIsAudited) {
  std::string ada = JoinAs(owner_, "acme", "ada", "admin");
  ASSERT_FALSE(ada.empty());
  const std::string ada_id = UserId("ada@example.com");
  clock_.Advance(kMillisPerSecond);  // the change is then the newest audit event
  Answer a = SetRole(owner_, ada_id, "viewer");
  ASSERT_EQ(a.status, 200) << SerializeJson(a.body);
  EXPECT_EQ(a.body.at("member").at("user_id").as_string(), ada_id);
  EXPECT_EQ(a.body.at("member").at("email").as_string(), "ada@example.com");
  EXPECT_EQ(a.body.at("member").at("role").as_string(), "viewer");
  EXPECT_EQ(Call("GET", "/v1/organizations/acme", ada).body.at("role").as_string(), "viewer");
  // A viewer at once: no longer allowed to invite.
  EXPECT_EQ(Call("POST", "/v1/organizations/acme/invitations", ada,
                 R"({"receiver_email":"x@example.com","role":"viewer"})")
                .status,
            403);
  auto actions = AuditActions();
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions[0], "member.role_changed");
}

TEST_F(MemberRoutesTest, AdminsNeverTouchOwnersNorMakeOwners) {
  std::string ada = JoinAs(owner_, "acme", "ada", "admin");
  std::string max = JoinAs(owner_, "acme", "max", "member");
  ASSERT_FALSE(max.empty());
  const std::string owner_id = UserId("owner@example.com");
  const std::string max_id = UserId("max@example.com");
  for (const Answer& a :
       {SetRole(ada, owner_id, "viewer"), Remove(ada, owner_id), SetRole(ada, max_id, "owner")}) {
    EXPECT_EQ(a.status, 403) << SerializeJson(a.body);
    EXPECT_EQ(a.code, "permission_denied");
  }
  // What admins may do: change and remove non-owners.
  EXPECT_EQ(SetRole(ada, max_id, "viewer").status, 200);
  EXPECT_EQ(Remove(ada, max_id).status, 204);
  EXPECT_EQ(UserId("max@example.com"), "");
}

TEST_F(MemberRoutesTest, MembersAndViewersAreRefused) {
  std::string max = JoinAs(owner_, "acme", "max", "member");
  std::string vic = JoinAs(owner_, "acme", "vic", "viewer");
  const std::string vic_id = UserId("vic@example.com");
  const std::string max_id = UserId("max@example.com");
  for (const Answer& a : {SetRole(max, vic_id, "admin"), Remove(max, vic_id),
                          SetRole(vic, vic_id, "admin"), Remove(vic, max_id)}) {
    EXPECT_EQ(a.status, 403) << SerializeJson(a.body);
    EXPECT_EQ(a.code, "permission_denied");
  }
}

TEST_F(MemberRoutesTest, TheLastOwnerCanNeitherLeaveNorBeDemoted) {
  const std::string owner_id = UserId("owner@example.com");
  for (const Answer& a : {SetRole(owner_, owner_id, "admin"), Remove(owner_, owner_id)}) {
    EXPECT_EQ(a.status, 409) << SerializeJson(a.body);
    EXPECT_EQ(a.code, "last_owner");
  }
  EXPECT_EQ(Call("GET", "/v1/organizations/acme", owner_).body.at("role").as_string(), "owner");
  // With a second owner, the first may step down, and then leave.
  std::string olga = JoinAs(owner_, "acme", "olga", "owner");
  ASSERT_FALSE(olga.empty());
  EXPECT_EQ(SetRole(owner_, owner_id, "admin").status, 200);
  EXPECT_EQ(Remove(owner_, owner_id).status, 204);
  EXPECT_EQ(Call("GET", "/v1/organizations/acme", owner_).status, 404);
  // Now olga is the last owner.
  Answer last = Remove(olga, UserId("olga@example.com", olga));
  EXPECT_EQ(last.status, 409);
  EXPECT_EQ(last.code, "last_owner");
}

TEST_F(MemberRoutesTest, ARemovedMemberIsRefusedAtOnce) {
  std::string max = JoinAs(owner_, "acme", "max", "member");
  ASSERT_EQ(Call("GET", "/v1/organizations/acme/projects", max).status, 200);
  const std::string max_id = UserId("max@example.com");
  clock_.Advance(kMillisPerSecond);
  ASSERT_EQ(Remove(owner_, max_id).status, 204);
  // The next request, with the same session: authorization reads the membership each time.
  for (const char* path : {"", "/projects", "/members"}) {
    Answer a = Call("GET", std::string("/v1/organizations/acme") + path, max);
    EXPECT_EQ(a.status, 404) << path;
    EXPECT_EQ(a.code, "not_found") << path;
  }
  EXPECT_EQ(Call("POST", "/v1/organizations/acme/projects", max, R"({"name":"mine"})").status, 404);
  auto actions = AuditActions();
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions[0], "member.removed");
}

TEST_F(MemberRoutesTest, RequestsAreDecodedStrictly) {
  std::string ada = JoinAs(owner_, "acme", "ada", "admin");
  const std::string ada_id = UserId("ada@example.com");
  Answer bad_role = SetRole(owner_, ada_id, "superuser");
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.code, "invalid_argument");
  EXPECT_EQ(Call("PATCH", Members("/" + ada_id), owner_, "{}").code, "missing_field");
  EXPECT_EQ(Call("PATCH", Members("/" + ada_id), owner_, R"({"role":"viewer","x":1})").code,
            "unknown_field");
  EXPECT_EQ(Call("PATCH", Members("/" + ada_id), owner_, R"({"role":1})").code,
            "invalid_field_type");
  for (const Answer& a : {SetRole(owner_, "no-such-user", "viewer"), Remove(owner_, "nobody")}) {
    EXPECT_EQ(a.status, 404) << SerializeJson(a.body);
    EXPECT_EQ(a.code, "not_found");
  }
  // Nothing changed.
  EXPECT_EQ(Call("GET", "/v1/organizations/acme", ada).body.at("role").as_string(), "admin");
  for (const char* method : {"PATCH", "DELETE"}) {
    EXPECT_EQ(Call(method, Members("/" + ada_id), "", R"({"role":"viewer"})").status, 401);
  }
}

TEST_F(MemberRoutesTest, PendingInvitationsCanBeCancelled) {
  auto invite = [&](const std::string& caller, const std::string& email, const std::string& role) {
    Answer a = Call("POST", "/v1/organizations/acme/invitations", caller,
                    R"({"receiver_email":")" + email + R"(","role":")" + role + R"("})");
    EXPECT_EQ(a.status, 201) << SerializeJson(a.body);
    return a.status == 201 ? std::string(a.body.at("invitation").at("id").as_string()) : "";
  };
  auto cancel = [&](const std::string& caller, const std::string& id) {
    return Call("DELETE", "/v1/organizations/acme/invitations/" + id, caller);
  };
  const std::string bob = invite(owner_, "bob@example.com", "member");
  clock_.Advance(kMillisPerSecond);
  EXPECT_EQ(cancel(owner_, bob).status, 204);
  Answer list = Call("GET", "/v1/organizations/acme/invitations", owner_);
  EXPECT_TRUE(list.body.at("invitations").as_array().empty()) << SerializeJson(list.body);
  Answer again = cancel(owner_, bob);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.code, "not_found");
  EXPECT_EQ(cancel(owner_, "not-a-uuid").status, 404);
  EXPECT_EQ(AuditActions().at(0), "invitation.revoked");
  // Bob logs in later: nothing to accept.
  std::string bob_session = LoginAs("bob", "bob@example.com");
  EXPECT_EQ(Call("GET", "/v1/organizations/acme", bob_session).status, 404);

  // Admins cancel invitations, but not an invitation to become owner; viewers none.
  std::string ada = JoinAs(owner_, "acme", "ada", "admin");
  std::string vic = JoinAs(owner_, "acme", "vic", "viewer");
  const std::string to_owner = invite(owner_, "olga@example.com", "owner");
  const std::string to_member = invite(owner_, "mia@example.com", "member");
  EXPECT_EQ(cancel(ada, to_owner).status, 403);
  EXPECT_EQ(cancel(vic, to_member).status, 403);
  EXPECT_EQ(cancel(ada, to_member).status, 204);
  EXPECT_EQ(cancel(owner_, to_owner).status, 204);
  // An accepted invitation is no longer pending.
  const std::string accepted = invite(owner_, "zed@example.com", "viewer");
  ASSERT_FALSE(LoginAs("zed", "zed@example.com").empty());
  EXPECT_EQ(cancel(owner_, accepted).status, 404);
}

}  // namespace
}  // namespace cl::api
