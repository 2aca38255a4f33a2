// End to end: overload and hostile HTTP at the edge. 500 slowloris connections (silent and
// trickling) do not stop a normal client from being answered in under a second and are cut off by
// the read timeout; oversized bodies and headers, too many headers, malformed requests and bad
// chunked encoding get their 4xx; pipelined requests are answered in order; a client over its
// per-address connection limit is refused while another address is served. The server stays up.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();
const READ_TIMEOUT_MS = 3000;

// Opens a raw TCP connection (optionally from another loopback address); resolves once connected.
function connect(port, localAddress) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.setNoDelay(true);
    s.data = '';
    s.closedAt = null;
    s.on('data', (d) => { s.data += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { s.closedAt = Date.now(); });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// Sends `bytes` on a new connection and collects what comes back until the server closes or
// `ms` pass. Resolves with the text received.
async function exchange(port, bytes, ms = 3000) {
  const s = await connect(port);
  s.write(bytes);
  const deadline = Date.now() + ms;
  while (s.closedAt === null && Date.now() < deadline) await sleep(20);
  s.destroy();
  return s.data;
}

const statusOf = (text) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

describe('overload and hostile HTTP', () => {
  let stack;
  let port;
  let token;
  before(async () => {
    if (skip) return;
    stack = await startStack({
      extraArgs: ['--read-timeout', `${READ_TIMEOUT_MS}ms`, '--max-connections-per-ip', '600'],
    });
    port = new URL(stack.baseUrl).port;
    const user = stack.newUser('edge');
    await user.login();
    token = user.sessionToken();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('500 slowloris connections: others are answered in under a second; they are cut off',
      { skip, timeout: 60_000 }, async () => {
        const silent = [];
        const trickling = [];
        for (let i = 0; i < 250; i++) silent.push(await connect(port));
        for (let i = 0; i < 250; i++) {
          const s = await connect(port);
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
          trickling.push(s);
        }
        const trickle = setInterval(() => {
          for (const s of trickling) if (s.closedAt === null) s.write('a');
        }, 200);
        try {
          const started = Date.now();
          const worst = [];
          for (let i = 0; i < 10; i++) {
            const t0 = Date.now();
            const health = await api(stack, 'GET', '/healthz');
            const who = await api(stack, 'GET', '/v1/auth/whoami', { token });
            worst.push(Date.now() - t0);
            assert.equal(health.status, 200);
            assert.equal(who.status, 200, JSON.stringify(who.body));
          }
          assert.ok(Math.max(...worst) < 1000, `slowest answer pair took ${Math.max(...worst)} ms`);
          // The read timeout closes both kinds: a request must be complete within it.
          const deadline = started + READ_TIMEOUT_MS + 5000;
          const all = [...silent, ...trickling];
          while (Date.now() < deadline && all.some((s) => s.closedAt === null)) await sleep(100);
          const open = all.filter((s) => s.closedAt === null).length;
          assert.equal(open, 0, `${open} slow connections still open after the read timeout`);
          for (const s of trickling) assert.equal(statusOf(s.data), 0, 'no answer to a slow request');
        } finally {
          clearInterval(trickle);
          for (const s of [...silent, ...trickling]) s.destroy();
        }
        assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
      });

  test('a 10 MiB body is 413', { skip }, async () => {
    const s = await connect(port);
    s.write(`POST /v1/organizations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n');
    // The first MiB of it: the server answers from the announced length and then drains a
    // bounded amount, so the client need not (and a real one would not) push all 10 MiB.
    s.write(Buffer.alloc(1024 * 1024, 0x20));
    const deadline = Date.now() + 5000;
    while (!s.data.includes('\r\n\r\n') && Date.now() < deadline) await sleep(20);
    s.destroy();
    assert.equal(statusOf(s.data), 413, s.data.slice(0, 200));
    assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
  });

  test('oversized headers and too many header fields are 431', { skip }, async () => {
    const big = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(statusOf(big), 431, big.slice(0, 200));
    let many = 'GET /healthz HTTP/1.1\r\nHost: x\r\n';
    for (let i = 0; i < 200; i++) many += `X-H${i}: v\r\n`;
    const manyReply = await exchange(port, `${many}\r\n`);
    assert.equal(statusOf(manyReply), 431, manyReply.slice(0, 200));
    assert.match(manyReply, /headers_too_large/);
    assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
  });

  test('malformed requests and bad chunked encoding are 400', { skip }, async () => {
    const garbage = await exchange(port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.equal(statusOf(garbage), 400, garbage.slice(0, 200));
    const badVersion = await exchange(port, 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n');
    assert.equal(statusOf(badVersion), 400, badVersion.slice(0, 200));
    const badChunk = await exchange(port, 'POST /v1/organizations HTTP/1.1\r\nHost: x\r\n' +
        `Authorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n`);
    assert.equal(statusOf(badChunk), 400, badChunk.slice(0, 200));
    const both = await exchange(port, 'POST /v1/organizations HTTP/1.1\r\nHost: x\r\n' +
        'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.ok([400, 401].includes(statusOf(both)), both.slice(0, 200));
    // Nothing was created by any of them.
    const list = await api(stack, 'GET', '/v1/organizations', { token });
    assert.equal(list.status, 200);
    assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
  });

  test('pipelined requests are answered in order on one connection', { skip }, async () => {
    const s = await connect(port);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n' +
        'DELETE /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n' +
        'GET /readyz HTTP/1.1\r\nHost: x\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n');
    const deadline = Date.now() + 5000;
    while (s.closedAt === null && Date.now() < deadline) await sleep(20);
    s.destroy();
    const ids = [...s.data.matchAll(/X-Request-Id: (\w+)/gi)].map((m) => m[1]);
    assert.deepEqual(ids, ['first', 'second', 'third'], s.data);
    const statuses = [...s.data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.equal(statuses[0], 200);
    assert.equal(statuses[2], 200);
    assert.equal(statuses[1], 405);
  });
});

describe('per-address connection limit', () => {
  let stack;
  let port;
  before(async () => {
    if (skip) return;
    stack = await startStack({ extraArgs: ['--max-connections-per-ip', '20'] });
    port = new URL(stack.baseUrl).port;
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a client over its limit is refused fast while another address is served', { skip },
      async () => {
        const held = [];
        for (let i = 0; i < 20; i++) held.push(await connect(port, '127.0.0.3'));
        try {
          // Refused with a reset: either the connect itself fails or the socket closes at once.
          const t0 = Date.now();
          let closedAt;
          try {
            const over = await connect(port, '127.0.0.3');
            while (over.closedAt === null && Date.now() - t0 < 2000) await sleep(10);
            closedAt = over.closedAt;
          } catch (e) {
            assert.equal(e.code, 'ECONNRESET', String(e));
            closedAt = Date.now();
          }
          assert.ok(closedAt, 'the 21st connection from one address was kept');
          assert.ok(closedAt - t0 < 1000, `refused after ${closedAt - t0} ms`);
          // 127.0.0.1 (the harness) is a different address: still served.
          assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
          const metrics = await api(stack, 'GET', '/metrics');
          assert.match(String(metrics.body),
              /chainloop_http_connections_rejected_total\{limit="max_connections_per_ip"\} [1-9]/);
        } finally {
          for (const s of held) s.destroy();
        }
        // Once they are closed, the address may connect again.
        await sleep(200);
        const again = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        assert.equal(statusOf(again), 200);
      });
});
