// Direct HTTP calls to a test stack (credentials and error bodies recorded for the secret
// hygiene check, responses for the OpenAPI contract check), and the request bodies and files the
// tests send.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { recordResponse } from './recording.mjs';
import { CREDENTIAL_RE, JWT_RE, recordRequestSecrets, recordSecretsIn } from './secret_hygiene.mjs';

// fetch() against the stack; returns {status, headers, body (parsed JSON or text)}.
// `baseUrl` targets another instance of the stack (default: the main server).
export async function api(stack, method, path,
    { token, body, rawBody, headers = {}, baseUrl } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  recordRequestSecrets(stack, h);
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    h['content-type'] ??= 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const url = `${baseUrl ?? stack.baseUrl}${path}`;
  const r = await fetch(url, {
    method,
    headers: h,
    body: payload,
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  recordResponse({ method, url, status: r.status, headers: r.headers, body: text });
  recordSecretsIn(stack, text, `response to ${method} ${path}`);
  if (r.status >= 400) {
    const where = path.replace(CREDENTIAL_RE, '<credential>').replace(JWT_RE, '<jwt>');
    stack?.errorBodies?.push({ what: `${r.status} ${method} ${where}`, text });
  }
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON; keep text
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

// An in-toto Statement v1 with one subject; `overrides` replace top-level fields
// (set a field to undefined to drop it).
export function statement(overrides = {}) {
  const s = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'app', digest: { sha256: randomBytes(32).toString('hex') } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {},
    ...overrides,
  };
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}

export function writeJson(dir, name, value) {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}
