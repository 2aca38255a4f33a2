#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/oauth_errors.h"
#include "common/printable.h"
#include "common/random.h"
#include "common/redact.h"

namespace cl {
namespace {

TEST(OAuthErrors, KnownCodesHaveFixedTextsAndAnythingElseIsGeneric) {
  for (std::string_view code :
       {"access_denied", "login_required", "consent_required", "interaction_required",
        "account_selection_required", "server_error", "temporarily_unavailable", "invalid_request",
        "unauthorized_client", "unsupported_response_type", "invalid_scope"}) {
    const auto* e = FindOAuthAuthorizationError(code);
    ASSERT_NE(e, nullptr) << code;
    EXPECT_EQ(e->code, code);
    EXPECT_EQ(OAuthAuthorizationErrorMessage(code), e->message);
    EXPECT_NE(e->message, kGenericOAuthErrorMessage) << code;
    EXPECT_EQ(KnownOAuthAuthorizationErrorOr(code), code);
  }
  for (std::string_view other :
       {"", "ACCESS_DENIED", "access_denied ", "access_denied\n", "access_denied\x1b[31m",
        "<script>alert(1)</script>", "user_cancelled", "access_denied&x=1"}) {
    EXPECT_EQ(FindOAuthAuthorizationError(other), nullptr) << other;
    EXPECT_EQ(OAuthAuthorizationErrorMessage(other), kGenericOAuthErrorMessage) << other;
    EXPECT_EQ(KnownOAuthAuthorizationErrorOr(other), "server_error") << other;
  }
  // Every text is printable ASCII: safe in a page and on a terminal.
  for (std::string_view code : {"access_denied", "login_required", "registration_not_supported"}) {
    for (char c : OAuthAuthorizationErrorMessage(code)) {
      EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << code;
    }
  }
}

TEST(Clock, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000'123), "2023-11-14T22:13:20Z");
}

TEST(Random, UuidsAreCanonicalAndDistinct) {
  SystemRandom r;
  std::string a = NewUuid(r), b = NewUuid(r);
  EXPECT_TRUE(IsUuid(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("ZZZZZZZZ-0000-4000-8000-000000000000"));
}

TEST(Json, ReaderRejectsUnknownFieldsAndWrongTypes) {
  auto r = JsonObjectReader::Parse(R"({"name":"a","extra":1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->RequiredString("name"), "a");
  auto fin = r->Finish();
  ASSERT_FALSE(fin);
  EXPECT_EQ(fin.error().reason(), "unknown_field");

  auto t = JsonObjectReader::Parse(R"({"name":5})");
  ASSERT_TRUE(t);
  auto name = t->RequiredString("name");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().reason(), "invalid_field_type");

  auto bad = JsonObjectReader::Parse("{nope");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason(), "malformed_json");

  auto arr = JsonObjectReader::Parse("[1]");
  ASSERT_FALSE(arr);

  auto empty = JsonObjectReader::Parse("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty->OptionalString("x"));
  EXPECT_TRUE(empty->Finish());
}

TEST(Json, ReaderTellsAbsentFromNull) {
  auto r = JsonObjectReader::Parse(R"({"a":null,"b":3})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->Has("a"));
  EXPECT_FALSE(*r->OptionalValue("a"));  // null reads as no value
  EXPECT_TRUE(r->Has("b"));
  EXPECT_FALSE(r->Has("c"));
  EXPECT_TRUE(r->Finish());  // Has marks a field as read

  auto only = JsonObjectReader::Parse(R"({"a":null})");
  ASSERT_TRUE(only);
  EXPECT_TRUE(only->Has("a"));
  EXPECT_TRUE(only->Finish());
}

TEST(Json, DeepNestingIsRefused) {
  std::string deep(1000, '[');
  EXPECT_FALSE(ParseJson(deep));
}

TEST(Log, WritesOneJsonObjectPerLineWithEscaping) {
  std::string sink;
  SetLogSinkForTest(&sink);
  Log(LogLevel::kInfo, "hello \"x\"\n", {{"request_id", "r1"}, {"status", 200}});
  SetLogSinkForTest(nullptr);
  ASSERT_FALSE(sink.empty());
  EXPECT_EQ(sink.back(), '\n');
  auto v = ParseJson(sink);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->at("msg").as_string(), "hello \"x\"\n");
  EXPECT_EQ(v->at("request_id").as_string(), "r1");
  EXPECT_EQ(v->at("status").as_int64(), 200);
  // RFC 3339 UTC with milliseconds: 2026-11-27T21:12:13.123Z
  std::string ts(v->at("ts").as_string());
  ASSERT_EQ(ts.size(), 24u) << ts;
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(ts[22]))) << ts;
}

// The redaction rule, by table: a credential is masked wherever it starts, also glued to other
// text; short runs and look-alikes are left alone.
TEST(Redact, MasksCredentialsAnywhere) {
  const std::string secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk";  // 47 base62
  const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
  const std::string wh = "3q-7w_AbCdEfGh-IjKlMnOpQrStUvWxYz012345_9";  // 43 base64url
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"clapi_" + secret, "clapi_<redacted>"},
      {"clses_" + secret, "clses_<redacted>"},
      {"clfed_" + secret, "clfed_<redacted>"},
      {"xclapi_" + secret, "xclapi_<redacted>"},
      {"9clapi_" + secret, "9clapi_<redacted>"},
      {"/v1/organizations/clapi_" + secret + "/projects",
       "/v1/organizations/clapi_<redacted>/projects"},
      {"/v1/organizations/xclapi_" + secret + "/projects",
       "/v1/organizations/xclapi_<redacted>/projects"},
      {"organization 'clapi_" + secret + "' not found",
       "organization 'clapi_<redacted>' not found"},
      {"a clapi_" + secret + " and clses_" + secret, "a clapi_<redacted> and clses_<redacted>"},
      {"clclapi_" + secret, "clclapi_<redacted>"},
      {"cleverclapi_" + secret, "cleverclapi_<redacted>"},
      // Webhook signing secrets are base64url: masked whole, '-' and '_' included.
      {"clwhsec_" + wh, "clwhsec_<redacted>"},
      {"secret=clwhsec_" + wh + "&x=1", "secret=clwhsec_<redacted>&x=1"},
      {"clwhsec_-_" + secret, "clwhsec_<redacted>"},
      {"clwhsec_short-_", "clwhsec_short-_"},
      {"Bearer " + jwt, "Bearer <redacted-jwt>"},
      {"x" + jwt + "/y", "x<redacted-jwt>/y"},
      // Not credentials: too short, no underscore, kind too long, a JWT without two dots.
      {"clapi_short", "clapi_short"},
      {"clapi" + secret, "clapi" + secret},
      {"clabcdefgh_" + secret, "clabcdefgh_" + secret},
      {"eyJhbGciOiJSUzI1NiJ9.only-one-dot-here-x", "eyJhbGciOiJSUzI1NiJ9.only-one-dot-here-x"},
      {"circle_of_life", "circle_of_life"},
      {"", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RedactSecrets(c.in), c.want) << c.in;
    if (c.in != c.want) {
      EXPECT_TRUE(MayHoldSecret(c.in)) << c.in;
    }
  }
  EXPECT_FALSE(MayHoldSecret("GET /healthz 200"));
}

// A small deterministic generator for the property tests below (xorshift64).
struct XorShift {
  uint64_t state;
  uint64_t operator()() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

// AppendJsonString takes runs of plain bytes a word at a time: on generated strings of every
// length up to 40 mixing plain text with each byte class that needs a closer look (controls,
// '"', '\\', DEL, valid and invalid UTF-8), at every offset, it must write what a byte-by-byte
// reading would: plain bytes and valid UTF-8 as they are, the rest escaped.
TEST(Log, AppendJsonStringMatchesAByteByByteReading) {
  const std::vector<std::string> pieces = {
      "a",    "Z",  " ",      "~",    "\x7f",     "\x1f",         "\n",
      "\t",   "\"", "\\",     "\x00", "\xc3\xa9", "\xe2\x82\xac", "\xff",
      "\xc3", "!",  "0123456"};
  XorShift next{0x2545f4914f6cdd1dull};
  auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        out.push_back(s[i++]);
        continue;
      }
      // A run of other bytes through the real function on its own: no UTF-8 sequence, valid
      // or not, reaches past it, so it is read the same as within the whole string.
      size_t j = i;
      while (j < s.size()) {
        auto d = static_cast<unsigned char>(s[j]);
        if (d >= 0x20 && d < 0x80 && d != '"' && d != '\\') break;
        ++j;
      }
      std::string run;
      AppendJsonString(run, s.substr(i, j - i));
      out += run.substr(1, run.size() - 2);
      i = j;
    }
    return out + "\"";
  };
  for (int n = 0; n < 50000; ++n) {
    std::string s;
    const size_t parts = next() % 20;
    for (size_t i = 0; i < parts; ++i) s += pieces[next() % pieces.size()];
    std::string got;
    AppendJsonString(got, s);
    ASSERT_EQ(got, reference(s)) << ::testing::PrintToString(s);
  }
}

// MayHoldSecret is the logger's quick filter: it must say yes exactly when RedactSecrets would
// change the text. Checked on generated strings built from the pieces credential shapes are
// made of, at every length around the shortest secret and at every offset.
TEST(Redact, MayHoldSecretAgreesWithRedactSecrets) {
  const std::vector<std::string> pieces = {
      "cl", "api", "_", "eyJ", ".", "-",        "x",          "Z9",         "ab",  "c",
      "e",  "y",   "J", " ",   "/", "clwhsec_", "0123456789", "abcdefghij", "\xff"};
  XorShift next{0x9e3779b97f4a7c15ull};
  size_t secrets = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string s;
    const size_t parts = next() % 14;
    for (size_t i = 0; i < parts; ++i) s += pieces[next() % pieces.size()];
    const bool redacted = RedactSecrets(s) != s;
    secrets += redacted;
    ASSERT_EQ(MayHoldSecret(s), redacted) << s;
  }
  EXPECT_GT(secrets, 100u);  // the generator does produce secrets
}

TEST(Printable, RefusesControlsBidiAndBadUtf8) {
  for (const char* good : {"", "ci token for web", "déploiement 🚀", "tabs\\t are text", "日本"}) {
    EXPECT_TRUE(IsPrintableText(good)) << good;
  }
  const std::string bad[] = {
      "\x1b]52;c;aGVsbG8=\x07",  // OSC 52 clipboard write
      "\x1b[2J\x1b[H",           // clear screen, cursor home
      std::string("a\0b", 3),
      "line\nbreak",
      "tab\there",
      "cr\rreturn",
      "del\x7f",
      "c1 \xc2\x9b"  // NOLINT(bugprone-suspicious-missing-comma): one string, split at the escape
      "31m",         // CSI as a C1 control
      "bidi \xe2\x80\xae",      // U+202E RIGHT-TO-LEFT OVERRIDE
      "isolate \xe2\x81\xa6",   // U+2066
      "mark \xe2\x80\x8f",      // U+200F
      "arabic mark \xd8\x9c",   // U+061C
      "line sep \xe2\x80\xa8",  // U+2028
      "\xff",
      "\xc0\xaf",      // invalid, overlong '/'
      "\xed\xa0\x80",  // a surrogate
      "\xe2\x82",      // truncated
  };
  for (const auto& b : bad) {
    EXPECT_FALSE(IsPrintableText(b)) << testing::PrintToString(b);
    auto st = CheckPrintableText(b, "description");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().reason(), "invalid_argument");
    EXPECT_NE(st.error().message().find("description"), std::string::npos);
  }
}

TEST(Log, RedactsCredentialsInMessagesAndFields) {
  const std::string token = "clapi_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk";
  std::string sink;
  SetLogSinkForTest(&sink);
  Log(LogLevel::kWarn, "failed for x" + token,
      {{"path", "/v1/organizations/x" + token + "/projects"}, {"error", "'" + token + "'"}});
  SetLogSinkForTest(nullptr);
  EXPECT_EQ(sink.find(token.substr(6)), std::string::npos) << sink;
  EXPECT_NE(sink.find("xclapi_<redacted>/projects"), std::string::npos) << sink;
}

// Reads what arrives on `fd` within `timeout_ms`.
std::string DrainPipe(int fd, int timeout_ms) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, std::max(left, 0)) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(Log, InfoLinesAreBatchedWarnLinesWriteAtOnceAndOrderIsKept) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(::dup2(fds[1], STDERR_FILENO), 0);

  Log(LogLevel::kInfo, "first-info");
  Log(LogLevel::kWarn, "then-warn");
  // The warn line is written before Log returns, together with the info line buffered before it.
  std::string now = DrainPipe(fds[0], 0);
  Log(LogLevel::kInfo, "later-info");
  std::string later = DrainPipe(fds[0], 1000);  // the background flush, well within a second
  FlushLog();

  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[0]);
  ::close(fds[1]);

  size_t a = now.find("first-info"), b = now.find("then-warn");
  ASSERT_NE(a, std::string::npos) << now;
  ASSERT_NE(b, std::string::npos) << now;
  EXPECT_LT(a, b);
  EXPECT_NE(later.find("later-info"), std::string::npos) << later;
}

}  // namespace
}  // namespace cl
