// SqlDatabase: every store::Database method written once in portable SQL, on top of a small
// connection interface that store/sqlite and store/postgres implement.
//
// Queries use PostgreSQL placeholders ($1, $2, ...); the SQLite connection rewrites them to ?NNN.
// The SQL sticks to what both dialects accept (ON CONFLICT, RETURNING, partial indexes); where
// they differ, a protected hook below says how. One implementation file per aggregate
// (store/sql_organizations.cc, sql_api_tokens.cc, ...), sharing store/sql_internal.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/migrations.h"
#include "store/store.h"

namespace cl::store {

// A bound parameter: NULL, an integer or text.
struct SqlParam {
  enum class Kind { kNull, kInt, kText };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  std::string s;

  SqlParam() = default;
  SqlParam(int64_t v) : kind(Kind::kInt), i(v) {}       // NOLINT(google-explicit-constructor)
  SqlParam(int v) : kind(Kind::kInt), i(v) {}           // NOLINT(google-explicit-constructor)
  SqlParam(bool v) : kind(Kind::kInt), i(v ? 1 : 0) {}  // NOLINT(google-explicit-constructor)
  SqlParam(std::string v) : kind(Kind::kText), s(std::move(v)) {}  // NOLINT
  SqlParam(const char* v) : kind(Kind::kText), s(v) {}             // NOLINT
  SqlParam(const std::optional<int64_t>& v) {                      // NOLINT
    if (v) {
      kind = Kind::kInt;
      i = *v;
    }
  }
  SqlParam(const std::optional<int>& v) {  // NOLINT
    if (v) {
      kind = Kind::kInt;
      i = *v;
    }
  }
  // Text form, as libpq wants it (booleans travel as 1/0, which PostgreSQL accepts).
  std::string Text() const { return kind == Kind::kInt ? std::to_string(i) : s; }
};

// One result row, every column as text (NULL as nullopt), like libpq's text format.
class SqlRow {
 public:
  explicit SqlRow(std::vector<std::optional<std::string>> cols) : cols_(std::move(cols)) {}
  const std::string& Str(size_t i) const;  // "" for NULL
  int64_t Int(size_t i) const;             // 0 for NULL or garbage
  std::optional<int64_t> OptInt(size_t i) const;
  bool Bool(size_t i) const;  // "1", "t", "true"
  bool IsNull(size_t i) const { return !cols_.at(i).has_value(); }

 private:
  std::vector<std::optional<std::string>> cols_;
};

struct SqlResult {
  std::vector<SqlRow> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

// A connection handed to one unit of work. Not thread-safe: used by one thread at a time.
// Errors follow store.h: unique violation -> AlreadyExists, lost connection -> Unavailable.
class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual Result<SqlResult> Query(std::string_view sql, const std::vector<SqlParam>& params) = 0;
  // Runs a script of several statements without parameters (migrations).
  virtual Status ExecScript(std::string_view sql) = 0;
};

class SqlDatabase : public Database {
 public:
  // Every method below is thread-safe because the subclass's Run* hands each call its own
  // connection (or serialises on one).
  Result<User> UpsertUser(const User& user) override;
  Result<User> GetUser(const std::string& id) override;

  Status CreateOrganization(const Organization& org, const Membership& owner,
                            const AuditEvent& event) override;
  Result<Organization> GetOrganization(const std::string& id) override;
  Result<Organization> GetOrganizationByName(const std::string& name) override;
  Result<std::vector<Membership>> ListMembershipsForUser(const std::string& user_id) override;
  Result<Page<Membership, NameKey>> ListMembershipsForUser(
      const std::string& user_id, const PageRequest<NameKey>& page) override;
  Result<Membership> GetMembership(const std::string& org_id, const std::string& user_id) override;
  Result<std::vector<Membership>> ListMembers(const std::string& org_id) override;
  Result<Page<Membership, NameKey>> ListMembers(const std::string& org_id,
                                                const PageRequest<NameKey>& page) override;
  Status UpdateMemberRole(const std::string& org_id, const std::string& user_id, OrgRole role,
                          const AuditEvent& event) override;
  Status RemoveMember(const std::string& org_id, const std::string& user_id,
                      const AuditEvent& event) override;
  Status SetApiTokenMaxDaysInactive(const std::string& org_id, std::optional<int> days,
                                    const AuditEvent& event) override;

  Status CreateProject(const Project& project, const std::optional<ProjectMembership>& creator,
                       const AuditEvent& event) override;
  Result<Project> GetProjectByName(const std::string& org_id, const std::string& name) override;
  Result<Project> GetProject(const std::string& id) override;
  Result<std::vector<Project>> ListProjects(const std::string& org_id) override;
  Result<Page<Project, NameKey>> ListProjects(const std::string& org_id,
                                              const std::optional<std::string>& only_project_id,
                                              const PageRequest<NameKey>& page) override;
  Status SetProjectMembership(const ProjectMembership& m) override;
  Result<ProjectMembership> GetProjectMembership(const std::string& project_id,
                                                 const std::string& user_id) override;
  Result<std::vector<ProjectMembership>> ListProjectMembershipsForUser(
      const std::string& org_id, const std::string& user_id) override;

  Status CreateInvitation(const Invitation& inv, const AuditEvent& event) override;
  Result<std::vector<Invitation>> ListPendingInvitations(const std::string& org_id) override;
  Result<Page<Invitation, TimeKey>> ListPendingInvitations(
      const std::string& org_id, const PageRequest<TimeKey>& page) override;
  Result<std::vector<Invitation>> ListPendingInvitationsForEmail(const std::string& email) override;
  Result<Invitation> GetInvitation(const std::string& org_id, const std::string& id) override;
  Status RevokeInvitation(const std::string& org_id, const std::string& id,
                          const AuditEvent& event) override;
  Status AcceptInvitation(const std::string& invitation_id, const Membership& membership,
                          UnixMillis now, const AuditEvent& event) override;

  Result<Workflow> GetWorkflow(const std::string& project_id, const std::string& name) override;
  Result<Workflow> GetOrCreateWorkflow(const Workflow& wf) override;
  Result<std::vector<Workflow>> ListWorkflows(const std::string& org_id) override;
  Result<Page<Workflow, WorkflowKey>> ListWorkflows(const std::string& org_id,
                                                    const std::optional<std::string>& project_id,
                                                    const PageRequest<WorkflowKey>& page) override;
  Status CreateRun(const WorkflowRun& run) override;
  Result<WorkflowRun> GetRun(const std::string& org_id, const std::string& run_id) override;
  Status CompleteRun(const WorkflowRun& run) override;
  Result<Page<WorkflowRun, TimeKey>> ListRuns(const std::string& org_id,
                                              const std::optional<std::string>& project_id,
                                              const PageRequest<TimeKey>& page) override;

  Status CreateSession(const Session& s) override;
  Result<Session> GetSessionByHash(const std::string& token_hash) override;
  Status RevokeSession(const std::string& id, UnixMillis now) override;

  Status PutLoginRequest(const LoginRequest& r) override;
  Result<LoginRequest> TakeLoginRequest(const std::string& state_hash, UnixMillis now) override;
  Status PutAuthCode(const AuthCode& c) override;
  Result<AuthCode> TakeAuthCode(const std::string& code_hash, UnixMillis now) override;
  Status PutDeviceRequest(const DeviceRequest& r) override;
  Result<DeviceRequest> GetDeviceRequest(const std::string& handle_hash, UnixMillis now) override;
  Status DeleteDeviceRequest(const std::string& handle_hash) override;
  Status PurgeExpiredLoginState(UnixMillis now) override;
  Result<int64_t> CountPendingLogins() override;

  Status CreateApiToken(const ApiToken& token, const AuditEvent& event) override;
  Result<ApiToken> GetApiTokenByHash(const std::string& token_hash) override;
  Result<std::vector<ApiToken>> GetApiTokensByHashes(
      const std::vector<std::string>& hashes) override;
  Result<ApiToken> GetApiToken(const std::string& org_id, const std::string& id) override;
  Result<std::vector<ApiToken>> ListApiTokens(const ApiTokenFilter& filter) override;
  Result<Page<ApiToken, TimeKey>> ListApiTokens(const ApiTokenFilter& filter,
                                                const PageRequest<TimeKey>& page) override;
  Status RevokeApiToken(const std::string& org_id, const std::string& id, UnixMillis now,
                        RevocationReason reason, const std::string& revoked_by_name,
                        const AuditEvent& event) override;
  Status RecordApiTokenUsage(const std::vector<ApiTokenUse>& usage) override;
  Status RotateApiToken(const std::string& old_id, const ApiToken& replacement, UnixMillis deadline,
                        const AuditEvent& event) override;

  Result<InactiveTokenSweep> RevokeInactiveApiTokens(
      UnixMillis now, const std::function<AuditEvent(const RevokedToken&)>& make_event) override;
  Result<std::vector<RevokedToken>> RevokeRotatedApiTokens(
      UnixMillis now, const std::function<AuditEvent(const RevokedToken&)>& make_event) override;

  Status CreateTrustPolicy(const TrustPolicyRecord& policy, const AuditEvent& event) override;
  Result<std::vector<TrustPolicyRecord>> ListTrustPolicies(const std::string& org_id) override;
  Result<Page<TrustPolicyRecord, NameKey>> ListTrustPolicies(
      const std::string& org_id, const PageRequest<NameKey>& page) override;
  Result<OrgTrustPolicies> GetTrustPoliciesOfOrg(const std::string& org_name) override;
  Result<std::vector<TrustPolicyRecord>> ListTrustPoliciesByIssuer(
      const std::string& issuer) override;
  Result<std::vector<std::string>> DeleteTrustPolicy(const std::string& org_id,
                                                     const std::string& id,
                                                     const AuditEvent& event) override;
  Status RecordCiTokenJti(const std::string& issuer, const std::vector<std::string>& jtis,
                          UnixMillis expires_at, UnixMillis now) override;
  Status CreateFederatedToken(const FederatedToken& token, const AuditEvent& event) override;
  Status ExchangeCiToken(const std::string& issuer, const std::vector<std::string>& jtis,
                         UnixMillis remember_until, UnixMillis now, const FederatedToken& token,
                         const AuditEvent& event) override;
  Result<FederatedToken> GetFederatedTokenByHash(const std::string& token_hash) override;
  Status RevokeFederatedToken(const std::string& org_id, const std::string& id, UnixMillis now,
                              const AuditEvent& event) override;

  Result<bool> RehashApiToken(const std::string& id, const std::string& old_hash,
                              const std::string& new_hash, const std::string& pepper_id) override;
  Result<bool> RehashSession(const std::string& id, const std::string& old_hash,
                             const std::string& new_hash, const std::string& pepper_id) override;
  Result<std::vector<PepperUsage>> CountCredentialsByPepper(UnixMillis now) override;
  Result<int64_t> AttributeUnknownPepper(const std::string& pepper_id) override;

  Status AppendAuditEvent(const AuditEvent& e) override;
  Result<std::vector<AuditEvent>> ListAuditEvents(const std::string& org_id, int limit) override;
  Result<Page<AuditEvent, TimeKey>> ListAuditEvents(const AuditEventFilter& filter,
                                                    const PageRequest<TimeKey>& page) override;

  Status CreateWebhook(const Webhook& webhook, const AuditEvent& event) override;
  Result<Page<Webhook, TimeKey>> ListWebhooks(const std::string& org_id,
                                              const PageRequest<TimeKey>& page) override;
  Result<Webhook> GetWebhook(const std::string& org_id, const std::string& id) override;
  Status DeleteWebhook(const std::string& org_id, const std::string& id,
                       const AuditEvent& event) override;
  Result<bool> ResealWebhookSecret(const std::string& id, const std::string& old_sealed,
                                   const std::string& new_sealed) override;
  Result<std::vector<std::pair<std::string, int64_t>>> CountWebhookSecretsByPepper() override;
  Result<int> EnqueueWebhookEvent(const WebhookEvent& event,
                                  const std::optional<std::string>& only_webhook) override;
  Result<std::vector<ClaimedDelivery>> ClaimWebhookDeliveries(UnixMillis now, int limit,
                                                              int64_t lease_ms) override;
  Status RecordWebhookAttempt(const WebhookAttempt& attempt) override;
  Result<Page<WebhookDelivery, TimeKey>> ListWebhookDeliveries(
      const std::string& org_id, const std::string& webhook_id,
      const PageRequest<TimeKey>& page) override;
  Result<int64_t> PruneWebhookHistory(UnixMillis before) override;
  Result<std::vector<TokenNotice>> EnqueueTokenNotices(
      UnixMillis now, int64_t ahead_ms,
      const std::function<WebhookEvent(const TokenNotice&)>& make_event) override;

  Status Ping() override;
  DatabaseStats Stats() const override;
  Result<int> SchemaVersion() override;
  Result<MigrationReport> Migrate() override;
  // Applies the migrations up to and including `target_version` only (tests of upgrades).
  Result<MigrationReport> MigrateTo(int target_version);
  // Applies `migrations` (ascending versions, this dialect's SQL) instead of the embedded ones:
  // tests that play a later build, whose migrations this build does not know.
  Result<MigrationReport> MigrateWith(const std::vector<Migration>& migrations);
  int LatestKnownSchemaVersion() const override;
  Result<SchemaCompatibility> CheckSchemaCompatibility() override;

 protected:
  using Work = std::function<Status(SqlConnection&)>;
  // Runs `work` on a connection outside an explicit transaction (single statements).
  virtual Status Run(const Work& work) = 0;
  // Runs `work` in a write transaction: committed if it returns OK, rolled back otherwise.
  virtual Status RunInTransaction(const Work& work) = 0;
  // True when the schema_migrations table exists.
  virtual Result<bool> HasMigrationsTable(SqlConnection& conn) = 0;
  // Called first inside each migration transaction; PostgreSQL takes an advisory lock so
  // several instances starting together apply each migration once.
  virtual Status LockForMigration(SqlConnection& conn) { return Ok(); }
  // Called first inside the inactivity sweep's transaction; false when another instance holds
  // the sweep lock (PostgreSQL: pg_try_advisory_xact_lock). SQLite's BEGIN IMMEDIATE already
  // serialises writers, so the default says yes.
  virtual Result<bool> TryLockTokenSweep(SqlConnection& conn) { return true; }
  // Appends many audit events within the caller's transaction (InsertAuditRowsInBulk), then
  // enqueues the webhook events they map to, as InsertAudit does for one (store/sql_audit.cc).
  Status InsertAuditEventsInBulk(SqlConnection& conn, const std::vector<AuditEvent>& events);
  // The audit rows alone. Portable default: multi-row INSERT ... VALUES in batches; PostgreSQL
  // overrides it with INSERT ... SELECT FROM unnest().
  virtual Status InsertAuditRowsInBulk(SqlConnection& conn, const std::vector<AuditEvent>& events);
  // Appended to a SELECT ... LIMIT that claims rows for this transaction alone, passing over the
  // rows another transaction claims meanwhile (PostgreSQL: " FOR UPDATE SKIP LOCKED"); empty on
  // SQLite, whose BEGIN IMMEDIATE serialises writers.
  virtual const char* SkipLockedRowLockClause() const { return ""; }
  // Appended to a SELECT whose rows must stay as read until the transaction ends, against
  // concurrent writers (PostgreSQL: " FOR SHARE"). SQLite's BEGIN IMMEDIATE already serialises
  // writers, so the default is empty.
  virtual const char* SharedRowLockClause() const { return ""; }
  // Appended to a SELECT whose rows no concurrent transaction may lock or change until this one
  // ends (PostgreSQL: " FOR UPDATE"); empty on SQLite for the same reason as above.
  virtual const char* ExclusiveRowLockClause() const { return ""; }
  // True when UPDATE ... FROM ... RETURNING may name columns of the joined table (PostgreSQL);
  // SQLite's RETURNING sees only the updated table.
  virtual bool ReturningSeesJoinedTables() const { return false; }
  // Fills the pool_* fields of Stats().
  virtual void FillPoolStats(DatabaseStats* out) const {}

  // Run and RunInTransaction record each unit of work they ran here, timed from the moment it
  // has its connection to the moment it gives it back.
  DbUnitRecorder unit_recorder_;

  // Runs `fn` (SqlConnection& -> Result<T>) through Run and returns what it returned, or the
  // error of Run itself (e.g. no connection).
  template <typename Fn>
  std::invoke_result_t<Fn&, SqlConnection&> RunReturning(Fn&& fn) {
    return Returning(fn, /*in_transaction=*/false);
  }
  // The same through RunInTransaction: an error from `fn` rolls the transaction back.
  template <typename Fn>
  std::invoke_result_t<Fn&, SqlConnection&> RunInTransactionReturning(Fn&& fn) {
    return Returning(fn, /*in_transaction=*/true);
  }

 private:
  // ExchangeCiToken purges expired CI token ids when its `now` reaches this (then moves it on by
  // kCiTokenJtiPurgeIntervalMillis): one purge per interval per store object, not per exchange.
  std::atomic<UnixMillis> next_jti_purge_{0};

  template <typename Fn>
  std::invoke_result_t<Fn&, SqlConnection&> Returning(Fn& fn, bool in_transaction) {
    using R = std::invoke_result_t<Fn&, SqlConnection&>;
    std::optional<R> out;
    const Work work = [&](SqlConnection& c) -> Status {
      out.emplace(fn(c));  // a retried unit of work starts over
      if (in_transaction && !*out) return Fail(out->error());
      return Ok();
    };
    Status st = in_transaction ? RunInTransaction(work) : Run(work);
    if (!st) return Fail(st.error());
    return std::move(*out);
  }
};

}  // namespace cl::store
