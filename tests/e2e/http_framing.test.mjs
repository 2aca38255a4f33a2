// End to end: HTTP/1.1 message framing at the edge of the real server, over raw sockets. Each
// case is one request (often with another request hidden in its body) and the expected status;
// a case that must close the connection checks that nothing else is answered on it (a smuggled
// request would be), and a case that keeps it open sends a follow-up request on the same socket
// and checks that the next answer is that one. See http/server_test.cc for the unit-level table.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite({ needDriver: false });

// A raw connection that parses answers as they come (status line, headers, Content-Length body).
class RawConnection {
  static open(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const conn = new RawConnection(socket);
      socket.once('connect', () => resolve(conn));
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.data = Buffer.alloc(0);
    this.closed = false;
    socket.setNoDelay(true);
    socket.on('data', (d) => { this.data = Buffer.concat([this.data, d]); });
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; });
  }

  send(bytes) {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  // The next answer: {status, headers (lower-case names), body}, or null after `ms`.
  async readAnswer(ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.data.indexOf('\r\n\r\n');
      if (end >= 0) {
        const lines = this.data.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
        const headers = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (this.data.length >= end + 4 + length) {
          const body = this.data.subarray(end + 4, end + 4 + length).toString('latin1');
          this.data = this.data.subarray(end + 4 + length);
          return { status, headers, body };
        }
      }
      if (this.closed || Date.now() > deadline) return null;
      await sleep(5);
    }
  }

  // Whatever else arrives until the server closes (or `ms` pass): {closed, rest}.
  async restUntilClosed(ms = 5000) {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await sleep(10);
    return { closed: this.closed, rest: this.data.toString('latin1') };
  }

  destroy() {
    this.socket.destroy();
  }
}

// A request that must never run: it hides in the body of another one.
const SMUGGLED = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
// POST /v1/auth/token with an unknown field: its handler answers 400 unknown_field, which
// proves the body reached it intact, and nothing is created or counted as a failed login.
const TOKEN_PATH = '/v1/auth/token';
const TOKEN_BODY = '{"code":"c","code_verifier":"v","bogus":1}';

function post(path, headers, body, version = 'HTTP/1.1') {
  return `POST ${path} ${version}\r\nHost: x\r\n${headers}\r\n${body}`;
}
const length = (body) => `Content-Length: ${Buffer.byteLength(body)}\r\n`;
const chunked = (body) => `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;

// {name, request, status, closes, afterContinue?, code?}: `code` is the JSON error code of the
// answer (unknown_field: the handler saw the body; bad_request: the framing was refused).
const CASES = [
  // Transfer-Encoding and Content-Length.
  { name: 'chunked body reaches the handler',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n', chunked(TOKEN_BODY)),
    status: 400, code: 'unknown_field', closes: false },
  { name: 'the reported case: TE chunked, identity on /v1/auth/device',
    request: post('/v1/auth/device', 'Transfer-Encoding: chunked, identity\r\n',
        'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n'),
    status: 400, code: 'bad_request', closes: true },
  { name: 'TE xchunked with Content-Length',
    request: post(TOKEN_PATH, `Transfer-Encoding: xchunked\r\n${length(`0\r\n\r\n${SMUGGLED}`)}`,
        `0\r\n\r\n${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'TE gzip', request: post(TOKEN_PATH, 'Transfer-Encoding: gzip\r\n', SMUGGLED),
    status: 400, closes: true },
  { name: 'TE gzip, chunked',
    request: post(TOKEN_PATH, 'Transfer-Encoding: gzip, chunked\r\n', chunked('{}') + SMUGGLED),
    status: 501, code: 'not_implemented', closes: true },
  { name: 'two TE fields ending in identity',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n',
        SMUGGLED),
    status: 400, closes: true },
  { name: 'TE chunked and Content-Length',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\nContent-Length: 40\r\n',
        `0\r\n\r\n${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'Content-Length and TE chunked',
    request: post(TOKEN_PATH, 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
        `0\r\n\r\n${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'TE in HTTP/1.0',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n', chunked('{}') + SMUGGLED,
        'HTTP/1.0'),
    status: 400, closes: true },
  { name: 'two equal Content-Lengths',
    request: post(TOKEN_PATH, 'Content-Length: 2\r\nContent-Length: 2\r\n', `{}${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'two differing Content-Lengths',
    request: post(TOKEN_PATH, 'Content-Length: 2\r\nContent-Length: 36\r\n', `{}${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'comma-joined Content-Length',
    request: post(TOKEN_PATH, 'Content-Length: 2, 2\r\n', `{}${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'Content-Length with a sign',
    request: post(TOKEN_PATH, 'Content-Length: +2\r\n', `{}${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'Content-Length with an inner space',
    request: post(TOKEN_PATH, 'Content-Length: 3 6\r\n', `{}${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'Content-Length overflowing 64 bits',
    request: post(TOKEN_PATH, 'Content-Length: 99999999999999999999\r\n', SMUGGLED),
    status: 400, closes: true },
  // Header syntax.
  { name: 'obs-fold',
    request: post(TOKEN_PATH, `X-A: a\r\n b\r\n${length('{}')}`, `{}${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'space before the colon (Transfer-Encoding : chunked)',
    request: post(TOKEN_PATH, 'Content-Length: 5\r\nTransfer-Encoding : chunked\r\n',
        `0\r\n\r\n${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'bare LF line endings',
    request: `GET /healthz HTTP/1.1\nHost: x\n\n${SMUGGLED}`, status: 400, closes: true },
  { name: 'bare CR in a field value',
    request: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n${SMUGGLED}`,
    status: 400, closes: true },
  // Chunked bodies.
  { name: 'bad chunk size',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n', `zz\r\n{}\r\n0\r\n\r\n${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'chunk size overflowing 64 bits',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n',
        `10000000000000002\r\n{}\r\n0\r\n\r\n${SMUGGLED}`),
    status: 400, closes: true },
  { name: 'chunk extensions are tolerated',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n',
        `${TOKEN_BODY.length.toString(16)};a=b;c="d e"\r\n${TOKEN_BODY}\r\n0;last\r\n\r\n`),
    status: 400, code: 'unknown_field', closes: false },
  { name: 'a chunk extension too long',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n',
        `2;x=${'e'.repeat(40_000)}\r\n{}\r\n0\r\n\r\n`),
    status: 400, closes: true },
  { name: 'trailer fields are accepted',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n',
        `${TOKEN_BODY.length.toString(16)}\r\n${TOKEN_BODY}\r\n0\r\nX-Trailer: t\r\n\r\n`),
    status: 400, code: 'unknown_field', closes: false },
  { name: 'a trailer section too long',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n',
        `2\r\n{}\r\n0\r\nX-T: ${'t'.repeat(40_000)}\r\n\r\n`),
    status: 400, closes: true },
  { name: 'a chunk over the route limit (64 KiB)',
    request: post(TOKEN_PATH, 'Transfer-Encoding: chunked\r\n', '20000\r\n{}'),
    status: 413, closes: true },
  // Persistence.
  { name: 'HTTP/1.0 closes by default',
    request: `GET /healthz HTTP/1.0\r\n\r\n${SMUGGLED}`, status: 200, closes: true },
  { name: 'HTTP/1.0 with Connection: keep-alive stays open',
    request: 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', status: 200, closes: false },
  { name: 'Content-Length body, then the next request',
    request: post(TOKEN_PATH, length(TOKEN_BODY), TOKEN_BODY),
    status: 400, code: 'unknown_field', closes: false },
  // Expect: 100-continue.
  { name: 'Expect: 100-continue gets 100, then the answer',
    request: post(TOKEN_PATH, `Expect: 100-continue\r\n${length(TOKEN_BODY)}`, ''),
    afterContinue: TOKEN_BODY, status: 400, code: 'unknown_field', closes: false },
  { name: 'Expect: 100-continue over the route limit is 413 without 100',
    request: post(TOKEN_PATH, 'Expect: 100-continue\r\nContent-Length: 200000\r\n', ''),
    status: 413, closes: true },
  { name: 'Expect: 100-continue on an unknown route is 404 without 100',
    request: post('/v1/no-such-route', `Expect: 100-continue\r\n${length('{}')}`, ''),
    status: 404, closes: true },
  { name: 'Expect: 100-continue for a large route is 413 over max_body_bytes',
    request: post('/v1/organizations/o/workflow-runs/r/attestation',
        'Expect: 100-continue\r\nContent-Length: 2000000\r\n', ''),
    status: 413, closes: true },
];

describe('HTTP framing', () => {
  let stack;
  let port;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    port = Number(new URL(stack.baseUrl).port);
  });
  after(async () => {
    await stack?.cleanup();
  });

  test(`conformance table (${CASES.length} cases)`, { skip, timeout: 120_000 }, async () => {
    assert.ok(CASES.length >= 25);
    for (const c of CASES) {
      const conn = await RawConnection.open(port);
      try {
        conn.send(c.request);
        let answer = await conn.readAnswer();
        assert.ok(answer, `${c.name}: no answer`);
        if (c.afterContinue !== undefined) {
          assert.equal(answer.status, 100, `${c.name}: expected 100 Continue first`);
          conn.send(c.afterContinue);
          answer = await conn.readAnswer();
          assert.ok(answer, `${c.name}: no final answer`);
        }
        assert.equal(answer.status, c.status, `${c.name}: ${answer.body}`);
        if (c.code) {
          assert.equal(JSON.parse(answer.body).error?.code, c.code, `${c.name}: ${answer.body}`);
        }
        if (c.closes) {
          assert.notEqual(answer.headers.connection, 'keep-alive', c.name);
          const { closed, rest } = await conn.restUntilClosed();
          assert.ok(closed, `${c.name}: the connection stayed open`);
          assert.equal(rest, '', `${c.name}: something else was answered: ${rest.slice(0, 200)}`);
        } else {
          conn.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
          const next = await conn.readAnswer();
          assert.ok(next, `${c.name}: no answer to the follow-up request`);
          assert.equal(next.status, 200, c.name);
          assert.equal(next.body, '{"status":"ok"}', c.name);
        }
      } finally {
        conn.destroy();
      }
    }
    assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
  });
});
