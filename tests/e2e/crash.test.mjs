// End to end: crash consistency. Four concurrent clients create, use and revoke API tokens while
// the server is killed with SIGKILL at a random moment; after a restart on the same data, every
// token a client saw created still authenticates, every revocation a client saw succeed still
// holds, and the database holds no half-written token and no audit event without its token (or
// token without its audit events). Repeated for several kill/restart cycles; runs on SQLite or
// PostgreSQL like every e2e file (CL_E2E_DATABASE).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, checkSecretHygiene, missingPrerequisite, show, sleep, sql, startStack } from
  './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'crash-org';
const CLIENTS = 4;
const CYCLES = 5;
// The kill comes at a random moment in this window after the clients start.
const KILL_AFTER_MS = [700, 2200];

function randomBetween([lo, hi]) {
  return lo + Math.floor(Math.random() * (hi - lo));
}

function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

// What the clients saw, across all cycles.
function newLedger() {
  return {
    tokens: new Map(), // id -> {token, name}: a 201 with the token was seen
    revoked: new Set(), // ids whose revocation was seen succeed (200)
    revokeInFlight: new Set(), // ids whose revoke request got no answer (server killed)
    createInFlight: new Set(), // names whose create request got no answer
    unexpected: [], // answers a live server should never give
    counts: { created: 0, revoked: 0, used: 0 },
  };
}

// One client: until the server dies, creates a token and uses it, or revokes one of its own
// tokens and checks it is refused at once. A request that fails at the network level (the
// server was killed) ends the loop, leaving its operation "in flight": its outcome is unknown.
async function client(stack, session, ledger, clientNo, cycle) {
  const mine = [];
  for (let n = 0; ; n += 1) {
    const revoke = mine.length > 0 && Math.random() < 0.4;
    try {
      if (revoke) {
        const id = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
        ledger.revokeInFlight.add(id);
        const r = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens/${id}/revoke`,
            { token: session, body: {} });
        if (r.status !== 200) {
          ledger.unexpected.push(`revoke ${id}: ${r.status} ${JSON.stringify(r.body)}`);
          continue;
        }
        ledger.revokeInFlight.delete(id);
        ledger.revoked.add(id);
        ledger.counts.revoked += 1;
        const use = await api(stack, 'GET', '/v1/auth/whoami', { token: ledger.tokens.get(id).token });
        if (use.status !== 401 || use.body?.error?.code !== 'token_revoked') {
          ledger.unexpected.push(`revoked ${id} still works: ${use.status}`);
        }
      } else {
        const name = `c${clientNo}-k${cycle}-${n}`;
        ledger.createInFlight.add(name);
        const r = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
            { token: session, body: { name, description: `crash test client ${clientNo}` } });
        if (r.status !== 201 || typeof r.body?.token !== 'string') {
          ledger.unexpected.push(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
          continue;
        }
        ledger.createInFlight.delete(name);
        const id = r.body.api_token.id;
        ledger.tokens.set(id, { token: r.body.token, name });
        ledger.counts.created += 1;
        mine.push(id);
        const use = await api(stack, 'GET', '/v1/auth/whoami', { token: r.body.token });
        if (use.status !== 200) ledger.unexpected.push(`new token ${name}: ${use.status}`);
        ledger.counts.used += 1;
      }
    } catch {
      return; // the server is gone
    }
  }
}

// api() that retries network errors a few times (a pooled connection to the killed server).
async function call(stack, method, path, opts) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api(stack, method, path, opts);
    } catch (e) {
      if (attempt >= 3) throw e;
      await sleep(100);
    }
  }
}

// Runs `fn` over `items` with at most `limit` calls in flight.
async function forEachLimited(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

// Rows of a '|'-separated query result.
function rows(text, columns) {
  if (!text) return [];
  return text.split('\n').map((line) => {
    const cells = line.split('|');
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
  });
}

// After a restart: what every client saw still holds, over the API and in the database.
async function verify(stack, ledger, problems) {
  // 1. Over the API. A token whose revocation got no answer is either state; settle it now.
  await forEachLimited([...ledger.tokens], 8, async ([id, { token, name }]) => {
    const r = await call(stack, 'GET', '/v1/auth/whoami', { token });
    if (ledger.revoked.has(id)) {
      if (r.status !== 401 || r.body?.error?.code !== 'token_revoked') {
        problems.push(`token ${name} was seen revoked but answers ${r.status} ` +
            JSON.stringify(r.body));
      }
    } else if (ledger.revokeInFlight.has(id)) {
      if (r.status === 200) {
        ledger.revokeInFlight.delete(id);
      } else if (r.status === 401 && r.body?.error?.code === 'token_revoked') {
        ledger.revokeInFlight.delete(id);
        ledger.revoked.add(id);
      } else {
        problems.push(`token ${name} (revoke in flight) answers ${r.status}`);
      }
    } else if (r.status !== 200 || r.body?.principal?.kind !== 'api_token') {
      problems.push(`token ${name} was seen created but answers ${r.status} ` +
          JSON.stringify(r.body));
    }
  });

  // 2. In the database.
  const orgId = sql(stack, `SELECT id FROM organizations WHERE name = '${ORG}'`);
  const tokens = rows(sql(stack,
      'SELECT id, name, token_hash, created_at, revoked_at, revocation_reason, revoked_by_name ' +
      `FROM api_tokens WHERE org_id = '${orgId}'`),
  ['id', 'name', 'hash', 'created', 'revokedAt', 'reason', 'revokedBy']);
  const events = rows(sql(stack,
      "SELECT action, target_id, org_id FROM audit_events WHERE target_kind = 'api_token'"),
  ['action', 'target', 'org']);
  const byId = new Map(tokens.map((t) => [t.id, t]));
  const seenNames = new Set([...ledger.tokens.values()].map((t) => t.name));

  for (const id of ledger.tokens.keys()) {
    if (!byId.has(id)) problems.push(`token ${ledger.tokens.get(id).name} was seen created but has no row`);
  }
  const count = (action, id) => events.filter((e) => e.action === action && e.target === id).length;
  for (const t of tokens) {
    const what = `row ${t.name} (${t.id})`;
    if (!seenNames.has(t.name) && !ledger.createInFlight.has(t.name)) {
      problems.push(`${what}: nobody created it`);
    }
    if (t.hash.length < 32) problems.push(`${what}: no hash`);
    if (!(Number(t.created) > 0)) problems.push(`${what}: no created_at`);
    const revoked = t.revokedAt !== '';
    if (revoked) {
      if (!(Number(t.revokedAt) >= Number(t.created))) problems.push(`${what}: bad revoked_at`);
      if (t.reason !== 'manual') problems.push(`${what}: revoked with reason '${t.reason}'`);
      if (t.revokedBy === '') problems.push(`${what}: revoked by nobody`);
      if (!ledger.revoked.has(t.id) && !ledger.revokeInFlight.has(t.id)) {
        problems.push(`${what}: revoked, but no client revoked it`);
      }
    } else {
      if (t.reason !== '' || t.revokedBy !== '') problems.push(`${what}: half-revoked`);
      if (ledger.revoked.has(t.id)) problems.push(`${what}: a seen revocation was lost`);
    }
    if (count('api_token.created', t.id) !== 1) {
      problems.push(`${what}: ${count('api_token.created', t.id)} 'created' audit events`);
    }
    if (count('api_token.revoked', t.id) !== (revoked ? 1 : 0)) {
      problems.push(`${what}: ${count('api_token.revoked', t.id)} 'revoked' audit events`);
    }
  }
  for (const e of events) {
    if (!byId.has(e.target)) problems.push(`audit event ${e.action} names a missing token ${e.target}`);
    else if (e.org !== orgId) problems.push(`audit event ${e.action} in another organization`);
  }
  if (stack.database.kind === 'sqlite') {
    const integrity = sql(stack, 'PRAGMA integrity_check');
    if (integrity !== 'ok') problems.push(`sqlite integrity_check: ${integrity}`);
  }
  return { rows: tokens.length, revokedRows: tokens.filter((t) => t.revokedAt !== '').length };
}

describe(`crash consistency (${process.env.CL_E2E_DATABASE ?? 'sqlite'})`, () => {
  let stack;
  let session;

  before(async () => {
    if (skip) return;
    // Thousands of token creations and refused (revoked) tokens from one address within
    // seconds: turn off the per-organization creation limit and the failed-auth throttle.
    stack = await startStack({
      extraArgs: ['--api-token-create-per-minute', '0', '--auth-failure-limit', '0'],
    });
    const owner = stack.newUser('kim.crash');
    await owner.login();
    const r = await owner.run(['organization', 'create', '--name', ORG]);
    assert.equal(r.code, 0, show(r));
    session = owner.sessionToken();
    assert.ok(session, 'owner has a session');
  });
  after(async () => {
    await stack?.cleanup();
  });

  test(`kill -9 under concurrent token creation and revocation, ${CYCLES} times`, { skip },
      async (t) => {
        const ledger = newLedger();
        if (stack.database.kind === 'sqlite') {
          assert.equal(sql(stack, 'PRAGMA journal_mode'), 'wal', 'the SQLite file is in WAL mode');
        }
        for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
          const before = { ...ledger.counts };
          const createsBefore = ledger.createInFlight.size;
          const clients = Array.from({ length: CLIENTS },
              (_, i) => client(stack, session, ledger, i + 1, cycle));
          await sleep(randomBetween(KILL_AFTER_MS));
          const killed = await stack.killServer();
          assert.equal(killed.signal, 'SIGKILL', 'the server died of the kill');
          await Promise.all(clients);
          await stack.restartServer();
          const inFlight = `${ledger.createInFlight.size - createsBefore} creates, ` +
              `${ledger.revokeInFlight.size} revokes`;

          const problems = [];
          const db = await verify(stack, ledger, problems);
          assert.deepEqual(ledger.unexpected, [], 'answers from the live server');
          assert.deepEqual(problems, [], `after kill #${cycle}`);
          const created = ledger.counts.created - before.created;
          t.diagnostic(`kill #${cycle}: ${created} created, ` +
              `${ledger.counts.revoked - before.revoked} revoked before the kill; in flight: ` +
              `${inFlight}; db: ${db.rows} tokens, ${db.revokedRows} revoked`);
          assert.ok(created >= CLIENTS, `each kill hits a busy server (${created} created)`);
        }
        assert.ok(ledger.counts.revoked > 0, 'some revocations happened');
        // The owner's session survived the kills too.
        const who = await call(stack, 'GET', '/v1/auth/whoami', { token: session });
        assert.equal(who.status, 200);
        // No credential leaked into the logs of the killed servers or the database.
        checkSecretHygiene(stack);
      });
});
