// Fuzz target: the JSON request body of every /v1 endpoint that takes one, through the real
// handlers. The world is the server's own wiring (api::RegisterRoutes over the domain services)
// on an in-memory SQLite database, seeded with a logged-in user who owns organization "acme",
// project "backend", an API token and a workflow run, so every decoder is reached with a valid
// session. Nothing leaves the process: the identity provider and the CI issuers are fakes.
//
// Input: the first byte picks a body-taking route from the router's own table (so routes added
// later are fuzzed too) and, with its top bit, a form-encoded Content-Type; the rest is the body.
// Invariants: no crash, leak or undefined behaviour; the answer is a valid HTTP status, never a
// 500 (a decoder must turn every bad body into a 4xx); the session survives every request; no
// credential (the session, or a token the answer issues) appears in a log line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/api.h"
#include "common/clock.h"
#include "common/log.h"
#include "crypto/hash.h"
#include "domain/api_tokens.h"
#include "domain/attestations.h"
#include "domain/authenticator.h"
#include "domain/authorization.h"
#include "domain/federation.h"
#include "domain/identity_provider.h"
#include "domain/login.h"
#include "domain/organizations.h"
#include "fuzz/fuzz_support.h"
#include "http/http.h"
#include "http/metrics.h"
#include "oidc/ci_verifier.h"
#include "store/store.h"

using namespace cl;

namespace {

constexpr std::string_view kCiIssuer = "https://ci.fuzz.test";

// Approves every device login as the same person; the browser flow is refused.
class FakeIdp final : public domain::IdentityProvider {
 public:
  Result<std::string> AuthorizationUrl(const std::string& state, const std::string&,
                                       const std::string&) override {
    return "https://idp.fuzz.test/auth?state=" + state;
  }
  Result<domain::VerifiedIdentity> ExchangeCode(const std::string&, const std::string&,
                                                const std::string&) override {
    return Fail(Error::InvalidArgument("bad code", Reason::kInvalidGrant));
  }
  Result<domain::DeviceAuthorizationStart> StartDeviceAuthorization() override {
    return domain::DeviceAuthorizationStart{"upstream-device-code",
                                            "ABCD-EFGH",
                                            "https://idp.fuzz.test/device",
                                            "https://idp.fuzz.test/device?user_code=ABCD-EFGH",
                                            600,
                                            5};
  }
  Result<domain::DevicePollOutcome> PollDevice(const std::string&) override {
    domain::DevicePollOutcome out;
    out.state = domain::DevicePollOutcome::State::kApproved;
    out.identity = {"https://idp.fuzz.test", "fuzzer", "fuzzer@example.com", true, "Fuzzer"};
    return out;
  }
};

// The server's wiring (see server/main.cc), on an in-memory database.
struct World {
  FakeClock clock;
  fuzz::DeterministicRandom random;
  crypto::CredentialHasher hasher{"fuzz-pepper-fuzz-pepper-fuzz-pepper"};
  FakeIdp idp;
  http::Metrics metrics;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<domain::Authenticator> authenticator;
  std::unique_ptr<domain::Authorizer> authorizer;
  std::unique_ptr<domain::LoginService> login;
  std::unique_ptr<domain::OrganizationService> orgs;
  std::unique_ptr<domain::AttestationService> attestations;
  std::unique_ptr<domain::ApiTokenService> api_tokens;
  std::unique_ptr<oidc::CiTokenVerifier> ci_verifier;
  std::unique_ptr<domain::FederationService> federation;
  http::Router router;
  std::shared_ptr<void> api;

  std::string session;  // the seeded user's session token
  std::string token_id, run_id;

  struct Target {
    std::string method, path;
  };
  std::vector<Target> targets;

  World() {
    auto opened = store::OpenDatabase("sqlite::memory:");
    fuzz::Check(opened.has_value(), "open in-memory database");
    db = std::move(*opened);
    fuzz::Check(db->Migrate().has_value(), "migrate");
    authenticator = std::make_unique<domain::Authenticator>(
        domain::Authenticator::Stores{
            .users = *db, .sessions = *db, .tokens = *db, .federation = *db, .peppers = *db},
        hasher, clock);
    authorizer = std::make_unique<domain::Authorizer>(*db, *db);
    login = std::make_unique<domain::LoginService>(
        domain::LoginService::Stores{
            .users = *db, .invitations = *db, .sessions = *db, .login_state = *db},
        idp, hasher, *authenticator, clock, random, domain::LoginConfig{});
    orgs = std::make_unique<domain::OrganizationService>(
        domain::OrganizationService::Stores{
            .orgs = *db, .projects = *db, .invitations = *db, .audit = *db},
        *authorizer, clock, random);
    attestations = std::make_unique<domain::AttestationService>(
        domain::AttestationService::Stores{.workflows = *db, .projects = *db}, *authorizer, *orgs,
        clock, random);
    api_tokens = std::make_unique<domain::ApiTokenService>(
        domain::ApiTokenService::Stores{.tokens = *db, .projects = *db}, *authorizer, *orgs,
        *authenticator, hasher, clock, random);
    oidc::CiVerifierOptions ci;
    ci.allowed_issuers = {std::string(kCiIssuer)};
    // Issuers are never reachable from the fuzzer: no traffic leaves the process.
    ci.fetch.fetch = [](const HttpClientRequest&) -> Result<HttpClientResponse> {
      return Fail(Error::Unavailable("no network while fuzzing"));
    };
    ci_verifier = std::make_unique<oidc::CiTokenVerifier>(ci, clock);
    domain::FederationConfig fed;
    fed.default_audience = "https://cp.fuzz.test";
    federation = std::make_unique<domain::FederationService>(
        domain::FederationService::Stores{
            .federation = *db, .orgs = *db, .projects = *db, .audit = *db},
        *authorizer, *orgs, *ci_verifier, hasher, clock, random, fed, authenticator.get());

    api::ApiDeps deps;
    deps.db = db.get();
    deps.authenticator = authenticator.get();
    deps.login = login.get();
    deps.orgs = orgs.get();
    deps.attestations = attestations.get();
    deps.api_tokens = api_tokens.get();
    deps.federation = federation.get();
    deps.metrics = &metrics;
    deps.random = &random;
    deps.external_url = "https://cp.fuzz.test";
    api = api::RegisterRoutes(router, deps);
    Seed();
    for (const auto& r : router.routes()) {
      if (r.method != "POST" && r.method != "PUT" && r.method != "PATCH") continue;
      if (r.pattern == "/v1/auth/logout") continue;  // would end the seeded session
      if (r.pattern.rfind("/v1/", 0) != 0) continue;
      targets.push_back({r.method, Substitute(r.pattern)});
    }
    fuzz::Check(!targets.empty(), "body-taking routes found");
    if (std::getenv("CL_FUZZ_LIST_ROUTES") != nullptr) {
      for (size_t i = 0; i < targets.size(); ++i) {
        std::fprintf(stderr, "%zu %s %s\n", i, targets[i].method.c_str(), targets[i].path.c_str());
      }
    }
  }

  void Seed() {
    auto start = login->StartDevice();
    fuzz::Check(start.has_value(), "device start");
    auto issued = login->PollDevice(start->device_handle);
    fuzz::Check(issued.has_value(), "device login");
    session = issued->token;
    auto p = authenticator->Authenticate("Bearer " + session);
    fuzz::Check(p.has_value(), "session authenticates");
    fuzz::Check(orgs->Create(*p, "acme").has_value(), "create org");
    fuzz::Check(orgs->CreateProject(*p, "acme", "backend").has_value(), "create project");
    domain::CreateApiTokenRequest treq;
    treq.name = "seeded";
    auto tok = api_tokens->Create(*p, "acme", treq);
    fuzz::Check(tok.has_value(), "create token");
    token_id = tok->record.id;
    auto run = attestations->Init(*p, "acme", "build", "backend");
    fuzz::Check(run.has_value(), "init run");
    run_id = run->id;
  }

  // Fills the path parameters with the seeded entities.
  std::string Substitute(const std::string& pattern) const {
    std::string out;
    size_t i = 0;
    while (i < pattern.size()) {
      if (pattern[i] != '{') {
        out.push_back(pattern[i++]);
        continue;
      }
      size_t end = pattern.find('}', i);
      std::string name = pattern.substr(i + 1, end - i - 1);
      if (name == "org") {
        out += "acme";
      } else if (name == "id" && pattern.find("api-tokens") != std::string::npos) {
        out += token_id;
      } else if (name == "id" && pattern.find("workflow-runs") != std::string::npos) {
        out += run_id;
      } else {
        out += "00000000-0000-4000-8000-000000000000";
      }
      i = end + 1;
    }
    return out;
  }
};

// Log lines of the current input (captured, so they can be checked and do not flood stderr).
std::string& LogSink() {
  static std::string* sink = [] {
    auto* s = new std::string();
    SetLogSinkForTest(s);
    SetMinLogLevel(LogLevel::kDebug);  // debug lines are the likeliest to carry a secret
    return s;
  }();
  return *sink;
}

// The value of `"field":"..."` in a JSON text, or empty.
std::string JsonStringField(const std::string& json, std::string_view field) {
  std::string key = "\"" + std::string(field) + "\":\"";
  size_t at = json.find(key);
  if (at == std::string::npos) return {};
  size_t start = at + key.size();
  size_t end = json.find('"', start);
  return end == std::string::npos ? std::string() : json.substr(start, end - start);
}

// Rebuilt now and then so the database stays small and runs stay fast.
constexpr int kRunsPerWorld = 2000;

World& TheWorld() {
  static World* world = nullptr;
  static int runs = 0;
  if (world == nullptr || ++runs % kRunsPerWorld == 0) {
    delete world;
    world = new World();
  }
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 128 * 1024) return 0;
  std::string& log = LogSink();
  log.clear();
  World& w = TheWorld();
  const World::Target& target = w.targets[(data[0] & 0x7f) % w.targets.size()];

  http::Request req;
  req.method = target.method;
  req.target = target.path;
  req.path = target.path;
  req.remote_addr = "127.0.0.1";
  req.request_id = "fuzz";
  req.headers = {{"authorization", "Bearer " + w.session},
                 {"content-type",
                  (data[0] & 0x80) ? "application/x-www-form-urlencoded" : "application/json"}};
  req.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto match = w.router.Match(req.method, req.path);
  fuzz::Check(match.route != nullptr, "seeded route matches");
  req.path_params = match.params;
  http::Response resp = match.route->handler(req);

  fuzz::Check(resp.status >= 200 && resp.status < 600, "valid HTTP status");
  if (resp.status == 500) {
    std::fprintf(stderr, "500 from %s %s: %s\n", req.method.c_str(), req.path.c_str(),
                 resp.body.c_str());
  }
  fuzz::Check(resp.status != 500, "a request body never causes a 500");
  fuzz::Check(w.authenticator->Authenticate("Bearer " + w.session).has_value(),
              "the seeded session survives");
  fuzz::Check(log.find(w.session) == std::string::npos, "the session token is never logged");
  for (std::string_view field : {"token", "access_token", "session_token"}) {
    std::string issued = JsonStringField(resp.body, field);
    if (!issued.empty()) {
      fuzz::Check(log.find(issued) == std::string::npos, "an issued credential is never logged");
    }
  }
  return 0;
}
