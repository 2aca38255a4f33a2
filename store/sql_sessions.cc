// SqlDatabase's SessionStore and LoginStateStore: sessions, and the short-lived state of a
// login in progress (login requests, authorization codes, device requests).
#include <string>

#include "store/sql_database.h"
#include "store/sql_internal.h"

namespace cl::store {
namespace {

constexpr const char* kSessionCols =
    "id, user_id, token_hash, created_at, expires_at, revoked_at, pepper_id";
Session ToSession(const SqlRow& r) {
  Session s;
  s.id = r.Str(0);
  s.user_id = r.Str(1);
  s.token_hash = r.Str(2);
  s.created_at = r.Int(3);
  s.expires_at = r.Int(4);
  s.revoked_at = r.OptInt(5);
  s.pepper_id = r.Str(6);
  return s;
}

}  // namespace

// ---- sessions

Status SqlDatabase::CreateSession(const Session& s) {
  return Run([&](SqlConnection& c) -> Status {
    auto r = c.Query(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, revoked_at, "
        "pepper_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {s.id, s.user_id, s.token_hash, s.created_at, s.expires_at, s.revoked_at,
         OptText(s.pepper_id)});
    if (!r) return Fail(r.error());
    return Ok();
  });
}

Result<Session> SqlDatabase::GetSessionByHash(const std::string& token_hash) {
  return RunReturning([&](SqlConnection& c) {
    return QueryOne<Session>(
        c, std::string("SELECT ") + kSessionCols + " FROM sessions WHERE token_hash = $1",
        {token_hash}, "session", ToSession);
  });
}

Status SqlDatabase::RevokeSession(const std::string& id, UnixMillis now) {
  return Run([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r,
        c.Query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                {id, now}));
    if (r.affected == 0) return Fail(Error::NotFound("session not found"));
    return Ok();
  });
}

// ---- login state

Status SqlDatabase::PutLoginRequest(const LoginRequest& r) {
  return Run([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO login_requests (state_hash, nonce, upstream_code_verifier, "
                "cli_redirect_uri, cli_state, cli_code_challenge, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                {r.state_hash, r.nonce, r.upstream_code_verifier, r.cli_redirect_uri, r.cli_state,
                 r.cli_code_challenge, r.expires_at}));
    return Ok();
  });
}

Result<LoginRequest> SqlDatabase::TakeLoginRequest(const std::string& state_hash, UnixMillis now) {
  auto out = RunReturning([&](SqlConnection& c) {
    // DELETE ... RETURNING is atomic on both engines: two instances cannot both take the row.
    return QueryOne<LoginRequest>(
        c,
        "DELETE FROM login_requests WHERE state_hash = $1 RETURNING state_hash, nonce, "
        "upstream_code_verifier, cli_redirect_uri, cli_state, cli_code_challenge, expires_at",
        {state_hash}, "login request", [](const SqlRow& r) {
          return LoginRequest{r.Str(0), r.Str(1), r.Str(2), r.Str(3), r.Str(4), r.Str(5), r.Int(6)};
        });
  });
  if (out && out->expires_at <= now) return Fail(Error::NotFound("login request expired"));
  return out;
}

Status SqlDatabase::PutAuthCode(const AuthCode& a) {
  return Run([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO auth_codes (code_hash, user_id, cli_code_challenge, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                {a.code_hash, a.user_id, a.cli_code_challenge, a.expires_at}));
    return Ok();
  });
}

Result<AuthCode> SqlDatabase::TakeAuthCode(const std::string& code_hash, UnixMillis now) {
  auto out = RunReturning([&](SqlConnection& c) {
    return QueryOne<AuthCode>(c,
                              "DELETE FROM auth_codes WHERE code_hash = $1 "
                              "RETURNING code_hash, user_id, cli_code_challenge, expires_at",
                              {code_hash}, "authorization code", [](const SqlRow& r) {
                                return AuthCode{r.Str(0), r.Str(1), r.Str(2), r.Int(3)};
                              });
  });
  if (out && out->expires_at <= now) return Fail(Error::NotFound("authorization code expired"));
  return out;
}

Status SqlDatabase::PutDeviceRequest(const DeviceRequest& d) {
  return Run([&](SqlConnection& c) -> Status {
    CL_RETURN_IF_ERROR(
        c.Query("INSERT INTO device_requests (handle_hash, upstream_device_code, expires_at, "
                "interval_seconds) VALUES ($1, $2, $3, $4)",
                {d.handle_hash, d.upstream_device_code, d.expires_at, d.interval_seconds}));
    return Ok();
  });
}

Result<DeviceRequest> SqlDatabase::GetDeviceRequest(const std::string& handle_hash,
                                                    UnixMillis now) {
  auto out = RunReturning([&](SqlConnection& c) {
    return QueryOne<DeviceRequest>(
        c,
        "SELECT handle_hash, upstream_device_code, expires_at, interval_seconds "
        "FROM device_requests WHERE handle_hash = $1",
        {handle_hash}, "device request", [](const SqlRow& r) {
          return DeviceRequest{r.Str(0), r.Str(1), r.Int(2), static_cast<int>(r.Int(3))};
        });
  });
  if (out && out->expires_at <= now) return Fail(Error::NotFound("device request expired"));
  return out;
}

Status SqlDatabase::DeleteDeviceRequest(const std::string& handle_hash) {
  return Run([&](SqlConnection& c) -> Status {
    CL_ASSIGN_OR_RETURN(
        SqlResult r, c.Query("DELETE FROM device_requests WHERE handle_hash = $1", {handle_hash}));
    if (r.affected == 0) return Fail(Error::NotFound("device request not found"));
    return Ok();
  });
}

Status SqlDatabase::PurgeExpiredLoginState(UnixMillis now) {
  return RunInTransaction([&](SqlConnection& c) -> Status {
    for (const char* sql : {"DELETE FROM login_requests WHERE expires_at <= $1",
                            "DELETE FROM auth_codes WHERE expires_at <= $1",
                            "DELETE FROM device_requests WHERE expires_at <= $1"}) {
      CL_RETURN_IF_ERROR(c.Query(sql, {now}));
    }
    return Ok();
  });
}

Result<int64_t> SqlDatabase::CountPendingLogins() {
  return RunReturning([&](SqlConnection& c) -> Result<int64_t> {
    CL_ASSIGN_OR_RETURN(SqlResult r, c.Query("SELECT (SELECT COUNT(*) FROM login_requests) + "
                                             "(SELECT COUNT(*) FROM device_requests)",
                                             {}));
    if (r.rows.empty()) return Fail(Error::Internal("COUNT returned no row"));
    return r.rows[0].Int(0);
  });
}

}  // namespace cl::store
