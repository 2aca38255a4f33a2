// End to end: hostile or broken input at the HTTP edge is answered with the documented 4xx
// errors and never takes the server down.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, startStack } from './harness.mjs';

const skip = missingPrerequisite();

// Sends `size` bytes as a JSON body with a raw request so that an early 413 (the server may stop
// reading and close) is still observed. Resolves with the status code.
function postLarge(baseUrl, path, token, size) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const req = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(size),
        authorization: `Bearer ${token}`,
      },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < size && !answered) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('HTTP edge', () => {
  let stack;
  let token;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    const user = stack.newUser('edge');
    await user.login();
    token = user.sessionToken();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('callback with an unknown state is a 400 and the server stays up', { skip }, async () => {
    const r = await api(stack, 'GET', '/auth/callback?code=bogus&state=not-a-state-we-issued');
    assert.equal(r.status, 400);
    assert.doesNotMatch(String(r.body), /bogus/, 'the code is not echoed back');
    const missing = await api(stack, 'GET', '/auth/callback');
    assert.equal(missing.status, 400);
    const err = await api(stack, 'GET', '/auth/callback?error=access_denied&state=x');
    assert.equal(err.status, 400);
    assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
    assert.equal((await api(stack, 'GET', '/readyz')).status, 200);
  });

  test('login refuses a non-loopback redirect_uri', { skip }, async () => {
    const r = await api(stack, 'GET', '/auth/login?redirect_uri=' +
        encodeURIComponent('https://evil.example/callback') +
        '&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' +
        '&code_challenge_method=S256');
    assert.equal(r.status, 400);
  });

  test('malformed JSON is 400 malformed_json', { skip }, async () => {
    const r = await api(stack, 'POST', '/v1/organizations', { token, rawBody: '{"name": "x"' });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body?.error?.code, 'malformed_json');
  });

  test('an unknown field is 400 unknown_field', { skip }, async () => {
    const r = await api(stack, 'POST', '/v1/organizations', {
      token,
      body: { name: 'unknownfield', colour: 'blue' },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body?.error?.code, 'unknown_field');
    // Nothing was created.
    const list = await api(stack, 'GET', '/v1/organizations', { token });
    assert.equal(list.status, 200);
    assert.ok(!JSON.stringify(list.body).includes('unknownfield'));
  });

  test('a wrong field type is 400 invalid_field_type', { skip }, async () => {
    const r = await api(stack, 'POST', '/v1/organizations', { token, body: { name: 42 } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body?.error?.code, 'invalid_field_type');
  });

  test('a 2 MiB body is 413 and the server stays up', { skip }, async () => {
    const status = await postLarge(stack.baseUrl, '/v1/organizations', token, 2 * 1024 * 1024);
    assert.equal(status, 413);
    assert.equal((await api(stack, 'GET', '/healthz')).status, 200);
  });

  test('no credential is 401 unauthenticated with WWW-Authenticate', { skip }, async () => {
    const r = await api(stack, 'GET', '/v1/organizations');
    assert.equal(r.status, 401);
    assert.equal(r.body?.error?.code, 'unauthenticated');
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
  });

  test('unknown route is 404 not_found; wrong method is 405', { skip }, async () => {
    const r = await api(stack, 'GET', '/v1/no-such-route', { token });
    assert.equal(r.status, 404);
    assert.equal(r.body?.error?.code, 'not_found');
    const m = await api(stack, 'DELETE', '/healthz');
    assert.equal(m.status, 405);
  });

  test('secrets never appear in the server log', { skip }, async () => {
    assert.ok(!stack.server.logs().includes(token), 'session token logged');
    assert.ok(!stack.server.logs().includes('dev-secret'), 'client secret logged');
  });
});
