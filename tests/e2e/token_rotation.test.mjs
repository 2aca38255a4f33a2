// End to end: API token rotation through the CLI and the API, and last-used details. A token
// rotated with a grace period keeps working on every instance until its deadline and is refused
// from then on, before and after the background job records the revocation; a CI token rotates
// itself with its own credential; `api-token list --wide` shows where a token was last used from.
// Two instances on PostgreSQL (CL_E2E_DATABASE=postgres); one instance on SQLite.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, recordSecret, show, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'rotation-org';
const TOKEN_RE = /^clapi_[A-Za-z0-9]{49}$/;
const GRACE_SECONDS = 3;

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

describe('API token rotation', () => {
  const postgres = process.env.CL_E2E_DATABASE === 'postgres';
  let stack;
  let owner;
  let b; // a second instance (PostgreSQL), else the same one
  before(async () => {
    if (skip) return;
    // A long cache re-validation bound: an instance can only learn of the rotation from the
    // database's announcement or from the deadline it cached.
    stack = await startStack({ extraArgs: ['--auth-cache-revalidate', '1h',
      '--token-revoker-interval', '1s', '--usage-flush-interval', '1s',
      '--api-token-create-per-minute', '0'] });
    owner = stack.newUser('rowan.rotator');
    await owner.login();
    ok(await owner.run(['organization', 'create', '--name', ORG]));
    ok(await owner.run(['organization', 'set', '--name', ORG]));
    b = postgres ? await stack.startInstance() : { baseUrl: stack.baseUrl };
  });
  after(async () => {
    await stack?.cleanup();
  });

  const whoami = (token, baseUrl) => api(stack, 'GET', '/v1/auth/whoami', { token, baseUrl });

  test('the old token works on every instance until its deadline, then is refused',
      { skip }, async (t) => {
    const created = JSON.parse(ok(await owner.run(['organization', 'api-token', 'create',
      '--name', 'ci', '--expiration', '720h', '-o', 'json'])).stdout);
    const old = created.token;
    // Both instances cache the old token.
    assert.equal((await whoami(old, stack.baseUrl)).status, 200);
    assert.equal((await whoami(old, b.baseUrl)).status, 200);

    const r = ok(await owner.run(['organization', 'api-token', 'rotate', '--id',
      created.api_token.id, '--grace', `${GRACE_SECONDS}s`, '-o', 'json']));
    const rotatedAt = Date.now();
    const body = JSON.parse(r.stdout);
    recordSecret(stack, body.token, 'rotated API token');
    assert.match(body.token, TOKEN_RE);
    assert.equal(body.api_token.name, 'ci');
    assert.equal(body.rotated.rotated_to, body.api_token.id);
    // Times are whole seconds: the deadline is at most 1 s after the one shown.
    const deadline = Date.parse(body.rotated.rotation_deadline);
    // 720 h from now, not from the old token's creation.
    const expires = Date.parse(body.api_token.expires_at);
    assert.ok(Math.abs(expires - (Date.now() + 720 * 3600_000)) < 60_000, body.api_token.expires_at);

    // Within the grace period both tokens work everywhere.
    for (const url of [stack.baseUrl, b.baseUrl]) {
      assert.equal((await whoami(old, url)).status, 200);
      assert.equal((await whoami(body.token, url)).status, 200);
    }
    // From the deadline on the old one is refused by both instances.
    await sleep(Math.max(0, deadline + 1000 - Date.now()) + 50);
    for (const url of [stack.baseUrl, b.baseUrl]) {
      const late = await whoami(old, url);
      assert.equal(late.status, 401, JSON.stringify(late.body));
      assert.equal(late.body.error.code, 'token_revoked');
      assert.equal((await whoami(body.token, url)).status, 200);
    }
    t.diagnostic(`old token refused ${Date.now() - rotatedAt} ms after the rotation`);
    // The job records the revocation: reason rotated, revoked_at = the deadline.
    let listed;
    for (let i = 0; i < 50; i++) {
      const l = await api(stack, 'GET', `/v1/organizations/${ORG}/api-tokens?status=revoked`,
          { token: owner.sessionToken() });
      listed = l.body.api_tokens.find((x) => x.id === created.api_token.id);
      if (listed) break;
      await sleep(100);
    }
    assert.ok(listed, 'the old token is listed as revoked');
    assert.equal(listed.revocation_reason, 'rotated');
    assert.equal(listed.revoked_at, body.rotated.rotation_deadline);
    const events = await api(stack, 'GET', `/v1/organizations/${ORG}/audit-events`,
        { token: owner.sessionToken() });
    const rotatedEvent = events.body.audit_events.find((e) => e.action === 'api_token.rotated');
    assert.ok(rotatedEvent, JSON.stringify(events.body));
    assert.match(rotatedEvent.message, new RegExp(body.api_token.id));
  });

  test('a CI token rotates itself; rotating it again or a revoked one is refused', { skip },
      async () => {
    const created = JSON.parse(ok(await owner.run(['organization', 'api-token', 'create',
      '--name', 'self', '--permission', 'api_token:create,api_token:revoke,api_token:read',
      '-o', 'json'])).stdout);
    const path = `/v1/organizations/${ORG}/api-tokens/${created.api_token.id}/rotate`;
    const r = await api(stack, 'POST', path, { token: created.token, body: {} });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    recordSecret(stack, r.body.token, 'rotated API token');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal((await whoami(created.token, stack.baseUrl)).status, 401);
    // The replacement may not rotate its (organization-scoped) predecessor; the owner may not
    // rotate it again either: it is revoked and rotated.
    const byNew = await api(stack, 'POST', path, { token: r.body.token, body: {} });
    assert.equal(byNew.status, 403, JSON.stringify(byNew.body));
    const again = await api(stack, 'POST', path, { token: owner.sessionToken(), body: {} });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.error.code, 'failed_precondition');
  });

  test('api-token list --wide shows the last address and User-Agent', { skip }, async () => {
    const created = JSON.parse(ok(await owner.run(['organization', 'api-token', 'create',
      '--name', 'wide', '-o', 'json'])).stdout);
    const used = await api(stack, 'GET', '/v1/auth/whoami',
        { token: created.token, headers: { 'user-agent': 'e2e-runner/1.0 (rotation)' } });
    assert.equal(used.status, 200);
    let row;
    for (let i = 0; i < 60; i++) {
      const l = await api(stack, 'GET', `/v1/organizations/${ORG}/api-tokens`,
          { token: owner.sessionToken() });
      row = l.body.api_tokens.find((x) => x.id === created.api_token.id);
      if (row?.last_used_from) break;
      await sleep(250);
    }
    assert.deepEqual(row.last_used_from,
        { address: '127.0.0.1', user_agent: 'e2e-runner/1.0 (rotation)' });
    const wide = ok(await owner.run(['organization', 'api-token', 'list', '--wide']));
    assert.match(wide.stdout, /LAST USED FROM/);
    assert.match(wide.stdout, /e2e-runner\/1\.0 \(rotation\)/);
  });
});
