// Secret hygiene: the helpers record every credential they see per stack; checkSecretHygiene()
// then looks for each of them in every server log line, every error body, every CLI stderr and
// a full dump of the database.
import { existsSync, readFileSync } from 'node:fs';

import { dumpDatabase } from './database.mjs';

// Credentials the control plane issues (`<prefix>_<base62 secret><checksum>`), webhook signing
// secrets (`clwhsec_<base64url>`) and JWTs.
export const CREDENTIAL_RE = /\bcl(?:(?:api|ses|fed|code|dev)_[A-Za-z0-9]{20,}|whsec_[A-Za-z0-9_-]{20,})/g;
export const JWT_RE = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;

// Remembers `value` as a secret of `stack` (values shorter than 8 characters are ignored: they
// would match by chance).
export function recordSecret(stack, value, what) {
  if (!stack?.secrets || typeof value !== 'string') return;
  const v = value.trim();
  if (v.length < 8 || stack.secrets.has(v)) return;
  stack.secrets.set(v, what);
}

// Records every credential-shaped string in `text`.
export function recordSecretsIn(stack, text, what) {
  if (!stack?.secrets || !text) return;
  for (const re of [CREDENTIAL_RE, JWT_RE]) {
    for (const m of String(text).matchAll(re)) recordSecret(stack, m[0], what);
  }
}

export function recordRequestSecrets(stack, headers) {
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (key === 'authorization') {
      recordSecret(stack, String(v).replace(/^\s*(Bearer|Basic)\s+/i, ''), 'Authorization header');
    } else if (key === 'cookie') {
      for (const pair of String(v).split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0) recordSecret(stack, pair.slice(eq + 1), `cookie ${pair.slice(0, eq).trim()}`);
      }
    } else if (key === 'x-csrf-token') {
      recordSecret(stack, String(v), 'X-CSRF-Token header');
    }
  }
}

export function recordLogin(user, r) {
  recordSecret(user.stack, user.sessionToken(), `session token of ${user.account}`);
  recordSecretsIn(user.stack, r.stdout, `output of auth login (${user.account})`);
  // The device flow's user code is meant to be shown there; anything else is not.
  const userCode = r.match?.[2];
  user.stack?.cliStderr?.push(userCode ? r.stderr.replaceAll(userCode, '<user code>') : r.stderr);
}

// The pepper file may hold several peppers (one per line, newest first).
export function recordPepper(stack) {
  if (!existsSync(stack.pepperFile)) return;
  for (const line of readFileSync(stack.pepperFile, 'utf8').split(/\r?\n/)) {
    recordSecret(stack, line, 'pepper');
  }
}

// What to search for to find `secret`: the value itself and, for a control-plane credential,
// both ends of its secret part (so a truncated or prefix-less copy is found too), and for a JWT
// its signature (a copy without the signature is not a usable credential).
function needlesOf(secret) {
  const needles = [secret];
  const cred = /^cl[a-z]+_([A-Za-z0-9]+)$/.exec(secret);
  if (cred && cred[1].length >= 40) needles.push(cred[1].slice(0, 24), cred[1].slice(-24));
  const jwt = secret.split('.');
  if (jwt.length === 3 && jwt[2].length >= 16) needles.push(jwt[2]);
  return needles;
}

function masked(secret) {
  return `${secret.slice(0, Math.min(8, secret.length >> 2))}... (${secret.length} chars)`;
}

// Looks for every credential recorded for `stack` (plus `extraSecrets`: [{value, what}]) in
// every log line of every server process the stack started (including killed ones and
// `jobs run`), every error response body seen by api(), the stderr of every CLI run, and a full
// dump of the database; also flags any control-plane credential or JWT in the logs or the
// database even if no helper saw it. Throws an Error listing the leaks (secrets masked).
// Returns {secrets, logBytes, dbBytes, errorBodies} when clean.
export function checkSecretHygiene(stack, { extraSecrets = [] } = {}) {
  for (const { value, what } of extraSecrets) recordSecret(stack, value, what);
  recordPepper(stack);
  const db = dumpDatabase(stack);
  const sources = [
    ...stack.serverOutputs.map((o) => ({ what: `log of ${o.what}`, text: o.text(), unseen: true })),
    ...stack.errorBodies.map((b) => ({ what: `error body of ${b.what}`, text: b.text })),
    ...stack.cliStderr.map((t, i) => ({ what: `stderr of CLI run #${i + 1}`, text: t })),
    { what: `database dump (${stack.database.kind})`, text: db, unseen: true },
  ];
  const leaks = [];
  for (const source of sources) {
    for (const [secret, what] of stack.secrets) {
      if (needlesOf(secret).some((n) => source.text.includes(n))) {
        leaks.push(`${what} ${masked(secret)} appears in ${source.what}`);
      }
    }
    if (!source.unseen) continue;
    // Credentials nobody recorded (an upstream ID token, a token made by another process).
    for (const re of [CREDENTIAL_RE, JWT_RE]) {
      for (const m of source.text.matchAll(re)) {
        if (!stack.secrets.has(m[0])) leaks.push(`a credential ${masked(m[0])} appears in ${source.what}`);
      }
    }
  }
  if (leaks.length > 0) {
    throw new Error(`secret hygiene: ${leaks.length} leak(s):\n  ${[...new Set(leaks)].join('\n  ')}`);
  }
  const logBytes = sources.filter((s) => s.what.startsWith('log of'))
      .reduce((n, s) => n + s.text.length, 0);
  return { secrets: stack.secrets.size, logBytes, dbBytes: db.length,
    errorBodies: stack.errorBodies.length };
}
