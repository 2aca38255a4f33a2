// End to end: abuse throttling. Failed authentication bans the client address and the presented
// credential (429 too_many_failed_attempts with Retry-After) while valid credentials from the
// same address are still served; the ban lifts by itself; per-organization rate limits on API
// token creation and keyless exchange (429 rate_limited) leave other organizations alone.
// Clients use different loopback source addresses (127.0.0.0/8) to stand for different
// machines. Runs on SQLite and, with CL_E2E_DATABASE=postgres, on PostgreSQL.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startCiIssuer } from './ci_issuer.mjs';
import { missingPrerequisite, recordResponse, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();

const LIMIT = 5;
const BAN_SECONDS = 2;
const TOKENS_PER_MINUTE = 3;
const EXCHANGES_PER_MINUTE = 2;
const EXEMPT = '127.0.0.3';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Every credential the test presented or received, to check none of them was logged.
const seenCredentials = [];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(text) {
  let c = 0xffffffff;
  for (const b of Buffer.from(text)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A well-formed credential (valid checksum) that the server never issued: it passes the
// offline checks and is refused after the lookup, like a guessed or stolen-and-revoked token.
function unknownToken(prefix = 'clapi') {
  let secret = '';
  for (const b of randomBytes(43)) secret += BASE62[b % 62];
  const covered = `${prefix}_${secret}`;
  let v = crc32(covered);
  let sum = '';
  for (let i = 0; i < 6; i++) {
    sum = BASE62[v % 62] + sum;
    v = Math.floor(v / 62);
  }
  seenCredentials.push(covered + sum);
  return covered + sum;
}

// One HTTP request from source address `from`: {status, headers, body (JSON or text)}.
function call(stack, method, path, { from = '127.0.0.1', token, body, form } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let payload;
    if (form) {
      payload = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
    const req = http.request(new URL(path, stack.baseUrl),
        { method, headers, localAddress: from, agent: false, timeout: 15_000 }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // not JSON
            }
            recordResponse({ method, url: new URL(path, stack.baseUrl).href,
              status: res.statusCode, headers: res.headers, body: text });
            resolve({ status: res.statusCode, headers: res.headers, body: parsed });
          });
        });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function expectThrottled(r, code, maxSeconds) {
  assert.equal(r.status, 429, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code, JSON.stringify(r.body));
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= maxSeconds,
      `Retry-After: ${r.headers['retry-after']}`);
  return retry;
}

describe('abuse throttling', () => {
  let stack;
  let issuer;
  let session; // the owner's session token
  let apiToken; // a valid API token of org A

  before(async () => {
    if (skip) return;
    issuer = await startCiIssuer();
    stack = await startStack({
      extraArgs: [
        '--auth-failure-limit', String(LIMIT),
        '--auth-failure-window', '60s',
        '--auth-ban-duration', `${BAN_SECONDS}s`,
        '--auth-throttle-exempt-cidrs', `${EXEMPT}/32`,
        '--api-token-create-per-minute', String(TOKENS_PER_MINUTE),
        '--federated-exchange-per-minute', String(EXCHANGES_PER_MINUTE),
        '--federation-issuers', issuer.url,
      ],
    });
    issuer.audience = stack.baseUrl;
    const owner = stack.newUser('tia.throttle');
    await owner.login();
    session = owner.sessionToken();
    assert.ok(session, 'owner has a session');
    for (const org of ['throttle-a', 'throttle-b']) {
      const r = await call(stack, 'POST', '/v1/organizations', { token: session, body: { name: org } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const p = await call(stack, 'POST', `/v1/organizations/${org}/federation-policies`, {
        token: session,
        body: { name: 'ci', issuer: issuer.url, provider: 'gitlab', bound_claims: { project_id: '4242' } },
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
    }
    const t = await call(stack, 'POST', '/v1/organizations/throttle-a/api-tokens',
        { token: session, body: { name: 'ci-valid' } });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    apiToken = t.body.token;
    seenCredentials.push(session, apiToken);
  });

  after(async () => {
    await stack?.cleanup();
    await issuer?.stop();
  });

  test('bad tokens ban the address; valid credentials are still served; the ban lifts', { skip }, async () => {
    const from = '127.0.0.2';
    for (let i = 0; i < LIMIT; i++) {
      const bad = unknownToken();
      const r = await call(stack, 'GET', '/v1/auth/whoami', { from, token: bad });
      assert.equal(r.status, 401, `failure ${i + 1}: ${JSON.stringify(r.body)}`);
    }
    const bad = unknownToken();
    const banned = await call(stack, 'GET', '/v1/organizations', { from, token: bad });
    expectThrottled(banned, 'too_many_failed_attempts', BAN_SECONDS);
    assert.equal(banned.headers['www-authenticate'], undefined);

    // Malformed tokens and raw JWTs on the attestation endpoints are refused the same way.
    const malformed = await call(stack, 'GET', '/v1/auth/whoami', { from, token: 'clapi_garbage' });
    expectThrottled(malformed, 'too_many_failed_attempts', BAN_SECONDS);

    // Successful authentication from the banned address is never refused.
    const viaToken = await call(stack, 'GET', '/v1/auth/whoami', { from, token: apiToken });
    assert.equal(viaToken.status, 200, JSON.stringify(viaToken.body));
    const viaSession = await call(stack, 'GET', '/v1/organizations', { from, token: session });
    assert.equal(viaSession.status, 200, JSON.stringify(viaSession.body));
    // No credential at all is not a failed attempt: still the plain 401.
    const anonymous = await call(stack, 'GET', '/v1/organizations', { from });
    assert.equal(anonymous.status, 401, JSON.stringify(anonymous.body));
    // Another client is not affected.
    const other = await call(stack, 'GET', '/v1/auth/whoami', { from: '127.0.0.4', token: unknownToken() });
    assert.equal(other.status, 401, JSON.stringify(other.body));

    const metrics = await call(stack, 'GET', '/metrics');
    assert.match(metrics.body, /^chainloop_auth_throttled_total\{scope="address"\} [1-9]\d*$/m);
    const logs = stack.server.logs();
    assert.match(logs, /client address banned after repeated failed authentication.*"address":"127\.0\.0\.2"/);

    // After the ban: plain 401 again, and counting starts over.
    await sleep(BAN_SECONDS * 1000 + 300);
    const again = await call(stack, 'GET', '/v1/auth/whoami', { from, token: unknownToken() });
    assert.equal(again.status, 401, JSON.stringify(again.body));
  });

  test('one credential failing from many addresses is banned itself', { skip }, async () => {
    const stolen = unknownToken('clses');
    for (let i = 0; i < LIMIT; i++) {
      const r = await call(stack, 'GET', '/v1/organizations', { from: `127.0.1.${i + 1}`, token: stolen });
      assert.equal(r.status, 401, JSON.stringify(r.body));
    }
    const r = await call(stack, 'GET', '/v1/organizations', { from: '127.0.1.100', token: stolen });
    expectThrottled(r, 'too_many_failed_attempts', BAN_SECONDS);
    // The same fresh address with another credential gets the usual answer.
    const fresh = await call(stack, 'GET', '/v1/organizations', { from: '127.0.1.100', token: unknownToken() });
    assert.equal(fresh.status, 401, JSON.stringify(fresh.body));
    assert.match(stack.server.logs(), /credential banned after repeated failed authentication.*"credential_hash_prefix":"[0-9a-f]{8}"/);
  });

  test('exempt addresses are never banned', { skip }, async () => {
    for (let i = 0; i < LIMIT * 2; i++) {
      const r = await call(stack, 'GET', '/v1/auth/whoami', { from: EXEMPT, token: unknownToken() });
      assert.equal(r.status, 401, `failure ${i + 1}: ${JSON.stringify(r.body)}`);
    }
  });

  test('wrong login codes and device handles count as failed authentication', { skip }, async () => {
    const from = '127.0.0.5';
    const verifier = randomBytes(32).toString('base64url');
    for (let i = 0; i < LIMIT; i++) {
      const r = await call(stack, 'POST', '/v1/auth/token',
          { from, body: { code: unknownToken('clcode'), code_verifier: verifier } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'invalid_grant');
    }
    const r = await call(stack, 'POST', '/v1/auth/token',
        { from, body: { code: unknownToken('clcode'), code_verifier: verifier } });
    expectThrottled(r, 'too_many_failed_attempts', BAN_SECONDS);
    // Device-flow polling with a made-up handle is refused the same way from there.
    const poll = await call(stack, 'POST', '/v1/auth/device/token',
        { from, body: { device_handle: unknownToken('cldev') } });
    expectThrottled(poll, 'too_many_failed_attempts', BAN_SECONDS);
  });

  test('forged CI tokens count as failed authentication', { skip }, async () => {
    const from = '127.0.0.6';
    const exchange = (subjectToken) => call(stack, 'POST', '/v1/auth/federated/exchange', {
      from,
      form: {
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: ID_TOKEN_TYPE,
        organization: 'throttle-b',
      },
    });
    for (let i = 0; i < LIMIT; i++) {
      const genuine = issuer.mint();
      const forged = `${genuine.slice(0, genuine.lastIndexOf('.'))}.${randomBytes(256).toString('base64url')}`;
      const r = await exchange(forged);
      assert.equal(r.status, 401, JSON.stringify(r.body));
    }
    const r = await exchange(issuer.mint());
    // A banned address is still served when its token is genuine...
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // ...but not when it fails again.
    const forged = await exchange(`${issuer.mint().split('.').slice(0, 2).join('.')}.AAAA`);
    expectThrottled(forged, 'too_many_failed_attempts', BAN_SECONDS);
    // The same ban covers a raw CI token presented on an attestation endpoint.
    const direct = await call(stack, 'POST', '/v1/organizations/throttle-b/workflow-runs', {
      from,
      token: `${issuer.mint().split('.').slice(0, 2).join('.')}.AAAA`,
      body: { workflow: 'build', project: 'app' },
    });
    expectThrottled(direct, 'too_many_failed_attempts', BAN_SECONDS);
  });

  test('API token creation is rate-limited per organization', { skip }, async () => {
    // One token of throttle-a was created in before(): TOKENS_PER_MINUTE - 1 remain.
    for (let i = 1; i < TOKENS_PER_MINUTE; i++) {
      const r = await call(stack, 'POST', '/v1/organizations/throttle-a/api-tokens',
          { token: session, body: { name: `burst-${i}` } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const limited = await call(stack, 'POST', '/v1/organizations/throttle-a/api-tokens',
        { token: session, body: { name: 'one-too-many' } });
    expectThrottled(limited, 'rate_limited', Math.ceil(60 / TOKENS_PER_MINUTE));
    // Another organization is not affected.
    const other = await call(stack, 'POST', '/v1/organizations/throttle-b/api-tokens',
        { token: session, body: { name: 'unaffected' } });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    // The refused request created nothing.
    const list = await call(stack, 'GET', '/v1/organizations/throttle-a/api-tokens', { token: session });
    assert.equal(list.status, 200);
    assert.ok(!list.body.api_tokens.some((t) => t.name === 'one-too-many'));
    const metrics = await call(stack, 'GET', '/metrics');
    assert.match(metrics.body, /^chainloop_rate_limited_total\{limit="api_token_create"\} 1$/m);
  });

  test('keyless exchange is rate-limited per organization; forged tokens spend nothing', { skip }, async () => {
    const exchange = (subjectToken, org) => call(stack, 'POST', '/v1/auth/federated/exchange', {
      from: '127.0.0.7',
      form: {
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: ID_TOKEN_TYPE,
        organization: org,
      },
    });
    // Failures do not spend the organization's budget (LIMIT - 1: below this address's ban).
    for (let i = 0; i < LIMIT - 1; i++) {
      const r = await exchange(`${issuer.mint().split('.').slice(0, 2).join('.')}.AAAA`, 'throttle-a');
      assert.equal(r.status, 401, JSON.stringify(r.body));
    }
    for (let i = 0; i < EXCHANGES_PER_MINUTE; i++) {
      const r = await exchange(issuer.mint(), 'throttle-a');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      seenCredentials.push(r.body.access_token);
    }
    const limited = await exchange(issuer.mint(), 'throttle-a');
    expectThrottled(limited, 'rate_limited', Math.ceil(60 / EXCHANGES_PER_MINUTE));
    // throttle-b spent one exchange in the previous test: one remains.
    const other = await exchange(issuer.mint(), 'throttle-b');
    assert.equal(other.status, 200, JSON.stringify(other.body));
  });

  test('no presented credential appears in the logs', { skip }, async () => {
    const logs = stack.server.logs();
    assert.ok(seenCredentials.length >= 25, `${seenCredentials.length} credentials`);
    for (const c of seenCredentials) assert.ok(!logs.includes(c), 'a credential was logged');
  });
});
