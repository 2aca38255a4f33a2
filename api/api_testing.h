// The HTTP API under test: the one place tests build the service graph (a SQLite database in a
// temp directory, the domain services on a fake clock, a scripted IdP, a CI token verifier) and
// register the real handlers on an http::Router. ApiTest is the fixture: Call() runs a request
// through the router's match and the route's handler as the server would (no sockets), and
// LoginAs() signs a person in through the real login flow.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/value.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/api.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/random.h"
#include "crypto/hash.h"
#include "domain/api_tokens.h"
#include "domain/attestations.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/federation.h"
#include "domain/idp_testing.h"
#include "domain/login.h"
#include "domain/organizations.h"
#include "domain/usage_recorder.h"
#include "domain/webhooks.h"
#include "http/http.h"
#include "oidc/ci_verifier.h"
#include "store/store.h"

namespace cl::api::testing {

// What a route answered: the response, its status, the parsed JSON body (null when not JSON)
// and error.code of an error envelope (empty otherwise).
struct Answer {
  int status = 0;
  std::string code;
  boost::json::value body;
  http::Response response;

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : response.headers) {
      if (http::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiTest : public ::testing::Test {
 protected:
  static constexpr char kExternalUrl[] = "http://127.0.0.1:1";

  // Adjusts the dependencies before the routes are registered (limits, metrics, web_dir...).
  virtual void Configure(ApiDeps&) {}
  // The operator's webhook_allowed_networks for the webhook service (default: none).
  virtual std::vector<Cidr> WebhookAllowedNetworks() { return {}; }

  void SetUp() override {
    char tmpl[] = "/tmp/cl-api-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto db = store::OpenDatabase("sqlite:" + (dir_ / "db.sqlite").string());
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate());
    authn_ = std::make_unique<domain::Authenticator>(
        domain::Authenticator::Stores{
            .users = *db_, .sessions = *db_, .tokens = *db_, .federation = *db_, .peppers = *db_},
        hasher_, clock_, &usage_);
    authz_ = std::make_unique<domain::Authorizer>(*db_, *db_);
    domain::LoginConfig login_config;  // as the server wires it: the web UI's callback
    login_config.allowed_redirect_prefixes = {std::string(kExternalUrl) + "/auth/web/callback"};
    login_ = std::make_unique<domain::LoginService>(
        domain::LoginService::Stores{
            .users = *db_, .invitations = *db_, .sessions = *db_, .login_state = *db_},
        idp_, hasher_, *authn_, clock_, random_, login_config);
    orgs_ = std::make_unique<domain::OrganizationService>(
        domain::OrganizationService::Stores{
            .orgs = *db_, .projects = *db_, .invitations = *db_, .audit = *db_},
        *authz_, clock_, random_);
    atts_ = std::make_unique<domain::AttestationService>(
        domain::AttestationService::Stores{.workflows = *db_, .projects = *db_}, *authz_, *orgs_,
        clock_, random_);
    tokens_ = std::make_unique<domain::ApiTokenService>(
        domain::ApiTokenService::Stores{.tokens = *db_, .projects = *db_}, *authz_, *orgs_, *authn_,
        hasher_, clock_, random_);
    verifier_ = std::make_unique<oidc::CiTokenVerifier>(oidc::CiVerifierOptions{}, clock_);
    domain::FederationConfig federation_config;
    federation_config.default_audience = kExternalUrl;
    fed_ = std::make_unique<domain::FederationService>(
        domain::FederationService::Stores{
            .federation = *db_, .orgs = *db_, .projects = *db_, .audit = *db_},
        *authz_, *orgs_, *verifier_, hasher_, clock_, random_, federation_config, authn_.get());
    webhooks_ = std::make_unique<domain::WebhookService>(*db_, *authz_, *orgs_, secret_box_, clock_,
                                                         random_, WebhookAllowedNetworks());
    deps_.db = db_.get();
    deps_.authenticator = authn_.get();
    deps_.login = login_.get();
    deps_.orgs = orgs_.get();
    deps_.attestations = atts_.get();
    deps_.api_tokens = tokens_.get();
    deps_.federation = fed_.get();
    deps_.webhooks = webhooks_.get();
    deps_.random = &random_;
    deps_.external_url = kExternalUrl;
    Configure(deps_);
    routes_ = RegisterRoutes(router_, deps_);
  }

  void TearDown() override {
    routes_.reset();
    webhooks_.reset();
    fed_.reset();
    verifier_.reset();
    tokens_.reset();
    atts_.reset();
    orgs_.reset();
    login_.reset();
    authn_.reset();
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // A session token of the person `sub`, signed in through the browser login flow (PKCE);
  // empty on failure.
  std::string LoginAs(const std::string& sub, const std::string& email) {
    const std::string verifier(43, 'v');
    idp_.next = domain::VerifiedIdentity{"https://idp.test", sub, email, true, sub};
    auto url = login_->StartBrowserLogin("http://127.0.0.1:5555/callback", "cli-state",
                                         crypto::PkceS256Challenge(verifier), "S256");
    if (!url) return "";
    auto redirect = login_->CompleteCallback("idp-code", idp_.last_state);
    if (!redirect) return "";
    auto start = redirect->find("code=") + 5;
    auto session =
        login_->ExchangeCode(redirect->substr(start, redirect->find('&', start) - start), verifier);
    return session ? session->token : "";
  }

  // Creates organization `name` as the person holding `token`; its id, empty on failure.
  std::string CreateOrg(const std::string& token, const std::string& name) {
    Answer a = Call("POST", "/v1/organizations", token, R"({"name":")" + name + R"("})");
    EXPECT_EQ(a.status, 201) << SerializeJson(a.body);
    return a.status == 201 ? std::string(a.body.at("organization").at("id").as_string()) : "";
  }

  // A session of the person `sub`, who joins organization `org` with `role` (invited by the
  // holder of `owner`, accepted at login).
  std::string JoinAs(const std::string& owner, const std::string& org, const std::string& sub,
                     const std::string& role) {
    const std::string email = sub + "@example.com";
    Answer a = Call("POST", "/v1/organizations/" + org + "/invitations", owner,
                    R"({"receiver_email":")" + email + R"(","role":")" + role + R"("})");
    EXPECT_EQ(a.status, 201) << SerializeJson(a.body);
    return LoginAs(sub, email);
  }

  // Runs `method target` through the router and the route's (worker pool) handler. `token`:
  // sent as "Authorization: Bearer <token>" unless empty. The body is sent as JSON unless
  // `headers` name another content-type.
  Answer Call(const std::string& method, const std::string& target, const std::string& token,
              const std::string& body = "", const Headers& headers = {}) {
    http::Request req = MakeRequest(method, target, token, body, headers);
    auto q = target.find('?');
    auto match = router_.Match(method, target.substr(0, q));
    if (!match.route) {
      ADD_FAILURE() << "no route for " << method << " " << target;
      return {};
    }
    req.path_params = match.params;
    return Parse(match.route->handler(req));
  }

  // The same request through the route's I/O-thread fast path: nullopt when it defers to the
  // worker pool (or the route has none).
  std::optional<Answer> CallFast(const std::string& method, const std::string& target,
                                 const std::string& token, const Headers& headers = {}) {
    http::Request req = MakeRequest(method, target, token, "", headers);
    auto q = target.find('?');
    auto match = router_.Match(method, target.substr(0, q));
    if (!match.route || !match.route->fast) return std::nullopt;
    req.path_params = match.params;
    auto resp = match.route->fast(req);
    if (!resp) return std::nullopt;
    return Parse(std::move(*resp));
  }

  static http::Request MakeRequest(const std::string& method, const std::string& target,
                                   const std::string& token, const std::string& body,
                                   const Headers& headers) {
    http::Request req;
    req.method = method;
    req.target = target;
    auto q = target.find('?');
    req.path = http::PercentDecode(target.substr(0, q));
    if (q != std::string::npos) req.query = target.substr(q + 1);
    if (!token.empty()) req.headers.emplace_back("authorization", "Bearer " + token);
    bool typed = false;
    for (const auto& h : headers) {
      if (http::EqualsIgnoreCase(h.first, "content-type")) typed = true;
      req.headers.push_back(h);
    }
    if (!typed) req.headers.emplace_back("content-type", "application/json");
    req.body = body;
    req.remote_addr = "127.0.0.1";
    req.request_id = "api-test";
    return req;
  }

  static Answer Parse(http::Response resp) {
    Answer a;
    a.status = resp.status;
    if (auto parsed = ParseJson(resp.body)) {
      a.body = *parsed;
      if (const auto* obj = a.body.if_object()) {
        if (const auto* err = obj->if_contains("error"); err && err->is_object()) {
          if (const auto* code = err->as_object().if_contains("code"); code && code->is_string()) {
            a.code = std::string(code->as_string());
          }
        }
      }
    }
    a.response = std::move(resp);
    return a;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  SystemRandom random_;
  crypto::CredentialHasher hasher_{"api-test-pepper-api-test-pepper-api-test-pepper"};
  domain::testing::FakeIdp idp_;
  domain::UsageRecorder usage_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<domain::Authenticator> authn_;
  std::unique_ptr<domain::Authorizer> authz_;
  std::unique_ptr<domain::LoginService> login_;
  std::unique_ptr<domain::OrganizationService> orgs_;
  std::unique_ptr<domain::AttestationService> atts_;
  std::unique_ptr<domain::ApiTokenService> tokens_;
  std::unique_ptr<oidc::CiTokenVerifier> verifier_;
  std::unique_ptr<domain::FederationService> fed_;
  crypto::SecretBox secret_box_{{"api-test-pepper-api-test-pepper-api-test-pepper"}};
  std::unique_ptr<domain::WebhookService> webhooks_;
  ApiDeps deps_;
  http::Router router_;
  std::shared_ptr<void> routes_;
};

// An ApiTest whose person `owner_` is signed in and owns the organization "acme".
class AcmeApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    owner_ = LoginAs("owner", "owner@example.com");
    ASSERT_FALSE(owner_.empty());
    ASSERT_FALSE(CreateOrg(owner_, "acme").empty());
  }
  std::string owner_;
};

// A minimal in-toto statement body, as the attestation push route accepts it.
inline constexpr char kStatement[] =
    R"({"statement":{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app",)"
    R"("digest":{"sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}],)"
    R"("predicateType":"https://slsa.dev/provenance/v1","predicate":{}}})";

}  // namespace cl::api::testing
