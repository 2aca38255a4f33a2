// End to end: cursor pagination of the list endpoints and the audit log's filters, on the real
// server and database (SQLite, or PostgreSQL with CL_E2E_DATABASE=postgres). 250 API tokens read
// 7 at a time: every token exactly once, newest first, even with tokens created between pages;
// bad limits and cursors are 400; the audit log filtered by action, actor, target and time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'pages-org';
const TOKENS = 250;

// Follows next_cursor from the first page of `path` (which may hold a query) with `limit`, or
// from the page after `start` (a cursor). Returns {items, pages}; checks each page on the way.
async function follow(stack, token, path, key, limit, start = null) {
  const items = [];
  let pages = 0;
  let cursor = start;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const target = `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const r = await api(stack, 'GET', target, { token });
    assert.equal(r.status, 200, `${target}: ${JSON.stringify(r.body)}`);
    assert.ok(Array.isArray(r.body[key]), target);
    assert.ok(r.body[key].length <= limit, target);
    assert.ok('next_cursor' in r.body, target);
    items.push(...r.body[key]);
    pages += 1;
    if (r.body.next_cursor === null) break;
    assert.equal(typeof r.body.next_cursor, 'string');
    assert.equal(r.body[key].length, limit, `a short page before the end of ${path}`);
    cursor = r.body.next_cursor;
    assert.ok(pages < 1000, 'next_cursor never ends');
  }
  return { items, pages };
}

// created_at is shown to the second; the order within a second is the milliseconds', then ids'.
function assertNewestFirst(items) {
  for (let i = 1; i < items.length; i += 1) {
    assert.ok(items[i - 1].created_at >= items[i].created_at,
        `${JSON.stringify(items[i - 1])} before ${JSON.stringify(items[i])}`);
  }
}

describe('pagination', () => {
  let stack;
  let token;
  const tokenIds = [];

  before(async () => {
    if (skip) return;
    stack = await startStack({ extraArgs: ['--api-token-create-per-minute', '0'] });
    const owner = stack.newUser('paula');
    await owner.login();
    token = owner.sessionToken();
    const created = await api(stack, 'POST', '/v1/organizations', { token, body: { name: ORG } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (let i = 0; i < TOKENS; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, j) =>
        api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
            { token, body: { name: `tok-${i + j}` } })));
      for (const r of batch) {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        tokenIds.push(r.body.api_token.id);
      }
    }
  });

  after(async () => {
    await stack?.cleanup();
  });

  test('250 API tokens, 7 per page: each exactly once, newest first', { skip }, async () => {
    const path = `/v1/organizations/${ORG}/api-tokens`;
    const first = await api(stack, 'GET', `${path}?limit=7`, { token });
    assert.equal(first.status, 200);
    assert.equal(first.body.api_tokens.length, 7);
    // Created between pages: newer than every page already read, so it is not in later ones.
    const late = await api(stack, 'POST', path, { token, body: { name: 'late' } });
    assert.equal(late.status, 201);
    const rest = await follow(stack, token, path, 'api_tokens', 7, first.body.next_cursor);
    const seen = [...first.body.api_tokens, ...rest.items];
    const ids = seen.map((t) => t.id);
    assert.equal(new Set(ids).size, ids.length, 'a token was listed twice');
    assert.deepEqual([...ids].sort(), [...tokenIds].sort());
    assert.ok(!ids.includes(late.body.api_token.id));
    assertNewestFirst(seen);
    assert.equal(rest.pages + 1, Math.ceil(TOKENS / 7));

    // From the start again, the late token comes first; the default page is 100.
    const all = await follow(stack, token, path, 'api_tokens', 1000);
    assert.equal(all.items.length, TOKENS + 1);
    assert.equal(all.items[0].id, late.body.api_token.id);
    const dflt = await api(stack, 'GET', path, { token });
    assert.equal(dflt.body.api_tokens.length, 100);
    assert.equal(typeof dflt.body.next_cursor, 'string');
  });

  test('bad limits and cursors are 400', { skip }, async () => {
    const tokens = `/v1/organizations/${ORG}/api-tokens`;
    for (const limit of ['0', '1001', 'abc', '-5', '']) {
      const r = await api(stack, 'GET', `${tokens}?limit=${limit}`, { token });
      assert.equal(r.status, 400, `limit=${limit}`);
      assert.equal(r.body.error.code, 'invalid_argument');
      assert.equal(r.body.error.message, 'limit must be an integer from 1 to 1000');
    }
    const page = await api(stack, 'GET', `${tokens}?limit=1`, { token });
    const cursor = page.body.next_cursor;
    for (const bad of ['nonsense!', 'A'.repeat(1025), `${cursor}x`, cursor.slice(0, -2)]) {
      const r = await api(stack, 'GET', `${tokens}?cursor=${encodeURIComponent(bad)}`, { token });
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'invalid_cursor');
    }
    // A cursor of the API tokens is no cursor of the audit log (same key shape) or the projects.
    for (const other of ['audit-events', 'projects', 'workflow-runs']) {
      const r = await api(stack, 'GET', `/v1/organizations/${ORG}/${other}?cursor=${cursor}`,
          { token });
      assert.equal(r.status, 400, other);
      assert.equal(r.body.error.code, 'invalid_cursor', other);
    }
  });

  test('small lists: one page, next_cursor null; projects by name', { skip }, async () => {
    for (const name of ['zulu', 'alpha', 'mike', 'bravo', 'kilo']) {
      const r = await api(stack, 'POST', `/v1/organizations/${ORG}/projects`,
          { token, body: { name } });
      assert.equal(r.status, 201);
    }
    const projects = await follow(stack, token, `/v1/organizations/${ORG}/projects`,
        'projects', 2);
    assert.deepEqual(projects.items.map((p) => p.name), ['alpha', 'bravo', 'kilo', 'mike', 'zulu']);
    assert.equal(projects.pages, 3);
    for (const [path, key] of [
      ['/v1/organizations', 'organizations'],
      [`/v1/organizations/${ORG}/members`, 'members'],
      [`/v1/organizations/${ORG}/invitations`, 'invitations'],
      [`/v1/organizations/${ORG}/workflows`, 'workflows'],
      [`/v1/organizations/${ORG}/workflow-runs`, 'workflow_runs'],
    ]) {
      const r = await api(stack, 'GET', path, { token });
      assert.equal(r.status, 200, path);
      assert.ok(Array.isArray(r.body[key]), path);
      assert.equal(r.body.next_cursor, null, path);
    }
  });

  test('audit log filters: action, actor, target, since and until', { skip }, async () => {
    const events = `/v1/organizations/${ORG}/audit-events`;
    const target = tokenIds[42];
    await sleep(1100); // created_at has whole seconds: the revocation gets a later one
    const revoked = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens/${target}/revoke`,
        { token, body: {} });
    assert.equal(revoked.status, 200);

    const creations = await follow(stack, token, `${events}?action=api_token.created`,
        'audit_events', 7);
    assert.equal(creations.items.length, TOKENS + 1); // with the late one
    assert.ok(creations.items.every((e) => e.action === 'api_token.created'));
    assert.equal(new Set(creations.items.map((e) => e.id)).size, creations.items.length);
    assertNewestFirst(creations.items);

    const about = await follow(stack, token, `${events}?target_id=${target}`, 'audit_events', 1);
    assert.deepEqual(about.items.map((e) => e.action), ['api_token.revoked', 'api_token.created']);
    const revocation = about.items[0];

    const actor = revocation.actor_name;
    const byName = await follow(stack, token,
        `${events}?actor=${encodeURIComponent(actor)}&action=api_token.revoked`, 'audit_events', 5);
    assert.deepEqual(byName.items.map((e) => e.id), [revocation.id]);
    const byId = await follow(stack, token,
        `${events}?actor=${revocation.actor_id}&target_id=${target}`, 'audit_events', 5);
    assert.equal(byId.items.length, 2);
    const nobody = await api(stack, 'GET', `${events}?actor=nobody`, { token });
    assert.deepEqual(nobody.body.audit_events, []);

    // since <= created_at < until, RFC 3339 with an offset too.
    const at = revocation.created_at;
    const since = await follow(stack, token, `${events}?since=${at}&target_id=${target}`,
        'audit_events', 5);
    assert.deepEqual(since.items.map((e) => e.id), [revocation.id]);
    const until = await follow(stack, token, `${events}?until=${at}&target_id=${target}`,
        'audit_events', 5);
    assert.deepEqual(until.items.map((e) => e.action), ['api_token.created']);
    const plusTwo = new Date(Date.parse(at) + 2 * 3600_000).toISOString()
        .replace(/\.\d+Z$/, '+02:00');
    const offset = await api(stack, 'GET',
        `${events}?since=${encodeURIComponent(plusTwo)}&target_id=${target}`, { token });
    assert.equal(offset.status, 200, JSON.stringify(offset.body));
    assert.deepEqual(offset.body.audit_events.map((e) => e.id), [revocation.id]);

    for (const bad of ['action=api_token.exploded', 'since=yesterday', 'until=2026-02-30T00:00:00Z',
      `since=${at}&until=${at}`]) {
      const r = await api(stack, 'GET', `${events}?${bad}`, { token });
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'invalid_argument', bad);
    }
  });
});
