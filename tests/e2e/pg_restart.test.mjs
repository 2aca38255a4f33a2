// End to end, PostgreSQL only: the database restarts (`pg_ctl restart -m fast`) under load.
// Clients keep listing and creating API tokens through the outage while a prober polls /readyz;
// once /readyz answers 200 again, no request may fail with 503, and every token creation that
// was acknowledged (201) is listed afterwards, exactly once. The server runs on a private
// PostgreSQL cluster in a temp dir, so restarting it disturbs no other test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, show, sleep, sql, startStack } from './harness.mjs';
import { startPrivatePostgres } from './harness/postgres_cluster.mjs';

const postgresOnly = process.env.CL_E2E_DATABASE === 'postgres' ? false :
  'PostgreSQL only (CL_E2E_DATABASE=postgres)';
const skip = postgresOnly || missingPrerequisite();
const ORG = 'restart-org';
// Load: two steady clients, and bursts wider than the pool (8 connections by default).
const CLIENTS = 2;
const STEADY_PAUSE_MS = 50;
const BURST = 16;
const BURST_EVERY_MS = 250;

// One request, listing the organization's tokens or creating one; records when it was sent and
// what came back (status 0: no answer).
async function request(stack, session, state, create, name) {
  const sent = performance.now();
  let status = 0;
  let body;
  try {
    const r = create ?
      await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
          { token: session, body: { name } }) :
      await api(stack, 'GET', `/v1/organizations/${ORG}/api-tokens`, { token: session });
    status = r.status;
    body = r.body;
  } catch {
    status = 0;
  }
  state.requests.push({ sent, status, what: create ? `create ${name}` : 'list' });
  if (create && status === 201) state.created.set(body.api_token.id, name);
  return status;
}

// A steady client: until `state.stop`, lists or creates, one request at a time.
async function client(stack, session, state, clientNo) {
  for (let n = 0; !state.stop; n += 1) {
    await request(stack, session, state, n % 2 === 1, `c${clientNo}-${n}`);
    await sleep(STEADY_PAUSE_MS);
  }
}

// Until `state.stop`, a burst of BURST concurrent requests every BURST_EVERY_MS: more at once
// than the steady clients use, so connections deep in the pool are used too.
async function burster(stack, session, state) {
  for (let n = 0; !state.stop; n += 1) {
    await Promise.all(Array.from({ length: BURST },
        (_, i) => request(stack, session, state, i % 2 === 1, `b${n}-${i}`)));
    state.afterBurst?.();
    await sleep(BURST_EVERY_MS);
  }
}

// Polls /readyz every 20 ms until `state.stop`; records when each probe was sent and its status.
async function prober(stack, state) {
  while (!state.stop) {
    const sent = performance.now();
    let status = 0;
    try {
      status = (await fetch(`${stack.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) }))
          .status;
    } catch {
      status = 0;
    }
    state.probes.push({ sent, status });
    await sleep(20);
  }
}

describe('PostgreSQL restart under load', () => {
  let pg;
  let stack;
  let session;

  before(async () => {
    if (skip) return;
    pg = await startPrivatePostgres({ prefix: 'cl-pg-restart-' });
    // The harness makes the stack's database on the server this names.
    process.env.CL_TEST_POSTGRES_URL = pg.url;
    stack = await startStack({
      extraArgs: ['--api-token-create-per-minute', '0', '--auth-failure-limit', '0'],
    });
    const owner = stack.newUser('ria.restart');
    await owner.login();
    const r = await owner.run(['organization', 'create', '--name', ORG]);
    assert.equal(r.code, 0, show(r));
    session = owner.sessionToken();
    assert.ok(session, 'owner has a session');
  });
  after(async () => {
    try {
      await stack?.cleanup();
    } finally {
      if (pg) pg.stop();
    }
  });

  test('after /readyz is 200 again no request fails with 503; no acknowledged token is lost',
      { skip }, async (t) => {
        const state = { stop: false, requests: [], probes: [], created: new Map() };
        const started = sql(stack, 'SELECT pg_postmaster_start_time()');
        const clients = Array.from({ length: CLIENTS }, (_, i) => client(stack, session, state, i));
        clients.push(burster(stack, session, state));
        const probing = prober(stack, state);
        await sleep(1000); // the pool is full by now
        const pooled = sql(stack,
            'SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()');

        // Right after a burst: the outage falls between two bursts, so the next one comes when
        // the database is back and uses pooled connections the steady clients did not touch.
        await new Promise((resolve) => {
          state.afterBurst = resolve;
        });
        state.afterBurst = undefined;
        const restartAt = performance.now();
        await pg.restart();
        const restartedAt = performance.now();
        await sleep(3000);
        state.stop = true;
        await Promise.all([...clients, probing]);
        assert.notEqual(sql(stack, 'SELECT pg_postmaster_start_time()'), started,
            'PostgreSQL was restarted');

        // The first 200 from /readyz once the restart began and the server went away (or, when
        // no probe saw it down, the first one sent after pg_ctl said the new server is up).
        const afterStart = state.probes.filter((p) => p.sent >= restartAt);
        const down = afterStart.find((p) => p.status !== 200);
        const ready = afterStart.find((p) => p.status === 200 &&
            (down ? p.sent > down.sent : p.sent >= restartedAt));
        assert.ok(ready, `/readyz answered 200 after the restart: ${JSON.stringify(afterStart)}`);

        const late = state.requests.filter((r) => r.sent >= ready.sent);
        const failed = late.filter((r) => r.status !== 200 && r.status !== 201);
        t.diagnostic(`pg_ctl restart took ${Math.round(restartedAt - restartAt)} ms; /readyz ` +
            `200 again ${Math.round(ready.sent - restartAt)} ms after it began; ${pooled} ` +
            'connections to the database before; ' +
            `${state.requests.length} requests, ${late.length} after that, ` +
            `${state.requests.filter((r) => r.status === 503).length} 503s in all`);
        assert.ok(late.filter((r) => r.what !== 'list').length >= BURST,
            'token creations were made after /readyz was 200 again');
        assert.deepEqual(failed, [], 'requests sent after /readyz was 200 again');

        // Every acknowledged creation is listed, and no token was written twice.
        // Every page, following next_cursor.
        const ids = new Set();
        for (let cursor = null, first = true; first || cursor !== null; first = false) {
          const query = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
          const listed = await api(stack, 'GET',
              `/v1/organizations/${ORG}/api-tokens?limit=1000${query}`, { token: session });
          assert.equal(listed.status, 200);
          for (const tok of listed.body.api_tokens) ids.add(tok.id);
          cursor = listed.body.next_cursor;
        }
        const missing = [...state.created].filter(([id]) => !ids.has(id)).map(([, name]) => name);
        assert.deepEqual(missing, [], 'acknowledged token creations that are not listed');
        const twice = sql(stack, 'SELECT name FROM api_tokens GROUP BY name HAVING count(*) > 1');
        assert.equal(twice, '', 'token names written twice');
      });
});
