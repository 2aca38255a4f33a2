#include "domain/api_tokens.h"

#include <algorithm>

#include "common/printable.h"
#include "crypto/credential.h"
#include "domain/names.h"
#include "domain/token_inactivity.h"

namespace cl::domain {
namespace {

constexpr int64_t kMaxExpirySeconds = 10LL * 366 * 24 * 3600;  // ten years

bool IsPermissionShape(std::string_view p) {
  auto colon = p.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == p.size() || p.size() > 64) {
    return false;
  }
  for (char c : p) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || c == ':')) return false;
  }
  return p.find(':', colon + 1) == std::string_view::npos;
}

}  // namespace

const std::vector<std::string>& DefaultApiTokenPermissions() {
  static const std::vector<std::string> kDefault = {
      std::string(perm::kOrganizationRead),  std::string(perm::kProjectRead),
      std::string(perm::kWorkflowCreate),    std::string(perm::kWorkflowRead),
      std::string(perm::kWorkflowRunCreate), std::string(perm::kWorkflowRunRead)};
  return kDefault;
}

const std::set<std::string, std::less<>>& TokenGrantablePermissions() {
  static const std::set<std::string, std::less<>> kGrantable = {
      std::string(perm::kOrganizationRead), std::string(perm::kProjectRead),
      std::string(perm::kProjectCreate),    std::string(perm::kWorkflowRead),
      std::string(perm::kWorkflowCreate),   std::string(perm::kWorkflowRunCreate),
      std::string(perm::kWorkflowRunRead),  std::string(perm::kApiTokenCreate),
      std::string(perm::kApiTokenRead),     std::string(perm::kApiTokenRevoke)};
  return kGrantable;
}

Result<CreatedApiToken> ApiTokenService::Create(const Principal& p, const std::string& org_name,
                                                const CreateApiTokenRequest& req) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  CL_RETURN_IF_ERROR(ValidateDnsLabel(req.name, "token name"));
  if (req.description.size() > 1024) {
    return Fail(Error::InvalidArgument("description must be at most 1024 characters"));
  }
  // Descriptions are printed on other people's terminals and pages (api-token list).
  CL_RETURN_IF_ERROR(CheckPrintableText(req.description, "description"));
  std::optional<std::string> project_id;
  std::string project_name;
  if (req.project && !req.project->empty()) {
    CL_ASSIGN_OR_RETURN(auto project, FindProject(projects_, org.id, *req.project));
    project_id = project.id;
    project_name = project.name;
  }
  if (p.kind != Principal::Kind::kUser && !project_id && !p.project_id) {
    // An org-scoped token must not mint another org-scoped token (no widening by proxy).
    return Fail(Error::PermissionDenied(
        "an API token can only create project-scoped tokens; pass a project"));
  }
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kApiTokenCreate, Resource{org.id, project_id}));

  std::vector<std::string> permissions =
      req.permissions ? *req.permissions : DefaultApiTokenPermissions();
  std::sort(permissions.begin(), permissions.end());
  permissions.erase(std::unique(permissions.begin(), permissions.end()), permissions.end());
  if (permissions.empty()) {
    return Fail(Error::InvalidArgument("a token needs at least one permission"));
  }
  // What the caller may grant is what the Authorizer says it holds in that scope.
  CL_ASSIGN_OR_RETURN(EffectivePermissions held, authz_.Permissions(p, org.id));
  for (const auto& perm : permissions) {
    if (!IsPermissionShape(perm)) {
      return Fail(Error::InvalidArgument("'" + perm.substr(0, 64) +
                                         "' is not a permission (resource:action)"));
    }
    if (!TokenGrantablePermissions().count(perm)) {
      return Fail(
          Error::InvalidArgument("the permission " + perm + " cannot be given to an API token"));
    }
    if (!held.Allows(perm, project_id)) {
      return Fail(
          Error::PermissionDenied("you cannot grant " + perm + ": you do not hold it yourself"));
    }
  }
  UnixMillis now = clock_.Now();
  std::optional<UnixMillis> expires_at;
  if (req.expires_in_seconds) {
    if (*req.expires_in_seconds <= 0 || *req.expires_in_seconds > kMaxExpirySeconds) {
      return Fail(Error::InvalidArgument("expires_in_seconds must be from 1 to " +
                                         std::to_string(kMaxExpirySeconds)));
    }
    expires_at = now + *req.expires_in_seconds * kMillisPerSecond;
  }
  // A token never outlives the API token or exchanged CI token that creates it: otherwise a
  // short-lived credential could mint a permanent one.
  if (p.token_expires_at != 0 && (!expires_at || *expires_at > p.token_expires_at)) {
    expires_at = p.token_expires_at;
  }

  CreatedApiToken out;
  out.token = crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random_);
  store::ApiToken& t = out.record;
  t.id = NewUuid(random_);
  t.org_id = org.id;
  t.project_id = project_id;
  t.project_name = project_name;
  t.name = req.name;
  t.description = req.description;
  t.token_hash = hasher_.Hash(out.token);
  t.pepper_id = hasher_.current_pepper_id();
  t.permissions = permissions;
  t.created_by_kind = PrincipalKindName(p.kind);
  t.created_by_id = p.id;
  t.created_by_name = p.display_name;
  t.created_at = now;
  t.expires_at = expires_at;
  std::string scope = project_id ? "project " + project_name : "the organization";
  auto st = tokens_.CreateApiToken(
      t, orgs_.NewEvent(p, org.id, AuditAction::kApiTokenCreated, AuditTarget::kApiToken, t.id,
                        p.display_name + " created the API token " + t.name + " for " + scope));
  if (!st) {
    if (st.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("an active API token named '" + t.name +
                                       "' already exists in this scope"));
    }
    return Fail(st.error());
  }
  return out;
}

Result<ApiTokenListing> ApiTokenService::List(const Principal& p, const std::string& org_name,
                                              const std::string& status,
                                              const std::optional<std::string>& project,
                                              const std::string& scope,
                                              const store::PageRequest<store::TimeKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  store::ApiTokenFilter f;
  f.org_id = org.id;
  if (status == "all") {
    f.status = store::ApiTokenFilter::Status::kAll;
  } else if (auto state = status.empty() ? ApiTokenState::kActive : ParseApiTokenState(status)) {
    switch (*state) {
      case ApiTokenState::kActive:
        f.status = store::ApiTokenFilter::Status::kActive;
        break;
      case ApiTokenState::kExpired:
        f.status = store::ApiTokenFilter::Status::kExpired;
        break;
      case ApiTokenState::kRevoked:
        f.status = store::ApiTokenFilter::Status::kRevoked;
        break;
    }
  } else {
    return Fail(Error::InvalidArgument("status must be active, expired, revoked or all"));
  }
  if (scope.empty()) {
    f.scope = store::ApiTokenFilter::Scope::kAny;
  } else if (scope == "project") {
    f.scope = store::ApiTokenFilter::Scope::kProject;
  } else if (scope == "global") {
    f.scope = store::ApiTokenFilter::Scope::kGlobal;
  } else {
    return Fail(Error::InvalidArgument("scope must be project or global"));
  }
  if (project && !project->empty()) {
    CL_ASSIGN_OR_RETURN(auto pr, FindProject(projects_, org.id, *project));
    f.project_id = pr.id;
  } else if (p.project_id) {
    f.project_id = p.project_id;
  }
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kApiTokenRead, Resource{org.id, f.project_id}));
  f.now = clock_.Now();
  CL_ASSIGN_OR_RETURN(auto tokens, tokens_.ListApiTokens(f, page));
  return ApiTokenListing{std::move(tokens.items), f.now, std::move(tokens.next)};
}

Result<ApiTokenService::OrgToken> ApiTokenService::Find(const Principal& p,
                                                        const std::string& org_name,
                                                        const std::string& id,
                                                        std::string_view permission) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  if (!IsUuid(id)) return Fail(Error::NotFound("API token not found"));
  CL_ASSIGN_OR_RETURN(auto token, tokens_.GetApiToken(org.id, id));
  bool self = p.kind == Principal::Kind::kApiToken && p.id == token.id;
  if (!self) {
    CL_RETURN_IF_ERROR(authz_.Authorize(p, permission, Resource{org.id, token.project_id}));
  }
  return OrgToken{std::move(org), std::move(token)};
}

Result<store::ApiToken> ApiTokenService::Get(const Principal& p, const std::string& org_name,
                                             const std::string& id) {
  CL_ASSIGN_OR_RETURN(auto found, Find(p, org_name, id, perm::kApiTokenRead));
  return std::move(found.token);
}

Result<store::ApiToken> ApiTokenService::Revoke(const Principal& p, const std::string& org_name,
                                                const std::string& id) {
  CL_ASSIGN_OR_RETURN(auto found, Find(p, org_name, id, perm::kApiTokenRevoke));
  const store::Organization& org = found.org;
  const store::ApiToken& token = found.token;
  UnixMillis now = clock_.Now();
  auto st = tokens_.RevokeApiToken(
      org.id, id, now, store::RevocationReason::kManual, p.display_name,
      orgs_.NewEvent(p, org.id, AuditAction::kApiTokenRevoked, AuditTarget::kApiToken, token.id,
                     p.display_name + " revoked the API token " + token.name));
  if (!st) {
    if (st.error().code() == Error::Code::kFailedPrecondition) {
      return Fail(Error::FailedPrecondition("the API token " + token.name + " is already revoked"));
    }
    return Fail(st.error());
  }
  // Announce the hash the row holds now: another instance may have moved the token to a newer
  // pepper after it was read above, and a revoked row's hash never changes again
  // (RehashApiToken skips revoked rows). The hash read before goes out too when it differs.
  auto revoked = tokens_.GetApiToken(org.id, id);
  if (revoked) authenticator_.NotifyRevoked(revoked->token_hash);
  if (!revoked || revoked->token_hash != token.token_hash) {
    authenticator_.NotifyRevoked(token.token_hash);
  }
  return revoked;
}

Result<RotatedApiToken> ApiTokenService::Rotate(const Principal& p, const std::string& org_name,
                                                const std::string& id, int64_t grace_seconds) {
  CL_ASSIGN_OR_RETURN(auto org, orgs_.Resolve(p, org_name));
  if (grace_seconds < 0 || grace_seconds > kMaxRotationGraceSeconds) {
    return Fail(Error::InvalidArgument("grace_seconds must be from 0 to " +
                                       std::to_string(kMaxRotationGraceSeconds)));
  }
  if (!IsUuid(id)) return Fail(Error::NotFound("API token not found"));
  CL_ASSIGN_OR_RETURN(auto old, tokens_.GetApiToken(org.id, id));
  const bool self = p.kind == Principal::Kind::kApiToken && p.id == old.id;
  const Resource scope{org.id, old.project_id};
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kApiTokenCreate, scope));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kApiTokenRevoke, scope));
  if (p.kind != Principal::Kind::kUser && !old.project_id && !self) {
    // As for creation: a credential does not mint organization-scoped tokens, except its own
    // replacement.
    return Fail(
        Error::PermissionDenied("an API token can only rotate itself or project-scoped tokens"));
  }
  // The caller receives the new secret: it must hold everything the token holds.
  CL_ASSIGN_OR_RETURN(EffectivePermissions held, authz_.Permissions(p, org.id));
  for (const auto& perm : old.permissions) {
    if (!held.Allows(perm, old.project_id)) {
      return Fail(Error::PermissionDenied("you cannot rotate a token holding " + perm +
                                          ": you do not hold it yourself"));
    }
  }
  const UnixMillis now = clock_.Now();
  if (old.revoked_at || (old.rotation_deadline && *old.rotation_deadline <= now)) {
    return Fail(Error::FailedPrecondition("the API token " + old.name +
                                          " is revoked: only an active token can be rotated"));
  }
  if (old.rotated_to) {
    return Fail(Error::FailedPrecondition("the API token " + old.name +
                                          " was already rotated: rotate its replacement " +
                                          *old.rotated_to + " instead"));
  }
  if (old.expires_at && *old.expires_at <= now) {
    return Fail(Error::FailedPrecondition("the API token " + old.name +
                                          " has expired: only an active token can be rotated"));
  }

  RotatedApiToken out;
  out.token = crypto::GenerateCredential(crypto::CredentialKind::kApiToken, random_);
  store::ApiToken& t = out.record;
  t.id = NewUuid(random_);
  t.org_id = org.id;
  t.project_id = old.project_id;
  t.project_name = old.project_name;
  t.name = old.name;
  t.description = old.description;
  t.token_hash = hasher_.Hash(out.token);
  t.pepper_id = hasher_.current_pepper_id();
  t.permissions = old.permissions;
  t.created_by_kind = PrincipalKindName(p.kind);
  t.created_by_id = p.id;
  t.created_by_name = p.display_name;
  t.created_at = now;
  // A fresh expiry of the length the old token was given (a rotated token's own length is
  // the one its predecessor was given, so the length carries down a chain of rotations).
  if (old.expires_at) t.expires_at = now + (*old.expires_at - old.created_at);
  // As for creation, another short-lived credential cannot mint a longer-lived token; the token
  // itself may, since its replacement ends it.
  if (!self && p.token_expires_at != 0 && (!t.expires_at || *t.expires_at > p.token_expires_at)) {
    t.expires_at = p.token_expires_at;
  }
  const UnixMillis deadline = now + grace_seconds * kMillisPerSecond;
  std::string message = p.display_name + " rotated the API token " + old.name + " (" + old.id +
                        "): replaced by " + t.id;
  message += grace_seconds == 0
                 ? ", the old one revoked at once"
                 : ", the old one works for " + std::to_string(grace_seconds) + " more seconds";
  auto st = tokens_.RotateApiToken(old.id, t, deadline,
                                   orgs_.NewEvent(p, org.id, AuditAction::kApiTokenRotated,
                                                  AuditTarget::kApiToken, old.id, message));
  if (!st) {
    if (st.error().code() == Error::Code::kFailedPrecondition) {
      // Revoked, expired or rotated by a concurrent request since it was read above.
      return Fail(Error::FailedPrecondition("the API token " + old.name +
                                            " cannot be rotated: " + st.error().message()));
    }
    if (st.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("an active API token named '" + t.name +
                                       "' already exists in this scope"));
    }
    return Fail(st.error());
  }
  // Every instance drops its cached copy of the old token: at once when it was revoked, else so
  // that it reads its deadline (PostgreSQL announces both from the rotating transaction).
  auto rotated = tokens_.GetApiToken(org.id, old.id);
  if (rotated) authenticator_.NotifyRevoked(rotated->token_hash);
  if (!rotated || rotated->token_hash != old.token_hash) {
    authenticator_.NotifyRevoked(old.token_hash);
  }
  CL_ASSIGN_OR_RETURN(out.rotated, std::move(rotated));
  return out;
}

}  // namespace cl::domain
