// What the token pages share: which tokens the caller may read and revoke (from the permissions
// the server reports), loading them, and how a token's creator and state read in the UI.
import { api, type Actor, type ApiToken, type TokenState } from './api';
import { PERM, type Permissions } from './permissions';

// undefined when api_token:read is granted org-wide (every token), else the projects where it is.
export function readableProjects(can: Permissions): string[] | undefined {
  return can.orgWide(PERM.apiTokenRead) ? undefined : can.projectsWith(PERM.apiTokenRead);
}

export function canRevokeToken(can: Permissions, t: ApiToken): boolean {
  return t.scope === 'project' && t.project
    ? can.inProject(PERM.apiTokenRevoke, t.project)
    : can.orgWide(PERM.apiTokenRevoke);
}

// Rotation needs both api_token:create and api_token:revoke in the token's scope.
export function canRotateToken(can: Permissions, t: ApiToken): boolean {
  return (
    canRevokeToken(can, t) &&
    (t.scope === 'project' && t.project ? can.inProject(PERM.apiTokenCreate, t.project) : can.orgWide(PERM.apiTokenCreate))
  );
}

// Every token the caller may read in `status`, following each list's pages.
export function loadTokens(org: string, status: TokenState | 'all', projects: string[] | undefined) {
  return projects === undefined
    ? api.tokens(org, status)
    : Promise.all(projects.map((p) => api.tokens(org, status, p))).then((lists) => lists.flat());
}

export const STATE_LABEL: Record<TokenState, string> = {
  active: 'Active',
  expired: 'Expired',
  revoked: 'Revoked',
};

const ACTOR_KIND: Record<string, string> = {
  user: 'person',
  api_token: 'API token',
  federated: 'CI identity',
  system: 'the control plane',
};

// "person olivia@example.com", "API token web-ci", "CI identity gitlab/acme (policy)".
export function actorKindLabel(a: Pick<Actor, 'kind'>): string {
  return ACTOR_KIND[a.kind] ?? a.kind;
}

export function actorName(a: { name: string; id: string }): string {
  return a.name || a.id;
}

export function revocationReasonLabel(reason: string | null): string {
  if (reason === 'inactive') return 'inactive (auto revoke)';
  if (reason === 'rotated') return 'rotated (replaced)';
  if (reason === 'leaked') return 'leaked (reported by a secret scanner)';
  return reason ?? '';
}
