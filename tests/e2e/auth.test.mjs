// End to end: logging in (browser and device flow), logging out, and session expiry, with the
// real CLI, control plane and development IdP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, show, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();

describe('auth', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('browser login, then auth status shows the email', { skip }, async () => {
    const alice = stack.newUser('alice');
    const status0 = await alice.run(['auth', 'status']);
    assert.notEqual(status0.code, 0, `status before login must fail\n${show(status0)}`);

    await alice.login();
    const status = await alice.run(['auth', 'status']);
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout + status.stderr, /alice@example\.com/);
    assert.match(alice.sessionToken() ?? '', /^clses_/, 'config file holds a session token');

    const who = await api(stack, 'GET', '/v1/auth/whoami', { token: alice.sessionToken() });
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.principal.kind, 'user');
    assert.equal(who.body.principal.email, 'alice@example.com');
    assert.ok(who.body.session?.expires_at, 'whoami reports the session expiry');
  });

  test('device-flow login (--skip-browser) works', { skip }, async () => {
    const dave = stack.newUser('dave');
    const r = await dave.deviceLogin();
    assert.match(r.match[2], /\S/, 'a user code is shown');
    const status = await dave.run(['auth', 'status']);
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout + status.stderr, /dave@example\.com/);
  });

  test('logout revokes the session; the CLI asks to log in again', { skip }, async () => {
    const lou = stack.newUser('lou');
    await lou.login();
    const token = lou.sessionToken();
    assert.ok(token, 'token stored after login');
    assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token })).status, 200);

    const out = await lou.run(['auth', 'logout']);
    assert.equal(out.code, 0, show(out));

    const who = await api(stack, 'GET', '/v1/auth/whoami', { token });
    assert.equal(who.status, 401, JSON.stringify(who.body));
    assert.equal(who.body?.error?.code, 'session_revoked');
    assert.match(who.headers.get('www-authenticate') ?? '', /^Bearer/);

    const status = await lou.run(['auth', 'status']);
    assert.notEqual(status.code, 0, show(status));
    assert.match(status.stderr, /chainloop auth login/, show(status));
  });

  test('an unknown token is refused with 401', { skip }, async () => {
    const who = await api(stack, 'GET', '/v1/auth/whoami', {
      token: 'clses_thisisnotarealtokenatallthisisnotarealtoken0000000',
    });
    assert.equal(who.status, 401);
    assert.match(who.body?.error?.code ?? '', /^(invalid_token|malformed_token)$/);
  });
});

describe('session expiry', () => {
  let stack;
  before(async () => {
    if (skip) return;
    stack = await startStack({ sessionLifetime: '3s' });
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a session past its lifetime is refused and the CLI says to log in', { skip }, async () => {
    const eve = stack.newUser('eve');
    await eve.login();
    const fresh = await eve.run(['auth', 'status']);
    assert.equal(fresh.code, 0, show(fresh));

    await sleep(4000);
    const who = await api(stack, 'GET', '/v1/auth/whoami', { token: eve.sessionToken() });
    assert.equal(who.status, 401, JSON.stringify(who.body));
    assert.equal(who.body?.error?.code, 'session_expired');

    const status = await eve.run(['auth', 'status']);
    assert.notEqual(status.code, 0, show(status));
    assert.match(status.stderr, /chainloop auth login/, show(status));
  });
});
