// Client of the control plane's /v1 JSON API for the browser: the session travels in the
// HttpOnly `cl_session` cookie, and every request echoes the readable `cl_csrf` cookie in
// X-CSRF-Token (the server refuses writes without it). Errors become ApiError with the
// server's message, which is what the UI shows.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function readCookie(name: string): string {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return '';
}

export const UNAUTHENTICATED_EVENT = 'cl-unauthenticated';

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'X-CSRF-Token': readCookie('cl_csrf'),
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The control plane cannot be reached. Check your connection and try again.');
  }
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!resp.ok) {
    // A session that ended (expired, logged out elsewhere) sends the app back to its login page.
    if (resp.status === 401) window.dispatchEvent(new Event(UNAUTHENTICATED_EVENT));
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(resp.status, err?.code ?? 'http_' + resp.status,
        err?.message ?? `The control plane answered ${resp.status}.`);
  }
  return parsed as T;
}

export const seg = encodeURIComponent;

// ---- Shapes (docs/api.md) ----

export interface Principal {
  kind: string;
  id: string;
  email?: string;
  name?: string;
}

export interface WhoAmI {
  principal: Principal;
  session?: { expires_at: string };
}

export interface Organization {
  id: string;
  name: string;
  created_at: string;
  api_token_max_days_inactive: number | null;
}

export interface OrgWithRole extends Organization {
  role: string;
}

// A project where the caller holds more than the organization-wide permissions; `permissions` is
// everything granted there.
export interface ProjectPermissions {
  project_id: string;
  project_name: string;
  permissions: string[];
}

// GET /v1/organizations/{org}: the organization, the caller's role and what they may do in it.
export interface OrganizationDescription {
  organization: Organization;
  role: string;
  permissions: string[];
  project_permissions: ProjectPermissions[];
}

export interface Actor {
  kind: string;
  id: string;
  name: string;
}

export interface ApiToken {
  id: string;
  name: string;
  description: string;
  scope: 'global' | 'project';
  project: string | null;
  permissions: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  // Where the last recorded use came from; the user agent is as the client sent it.
  last_used_from: { address: string; user_agent: string } | null;
  revoked_at: string | null;
  revocation_reason: string | null;
  rotated_to: string | null;
  rotation_deadline: string | null;
  created_by: Actor;
  auto_revoke_at: string | null;
}

export interface Project {
  id: string;
  name: string;
  created_at: string;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: string;
  created_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
  created_at: string;
}

export interface AuditEvent {
  id: string;
  actor_kind: string;
  actor_name: string;
  action: string;
  target_kind: string;
  target_id: string;
  message: string;
  created_at: string;
}

// ---- Calls ----

const orgPath = (org: string) => `/v1/organizations/${seg(org)}`;

export const api = {
  whoami: () => request<WhoAmI>('GET', '/v1/auth/whoami'),
  logout: () => request<void>('POST', '/v1/auth/logout', {}),
  organizations: () =>
    request<{ organizations: OrgWithRole[] }>('GET', '/v1/organizations').then((r) => r.organizations ?? []),
  organization: (org: string) =>
    request<OrganizationDescription>('GET', orgPath(org)),
  setAutoRevoke: (org: string, days: number) =>
    request<{ organization: Organization }>('PATCH', orgPath(org), {
      api_token_max_days_inactive: days,
    }),
  // `project`: only that project's tokens.
  tokens: (org: string, status: 'active' | 'revoked' | 'all', project?: string) =>
    request<{ api_tokens: ApiToken[] }>(
      'GET',
      `${orgPath(org)}/api-tokens?status=${status}${project === undefined ? '' : `&project=${seg(project)}`}`,
    ).then((r) => r.api_tokens ?? []),
  createToken: (org: string, body: CreateTokenBody) =>
    request<{ api_token: ApiToken; token: string }>('POST', `${orgPath(org)}/api-tokens`, body),
  revokeToken: (org: string, id: string) =>
    request<{ api_token: ApiToken }>('POST', `${orgPath(org)}/api-tokens/${seg(id)}/revoke`, {}),
  rotateToken: (org: string, id: string, graceSeconds: number) =>
    request<{ api_token: ApiToken; token: string; rotated: ApiToken }>(
      'POST',
      `${orgPath(org)}/api-tokens/${seg(id)}/rotate`,
      { grace_seconds: graceSeconds },
    ),
  projects: (org: string) =>
    request<{ projects: Project[] }>('GET', `${orgPath(org)}/projects`).then((r) => r.projects ?? []),
  members: (org: string) =>
    request<{ members: Member[] }>('GET', `${orgPath(org)}/members`).then((r) => r.members ?? []),
  invitations: (org: string) =>
    request<{ invitations: Invitation[] }>('GET', `${orgPath(org)}/invitations`).then(
      (r) => r.invitations ?? [],
    ),
  invite: (org: string, email: string, role: string) =>
    request<{ invitation: Invitation }>('POST', `${orgPath(org)}/invitations`, {
      receiver_email: email,
      role,
    }),
  auditEvents: (org: string, limit = 200) =>
    request<{ audit_events: AuditEvent[] }>('GET', `${orgPath(org)}/audit-events?limit=${limit}`).then(
      (r) => r.audit_events ?? [],
    ),
};

export interface CreateTokenBody {
  name: string;
  description?: string;
  expires_in_seconds?: number;
  project?: string;
  permissions?: string[];
}
