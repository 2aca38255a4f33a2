// End to end: the client's address behind a load balancer. With trusted_proxies=127.0.0.1/32 the
// server stands behind a "balancer" at 127.0.0.1 that appends each client to X-Forwarded-For: one
// client's forged tokens get that client 429 while another client on the same TCP peer is still
// served, entries the client prepended itself change nothing, and the balancer's own connections
// are exempt from the per-address connection limit. Without trusted_proxies the header is ignored:
// a spoofed X-Forwarded-For does not evade the address ban.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { missingPrerequisite, recordResponse, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();
const LIMIT = 4;
const PER_IP = 2;

// A credential-shaped string the server never issued: its lookup fails (401, a failed attempt).
const forgedToken = () => `clapi_${randomBytes(32).toString('hex')}`;

// One GET from source address `from` with optional X-Forwarded-For: {status, headers, body}.
function get(stack, path, { from = '127.0.0.1', xff, token } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (xff !== undefined) headers['x-forwarded-for'] = xff;
    const req = http.request(new URL(path, stack.baseUrl),
        { method: 'GET', headers, localAddress: from, agent: false, timeout: 15_000 }, (res) => {
          let text = '';
          res.on('data', (c) => { text += c; });
          res.on('end', () => {
            let body = text;
            try {
              body = text ? JSON.parse(text) : null;
            } catch {
              // not JSON
            }
            recordResponse({ method: 'GET', url: new URL(path, stack.baseUrl).href,
              status: res.statusCode, headers: res.headers, body: text });
            resolve({ status: res.statusCode, headers: res.headers, body });
          });
        });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// Opens a raw TCP connection from `localAddress`; resolves once connected.
function connect(port, localAddress) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.data = '';
    s.closedAt = null;
    s.on('data', (d) => { s.data += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { s.closedAt = Date.now(); });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// Sends one keep-alive request on `s` and waits for its status line.
async function statusOn(s) {
  s.data = '';
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const deadline = Date.now() + 3000;
  while (!/\r\n\r\n/.test(s.data) && s.closedAt === null && Date.now() < deadline) await sleep(10);
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(s.data)?.[1] ?? 0);
}

function expectBanned(r) {
  assert.equal(r.status, 429, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'too_many_failed_attempts', JSON.stringify(r.body));
}

describe('behind a trusted proxy', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack({
      extraArgs: [
        '--trusted-proxies', '127.0.0.1/32',
        '--auth-failure-limit', String(LIMIT),
        '--auth-failure-window', '60s',
        '--auth-ban-duration', '60s',
        '--max-connections-per-ip', String(PER_IP),
      ],
    });
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('one forwarded client is banned, another on the same peer is served', { skip }, async () => {
    const attacker = '198.51.100.1';
    for (let i = 0; i < LIMIT; i++) {
      // What nginx sends for a client that forged an X-Forwarded-For of its own.
      const r = await get(stack, '/v1/auth/whoami',
          { xff: `203.0.113.${i + 1}, ${attacker}`, token: forgedToken() });
      assert.equal(r.status, 401, `failure ${i + 1}: ${JSON.stringify(r.body)}`);
    }
    expectBanned(await get(stack, '/v1/auth/whoami', { xff: attacker, token: forgedToken() }));
    // The entries the attacker prepends do not make it someone else.
    expectBanned(await get(stack, '/v1/auth/whoami',
        { xff: `203.0.113.50, ${attacker}`, token: forgedToken() }));

    // Another client behind the same balancer: its failures are its own, never a 429.
    const other = await get(stack, '/v1/auth/whoami', { xff: '198.51.100.2', token: forgedToken() });
    assert.equal(other.status, 401, JSON.stringify(other.body));
    // The balancer's own requests (no header) are not the attacker either.
    const direct = await get(stack, '/v1/auth/whoami', { token: forgedToken() });
    assert.equal(direct.status, 401, JSON.stringify(direct.body));

    // The access log names both; it is written once the response is sent.
    const logged = /"remote_addr":"198\.51\.100\.2","peer_addr":"127\.0\.0\.1"/;
    for (let i = 0; i < 100 && !logged.test(stack.server.logs()); i++) await sleep(20);
    const logs = stack.server.logs();
    assert.match(logs, logged);
    assert.match(logs, /client address banned after repeated failed authentication.*"address":"198\.51\.100\.1"/);
    assert.doesNotMatch(logs, /banned.*"address":"127\.0\.0\.1"/);
  });

  test('the balancer\'s connections are exempt from the per-address limit', { skip }, async () => {
    const port = new URL(stack.baseUrl).port;
    const held = [];
    try {
      for (let i = 0; i < PER_IP * 3; i++) held.push(await connect(port, '127.0.0.1'));
      for (const s of held) assert.equal(await statusOn(s), 200);
      // Any other address is still limited.
      const others = [];
      for (let i = 0; i < PER_IP + 1; i++) others.push(await connect(port, '127.0.0.6').catch(() => null));
      held.push(...others.filter(Boolean));
      const statuses = [];
      for (const s of others) statuses.push(s ? await statusOn(s) : 0);
      assert.deepEqual(statuses.filter((st) => st === 200).length, PER_IP, String(statuses));
    } finally {
      for (const s of held) s.destroy();
    }
  });
});

describe('without trusted proxies', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack({
      extraArgs: ['--auth-failure-limit', String(LIMIT), '--auth-failure-window', '60s',
        '--auth-ban-duration', '60s'],
    });
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a spoofed X-Forwarded-For does not evade the address ban', { skip }, async () => {
    const from = '127.0.0.2';
    for (let i = 0; i < LIMIT; i++) {
      const r = await get(stack, '/v1/auth/whoami',
          { from, xff: `198.51.100.${i + 10}`, token: forgedToken() });
      assert.equal(r.status, 401, `failure ${i + 1}: ${JSON.stringify(r.body)}`);
    }
    expectBanned(await get(stack, '/v1/auth/whoami',
        { from, xff: '198.51.100.99', token: forgedToken() }));
    const logged = /"remote_addr":"127\.0\.0\.2","peer_addr":"127\.0\.0\.2"/;
    for (let i = 0; i < 100 && !logged.test(stack.server.logs()); i++) await sleep(20);
    const logs = stack.server.logs();
    assert.match(logs, logged);
    assert.match(logs, /client address banned after repeated failed authentication.*"address":"127\.0\.0\.2"/);
    assert.doesNotMatch(logs, /"remote_addr":"198\.51\.100/);
  });
});
