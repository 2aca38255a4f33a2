// Tests for domain/secret_scanning.h against a real store: reported API tokens, sessions and
// federated tokens are revoked with an audit event naming the URL, everything else is a
// false positive; GitHub's ECDSA signatures and the generic HMAC variant are verified over the
// raw body, with the time window of the latter.
#include "domain/secret_scanning.h"

#include <gtest/gtest.h>

#include "crypto/ecdsa_testing.h"
#include "domain/testing/service_fixtures.h"

namespace cl::domain {
namespace {

class SecretScanningTest : public FederationTest {
 protected:
  void SetUp() override {
    FederationTest::SetUp();
    keys_ = std::make_unique<ScannerKeyCache>(
        [this]() -> Result<std::string> {
          boost::json::array list;
          list.push_back(
              {{"key_identifier", "k1"}, {"key", github_.PublicPem()}, {"is_current", true}});
          return SerializeJson(boost::json::object{{"public_keys", list}});
        },
        clock_, ScannerKeyCache::Options{});
    SecretScanningConfig config;
    config.hmac_secret = kSecret;
    scanning_ = std::make_unique<SecretScanningService>(
        SecretScanningService::Stores{
            .tokens = *db_, .sessions = *db_, .federation = *db_, .orgs = *db_, .audit = *db_},
        hasher_, clock_, random_, config, keys_.get(), authn_.get());
  }
  void TearDown() override {
    scanning_.reset();
    keys_.reset();
    FederationTest::TearDown();
  }

  std::vector<LeakFeedback> Report(const std::vector<std::string>& tokens,
                                   const std::string& url = "https://github.com/acme/app/blob/x") {
    std::vector<LeakReport> reports;
    for (const auto& t : tokens) reports.push_back({t, "chainloop_api_token", url, "content"});
    auto feedback = scanning_->Process(reports, "GitHub secret scanning", "192.0.2.7");
    EXPECT_TRUE(feedback) << feedback.error().ToString();
    return feedback ? *feedback : std::vector<LeakFeedback>{};
  }

  std::vector<store::AuditEvent> Events(std::string_view action) {
    auto org = db_->GetOrganizationByName("acme");
    EXPECT_TRUE(org);
    auto events = db_->ListAuditEvents(org->id, 100);
    EXPECT_TRUE(events);
    std::vector<store::AuditEvent> out;
    for (auto& e : *events) {
      if (e.action == action) out.push_back(e);
    }
    return out;
  }

  static constexpr char kSecret[] = "a-shared-secret-of-enough-length-0123456789";
  crypto::TestEcdsaKey github_ = crypto::TestEcdsaKey::Generate();
  std::unique_ptr<ScannerKeyCache> keys_;
  std::unique_ptr<SecretScanningService> scanning_;
};

TEST_F(SecretScanningTest, ALiveApiTokenIsRevokedAsLeakedWithTheUrlInItsOrganizationsAudit) {
  auto created = MustCreate(owner_, {.name = "ci", .project = "backend"});
  ASSERT_TRUE(authn_->Authenticate("Bearer " + created.token));  // cached now
  auto feedback = Report({created.token});
  ASSERT_EQ(feedback.size(), 1u);
  EXPECT_EQ(feedback[0].label, LeakLabel::kTruePositive);
  EXPECT_EQ(feedback[0].token_hash, crypto::HexEncode(crypto::Sha256(created.token)));
  EXPECT_EQ(feedback[0].token_type, "chainloop_api_token");

  auto refused = authn_->Authenticate("Bearer " + created.token);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().Is(Reason::kTokenRevoked)) << refused.error().ToString();
  auto row = db_->GetApiToken(created.record.org_id, created.record.id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->revocation_reason, std::optional(store::RevocationReason::kLeaked));
  EXPECT_EQ(row->revoked_by_name, "GitHub secret scanning");
  auto events = Events("api_token.leaked");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_id, created.record.id);
  EXPECT_EQ(events[0].client_address, "192.0.2.7");
  EXPECT_NE(events[0].message.find("https://github.com/acme/app/blob/x"), std::string::npos)
      << events[0].message;
  EXPECT_EQ(events[0].message.find(created.token), std::string::npos);

  // Reported again: already revoked, a false positive, and no second event.
  EXPECT_EQ(Report({created.token})[0].label, LeakLabel::kFalsePositive);
  EXPECT_EQ(Events("api_token.leaked").size(), 1u);
}

TEST_F(SecretScanningTest, UnknownMalformedAndOtherKindsAreFalsePositives) {
  auto live = MustCreate(owner_, {.name = "live", .project = "backend"});
  std::string unknown = crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random_);
  std::string bad_checksum = live.token;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  std::string code = crypto::GenerateCredential(crypto::CredentialKind::kLoginCode, random_);
  auto feedback = Report({unknown, bad_checksum, code, "ghp_notours", ""});
  ASSERT_EQ(feedback.size(), 5u);
  for (const auto& f : feedback) EXPECT_EQ(f.label, LeakLabel::kFalsePositive);
  EXPECT_TRUE(authn_->Authenticate("Bearer " + live.token));  // untouched
  EXPECT_TRUE(Events("api_token.leaked").empty());
}

TEST_F(SecretScanningTest, AnExpiredTokenIsAFalsePositive) {
  auto t = MustCreate(owner_, {.name = "short", .expires_in_seconds = 86400, .project = "backend"});
  clock_.Advance(2 * kMillisPerDay);
  EXPECT_EQ(Report({t.token})[0].label, LeakLabel::kFalsePositive);
}

TEST_F(SecretScanningTest, ATokenListedTwiceGetsTheSameLabelBothTimes) {
  auto t = MustCreate(owner_, {.name = "twice", .project = "backend"});
  auto feedback = Report({t.token, t.token});
  ASSERT_EQ(feedback.size(), 2u);
  EXPECT_EQ(feedback[0].label, LeakLabel::kTruePositive);
  EXPECT_EQ(feedback[1].label, LeakLabel::kTruePositive);
  EXPECT_EQ(Events("api_token.leaked").size(), 1u);
}

TEST_F(SecretScanningTest, ALeakedSessionEndsAndEachOfItsUsersOrganizationsRecordsIt) {
  std::string session = LoginAs("owner", "owner@example.com");
  ASSERT_TRUE(authn_->Authenticate("Bearer " + session));
  EXPECT_EQ(Report({session})[0].label, LeakLabel::kTruePositive);
  auto refused = authn_->Authenticate("Bearer " + session);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().Is(Reason::kSessionRevoked)) << refused.error().ToString();
  auto events = Events("credential.leaked");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_kind, "session");
}

TEST_F(SecretScanningTest, ALeakedFederatedTokenIsRevoked) {
  ASSERT_TRUE(CreatePolicy(owner_, BackendPolicy()));
  auto exchanged = fed_->Exchange("acme", Mint(Claims()));
  ASSERT_TRUE(exchanged) << exchanged.error().ToString();
  ASSERT_TRUE(authn_->Authenticate("Bearer " + exchanged->token));
  EXPECT_EQ(Report({exchanged->token})[0].label, LeakLabel::kTruePositive);
  auto refused = authn_->Authenticate("Bearer " + exchanged->token);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().Is(Reason::kTokenRevoked)) << refused.error().ToString();
  auto events = Events("credential.leaked");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_kind, "federated_token");
  EXPECT_EQ(events[0].target_id, exchanged->record.id);
}

TEST_F(SecretScanningTest, GithubSignaturesAreCheckedOverTheRawBody) {
  const std::string body = R"([{"token":"x","type":"t","url":"u","source":"content"}])";
  std::string sig = crypto::TestEcdsaKey::Generate().SignDer(body);  // placeholder
  auto b64 = [](std::string_view raw) {
    std::string s = crypto::Base64UrlEncode(raw);
    for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (s.size() % 4 != 0) s += '=';
    return s;
  };
  EXPECT_TRUE(scanning_->VerifyGithub(body, "k1", b64(github_.SignDer(body))));
  // Another key's signature, a tampered body, an unknown key id, bad base64, no header.
  auto wrong_key = scanning_->VerifyGithub(body, "k1", b64(sig));
  ASSERT_FALSE(wrong_key);
  EXPECT_TRUE(wrong_key.error().Is(Reason::kBadSignature));
  EXPECT_FALSE(scanning_->VerifyGithub(body + " ", "k1", b64(github_.SignDer(body))));
  auto unknown = scanning_->VerifyGithub(body, "k2", b64(github_.SignDer(body)));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Error::Code::kUnauthenticated);
  EXPECT_FALSE(scanning_->VerifyGithub(body, "k1", "%%%not-base64"));
  EXPECT_FALSE(scanning_->VerifyGithub(body, "k1", ""));
  EXPECT_FALSE(scanning_->VerifyGithub(body, "", b64(github_.SignDer(body))));
}

TEST_F(SecretScanningTest, GenericSignaturesBindTheTimestampWithinFiveMinutes) {
  const std::string body = R"([{"token":"x"}])";
  const std::string now = std::to_string(clock_.Now() / kMillisPerSecond);
  EXPECT_TRUE(scanning_->VerifyGeneric(body, now, GenericReportSignature(kSecret, now, body)));
  EXPECT_FALSE(scanning_->VerifyGeneric(body, now, GenericReportSignature("other", now, body)));
  EXPECT_FALSE(
      scanning_->VerifyGeneric(body + " ", now, GenericReportSignature(kSecret, now, body)));
  // The timestamp is signed: another one with the same signature fails.
  const std::string later = std::to_string(clock_.Now() / kMillisPerSecond + 1);
  EXPECT_FALSE(scanning_->VerifyGeneric(body, later, GenericReportSignature(kSecret, now, body)));
  // Replayed outside the window, either way, even with a matching signature.
  for (int64_t off : {-301, 301}) {
    const std::string ts = std::to_string(clock_.Now() / kMillisPerSecond + off);
    auto r = scanning_->VerifyGeneric(body, ts, GenericReportSignature(kSecret, ts, body));
    ASSERT_FALSE(r) << off;
    EXPECT_TRUE(r.error().Is(Reason::kBadSignature));
  }
  for (int64_t off : {-299, 299}) {
    const std::string ts = std::to_string(clock_.Now() / kMillisPerSecond + off);
    EXPECT_TRUE(scanning_->VerifyGeneric(body, ts, GenericReportSignature(kSecret, ts, body)))
        << off;
  }
  std::string upper = GenericReportSignature(kSecret, now, body);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(scanning_->VerifyGeneric(body, now, upper));
  EXPECT_FALSE(scanning_->VerifyGeneric(body, "", GenericReportSignature(kSecret, "", body)));
  EXPECT_FALSE(scanning_->VerifyGeneric(body, "12x", GenericReportSignature(kSecret, "12x", body)));
}

TEST(ParseLeakReports, AcceptsGithubsShapeAndBoundsIt) {
  auto ok = ParseLeakReports(
      R"([{"token":"clapi_x","type":"t","url":"https://x","source":"content","extra":1}])");
  ASSERT_TRUE(ok) << ok.error().ToString();
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].token, "clapi_x");
  EXPECT_EQ((*ok)[0].url, "https://x");
  EXPECT_TRUE(ParseLeakReports("[]"));
  EXPECT_FALSE(ParseLeakReports("{}"));
  EXPECT_FALSE(ParseLeakReports("[1]"));
  EXPECT_FALSE(ParseLeakReports(R"([{"type":"t"}])"));
  EXPECT_FALSE(ParseLeakReports(R"([{"token":1}])"));
  EXPECT_FALSE(ParseLeakReports(R"([{"token":"x","url":5}])"));
  EXPECT_FALSE(ParseLeakReports(R"([{"token":")" + std::string(513, 'a') + R"("}])"));
  EXPECT_TRUE(ParseLeakReports(R"([{"token":")" + std::string(512, 'a') + R"("}])"));
  std::string many = "[";
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"token":"x"})";
  EXPECT_FALSE(ParseLeakReports(many + "]"));
}

TEST(SanitizeReportedUrl, KeepsPrintableAsciiAndBoundsTheLength) {
  EXPECT_EQ(SanitizeReportedUrl("https://github.com/a/b"), "https://github.com/a/b");
  EXPECT_EQ(SanitizeReportedUrl("https://x/\x1b[31m\n"), "https://x/?[31m?");
  std::string cut = SanitizeReportedUrl(std::string(2000, 'a'));
  EXPECT_EQ(cut.size(), kMaxRecordedUrlChars);
  EXPECT_EQ(cut.substr(cut.size() - 3), "...");
}

}  // namespace
}  // namespace cl::domain
