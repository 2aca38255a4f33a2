// Rules the UI shares with the CLI and the server: name validation, the auto-revoke range,
// token expiry choices and the permission catalogue. What the signed-in person may do is not
// here: the server says it (permissions.ts).

export const DNS_LABEL_MAX = 63;

// Empty string when `name` is a valid DNS-1123 label, else why not.
export function tokenNameProblem(name: string): string {
  if (name.length === 0) return 'A name is required.';
  if (name.length > DNS_LABEL_MAX) return `At most ${DNS_LABEL_MAX} characters (now ${name.length}).`;
  if (!/^[a-z0-9-]+$/.test(name)) return "Use only lowercase letters, digits and '-'.";
  if (name.startsWith('-') || name.endsWith('-')) return 'Start and end with a letter or digit.';
  return '';
}

export const AUTO_REVOKE_MIN = 1;
export const AUTO_REVOKE_MAX = 365;
export const AUTO_REVOKE_RANGE_MESSAGE =
  'api_token_max_days_inactive must be from 1 to 365 days (0 turns auto-revocation off)';

// Parses the inactivity threshold as typed: a whole number 0-365 (0 turns it off).
export function parseAutoRevokeDays(text: string): { days?: number; problem?: string } {
  const t = text.trim();
  if (!/^\d{1,3}$/.test(t)) return { problem: AUTO_REVOKE_RANGE_MESSAGE };
  const days = Number(t);
  if (days > AUTO_REVOKE_MAX) return { problem: AUTO_REVOKE_RANGE_MESSAGE };
  return { days };
}

export const DAY_SECONDS = 86_400;

export type ExpiryChoice = 'none' | '7' | '30' | '90' | 'custom';

// What a new token's expiry starts at: 30 days (a token that never expires is a standing risk).
export const DEFAULT_EXPIRY: ExpiryChoice = '30';

// Seconds until the end of the custom date (local midnight at the end of that day), or why not.
export function customExpirySeconds(dateText: string, now: Date): { seconds?: number; problem?: string } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateText);
  if (!m) return { problem: 'Pick a date.' };
  const end = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1, 0, 0, 0);
  const seconds = Math.floor((end.getTime() - now.getTime()) / 1000);
  if (!(seconds > 0)) return { problem: 'The date must be today or later.' };
  return { seconds };
}

export const ATTESTATION_PERMISSIONS = [
  'organization:read',
  'project:read',
  'workflow:read',
  'workflow:create',
  'workflow_run:create',
  'workflow_run:read',
];

export const EXTRA_PERMISSIONS = ['project:create', 'api_token:create', 'api_token:read', 'api_token:revoke'];

export const ROLES = ['owner', 'admin', 'member', 'viewer'];

const WARNING_MS = 7 * DAY_SECONDS * 1000;

// True when a date is within 7 days of `now` (the CLI's "(!)" mark).
function withinWarning(at: string | null, now: Date): boolean {
  if (!at) return false;
  const t = Date.parse(at);
  return !Number.isNaN(t) && t - now.getTime() <= WARNING_MS;
}

// True when an auto-revoke date is within 7 days of `now`.
export function autoRevokeSoon(at: string | null, now: Date): boolean {
  return withinWarning(at, now);
}

// True when an active token (as the server says) expires within 7 days of `now`; whether it has
// expired is the server's call (its `state`), never this clock's.
export function expiresSoon(t: { state: string; expires_at: string | null }, now: Date): boolean {
  return t.state === 'active' && withinWarning(t.expires_at, now);
}

// Every audited action's wire name (domain/audit_events.cc; a browser test checks that the two
// lists agree): the Audit log page's action filter offers these and nothing else.
export const AUDIT_ACTIONS = [
  'organization.created',
  'organization.updated',
  'invitation.created',
  'invitation.accepted',
  'invitation.revoked',
  'member.role_changed',
  'member.removed',
  'project.created',
  'api_token.created',
  'api_token.revoked',
  'api_token.leaked',
  'credential.leaked',
  'api_token.rotated',
  'trust_policy.created',
  'trust_policy.deleted',
  'federation.token_exchanged',
  'federation.ci_token_used',
  'webhook.created',
  'webhook.deleted',
] as const;
