// Tests of terminal-safe output: the escaper, the stream sink, the JSON writer, and every
// command that prints server data, driven by a control plane whose every string is hostile.
#include "cli/terminal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/app.h"
#include "cli/config.h"
#include "cli/control_plane_url.h"
#include "cli/fake_http_server.h"
#include "common/json.h"
#include "common/printable.h"
#include "common/random.h"
#include "crypto/credential.h"

namespace cl::cli {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;
using ::testing::HasSubstr;
using ::testing::Not;

// An independent check (not the code under test): true when `text` is valid UTF-8 and holds no
// C0 control other than '\n', no DEL, no C1 control, and no bidi or line-separator control.
// On failure `why` says what and where.
bool IsTerminalSafe(std::string_view text, std::string* why) {
  for (size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    auto fail = [&](const std::string& what) {
      *why = what + " at byte " + std::to_string(i) +
             " in: " + std::string(text.substr(i > 40 ? i - 40 : 0, 80));
      return false;
    };
    if (b < 0x80) {
      if ((b < 0x20 && b != '\n') || b == 0x7f) return fail("control byte " + std::to_string(b));
      ++i;
      continue;
    }
    size_t len = b >= 0xF0 && b <= 0xF4   ? 4
                 : b >= 0xE0 && b <= 0xEF ? 3
                 : b >= 0xC2 && b <= 0xDF ? 2
                                          : 0;
    if (len == 0 || i + len > text.size()) return fail("invalid UTF-8");
    uint32_t cp = len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return fail("invalid UTF-8");
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return fail("invalid UTF-8");
    }
    if (cp <= 0x9F) return fail("C1 control");
    if (cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029) {
      return fail("bidi or separator control");
    }
    i += len;
  }
  return true;
}

// A value a project-scoped token holder (or any member) could store on the server: OSC 52
// (clipboard write), screen clear + cursor home, a carriage return and newline that fake a
// line, a tab, C1 CSI as UTF-8, bidi overrides and isolates, DEL, NUL and a line separator.
const std::string& Hostile() {
  static const std::string h =
      std::string("ev\x1b]52;c;ZXZpbA==\x07il\x1b[2J\x1b[H\r\nFAKE-LINE: ok\t") +
      "\xc2\x9b"
      "31m"
      "\xe2\x80\xae"
      "gpj.exe"
      "\xe2\x80\xac"
      "\xe2\x81\xa6"
      "x" +
      "\xe2\x81\xa9"
      "\x7f" +
      std::string(1, '\0') +
      "\xe2\x80\xa8"
      "end";
  return h;
}

TEST(TerminalSafeTest, EscapesEveryUnsafeCodePointAndKeepsTheRest) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain text", "plain text"},
      {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91",
       "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91"},
      {"\x1b]52;c;eA==\x07", R"(\x1b]52;c;eA==\x07)"},
      {"a\x1b[2Jb", R"(a\x1b[2Jb)"},
      {"a\nb\r\tc", R"(a\nb\r\tc)"},
      {std::string("a\0b", 3), R"(a\x00b)"},
      {"\x7f", R"(\x7f)"},
      {"\xc2\x9b"
       "31m",
       R"(\u009b31m)"},                                        // C1 CSI, UTF-8 encoded
      {"\xc2\x80\xc2\x9f\xc2\xa0", "\\u0080\\u009f\xc2\xa0"},  // C1 range ends; NBSP kept
      {"\x9b"
       "31m",
       R"(\x9b31m)"},  // raw C1 byte: invalid UTF-8
      {"\xe2\x80\xae"
       "abc",
       R"(\u202eabc)"},  // RLO
      {"\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", R"(\u202a\u202b\u202c\u202d)"},
      {"\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", R"(\u2066\u2067\u2068\u2069)"},
      {"\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", R"(\u200e\u200f\u061c)"},
      {"\xe2\x80\xa8\xe2\x80\xa9", R"(\u2028\u2029)"},
      {"\xc0\xaf", R"(\xc0\xaf)"},                  // overlong '/'
      {"\xed\xa0\x80", R"(\xed\xa0\x80)"},          // surrogate
      {"\xe2\x80", R"(\xe2\x80)"},                  // truncated
      {"\xf4\x90\x80\x80", R"(\xf4\x90\x80\x80)"},  // > U+10FFFF
      {"\xff\xfe", R"(\xff\xfe)"},
  };
  for (const auto& c : cases) {
    std::string got = TerminalSafe(c.in);
    EXPECT_EQ(got, c.out);
    std::string why;
    EXPECT_TRUE(IsTerminalSafe(got, &why)) << why;
    EXPECT_EQ(got.find('\n'), std::string::npos);
    EXPECT_EQ(TerminalSafe(got), got) << "idempotent";
  }
  EXPECT_EQ(TerminalSafeLines("a\x1b\nb\n"), "a\\x1b\nb\n");
}

// The CLI escapes exactly what the server refuses to store: one rule (common/printable.h), checked
// over every Unicode scalar value.
TEST(TerminalSafeTest, EscapesExactlyWhatTheServerRefusesToStore) {
  auto utf8 = [](char32_t cp) {
    std::string out;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
  };
  int escaped = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates are not scalar values
    const std::string s = utf8(cp);
    const bool kept = TerminalSafe(s) == s;
    ASSERT_EQ(kept, IsPrintableText(s)) << "U+" << std::hex << static_cast<uint32_t>(cp);
    escaped += kept ? 0 : 1;
  }
  EXPECT_EQ(escaped, 32 + 33 + 1 + 2 + 5 + 4 + 2);  // C0, DEL+C1, U+061C, marks, embeddings, ...
}

TEST(TerminalSafeTest, StreamSinkEscapesWhateverIsWrittenInAnyPieces) {
  std::ostringstream target;
  {
    TerminalSafeStream s(target);
    s << "line " << Hostile() << "\n";
    // A valid multi-byte character split across a flush stays intact.
    s << "\xe6\x97" << std::flush;
    EXPECT_EQ(target.str().find("\xe6\x97"), std::string::npos);
    s << "\xa5"
      << "\n";
    for (char c : std::string("\x1b[31mred\xe2\x80\xae")) s.put(c);
    s << std::endl;
    s << "\xe2\x80";  // never finished: escaped at destruction
  }
  std::string why;
  EXPECT_TRUE(IsTerminalSafe(target.str(), &why)) << why;
  EXPECT_THAT(target.str(), HasSubstr("\xe6\x97\xa5\n"));
  EXPECT_THAT(target.str(), HasSubstr(R"(\x1b[31mred\u202e)"));
  EXPECT_THAT(target.str(), ::testing::EndsWith(R"(\xe2\x80)"));
  std::string text = target.str();
  // The sink keeps line ends (Hostile() has one): values are escaped before they reach it.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
}

TEST(TerminalSafeTest, JsonKeepsTheExactDataAndPassesTheSinkUnchanged) {
  boost::json::object o;
  o["description"] = Hostile();
  o[Hostile()] = boost::json::array{Hostile(), "\xe2\x80\xae", 42, nullptr};
  std::string json = TerminalSafeJson(o);
  std::string why;
  EXPECT_TRUE(IsTerminalSafe(json, &why)) << why;
  EXPECT_EQ(TerminalSafeLines(json), json);
  auto parsed = ParseJson(json);
  ASSERT_TRUE(parsed.has_value()) << json;
  EXPECT_EQ(*parsed, boost::json::value(o));
  EXPECT_THAT(json, HasSubstr(R"(\u202e)"));
  EXPECT_THAT(json, HasSubstr(R"(\u001b)"));
}

// ---------------------------------------------------------------------------------------------
// Every printer, against a control plane that answers every string with Hostile().

// Every field any command reads, as hostile text (numbers where the CLI expects numbers).
boost::json::object HostileRecord() {
  const std::string& h = Hostile();
  boost::json::object r;
  for (const char* key : {"id",
                          "name",
                          "email",
                          "role",
                          "status",
                          "created_at",
                          "expires_at",
                          "revoked_at",
                          "last_used_at",
                          "revocation_reason",
                          "auto_revoke_at",
                          "description",
                          "scope",
                          "project",
                          "workflow",
                          "state",
                          "finished_at",
                          "predicate_type",
                          "statement_digest",
                          "issuer",
                          "provider",
                          "audience",
                          "actor_name",
                          "actor_kind",
                          "action",
                          "message",
                          "kind"}) {
    r[key] = h;
  }
  r["api_token_max_days_inactive"] = 30;
  r["permissions"] = boost::json::array{h, h};
  r["bound_claims"] = boost::json::object{{h, h}};
  r["attested_by"] = boost::json::object{{"kind", h}, {"id", h}, {"name", h}};
  return r;
}

class HostileServerTest : public ::testing::Test {
 protected:
  HostileServerTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cli_hostile-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    server_ = std::make_unique<FakeHttpServer>([this](const FakeRequest& r) { return Answer(r); });
    CliConfig cfg{"", "acme", {}};
    cfg.sessions.push_back(
        {NormalizeControlPlaneUrl(server_->url()).value(), session_, "2030-01-01T00:00:00Z"});
    EXPECT_TRUE(SaveConfig(config_path(), cfg));
    statement_ = dir_ + "/statement.json";
    std::ofstream(statement_) << R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})";
  }
  ~HostileServerTest() override { std::filesystem::remove_all(dir_); }

  FakeResponse Answer(const FakeRequest& r) {
    if (fail_) {
      boost::json::object e{
          {"error", boost::json::object{{"code", Hostile()}, {"message", Hostile()}}}};
      return {403, SerializeJson(e)};
    }
    boost::json::object rec = HostileRecord();
    boost::json::object principal = rec;
    principal["kind"] = principal_kind_;
    boost::json::object body;
    // One answer carries every top-level key any command reads.
    for (const char* one :
         {"organization", "invitation", "api_token", "policy", "project", "workflow_run"}) {
      body[one] = rec;
    }
    for (const char* many : {"organizations", "members", "invitations", "audit_events",
                             "api_tokens", "policies", "projects", "workflows", "workflow_runs"}) {
      body[many] = boost::json::array{rec, rec};
    }
    body["role"] = Hostile();
    body["token"] = Hostile();
    body["principal"] = principal;
    body["session"] = boost::json::object{{"expires_at", Hostile()}};
    // Device login: start, then the session.
    body["device_handle"] = "cldev_h";
    body["user_code"] = Hostile();
    body["verification_uri_complete"] = Hostile();
    body["interval"] = 1;
    body["expires_in"] = 60;
    if (r.path == "/v1/auth/device/token") {
      body["session_token"] = session_;
      body["expires_at"] = Hostile();
      body["user"] = boost::json::object{{"email", Hostile()}, {"name", Hostile()}};
    }
    return {200, SerializeJson(body)};
  }

  int Run(std::vector<std::string> args, CliEnvironment env = {}) {
    out_.str("");
    err_.str("");
    args.insert(args.end(), {"--control-plane", server_->url(), "--config", config_path()});
    return RunCli(args, std::move(env), out_, err_);
  }
  std::string config_path() const { return dir_ + "/chainloop/config.toml"; }

  // Asserts that what the command printed cannot drive the terminal or fake lines.
  void ExpectSafe(const std::string& what) {
    std::string out = out_.str(), err = err_.str();
    std::string why;
    EXPECT_TRUE(IsTerminalSafe(out, &why)) << what << " stdout: " << why;
    EXPECT_TRUE(IsTerminalSafe(err, &why)) << what << " stderr: " << why;
    for (const std::string& text : {out, err}) {
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        EXPECT_THAT(line, Not(::testing::StartsWith("FAKE-LINE"))) << what;
      }
    }
  }

  std::vector<std::vector<std::string>> Commands() const {
    return {
        {"auth", "status"},
        {"organization", "create", "--name", "acme"},
        {"organization", "list"},
        {"organization", "describe"},
        {"organization", "set", "--name", "acme"},
        {"organization", "update", "--api-token-max-days-inactive", "30"},
        {"organization", "member", "list"},
        {"organization", "invitation", "create", "--receiver", "a@b.c", "--role", "viewer"},
        {"organization", "invitation", "list"},
        {"organization", "audit", "list"},
        {"organization", "api-token", "create", "--name", "ci"},
        {"organization", "api-token", "list", "--status", "all"},
        {"organization", "api-token", "revoke", "--id", "t1"},
        {"organization", "federation", "create", "--name", "f", "--issuer", "https://gitlab.com",
         "--bound-claim", "project_path=acme/web"},
        {"organization", "federation", "list"},
        {"project", "create", "--name", "web"},
        {"project", "list"},
        {"attestation", "init", "--workflow", "w", "--project", "p"},
        {"attestation", "push", "--statement", statement_, "--attestation-id", "r1"},
        {"workflow", "list"},
        {"workflow", "run", "list"},
        {"workflow", "run", "describe", "--id", "r1"},
    };
  }

  std::string dir_;
  std::string statement_;
  std::unique_ptr<FakeHttpServer> server_;
  std::string session_ = [] {
    SystemRandom random;
    return crypto::GenerateCredential(crypto::CredentialKind::kSession, random);
  }();
  std::string principal_kind_ = "user";
  bool fail_ = false;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(HostileServerTest, TableAndTextOutputOfEveryCommand) {
  for (const auto& args : Commands()) {
    std::string what = args[0] + " " + args[1] + " " + (args.size() > 2 ? args[2] : "");
    EXPECT_EQ(Run(args), 0) << what << "\n" << err_.str();
    EXPECT_THAT(out_.str(), HasSubstr("ev\\x1b]52;c;ZXZpbA==\\x07il")) << what;
    ExpectSafe(what);
  }
  principal_kind_ = Hostile();  // the non-user branch of auth status
  EXPECT_EQ(Run({"auth", "status"}), 0) << err_.str();
  ExpectSafe("auth status (other principal)");
  EXPECT_EQ(Run({"organization", "api-token", "create", "--name", "ci", "-o", "token"}), 0);
  ExpectSafe("api-token create -o token");
  EXPECT_EQ(Run({"auth", "login", "--skip-browser"}), 0) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("To log in, open ev\\x1b]52"));
  ExpectSafe("auth login --skip-browser");
}

TEST_F(HostileServerTest, JsonOutputIsValidExactAndSafe) {
  for (auto args : Commands()) {
    std::string what = args[0] + " " + args[1] + " " + (args.size() > 2 ? args[2] : "");
    args.insert(args.end(), {"-o", "json"});
    EXPECT_EQ(Run(args), 0) << what << "\n" << err_.str();
    ExpectSafe(what + " -o json");
    auto parsed = ParseJson(out_.str());
    ASSERT_TRUE(parsed.has_value()) << what << ": " << out_.str();
    // The hostile value comes back exactly (JSON's own escapes, not the terminal ones).
    EXPECT_NE(SerializeJson(*parsed).find(SerializeJson(boost::json::value(Hostile()))),
              std::string::npos)
        << what;
  }
}

TEST_F(HostileServerTest, ServerErrorMessagesAndCodes) {
  fail_ = true;
  for (auto args : Commands()) {
    std::string what = args[0] + " " + args[1] + " " + (args.size() > 2 ? args[2] : "");
    args.push_back("--debug");
    EXPECT_EQ(Run(args), 1) << what;
    EXPECT_THAT(err_.str(), HasSubstr("Error: ev\\x1b]52")) << what;
    ExpectSafe(what + " (error)");
  }
  // Keyless: the exchange's refusal is quoted in the CLI's own message.
  CliEnvironment ci;
  ci.chainloop_oidc_token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2dpdGxhYi5jb20ifQ.c2ln";
  ASSERT_TRUE(std::filesystem::remove(config_path()));
  EXPECT_EQ(Run({"project", "list", "--org", "acme", "--debug"}, ci), 1);
  EXPECT_THAT(err_.str(), HasSubstr("keyless authentication failed: ev\\x1b]52"));
  ExpectSafe("keyless exchange refused");
}

}  // namespace
}  // namespace cl::cli
