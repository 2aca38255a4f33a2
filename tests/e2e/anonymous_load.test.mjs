// End to end: anonymous login traffic cannot hurt the server.
//  (a) With an IdP that answers in 500 ms, 150 anonymous clients starting device logins and
//      completing (bogus) browser callbacks do not slow /readyz or an authenticated whoami: IdP
//      calls are capped below the worker count, and the excess is answered 503 idp_unavailable
//      with Retry-After at once.
//  (b) A login flood from one address gets 429 rate_limited with Retry-After after its burst,
//      while its other requests and other addresses are served; the pending-login rows stay
//      under max_pending_logins (503 login_capacity_exhausted beyond it), counted in /metrics.
// Clients use different loopback source addresses (127.0.0.0/8) to stand for different
// machines. Runs on SQLite and, with CL_E2E_DATABASE=postgres, on PostgreSQL.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { CLIENT_ID, missingPrerequisite, sql, startStack } from './harness.mjs';
import { floodInWorker, loginStartPath, request } from './login_flood.mjs';
import { newKey, startCiIssuer } from './ci_issuer.mjs';
import { loginThroughIdp, startSlowIdp } from './slow_idp.mjs';

const skip = missingPrerequisite({ needDriver: false });

// The slow upstream (IdP or CI issuer) takes UPSTREAM_DELAY_MS per call, so an answer that waited
// behind even one upstream call takes at least that long. "Fast" is well under it, with room for a
// CI machine that is busy with other work.
const UPSTREAM_DELAY_MS = 1500;
const FAST_MS = 600;

// One HTTP request from source address `from` on its own connection, or on `agent`'s.
const call = request;

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// The reason of an error answer: the JSON envelope's code, or the browser page's "(reason)".
function reasonOf(r) {
  if (r.body && typeof r.body === 'object') return r.body.error?.code;
  return /\(([a-z_]+)\)\s*$/.exec(String(r.body))?.[1];
}

function metric(text, name, labels) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.split(' ').pop());
    }
  }
  return 0;
}

describe('anonymous login traffic against a slow IdP', () => {
  const CLIENTS = 150;
  const FLOOD_MS = 4000;
  const WORKERS = 16; // the default; the IdP cap is then 4
  let idp;
  let stack;
  let session;

  before(async () => {
    if (skip) return;
    idp = await startSlowIdp({ clientId: CLIENT_ID });
    stack = await startStack({
      oidcIssuer: idp.url,
      extraArgs: ['--worker-threads', String(WORKERS)],
    });
    session = await loginThroughIdp(stack.baseUrl);
    assert.ok(session);
  });
  after(async () => {
    await stack?.cleanup();
    await idp?.stop();
  });

  test('readyz and whoami stay fast; IdP calls stay capped; the excess gets 503 at once',
      { skip }, async () => {
        idp.delayMs = UPSTREAM_DELAY_MS;
        idp.maxInFlight = 0;
        // The clients run in a worker thread: this thread's event loop only times the probes.
        // Each client alternates a device start and a browser login whose callback makes the
        // server redeem a (wrong) code at the IdP's token endpoint.
        const flood = floodInWorker({ baseUrl: stack.baseUrl, clients: CLIENTS, ms: FLOOD_MS,
          routes: ['device', 'login'] });
        // Meanwhile an operator probes /readyz and a person calls whoami, one at a time.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const readyz = [];
        const whoami = [];
        await new Promise((r) => setTimeout(r, 500)); // let the flood build up
        const until = Date.now() + FLOOD_MS - 1000;
        while (Date.now() < until) {
          const a = await call(stack.baseUrl, 'GET', '/readyz', { agent });
          assert.equal(a.status, 200);
          readyz.push(a.ms);
          const b = await call(stack.baseUrl, 'GET', '/v1/auth/whoami', { agent, token: session });
          assert.equal(b.status, 200, JSON.stringify(b.body));
          assert.equal(b.body.principal.kind, 'user');
          whoami.push(b.ms);
          await new Promise((r) => setTimeout(r, 10));
        }
        agent.destroy();
        const { answers, idpBusy } = await flood;
        idp.delayMs = 0;

        const p99Readyz = percentile(readyz, 99);
        const p99Whoami = percentile(whoami, 99);
        const summary = `readyz p99 ${p99Readyz.toFixed(1)} ms (${readyz.length}), whoami p99 ` +
            `${p99Whoami.toFixed(1)} ms (${whoami.length}), IdP max in flight ${idp.maxInFlight}, ` +
            `answers ${JSON.stringify(answers)}`;
        console.log(summary);
        assert.ok(readyz.length >= 20 && whoami.length >= 20, summary);
        assert.ok(p99Readyz < FAST_MS, summary);
        assert.ok(p99Whoami < FAST_MS, summary);
        // Never more IdP calls at once than the cap (16 workers / 4), whatever the load.
        assert.ok(idp.maxInFlight >= 1 && idp.maxInFlight <= WORKERS / 4, summary);
        // The excess was refused at once, with the standard envelope or page and Retry-After.
        assert.ok(idpBusy.length > 100, summary);
        for (const b of idpBusy) assert.equal(b.retryAfter, '5', summary);
        assert.ok(answers['POST /v1/auth/device 503 idp_unavailable'] > 0, summary);
        // Few browser logins get past the per-address limit, so their callbacks may or may not
        // meet a full gate: each one either reached the IdP (a wrong code) or was refused at once.
        for (const [key, n] of Object.entries(answers)) {
          if (!key.startsWith('GET /auth/callback (valid state)')) continue;
          assert.ok(/ (400 invalid_grant|503 idp_unavailable)$/.test(key), `${key} x${n}: ${summary}`);
        }
        const busyMs = percentile(idpBusy.map((b) => b.ms), 50);
        assert.ok(busyMs < 250, `median 503 took ${busyMs} ms; ${summary}`);

        const metrics = await call(stack.baseUrl, 'GET', '/metrics');
        assert.ok(metric(metrics.body, 'chainloop_idp_calls_refused_total', {}) > 0);
        assert.ok(metric(metrics.body, 'chainloop_login_refused_total',
            { route: '/v1/auth/device', reason: 'idp_unavailable' }) > 0, metrics.body);
        // The server works normally once the flood is over.
        assert.equal((await call(stack.baseUrl, 'POST', '/v1/auth/device',
            { from: '127.0.1.250', body: {} })).status, 200);
      });
});

// Tokens naming an allowed CI issuer come from anyone, and verifying one may need the issuer's
// discovery document or keys (a cold cache; an unknown kid, here refetched every second). With an
// issuer that answers in 500 ms, only federation_max_concurrent_fetches requests fetch or wait;
// the rest get 503 issuer_unavailable at once, and /readyz and whoami stay fast.
describe('anonymous keyless traffic against a slow CI issuer', () => {
  const CLIENTS = 100;
  const FLOOD_MS = 4000;
  let idp;
  let issuer;
  let stack;
  let session;

  before(async () => {
    if (skip) return;
    idp = await startSlowIdp({ clientId: CLIENT_ID });
    issuer = await startCiIssuer();
    stack = await startStack({
      oidcIssuer: idp.url,
      extraArgs: ['--worker-threads', '16', '--federation-issuers', issuer.url,
        '--federation-jwks-refresh-cooldown', '1s', '--auth-failure-limit', '0'],
    });
    issuer.audience = stack.baseUrl;
    session = await loginThroughIdp(stack.baseUrl);
    assert.ok(session);
  });
  after(async () => {
    await stack?.cleanup();
    await idp?.stop();
    await issuer?.stop();
  });

  test('readyz and whoami stay fast; issuer waits stay capped; the excess gets 503 at once',
      { skip }, async () => {
        issuer.delayMs = UPSTREAM_DELAY_MS;
        // Tokens signed by a key the issuer does not publish: each names an unknown kid.
        const stranger = newKey('RS256');
        const tokens = Array.from({ length: 50 }, () => issuer.mint({}, { signWith: stranger }));
        const flood = floodInWorker({ baseUrl: stack.baseUrl, clients: CLIENTS, ms: FLOOD_MS,
          routes: ['exchange'], tokens, addressBase: 9 });
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const readyz = [];
        const whoami = [];
        await new Promise((r) => setTimeout(r, 300));
        const until = Date.now() + FLOOD_MS - 800;
        while (Date.now() < until) {
          const a = await call(stack.baseUrl, 'GET', '/readyz', { agent });
          assert.equal(a.status, 200);
          readyz.push(a.ms);
          const b = await call(stack.baseUrl, 'GET', '/v1/auth/whoami', { agent, token: session });
          assert.equal(b.status, 200, JSON.stringify(b.body));
          whoami.push(b.ms);
          await new Promise((r) => setTimeout(r, 10));
        }
        agent.destroy();
        const { answers, idpBusy } = await flood;
        issuer.delayMs = 0;

        const p99Readyz = percentile(readyz, 99);
        const p99Whoami = percentile(whoami, 99);
        const summary = JSON.stringify({ p99Readyz, p99Whoami, answers });
        assert.ok(readyz.length >= 20, summary);
        assert.ok(p99Readyz < FAST_MS, `readyz p99 ${p99Readyz} ms: ${summary}`);
        assert.ok(p99Whoami < FAST_MS, `whoami p99 ${p99Whoami} ms: ${summary}`);
        // The excess was refused at once, with Retry-After, not queued behind the issuer.
        assert.ok(idpBusy.length > 0, summary);
        for (const b of idpBusy) {
          assert.ok(Number(b.retryAfter) >= 1, JSON.stringify(b));
        }
        const quick = idpBusy.filter((b) => b.ms < FAST_MS).length;
        assert.ok(quick >= idpBusy.length * 0.95, `${quick} of ${idpBusy.length} refusals fast`);
        const metrics = await call(stack.baseUrl, 'GET', '/metrics');
        assert.ok(metric(metrics.body, 'chainloop_ci_issuer_fetches_refused_total', {}) > 0,
            metrics.body);
      });
});

describe('login start limits', () => {
  const MAX_PENDING = 25;
  let idp;
  let stack;
  let session;

  before(async () => {
    if (skip) return;
    idp = await startSlowIdp({ clientId: CLIENT_ID });
    stack = await startStack({
      oidcIssuer: idp.url,
      // The per-address limit keeps its defaults (20 per minute, burst 10). The IdP gate is
      // opened wide here (8 concurrent starts each call the IdP once): this suite tests the
      // pending-login cap, not the gate, and must not see idp_unavailable on a busy machine.
      extraArgs: ['--max-pending-logins', String(MAX_PENDING), '--worker-threads', '24',
        '--idp-max-concurrent-calls', '16'],
    });
    session = await loginThroughIdp(stack.baseUrl);
  });
  after(async () => {
    await stack?.cleanup();
    await idp?.stop();
  });

  const pendingRows = () => Number(sql(stack,
      'SELECT (SELECT COUNT(*) FROM login_requests) + (SELECT COUNT(*) FROM device_requests)'));

  test('a flood from one address gets 429 after its burst; others are served', { skip },
      async () => {
        const from = '127.0.2.1';
        const before = pendingRows();
        const results = [];
        for (let i = 0; i < 30; i++) {
          results.push(await call(stack.baseUrl, 'GET', loginStartPath(), { from }));
        }
        assert.deepEqual(results.slice(0, 10).map((r) => r.status), Array(10).fill(302));
        for (const r of results.slice(10)) {
          assert.equal(r.status, 429, JSON.stringify(r.body));
          assert.equal(r.body.error.code, 'rate_limited');
          const retry = Number(r.headers['retry-after']);
          assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3, r.headers['retry-after']);
        }
        assert.equal(pendingRows(), before + 10, 'refused starts wrote nothing');
        // The three start routes share the address's bucket.
        for (const [method, path] of [['POST', '/v1/auth/device'], ['GET', '/auth/web/login']]) {
          const r = await call(stack.baseUrl, method, path, { from, body: method === 'POST' ? {} : undefined });
          assert.equal(r.status, 429, `${path}: ${JSON.stringify(r.body)}`);
        }
        // The same address's other requests, and other addresses' starts, are served.
        const who = await call(stack.baseUrl, 'GET', '/v1/auth/whoami', { from, token: session });
        assert.equal(who.status, 200, JSON.stringify(who.body));
        assert.equal((await call(stack.baseUrl, 'GET', '/readyz', { from })).status, 200);
        assert.equal((await call(stack.baseUrl, 'GET', loginStartPath(), { from: '127.0.2.2' }))
            .status, 302);
        const metrics = await call(stack.baseUrl, 'GET', '/metrics');
        assert.equal(metric(metrics.body, 'chainloop_login_refused_total',
            { route: '/auth/login', reason: 'rate_limited' }), 20, metrics.body);
      });

  test('pending logins stay under max_pending_logins; beyond: 503 with Retry-After', { skip },
      async () => {
        const starts = [
          ['GET', () => loginStartPath()],
          ['POST', () => '/v1/auth/device'],
          ['GET', () => '/auth/web/login'],
        ];
        const results = [];
        // 8 addresses x 8 starts (under the per-address burst): 64 starts for at most 25 rows.
        await Promise.all(Array.from({ length: 8 }, async (_, a) => {
          for (let i = 0; i < 8; i++) {
            const [method, path] = starts[(a + i) % starts.length];
            results.push(await call(stack.baseUrl, method, path(),
                { from: `127.0.3.${a + 1}`, body: method === 'POST' ? {} : undefined }));
          }
        }));
        const ok = results.filter((r) => r.status === 302 || r.status === 200);
        const full = results.filter((r) => r.status === 503);
        assert.equal(ok.length + full.length, results.length,
            JSON.stringify(results.map((r) => [r.status, reasonOf(r)])));
        for (const r of full) {
          assert.equal(reasonOf(r), 'login_capacity_exhausted');
          assert.equal(r.headers['retry-after'], '30');
        }
        const rows = pendingRows();
        assert.ok(rows <= MAX_PENDING, `${rows} pending rows`);
        assert.ok(rows >= MAX_PENDING - 1, `${rows} pending rows: the cap was reached`);
        assert.ok(full.length >= 64 - MAX_PENDING, `${full.length} refused`);
        const metrics = await call(stack.baseUrl, 'GET', '/metrics');
        assert.ok(metric(metrics.body, 'chainloop_login_refused_total',
            { route: '/v1/auth/device', reason: 'login_capacity_exhausted' }) > 0, metrics.body);
        // People already logging in are not evicted: a login that completes frees its row, and
        // authenticated work goes on.
        const who = await call(stack.baseUrl, 'GET', '/v1/auth/whoami', { token: session });
        assert.equal(who.status, 200);
      });
});
