// Response recording for the OpenAPI contract check: when CL_E2E_RECORD_DIR is set, every
// response the e2e helpers get from the control plane is appended, one JSON line each, to
// CL_E2E_RECORD_DIR/<pid>.jsonl (one file per test process, so parallel processes never share a
// file). tests/openapi/validate_responses.mjs checks them against docs/openapi.yaml.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

// Larger bodies are recorded truncated, and the checker does not validate them.
const MAX_BODY_CHARS = 1 << 20;

let file;
function recordFile() {
  const dir = process.env.CL_E2E_RECORD_DIR;
  if (!dir) return null;
  if (!file) {
    mkdirSync(dir, { recursive: true });
    file = join(dir, `${process.pid}.jsonl`);
  }
  return file;
}

// Records one response. `headers` is a fetch Headers object or a node:http header object;
// `url` the full request URL. Only answers carrying X-Request-Id are the control plane's own
// (a balancer's 502 is not); the checker tells them apart, so everything is recorded.
export function recordResponse({ method, url, status, headers, body }) {
  const out = recordFile();
  if (!out) return;
  const get = (name) =>
    (typeof headers?.get === 'function' ? headers.get(name) : headers?.[name]) ?? null;
  const u = new URL(url);
  const text = typeof body === 'string' ? body : String(body ?? '');
  const entry = {
    method: method.toUpperCase(),
    path: u.pathname,
    query: u.search,
    status,
    content_type: get('content-type'),
    request_id: get('x-request-id'),
    body: text.length > MAX_BODY_CHARS ? text.slice(0, MAX_BODY_CHARS) : text,
    truncated: text.length > MAX_BODY_CHARS,
    test: process.argv[1] ? process.argv[1].split('/').pop() : '',
  };
  appendFileSync(out, `${JSON.stringify(entry)}\n`);
}

// fetch() that records the response; the returned Response can still be read by the caller.
export async function recordedFetch(url, init = {}) {
  const r = await fetch(url, init);
  if (recordFile()) {
    const text = await r.clone().text();
    recordResponse({ method: init.method ?? 'GET', url: String(url), status: r.status,
      headers: r.headers, body: text });
  }
  return r;
}
