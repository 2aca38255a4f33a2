// CliContext: everything a command needs after flag parsing — resolved config file, control
// plane URL, credentials, current organization, output format and the output streams — so
// command functions are plain functions testable without CLI11 or a real terminal.
#pragma once

#include <boost/json/value.hpp>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "cli/api_client.h"
#include "cli/config.h"
#include "cli/terminal.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"

namespace cl::cli {

// Global flags, as given on the command line (empty = not given).
struct GlobalOptions {
  std::string control_plane;
  std::string token;
  std::string org;
  std::string output = "table";  // table, json, or token (only where allowed)
  std::string config_path;
  std::string control_plane_ca;
  bool debug = false;
  bool insecure = false;
  bool yes = false;  // -y/--yes: skip confirmation prompts
};

// The environment variables the CLI reads, captured once (tests fill it by hand).
struct CliEnvironment {
  std::string chainloop_token;        // $CHAINLOOP_TOKEN
  std::string control_plane_api;      // $CHAINLOOP_CONTROL_PLANE_API
  std::string xdg_config_home;        // $XDG_CONFIG_HOME
  std::string home;                   // $HOME
  std::string login_timeout_seconds;  // $CHAINLOOP_LOGIN_TIMEOUT_SECONDS
  // Keyless CI discovery (cli/keyless.h).
  std::string chainloop_oidc_token;            // $CHAINLOOP_OIDC_TOKEN
  std::string gitlab_ci;                       // $GITLAB_CI
  std::string ci_job_url;                      // $CI_JOB_URL
  std::string gitlab_oidc;                     // $GITLAB_OIDC
  std::string actions_id_token_request_url;    // $ACTIONS_ID_TOKEN_REQUEST_URL
  std::string actions_id_token_request_token;  // $ACTIONS_ID_TOKEN_REQUEST_TOKEN
  // Whether standard input is a terminal (a person who can answer a confirmation prompt).
  bool stdin_is_terminal = false;
  // Where a CI job's exchanged token is cached (cli/keyless.h ExchangedTokenCache); both empty:
  // no cache (tests that do not set them).
  std::string runner_temp;  // $RUNNER_TEMP (GitHub Actions: per job)
  std::string tmpdir;       // $TMPDIR, "/tmp" when unset

  static CliEnvironment FromProcess();
};

class CliContext {
 public:
  // out() and err() write into `out` and `err` through TerminalSafeStreams (cli/terminal.h):
  // no printer can send a terminal control sequence.
  CliContext(GlobalOptions options, CliEnvironment env, std::ostream& out, std::ostream& err);

  // Loads the config and resolves/validates the control plane URL and output format.
  // REQUIRES: called once before anything else.
  Status Init();

  // Lets `--output token` through Init (only `organization api-token create` prints a bare
  // token). REQUIRES: called before Init().
  void AllowTokenOutput() { token_output_allowed_ = true; }

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  bool json_output() const { return options_.output == "json"; }
  bool token_output() const { return options_.output == "token"; }
  bool debug() const { return options_.debug; }
  const GlobalOptions& options() const { return options_; }
  const CliEnvironment& env() const { return env_; }

  // The control plane URL as given (flag, env, config or default), without trailing slashes.
  const std::string& control_plane() const { return control_plane_; }
  // Its NormalizeControlPlaneUrl form: the key of the login session sent to it.
  const std::string& control_plane_key() const { return control_plane_key_; }
  const std::string& config_path() const { return config_path_; }
  CliConfig& config() { return config_; }
  Status SaveConfig() { return cli::SaveConfig(config_path_, config_); }

  // A client with the resolved credential: --token, else $CHAINLOOP_TOKEN, else the stored
  // session issued by this control plane (never a session of another control plane), else a
  // CI ID token found in the CI environment (cli/keyless.h). Chainloop tokens
  // are checked offline first; a CI ID token (from any source) is exchanged once, for the
  // organization given by --org (required then), and the returned short-lived token is used
  // for every later call, by this command and by the later commands of the same CI job: it is
  // cached (ExchangedTokenCache) until shortly before it expires, so a job's ID token is
  // exchanged once however many commands the job runs. Prints the override note to stderr
  // once. Fails when there is no credential.
  //
  // `raw_ci_token` (attestation init/push): when the exchanged token cannot be cached (no
  // usable cache directory), the CI ID token itself is sent as the Bearer credential instead
  // (the attestation endpoints verify it; one ID token opens one run and pushes one
  // attestation), because a CI job runs them as separate processes with the same ID token and
  // a token can be exchanged only once.
  Result<ApiClient*> AuthenticatedClient(bool raw_ci_token = false);
  // A client with an explicit token (may be empty: no Authorization header).
  ApiClient ClientWithToken(const std::string& token);

  // Who the credential chosen by AuthenticatedClient() acts as, for keeping pending attestations
  // apart (AttestationStatePath); never a secret: "session" for the stored login session,
  // "token:" + SHA-256 of an API token, "ci:" + issuer and subject of a CI ID token.
  // REQUIRES: AuthenticatedClient() succeeded.
  const std::string& identity_key() const { return identity_key_; }

  // --org; else, when the credential is an API token (or an exchanged CI token) given by --token
  // or $CHAINLOOP_TOKEN, the organization it belongs to, as GET /v1/auth/whoami names it (asked
  // once per command; a control plane whose whoami names none falls back to the next rule); else
  // the config's organization; else FailedPrecondition with what to do.
  Result<std::string> Organization();
  // --org, else the config's organization; possibly empty.
  std::string CurrentOrganization() const;

  // True when the credential in use is the stored login session (for error hints).
  bool using_stored_session() const { return source_ == CredentialSource::kSession; }
  // True when the credential in use came from a keyless exchange of a CI ID token.
  bool using_keyless() const { return keyless_; }

  const Clock& clock() const { return *clock_; }
  void set_clock_for_test(std::unique_ptr<Clock> c) { clock_ = std::move(c); }

  Random& random() { return *random_; }
  void set_random_for_test(std::unique_ptr<Random> r) { random_ = std::move(r); }

  // The one confirmation of destructive commands (revoke, delete, remove): asks `question`
  // (" [y/N]: " is appended) on err() and reads a line from the input, but only when standard
  // input is a terminal and --yes was not given; a script (stdin not a terminal) or --yes goes
  // ahead without asking. OK on "y" or "yes" (any case); FailedPrecondition "aborted" otherwise,
  // end of input included.
  Status Confirm(const std::string& question);
  // Where Confirm reads answers (default std::cin). REQUIRES: `in` outlives the context.
  void set_input_for_test(std::istream& in) { in_ = &in; }

  // Prints one JSON value on one line to out() (TerminalSafeJson: the exact data, escaped).
  void PrintJson(const boost::json::value& v);

  // Prints the error to stderr the CLI's way and returns the exit status (1): with -o json one
  // line {"error":{"code":"<reason>","message":"..."}}, else FormatCliError's text.
  int ReportError(const Error& error);

 private:
  GlobalOptions options_;
  CliEnvironment env_;
  TerminalSafeStream out_;
  TerminalSafeStream err_;
  std::string config_path_;
  std::string control_plane_;
  std::string control_plane_key_;
  CliConfig config_;
  std::string identity_key_;
  CredentialSource source_ = CredentialSource::kNone;
  bool keyless_ = false;
  std::optional<ApiClient> client_;
  std::unique_ptr<Random> random_;
  std::unique_ptr<Clock> clock_;
  std::istream* in_;
  bool token_output_allowed_ = false;
  // The organization whoami named for a token credential; set by the first Organization().
  std::optional<std::string> token_organization_;
};

}  // namespace cl::cli
