// End to end: every error status docs/openapi.yaml lists for an operation is provoked and its
// body checked (the error envelope and the expected code). The cases are generated from the file
// where the status follows from the operation's shape: a 401 without and with a malformed
// credential and a 429 from a banned address for every operation with security, a 403 for a
// cookie write without the CSRF header, four 400s (malformed JSON, unknown field, wrong type,
// not an object) and a 413 for every request body, a 503 from the body budget, a 404 for an
// unknown organization and an unknown id. What depends on the operation's meaning (403 for a
// role or token without the permission, 409 conflicts, the login legs) is a hand-written table,
// and a test fails when a listed pair has neither a case nor an entry in
// tests/openapi/unprovokable.mjs (whose entries are reported here as skipped).
// With CL_E2E_RECORD_DIR set every answer is recorded for tests/openapi/validate_responses.mjs.
// Runs on SQLite and, with CL_E2E_DATABASE=postgres, on PostgreSQL.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { loadSpec } from '../openapi/validate_responses.mjs';
import { UNPROVOKABLE, unprovokable } from '../openapi/unprovokable.mjs';
import {
  api, driverScript, missingPrerequisite, recordResponse, recordSecret, show, sleep, startStack,
  statement,
} from './harness.mjs';

const skip = missingPrerequisite();

const spec = loadSpec();
const METHODS = ['get', 'post', 'patch', 'put', 'delete'];
const DEFAULT_MAX_BODY = 4096;
const MAX_BODY = 16384;
const BANNED_FROM = '127.0.0.2';
const LOGIN_FLOOD_FROM = '127.0.0.3';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

const deref = (node) => {
  while (node?.$ref) node = node.$ref.slice(2).split('/').reduce((n, k) => n?.[k], spec);
  return node;
};

// The operations of the file: {key, method, template, id, op, secured, csrf, body}.
const operations = Object.entries(spec.paths).flatMap(([template, item]) =>
  METHODS.filter((m) => item[m]).map((m) => {
    const op = item[m];
    const security = op.security ?? spec.security ?? [];
    return {
      key: `${m.toUpperCase()} ${template}`, method: m.toUpperCase(), template, op,
      id: op.operationId, statuses: Object.keys(op.responses),
      secured: security.length > 0,
      csrf: security.some((s) => 'csrf_token' in s),
      body: op.requestBody ? deref(deref(op.requestBody).content['application/json'].schema)
        : null,
    };
  }));

// A request body each operation accepts (the base of the 400 cases, and the body of the
// 403/404/409 cases, so that nothing but the intended fault is wrong).
function validBody(id, ctx) {
  const bodies = {
    exchangeLoginCode: { code: 'unknown-code', code_verifier: 'v'.repeat(43) },
    startDeviceLogin: {},
    pollDeviceLogin: { device_handle: 'unknown-handle' },
    createOrganization: { name: `contract-${randomBytes(3).toString('hex')}` },
    updateOrganization: { api_token_max_days_inactive: 30 },
    createApiToken: { name: `token-${randomBytes(3).toString('hex')}` },
    revokeApiToken: {},
    rotateApiToken: { grace_seconds: 0 },
    exchangeCiToken: { grant_type: TOKEN_EXCHANGE, subject_token: 'not-a-jwt',
      subject_token_type: ID_TOKEN_TYPE, organization: ctx.org },
    createTrustPolicy: { name: `policy-${randomBytes(3).toString('hex')}`,
      issuer: 'https://gitlab.com', bound_claims: { project_path: 'group/app' } },
    updateMember: { role: 'member' },
    createInvitation: { receiver_email: `${randomBytes(3).toString('hex')}@example.com`,
      role: 'member' },
    createProject: { name: `project-${randomBytes(3).toString('hex')}` },
    initWorkflowRun: { workflow: 'build', project: 'app' },
    pushAttestation: { statement: statement() },
    // localhost: a host name (creation does not resolve it) whose addresses the delivery guard
    // refuses, so a delivery never leaves the machine; token.leaked never happens in this suite.
    createWebhook: { url: `http://localhost:9/contract-${randomBytes(3).toString('hex')}`,
      events: ['token.leaked'] },
    pingWebhook: {},
  };
  if (!(id in bodies)) throw new Error(`no valid body for ${id}: add one to validBody()`);
  return bodies[id];
}

// The same body with its first property of the wrong JSON type; a body without properties
// becomes an array.
function wrongType(o, ctx) {
  const [name, prop] = Object.entries(o.body.properties ?? {})[0] ?? [];
  if (!name) return [];
  return { ...validBody(o.id, ctx), [name]: deref(prop).type === 'string' ? 42 : 'text' };
}

// One request with node:http (any source address on 127/8, raw bodies, early answers to
// oversized bodies); the answer is recorded for the contract check.
function call(ctx, method, path, {
  token, cookie, csrf, body, rawBody, from = '127.0.0.1', baseUrl = ctx.stack.baseUrl,
} = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (cookie) headers.cookie = `cl_session=${cookie}`;
    if (csrf) {
      headers.cookie += `; cl_csrf=${csrf}`;
      headers['x-csrf-token'] = csrf;
    }
    const payload = rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const url = new URL(path, baseUrl);
    const req = http.request(url, { method, headers, localAddress: from, agent: false,
      timeout: 15_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        recordResponse({ method, url: url.href, status: res.statusCode, headers: res.headers,
          body: text });
        let parsed = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // a text page (the login legs)
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    // The server may answer an oversized body early and close: the answer is what counts.
    req.on('error', (e) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? null : reject(e)));
    req.end(payload);
  });
}

// `template` with {org}, {id} and {user_id} filled in.
function fill(template, { org, id = randomUUID(), userId = randomUUID() }) {
  return template.replace('{org}', org).replace('{id}', id).replace('{user_id}', userId);
}

// A /auth/login URL with a valid PKCE challenge (and `redirect` as the client's loopback URI).
function loginStart(redirect = 'http://127.0.0.1:9/callback') {
  const q = new URLSearchParams({ redirect_uri: redirect, state: 'contract-state',
    code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' });
  return `/auth/login?${q}`;
}

// Asserts a login leg's text page: "Login failed: <message> (<code>)".
function assertLoginPage(r, status) {
  assert.equal(r.status, status, `${r.status} ${JSON.stringify(r.body)}`);
  assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
  assert.match(String(r.body), /^Login failed: .+ \([a-z_]+\)/);
}

// Asserts the status and the error envelope {"error": {"code", "message"}} with `code` (a string
// or a RegExp).
function assertError(r, status, code, what) {
  const where = `${what}: ${r.status} ${JSON.stringify(r.body)}`;
  assert.equal(r.status, status, where);
  assert.deepEqual(Object.keys(r.body ?? {}), ['error'], where);
  assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message'], where);
  assert.equal(typeof r.body.error.message, 'string', where);
  assert.ok(r.body.error.message.length > 0, where);
  if (code instanceof RegExp) assert.match(r.body.error.code, code, where);
  else assert.equal(r.body.error.code, code, where);
}

// Every case: {key: "METHOD /template", status, name, run(ctx) -> asserts}.
const cases = [];
const add = (o, status, name, run) => cases.push({ key: o.key, status, name, run });
const byId = Object.fromEntries(operations.map((o) => [o.id, o]));

// Operations served only when configured and authenticated by a signature over the body (the
// secret scanning routes): no case is generated for them; secret_scanning.test.mjs, which has
// the key server and the secret, provokes each of their error statuses (see ELSEWHERE).
const OWN_SUITE = new Set(['reportLeakedTokensGithub', 'reportLeakedTokensGeneric']);

for (const o of operations.filter((op) => !OWN_SUITE.has(op.id))) {
  // The id an operation's path needs to get past its lookups (set up in before()).
  const target = (ctx) => ({ org: ctx.org, id: ctx.ids[o.id], userId: ctx.ids[o.id] });
  if (o.secured) {
    add(o, '401', 'no credential', async (ctx) => {
      const r = await call(ctx, o.method, fill(o.template, target(ctx)),
          { body: o.body ? validBody(o.id, ctx) : undefined });
      assertError(r, 401, 'unauthenticated', 'no credential');
      assert.match(r.headers['www-authenticate'] ?? '', /^Bearer realm="chainloop"/);
    });
    add(o, '401', 'malformed credential', async (ctx) => {
      const r = await call(ctx, o.method, fill(o.template, target(ctx)), {
        token: `clapi_${randomBytes(8).toString('hex')}`,
        body: o.body ? validBody(o.id, ctx) : undefined,
      });
      assertError(r, 401, 'malformed_token', 'malformed credential');
      assert.match(r.headers['www-authenticate'] ?? '', /error="invalid_token"/);
    });
    add(o, '429', 'failed authentication from a banned address', async (ctx) => {
      const r = await call(ctx, o.method, fill(o.template, target(ctx)), {
        from: BANNED_FROM, token: `clapi_${randomBytes(8).toString('hex')}`,
        body: o.body ? validBody(o.id, ctx) : undefined,
      });
      assertError(r, 429, 'too_many_failed_attempts', 'banned address');
      assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
    });
  }
  if (o.csrf) {
    add(o, '403', 'cookie session without the CSRF header', async (ctx) => {
      const r = await call(ctx, o.method, fill(o.template, target(ctx)), {
        cookie: ctx.ownerToken, body: o.body ? validBody(o.id, ctx) : undefined,
      });
      assertError(r, 403, 'csrf_failed', 'cookie write without X-CSRF-Token');
    });
  }
  if (o.body) {
    const send = (ctx, extra) => call(ctx, o.method, fill(o.template, target(ctx)),
        { token: o.secured ? ctx.ownerToken : undefined, ...extra });
    add(o, '400', 'malformed JSON', async (ctx) =>
      assertError(await send(ctx, { rawBody: '{"name": ' }), 400, 'malformed_json', 'bad JSON'));
    add(o, '400', 'not a JSON object', async (ctx) =>
      assertError(await send(ctx, { rawBody: '"text"' }), 400, 'malformed_json', 'a string'));
    add(o, '400', 'unknown field', async (ctx) => {
      const r = await send(ctx, { body: { ...validBody(o.id, ctx), contract_unknown: 1 } });
      assertError(r, 400, 'unknown_field', 'unknown field');
      assert.match(r.body.error.message, /contract_unknown/);
    });
    add(o, '400', 'wrong type', async (ctx) => {
      const r = await send(ctx, { body: wrongType(o, ctx) });
      const code = { pushAttestation: 'invalid_statement' }[o.id] ??
        (Object.keys(o.body.properties ?? {}).length ? 'invalid_field_type' : 'malformed_json');
      assertError(r, 400, code, 'wrong type');
    });
    add(o, '413', 'oversized body', async (ctx) => {
      const limit = o.id === 'pushAttestation' ? MAX_BODY : DEFAULT_MAX_BODY;
      const r = await send(ctx, { rawBody: `{"pad": "${'x'.repeat(limit)}"}` });
      assertError(r, 413, 'payload_too_large', 'oversized body');
    });
    add(o, '503', 'request bodies in flight over the body budget', async (ctx) => {
      // The holder's headers may still be on their way: retry (the refusals are recorded too).
      let r;
      for (let i = 0; i < 50; i++) {
        r = await call(ctx, o.method, fill(o.template, target(ctx)),
            { rawBody: JSON.stringify({ pad: 'x'.repeat(100) }), baseUrl: ctx.budget.baseUrl });
        if (r.status === 503) break;
        await sleep(50);
      }
      assertError(r, 503, 'overloaded', 'over the body budget');
      assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
    });
  }
  if (o.template.includes('{org}')) {
    add(o, '404', 'unknown organization', async (ctx) => {
      const r = await call(ctx, o.method, fill(o.template, { ...target(ctx), org: 'no-such-org' }),
          { token: ctx.ownerToken, body: o.body ? validBody(o.id, ctx) : undefined });
      assertError(r, 404, 'not_found', 'unknown organization');
    });
  }
  if (/\{(id|user_id)\}/.test(o.template)) {
    add(o, '404', 'unknown id', async (ctx) => {
      const r = await call(ctx, o.method, fill(o.template, { org: ctx.org }),
          { token: ctx.ownerToken, body: o.body ? validBody(o.id, ctx) : undefined });
      assertError(r, 404, 'not_found', 'unknown id');
    });
  }
}

// What depends on the operation's meaning.
const handWritten = [
  // 403: a viewer writes; a token without the permission reads or writes.
  ...['createApiToken', 'createTrustPolicy', 'createInvitation', 'createProject',
    'updateOrganization', 'createWebhook'].map((id) => [id, '403', 'a viewer', async (ctx) => {
    const r = await call(ctx, byId[id].method, fill(byId[id].template, { org: ctx.org }),
        { token: ctx.viewerToken, body: validBody(id, ctx) });
    assertError(r, 403, 'permission_denied', 'viewer');
  }]),
  ...['revokeApiToken', 'rotateApiToken', 'pingWebhook'].map((id) => [id, '403', 'a viewer',
    async (ctx) => {
    const r = await call(ctx, 'POST', fill(byId[id].template,
        { org: ctx.org, id: ctx.ids[id] }), { token: ctx.viewerToken, body: validBody(id, ctx) });
    assertError(r, 403, 'permission_denied', 'viewer');
  }]),
  ...['deleteTrustPolicy', 'cancelInvitation', 'removeMember', 'deleteWebhook'].map((id) => [id,
    '403',
    'a viewer', async (ctx) => {
      const r = await call(ctx, 'DELETE', fill(byId[id].template,
          { org: ctx.org, id: ctx.ids[id], userId: ctx.ids[id] }), { token: ctx.viewerToken });
      assertError(r, 403, 'permission_denied', 'viewer');
    }]),
  ['updateMember', '403', 'a viewer', async (ctx) => {
    const r = await call(ctx, 'PATCH', fill(byId.updateMember.template,
        { org: ctx.org, userId: ctx.ids.updateMember }), { token: ctx.viewerToken,
      body: { role: 'viewer' } });
    assertError(r, 403, 'permission_denied', 'viewer');
  }],
  ...['describeOrganization', 'listApiTokens', 'getApiToken', 'listTrustPolicies',
    'listMembers', 'listInvitations', 'listAuditEvents', 'listProjects', 'listWorkflows',
    'listWorkflowRuns', 'describeWorkflowRun', 'createOrganization', 'initWorkflowRun',
    'pushAttestation', 'listWebhooks', 'getWebhook', 'listWebhookDeliveries'].map((id) => [id, '403', 'an API token without the permission',
    async (ctx) => {
      const o = byId[id];
      const r = await call(ctx, o.method, fill(o.template, { org: ctx.org, id: ctx.ids[id] }),
          { token: ctx.narrowToken, body: o.body ? validBody(id, ctx) : undefined });
      assertError(r, 403, /^(permission_denied|not_run_initiator)$/, 'narrow token');
    }]),
  ['logout', '400', 'an API token (only sessions log out)', async (ctx) => {
    const r = await call(ctx, 'POST', '/v1/auth/logout', { token: ctx.narrowToken });
    assertError(r, 400, /^[a-z_]+$/, 'logout with an API token');
  }],
  ['logout', '413', 'an oversized body', async (ctx) => {
    const r = await call(ctx, 'POST', '/v1/auth/logout',
        { token: ctx.ownerToken, rawBody: `{"pad": "${'x'.repeat(DEFAULT_MAX_BODY)}"}` });
    assertError(r, 413, 'payload_too_large', 'oversized logout');
  }],
  // 400: a list filter out of range; every paginated list (the operations taking the Limit
  // parameter) refuses a limit out of range and a cursor it did not make.
  ...[['listApiTokens', '?status=bogus', 'invalid_argument'],
    ['listAuditEvents', '?since=yesterday', 'invalid_argument'],
    ...operations.filter((o) => (o.op.parameters ?? []).some(
        (p) => p.$ref === '#/components/parameters/Limit')).flatMap((o) => [
      [o.id, '?limit=0', 'invalid_argument'], [o.id, '?cursor=not-a-cursor', 'invalid_cursor']]),
  ].map(([id, query, code]) => [id, '400', `query ${query}`,
    async (ctx) => {
      const r = await call(ctx, 'GET', fill(byId[id].template, { org: ctx.org }) + query,
          { token: ctx.ownerToken });
      assertError(r, 400, code, query);
    }]),
  // The login legs: text pages for the browser, JSON for the CLI's calls.
  ['startBrowserLogin', '400', 'a redirect URI that is not loopback', async (ctx) => {
    const r = await call(ctx, 'GET', loginStart('http://203.0.113.1/callback'));
    assertLoginPage(r, 400);
  }],
  ...['completeBrowserLogin', 'completeWebLogin'].map((id) => [id, '400', 'an unknown state',
    async (ctx) => {
      const r = await call(ctx, 'GET', `${byId[id].template}?state=unknown&code=unknown`);
      assertLoginPage(r, 400);
    }]),
  ...['completeBrowserLogin', 'completeWebLogin'].map((id) => [id, '429',
    'an unknown state from a banned address', async (ctx) => {
      const r = await call(ctx, 'GET', `${byId[id].template}?state=unknown&code=unknown`,
          { from: BANNED_FROM });
      assertLoginPage(r, 429);
    }]),
  ...[['startBrowserLogin', (ctx) => call(ctx, 'GET', loginStart(), { from: LOGIN_FLOOD_FROM })],
    ['startWebLogin', (ctx) => call(ctx, 'GET', '/auth/web/login', { from: LOGIN_FLOOD_FROM })],
    ['startDeviceLogin', (ctx) => call(ctx, 'POST', '/v1/auth/device',
        { from: LOGIN_FLOOD_FROM, body: {} })],
  ].map(([id, send]) => [id, '429', 'too many login starts from one address', async (ctx) => {
    await ctx.floodLogins();
    const r = await send(ctx);
    assertError(r, 429, 'rate_limited', 'login start flood');
    assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
  }]),
  ...[['startBrowserLogin', loginStart()], ['startWebLogin', '/auth/web/login']].map(
    ([id, path]) => [id, '503', 'the IdP is unreachable', async (ctx) => {
      const r = await call(ctx, 'GET', path, { baseUrl: ctx.budget.baseUrl });
      assertLoginPage(r, 503);
    }]),
  ...[['exchangeLoginCode', {}], ['pollDeviceLogin', {}], ['exchangeCiToken', {}]].map(
    ([id]) => [id, '429', 'a failed exchange from a banned address', async (ctx) => {
      const r = await call(ctx, 'POST', byId[id].template,
          { from: BANNED_FROM, body: validBody(id, ctx) });
      assertError(r, 429, 'too_many_failed_attempts', 'banned address');
    }]),
  ...['exchangeCiToken'].map((id) => [id, '401', 'a subject token that is not a JWT',
    async (ctx) => {
      const r = await call(ctx, 'POST', byId[id].template, { body: validBody(id, ctx) });
      assertError(r, 401, /^[a-z_]+$/, 'unknown credential');
    }]),
  // 409: the name is taken, the state is wrong.
  ...[['createOrganization', () => ({ name: 'acme' })],
    ['createProject', () => ({ name: 'app' })],
    ['createTrustPolicy', (ctx) => ({ ...validBody('createTrustPolicy', ctx), name: 'gitlab' })],
    ['createApiToken', () => ({ name: 'narrow' })],
    ['createInvitation', () => ({ receiver_email: 'pending@example.com', role: 'admin' })],
    ['createWebhook', () => ({ url: 'http://localhost:9/contract', events: ['token.created'] })],
  ].map(([id, body]) => [id, '409', 'the name is taken', async (ctx) => {
    const r = await call(ctx, 'POST', fill(byId[id].template, { org: ctx.org }),
        { token: ctx.ownerToken, body: body(ctx) });
    assertError(r, 409, /^(already_exists|failed_precondition)$/, 'name taken');
  }]),
  ['revokeApiToken', '409', 'an already revoked token', async (ctx) => {
    const path = fill(byId.revokeApiToken.template, { org: ctx.org, id: ctx.revokedTokenId });
    const r = await call(ctx, 'POST', path, { token: ctx.ownerToken, body: {} });
    assertError(r, 409, 'failed_precondition', 'revoked twice');
  }],
  ['rotateApiToken', '409', 'a revoked token', async (ctx) => {
    const path = fill(byId.rotateApiToken.template, { org: ctx.org, id: ctx.revokedTokenId });
    const r = await call(ctx, 'POST', path, { token: ctx.ownerToken, body: {} });
    assertError(r, 409, 'failed_precondition', 'rotating a revoked token');
  }],
  ['rotateApiToken', '201', 'a token rotated with a grace period', async (ctx) => {
    const path = fill(byId.rotateApiToken.template, { org: ctx.org, id: ctx.ids.rotateApiToken });
    const r = await call(ctx, 'POST', path, { token: ctx.ownerToken,
      body: { grace_seconds: 60 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    recordSecret(ctx.stack, r.body.token, 'rotated API token');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.body.rotated.rotated_to, r.body.api_token.id);
    assert.equal(r.body.api_token.name, r.body.rotated.name);
  }],
  ['updateMember', '409', 'demoting the last owner', async (ctx) => {
    const r = await call(ctx, 'PATCH', fill(byId.updateMember.template,
        { org: ctx.org, userId: ctx.ownerId }), { token: ctx.ownerToken,
      body: { role: 'admin' } });
    assertError(r, 409, 'last_owner', 'last owner demoted');
  }],
  ['removeMember', '409', 'removing the last owner', async (ctx) => {
    const r = await call(ctx, 'DELETE', fill(byId.removeMember.template,
        { org: ctx.org, userId: ctx.ownerId }), { token: ctx.ownerToken });
    assertError(r, 409, 'last_owner', 'last owner removed');
  }],
  ['pushAttestation', '409', 'a second push to the same run', async (ctx) => {
    const path = fill(byId.pushAttestation.template, { org: ctx.org, id: ctx.pushedRunId });
    const r = await call(ctx, 'POST', path, { token: ctx.ownerToken,
      body: { statement: statement() } });
    assertError(r, 409, /^(already_exists|failed_precondition)$/, 'second push');
  }],
  // The login legs' JSON successes (the CLI's own calls are not recorded).
  ['exchangeLoginCode', '200', 'a login code for a session', async (ctx) => {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({ redirect_uri: 'http://127.0.0.1:9/callback', state: 's1',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256' });
    const { completeBrowserLogin } = await import(pathToFileURL(driverScript).href);
    // The client's loopback listener is not there: the last URL holds the code.
    const done = await completeBrowserLogin(`${ctx.stack.baseUrl}/auth/login?${q}`,
        { login: 'olivia' });
    const code = new URL(done.finalUrl).searchParams.get('code');
    assert.ok(code, JSON.stringify(done));
    recordSecret(ctx.stack, code, 'one-time login code');
    const r = await call(ctx, 'POST', '/v1/auth/token', { body: { code, code_verifier: verifier } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    recordSecret(ctx.stack, r.body.session_token, 'session token');
    assert.match(r.body.session_token, /^clses_/);
  }],
  ['pollDeviceLogin', '200', 'an approved device login', async (ctx) => {
    const start = await call(ctx, 'POST', '/v1/auth/device', { body: {} });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    recordSecret(ctx.stack, start.body.device_handle, 'device handle');
    const { approveDevice } = await import(pathToFileURL(driverScript).href);
    await approveDevice(start.body.verification_uri_complete, { login: 'olivia' });
    let r;
    for (let i = 0; i < 20; i++) {
      await sleep(start.body.interval * 1000);
      r = await call(ctx, 'POST', '/v1/auth/device/token',
          { body: { device_handle: start.body.device_handle } });
      if (r.status !== 400) break;
    }
    assert.equal(r.status, 200, JSON.stringify(r.body));
    recordSecret(ctx.stack, r.body.session_token, 'session token');
    assert.match(r.body.session_token, /^clses_/);
  }],
  // Successes the other suites reach only through the CLI (whose calls are not recorded); last,
  // since they remove what the cases above use.
  ['getApiToken', '200', 'a revoked token, with who revoked it', async (ctx) => {
    const r = await call(ctx, 'GET', fill(byId.getApiToken.template,
        { org: ctx.org, id: ctx.revokedTokenId }), { token: ctx.ownerToken });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.api_token.id, ctx.revokedTokenId);
    assert.equal(r.body.api_token.state, 'revoked');
    assert.equal(typeof r.body.api_token.revoked_by, 'string');
  }],
  ['listProjects', '200', 'the projects', async (ctx) => {
    const r = await call(ctx, 'GET', `/v1/organizations/${ctx.org}/projects`,
        { token: ctx.ownerToken });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.projects.map((p) => p.name), ['app']);
  }],
  ['updateMember', '200', "the viewer's role changed", async (ctx) => {
    const r = await call(ctx, 'PATCH', fill(byId.updateMember.template,
        { org: ctx.org, userId: ctx.ids.updateMember }), { token: ctx.ownerToken,
      body: { role: 'member' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.member.role, 'member');
  }],
  ...[['deleteTrustPolicy', 'a trust policy deleted'], ['cancelInvitation', 'an invitation cancelled'],
    ['removeMember', 'a member removed'], ['deleteWebhook', 'a webhook deleted']].map(([id, name]) => [id, '204', name, async (ctx) => {
    const path = fill(byId[id].template, { org: ctx.org, id: ctx.ids[id], userId: ctx.ids[id] });
    const r = await call(ctx, 'DELETE', path, { token: ctx.ownerToken });
    assert.equal(r.status, 204, JSON.stringify(r.body));
    assert.equal(r.body, null);
    assertError(await call(ctx, 'DELETE', path, { token: ctx.ownerToken }), 404, 'not_found',
        'deleted twice');
  }]),
];
for (const [id, status, name, run] of handWritten) {
  if (run) add(byId[id], status, name, run);
}

// Error pairs provoked by another suite, which has the fixture they need.
const ELSEWHERE = [
  // keyless_exchange.test.mjs: a CI token of a trusted issuer that no policy admits.
  'POST /v1/auth/federated/exchange 403',
  // secret_scanning.test.mjs (OWN_SUITE above).
  ...['400', '401', '404', '413', '429', '503'].map((s) => `POST /v1/secret-scanning/github ${s}`),
  ...['400', '401', '404', '413', '429'].map((s) => `POST /v1/secret-scanning/generic ${s}`),
];

describe('every (operation, status) pair of docs/openapi.yaml', () => {
  const ctx = { org: 'acme', ids: {} };
  before(async () => {
    if (skip) return;
    ctx.stack = await startStack({ extraArgs: [
      '--auth-failure-limit', '2', '--auth-throttle-exempt-cidrs', '127.0.0.1/32',
      '--default-max-body-bytes', String(DEFAULT_MAX_BODY), '--max-body-bytes', String(MAX_BODY),
    ] });
    // Every request body is over this budget: 503 overloaded before any handler runs.
    ctx.budget = await startStack({ oidcIssuer: 'http://127.0.0.1:9', extraArgs: ['--body-budget-bytes', '1024',
      '--max-body-bytes', '1024', '--default-max-body-bytes', '1024', '--read-timeout', '10m'] });
    // A request that announced a 1000-byte body and sent one byte holds the budget.
    ctx.holder = net.connect({ host: '127.0.0.1', port: ctx.budget.server.port });
    ctx.holder.on('error', () => {});
    ctx.holder.write('POST /v1/organizations HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const owner = ctx.stack.newUser('olivia');
    const viewer = ctx.stack.newUser('victor');
    await owner.login();
    ctx.ownerToken = owner.sessionToken();
    ctx.viewerEmail = viewer.email;
    const ok = async (method, path, body, token = ctx.ownerToken) => {
      const r = await api(ctx.stack, method, path, { token, body });
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const org = `/v1/organizations/${ctx.org}`;
    await ok('POST', '/v1/organizations', { name: ctx.org });
    await ok('POST', `${org}/projects`, { name: 'app' });
    await ok('POST', `${org}/invitations`, { receiver_email: viewer.email, role: 'viewer' });
    await viewer.login();
    ctx.viewerToken = viewer.sessionToken();
    const members = (await ok('GET', `${org}/members`)).members;
    ctx.ownerId = members.find((m) => m.email === owner.email).user_id;
    const viewerId = members.find((m) => m.email === viewer.email).user_id;
    ctx.ids.updateMember = viewerId;
    ctx.ids.removeMember = viewerId;
    const token = async (name, extra = {}) =>
      (await ok('POST', `${org}/api-tokens`, { name, ...extra })).api_token;
    const narrow = await ok('POST', `${org}/api-tokens`,
        { name: 'narrow', permissions: ['workflow:read'] });
    ctx.narrowToken = narrow.token;
    ctx.ids.revokeApiToken = (await token('to-revoke')).id;
    ctx.ids.rotateApiToken = (await token('to-rotate')).id;
    ctx.revokedTokenId = (await token('revoked')).id;
    ctx.ids.getApiToken = ctx.revokedTokenId;
    await ok('POST', `${org}/api-tokens/${ctx.revokedTokenId}/revoke`, {});
    ctx.ids.deleteTrustPolicy = (await ok('POST', `${org}/federation-policies`,
        { ...validBody('createTrustPolicy', ctx), name: 'gitlab' })).policy.id;
    const webhook = async (url) => (await ok('POST', `${org}/webhooks`,
        { url, events: ['token.leaked'] })).webhook.id;
    ctx.ids.getWebhook = await webhook('http://localhost:9/contract');
    ctx.ids.listWebhookDeliveries = ctx.ids.getWebhook;
    ctx.ids.pingWebhook = ctx.ids.getWebhook;
    ctx.ids.deleteWebhook = await webhook('http://localhost:9/contract-deleted');
    ctx.ids.cancelInvitation = (await ok('POST', `${org}/invitations`,
        { receiver_email: 'pending@example.com', role: 'member' })).invitation.id;
    const init = async () => (await ok('POST', `${org}/workflow-runs`,
        { workflow: 'build', project: 'app' })).workflow_run.id;
    ctx.ids.pushAttestation = await init();
    ctx.ids.describeWorkflowRun = ctx.ids.pushAttestation;
    ctx.pushedRunId = await init();
    await ok('POST', `${org}/workflow-runs/${ctx.pushedRunId}/attestation`,
        { statement: statement() });
    // Login starts from LOGIN_FLOOD_FROM until its bucket is empty (once, on first use).
    let flood;
    ctx.floodLogins = () => {
      flood ??= (async () => {
        for (let i = 0; i < 100; i++) {
          const r = await call(ctx, 'GET', '/auth/web/login', { from: LOGIN_FLOOD_FROM });
          if (r.status === 429) return;
        }
        throw new Error('100 login starts from one address were never refused');
      })();
      return flood;
    };
    // Two failed authentications ban BANNED_FROM (the main address is exempt).
    for (let i = 0; i < 2; i++) {
      await call(ctx, 'GET', '/v1/auth/whoami',
          { from: BANNED_FROM, token: `clapi_${randomBytes(8).toString('hex')}` });
    }
  });
  after(async () => {
    ctx.holder?.destroy();
    await ctx.budget?.cleanup();
    await ctx.stack?.cleanup();
  });

  for (const c of cases) {
    test(`${c.key} -> ${c.status}: ${c.name}`, { skip }, () => c.run(ctx));
  }

  for (const e of UNPROVOKABLE) {
    const ops = e.ops === '*' ? 'every operation' : e.ops.join(', ');
    test(`${e.status} of ${ops}`, { skip: `not provokable here: ${e.reason}` }, () => {});
  }

  test('every listed (operation, status) pair has a case or an unprovokable entry', () => {
    const covered = new Set([...cases.map((c) => `${c.key} ${c.status}`), ...ELSEWHERE]);
    // Error statuses; the successes are every suite's business (the checker counts them all).
    const missing = operations.flatMap((o) => o.statuses
      .filter((s) => Number(s) >= 400)
      .filter((s) => !covered.has(`${o.key} ${s}`) && !unprovokable(o.key, s))
      .map((s) => `${o.key} ${s}`));
    assert.deepEqual(missing, [], show({ code: 0, stdout: missing.join('\n'), stderr: '' }));
  });
});
