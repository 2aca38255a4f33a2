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

// The server decides a token's state at its own clock (docs/api.md); the UI never recomputes it.
export type TokenState = 'active' | 'expired' | 'revoked';

export interface ApiToken {
  id: string;
  name: string;
  state: TokenState;
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
  actor_id?: string;
  actor_name: string;
  action: string;
  target_kind: string;
  target_id: string;
  message: string;
  created_at: string;
  client_address?: string | null;
}

// One page of a list endpoint: its rows and the cursor of the next page (null on the last).
export interface ListPage<T> {
  items: T[];
  next_cursor: string | null;
}

// Upper bound on pages followed in one listing, so a server bug cannot loop the browser forever.
const MAX_PAGES = 1000;

// GET `path` (which may carry a query) and every following page through `next_cursor`;
// `key` names the array in each answer.
async function listAll<T>(path: string, key: string): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const url: string = cursor === null ? path : `${path}${sep}cursor=${seg(cursor)}`;
    const r = await request<Record<string, unknown>>('GET', url);
    all.push(...((r[key] as T[] | undefined) ?? []));
    const next = r.next_cursor;
    if (typeof next !== 'string' || next === '') break;
    cursor = next;
  }
  return all;
}

// ---- Calls ----

const orgPath = (org: string) => `/v1/organizations/${seg(org)}`;

export const api = {
  whoami: () => request<WhoAmI>('GET', '/v1/auth/whoami'),
  logout: () => request<void>('POST', '/v1/auth/logout', {}),
  organizations: () => listAll<OrgWithRole>('/v1/organizations', 'organizations'),
  organization: (org: string) =>
    request<OrganizationDescription>('GET', orgPath(org)),
  setAutoRevoke: (org: string, days: number) =>
    request<{ organization: Organization }>('PATCH', orgPath(org), {
      api_token_max_days_inactive: days,
    }),
  // Every token in that state (all pages); `project`: only that project's tokens.
  tokens: (org: string, status: TokenState | 'all', project?: string) =>
    listAll<ApiToken>(
      `${orgPath(org)}/api-tokens?status=${status}${project === undefined ? '' : `&project=${seg(project)}`}`,
      'api_tokens',
    ),
  // One token in any state (404 when the caller may not see it).
  token: (org: string, id: string) =>
    request<{ api_token: ApiToken }>('GET', `${orgPath(org)}/api-tokens/${seg(id)}`).then((r) => r.api_token),
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
  projects: (org: string) => listAll<Project>(`${orgPath(org)}/projects`, 'projects'),
  invite: (org: string, email: string, role: string) =>
    request<{ invitation: Invitation }>('POST', `${orgPath(org)}/invitations`, {
      receiver_email: email,
      role,
    }),
  // One page of the audit events about `targetId` (e.g. an API token's id), newest first.
  // `action`: only events of that action.
  auditEventsOf: (org: string, targetId: string, cursor: string | null, limit = 50, action?: string) =>
    request<{ audit_events: AuditEvent[]; next_cursor?: string | null }>(
      'GET',
      `${orgPath(org)}/audit-events?target_id=${seg(targetId)}&limit=${limit}` +
        (action === undefined ? '' : `&action=${seg(action)}`) +
        (cursor === null ? '' : `&cursor=${seg(cursor)}`),
    ).then(
      (r): ListPage<AuditEvent> => ({ items: r.audit_events ?? [], next_cursor: r.next_cursor ?? null }),
    ),
};

export interface CreateTokenBody {
  name: string;
  description?: string;
  expires_in_seconds?: number;
  project?: string;
  permissions?: string[];
}

// ---- Administration: members, invitations, the audit log and CI trust policies ----
// Lists follow next_cursor to the end (listAll); the audit log is read a page at a time
// ("Load more").

export interface TrustPolicy {
  id: string;
  name: string;
  issuer: string;
  provider: string;
  audience: string;
  bound_claims: Record<string, string>;
  project: string | null;
  permissions: string[];
  max_token_age_seconds?: number;
  created_at: string;
}

export interface CreateTrustPolicyBody {
  name: string;
  issuer: string;
  provider?: 'gitlab' | 'github';
  audience?: string;
  bound_claims: Record<string, string>;
  project?: string;
  permissions?: string[];
  max_token_age_seconds?: number;
}

// GET /audit-events filters; `since`/`until` are RFC 3339 (since <= created_at < until).
export interface AuditFilters {
  action?: string;
  actor?: string;
  target_id?: string;
  since?: string;
  until?: string;
}

export const AUDIT_PAGE_SIZE = 50;

export interface Webhook {
  id: string;
  url: string;
  description: string;
  events: string[];
  created_at: string;
  created_by: { kind: string; id: string; name: string };
}

export interface WebhookDelivery {
  id: string;
  event_id: string;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  created_at: string;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  response_status: number | null;
  error: string | null;
  delivered_at: string | null;
}

export interface WebhookEventInfo {
  name: string;
  description: string;
}

export interface CreateWebhookBody {
  url: string;
  events: string[];
  description?: string;
}

export const WEBHOOK_DELIVERIES_PAGE = 20;

export const adminApi = {
  members: (org: string) => listAll<Member>(`${orgPath(org)}/members`, 'members'),
  setMemberRole: (org: string, userId: string, role: string) =>
    request<{ member: Member }>('PATCH', `${orgPath(org)}/members/${seg(userId)}`, { role }),
  removeMember: (org: string, userId: string) =>
    request<void>('DELETE', `${orgPath(org)}/members/${seg(userId)}`),
  invitations: (org: string) => listAll<Invitation>(`${orgPath(org)}/invitations`, 'invitations'),
  cancelInvitation: (org: string, id: string) =>
    request<void>('DELETE', `${orgPath(org)}/invitations/${seg(id)}`),
  auditPage: (org: string, filters: AuditFilters, cursor?: string) => {
    const q = new URLSearchParams({ limit: String(AUDIT_PAGE_SIZE) });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    return request<{ audit_events?: AuditEvent[]; next_cursor?: string | null }>(
      'GET',
      `${orgPath(org)}/audit-events?${q.toString()}`,
    ).then((r): ListPage<AuditEvent> => ({ items: r.audit_events ?? [], next_cursor: r.next_cursor || null }));
  },
  trustPolicies: (org: string) => listAll<TrustPolicy>(`${orgPath(org)}/federation-policies`, 'policies'),
  allowedIssuers: (org: string) =>
    request<{ allowed_issuers?: string[] }>('GET', `${orgPath(org)}/federation-policies?limit=1`).then(
      (r) => r.allowed_issuers ?? [],
    ),
  createTrustPolicy: (org: string, body: CreateTrustPolicyBody) =>
    request<{ policy: TrustPolicy }>('POST', `${orgPath(org)}/federation-policies`, body),
  deleteTrustPolicy: (org: string, id: string) =>
    request<void>('DELETE', `${orgPath(org)}/federation-policies/${seg(id)}`),
  webhooks: (org: string) => listAll<Webhook>(`${orgPath(org)}/webhooks`, 'webhooks'),
  webhookEvents: () =>
    request<{ events?: WebhookEventInfo[] }>('GET', '/v1/webhook-events').then((r) => r.events ?? []),
  createWebhook: (org: string, body: CreateWebhookBody) =>
    request<{ webhook: Webhook; secret: string }>('POST', `${orgPath(org)}/webhooks`, body),
  deleteWebhook: (org: string, id: string) => request<void>('DELETE', `${orgPath(org)}/webhooks/${seg(id)}`),
  pingWebhook: (org: string, id: string) =>
    request<{ event_id: string }>('POST', `${orgPath(org)}/webhooks/${seg(id)}/ping`, {}),
  // One page of a webhook's delivery log, newest first.
  webhookDeliveries: (org: string, id: string, cursor: string | null) =>
    request<{ deliveries?: WebhookDelivery[]; next_cursor?: string | null }>(
      'GET',
      `${orgPath(org)}/webhooks/${seg(id)}/deliveries?limit=${WEBHOOK_DELIVERIES_PAGE}` +
        (cursor === null ? '' : `&cursor=${seg(cursor)}`),
    ).then((r): ListPage<WebhookDelivery> => ({ items: r.deliveries ?? [], next_cursor: r.next_cursor || null })),
};
