// End to end, PostgreSQL only: a revocation reaches every instance within 1 s of its
// acknowledgement through a transaction pooler, a lost notification connection and a database
// restart. On a private cluster with PgBouncer (pool_mode=transaction) in front of it:
//   1. instances whose database URL goes through PgBouncer and whose listen URL goes directly to
//      PostgreSQL hear revocations;
//   2. instances listening through PgBouncer (which drops notifications) say they are deaf
//      (/readyz, /metrics, an error log line) and fail closed;
//   3. an instance whose notification connections are killed while another revokes, and an
//      instance that revokes right after its own were killed, lose no revocation;
//   4. around `pg_ctl restart -m fast`, a revocation is refused with 503 or, once acknowledged,
//      refused by every instance within 1 s.
// Each case records the measured delays (t.diagnostic).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import {
  api, missingPrerequisite, recordSecret, sleep, startStack, stopProcess,
} from './harness.mjs';
import { psql } from './harness/database.mjs';
import {
  pgBouncerMissing, startPgBouncer, startPrivatePostgres,
} from './harness/postgres_cluster.mjs';

const notPostgres = process.env.CL_E2E_DATABASE !== 'postgres' &&
    'instances share revocations through PostgreSQL only (CL_E2E_DATABASE=postgres)';
const prerequisite = notPostgres ? false : missingPrerequisite();
const noBouncer = notPostgres ? false : pgBouncerMissing();
if (noBouncer && process.env.CL_E2E_STRICT === '1') {
  throw new Error(`e2e prerequisite missing: ${noBouncer}`);
}
const skip = notPostgres || prerequisite || noBouncer;

const ORG = 'propagation-org';
const PROPAGATION_MS = 1000; // docs/security.md: a revocation reaches every instance within 1 s
// The failures these tests provoke (revoked tokens, retried revocations) must not ban anyone.
const ARGS = ['--auth-failure-limit', '0', '--api-token-create-per-minute', '0'];
const LISTENER_APP = 'chainloop-revocations'; // application_name of the notifier's connections

const ms = (x) => (x === null ? 'never' : Math.round(x));

// Polls `check` until it resolves true or `limitMs` pass; resolves the elapsed ms or null.
async function within(limitMs, check, intervalMs = 10) {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > limitMs) return null;
    await sleep(intervalMs);
  }
}

describe('revocations reach every instance', () => {
  let pg;
  let bouncer;
  let stack;
  let session; // the organization owner's session
  let dbName;
  let spare; // a direct instance case 3 leaves running for case 4

  before(async () => {
    if (skip) return;
    // Commit timestamps tell, in case 3, whether a revocation committed while a listener was away.
    pg = await startPrivatePostgres({
      prefix: 'cl-pg-propagation-', settings: ['track_commit_timestamp=on'],
    });
    process.env.CL_TEST_POSTGRES_URL = pg.url; // the harness makes the stack's database there
    bouncer = await startPgBouncer(pg, { poolMode: 'transaction' });
    stack = await startStack({ extraArgs: ARGS });
    dbName = new URL(stack.database.url).pathname.slice(1);
    const owner = stack.newUser('rita.revoker');
    await owner.login();
    session = owner.sessionToken();
    assert.ok(session, 'owner has a session');
    const org = await api(stack, 'POST', '/v1/organizations',
        { token: session, body: { name: ORG } });
    assert.equal(org.status, 201, JSON.stringify(org.body));
  });
  after(async () => {
    try {
      await stack?.cleanup();
    } finally {
      await bouncer?.stop();
      pg?.stop();
    }
  });

  // `n` more instances, started together.
  const startInstances = (n, options) =>
    Promise.all(Array.from({ length: n }, () => stack.startInstance(options)));
  const stopInstances = (instances) => Promise.all(instances.map((s) => stopProcess(s.process)));

  async function createToken(name) {
    const r = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
        { token: session, body: { name } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    recordSecret(stack, r.body.token, `API token ${name}`);
    return { id: r.body.api_token.id, token: r.body.token, name };
  }

  // The token works on every instance (and is in each one's cache now).
  async function useEverywhere(instances, { token, name }) {
    for (const s of instances) {
      const r = await api(stack, 'GET', '/v1/auth/whoami', { token, baseUrl: s.baseUrl });
      assert.equal(r.status, 200, `${name} on :${s.port}: ${JSON.stringify(r.body)}`);
    }
  }

  const revoke = (instance, { id }) => api(stack, 'POST',
      `/v1/organizations/${ORG}/api-tokens/${id}/revoke`,
      { token: session, body: {}, baseUrl: instance.baseUrl });

  // True once `instance` refuses `token` as revoked; false while it accepts it or cannot reach
  // the database (503: refused, but not yet told why).
  async function refusedAsRevoked(instance, token) {
    const r = await api(stack, 'GET', '/v1/auth/whoami', { token, baseUrl: instance.baseUrl });
    if (r.status === 200 || r.status === 503) return false;
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body?.error?.code, 'token_revoked', JSON.stringify(r.body));
    return true;
  }

  // For each instance, the ms from `ackAt` (performance.now() when the revocation was
  // acknowledged) to the answer refusing `token`, or null when it still accepted it 1 s after.
  function refusalDelays(instances, { token }, ackAt) {
    return Promise.all(instances.map(async (s) => {
      for (;;) {
        const refused = await refusedAsRevoked(s, token);
        const elapsed = performance.now() - ackAt;
        if (elapsed > PROPAGATION_MS) return refused ? elapsed : null;
        if (refused) return elapsed;
        await sleep(10);
      }
    }));
  }

  function assertAllWithin(delays, instances, what) {
    for (const [i, delay] of delays.entries()) {
      assert.notEqual(delay, null, `${what}: instance :${instances[i].port} still accepts the ` +
          `token 1 s after the ack (refusals after [${delays.map(ms)}] ms)`);
      assert.ok(delay <= PROPAGATION_MS, `${what}: :${instances[i].port} refused after ${delay}`);
    }
  }

  // Whether `instance` logged, at level error, that it is deaf because of a pooler.
  function loggedDeafThroughPooler(instance) {
    return instance.logs().split('\n').some((line) => {
      if (!line.includes('instance is deaf to revocations')) return false;
      const entry = JSON.parse(line);
      return entry.level === 'error' && /^instance is deaf to revocations: failing closed/
          .test(entry.msg) && /pooler/.test(entry.problem);
    });
  }

  async function readyz(instance) {
    const r = await fetch(`${instance.baseUrl}/readyz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, 200);
    return r.json();
  }

  async function metric(instance, name) {
    const r = await fetch(`${instance.baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    const m = (await r.text()).match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
    assert.ok(m, `${name} is exported by :${instance.port}`);
    return Number(m[1]);
  }

  // Local ports of `instance`'s established TCP connections to `port` on 127.0.0.1.
  function clientPorts(instance, port) {
    const r = spawnSync('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${port}`],
        { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ports = [];
    for (const line of r.stdout.split('\n')) {
      const m = line.match(/127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+\s+users:\(\("[^"]*",pid=(\d+),/);
      if (m && Number(m[2]) === instance.process.pid) ports.push(Number(m[1]));
    }
    return ports;
  }

  // The PostgreSQL backends of `instance`'s notifier (the LISTENing connection and the
  // heartbeat's), found by the instance's client ports: [{pid, listening, listened}] (listened:
  // epoch ms when its last statement, the LISTEN for the listener, began).
  function notifierBackends(instance) {
    const ports = clientPorts(instance, pg.port);
    if (ports.length === 0) return [];
    const rows = psql(pg.url, 'SELECT pid, query LIKE \'LISTEN%\', ' +
        'extract(epoch FROM query_start) * 1000 FROM pg_stat_activity ' +
        `WHERE application_name = '${LISTENER_APP}' AND client_port IN (${ports.join(',')})`);
    return rows.split('\n').filter(Boolean).map((row) => {
      const [pid, listening, listened] = row.split('|');
      return { pid: Number(pid), listening: listening === 't', listened: Number(listened) };
    });
  }

  // Kills the notifier connections of `instance` (pg_terminate_backend); returns the
  // listener's pid.
  function killNotifierConnections(instance) {
    const backends = notifierBackends(instance);
    const listener = backends.find((b) => b.listening);
    assert.ok(listener, `a LISTENing backend of :${instance.port}: ${JSON.stringify(backends)}`);
    psql(pg.url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (${
      backends.map((b) => b.pid).join(',')})`);
    return listener.pid;
  }

  test('through PgBouncer with a direct listen URL: every instance hears a revocation within 1 s',
      { skip }, async (t) => {
        const instances = await startInstances(3, {
          database: bouncer.url(dbName),
          extraArgs: [...ARGS, '--database-listen-url', stack.database.url],
        });
        try {
          for (const s of instances) {
            // The pool really goes through PgBouncer; the listener does not.
            assert.ok(clientPorts(s, bouncer.port).length > 0, `:${s.port} uses PgBouncer`);
            const ready = await readyz(s);
            assert.equal(ready.checks.revocation_listener, 'hearing', JSON.stringify(ready));
            assert.equal(await metric(s, 'chainloop_revocation_listener_hearing'), 1);
            assert.equal(await metric(s, 'chainloop_revocation_listener_through_pooler'), 0);
          }
          const tok = await createToken('pooled-direct-listen');
          await useEverywhere(instances, tok);
          const r = await revoke(instances[0], tok);
          const ackAt = performance.now();
          assert.equal(r.status, 200, JSON.stringify(r.body));
          const delays = await refusalDelays(instances, tok, ackAt);
          t.diagnostic(`revoked on the first, refused after [${delays.map(ms)}] ms`);
          assertAllWithin(delays, instances, 'through PgBouncer, direct listen URL');
        } finally {
          await stopInstances(instances);
        }
      });

  test('listening through PgBouncer: every instance says it is deaf and fails closed',
      { skip }, async (t) => {
        const instances = await startInstances(3, { database: bouncer.url(dbName) });
        try {
          for (const s of instances) {
            const ready = await readyz(s);
            assert.equal(ready.checks.revocation_listener, 'deaf', JSON.stringify(ready));
            assert.match(ready.checks.revocation_listener_problem, /pooler/);
            assert.match(ready.checks.revocation_listener_problem, /heartbeat/);
            assert.match(ready.checks.revocation_listener_problem, /database_listen_url/);
            assert.equal(await metric(s, 'chainloop_revocation_listener_hearing'), 0);
            assert.equal(await metric(s, 'chainloop_revocation_listener_through_pooler'), 1);
            assert.equal(await metric(s, 'chainloop_revocation_heartbeat_lag_seconds'), -1);
            // The error comes once the heartbeat has had time to arrive (2 × 750 ms + 250 ms).
            const logged = await within(5000, () => loggedDeafThroughPooler(s), 50);
            assert.notEqual(logged, null,
                `:${s.port} logs the deafness:\n${s.logs().slice(-3000)}`);
          }
          const tok = await createToken('pooled-listen');
          await useEverywhere(instances, tok);
          const r = await revoke(instances[0], tok);
          const ackAt = performance.now();
          assert.equal(r.status, 200, JSON.stringify(r.body));
          const delays = await refusalDelays(instances, tok, ackAt);
          t.diagnostic(`deaf instances: revoked on the first, refused after [${delays.map(ms)}] ` +
              `ms; PgBouncer dropped notifications: ${/not linked/.test(bouncer.logs())}`);
          assertAllWithin(delays, instances, 'listening through PgBouncer');
        } finally {
          await stopInstances(instances);
        }
      });

  // New connections to the stack's database are refused while `fn` runs (the open ones work).
  async function refusingNewConnections(fn) {
    psql(pg.url, `ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS false`);
    try {
      return await fn();
    } finally {
      psql(pg.url, `ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS true`);
    }
  }

  // Kills `victim`'s notifier connections, revokes a fresh token, cached everywhere, on
  // `revoker`, and measures; with `hold`, the victim cannot reconnect until then. Then waits for
  // the victim to listen again and checks that the token stays refused everywhere. Returns a
  // description.
  async function revokeAroundKill({ instances, victim, revoker, name, hold }) {
    const tok = await createToken(name);
    await useEverywhere(instances, tok);
    const killRevokeMeasure = async () => {
      const killed = killNotifierConnections(victim);
      const r = await revoke(revoker, tok);
      const ackAt = performance.now();
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return { killed, delays: await refusalDelays(instances, tok, ackAt) };
    };
    const { killed, delays } = hold ? await refusingNewConnections(killRevokeMeasure) :
      await killRevokeMeasure();
    assertAllWithin(delays, instances, name);

    let back;
    const recovered = await within(3000, async () => {
      back = notifierBackends(victim).find((x) => x.listening && x.pid !== killed);
      return back && (await readyz(victim)).checks.revocation_listener === 'hearing';
    }, 50);
    assert.notEqual(recovered, null, `${name}: :${victim.port} listens and hears again`);
    for (const s of instances) {
      assert.ok(await refusedAsRevoked(s, tok.token), `${name}: :${s.port} after recovery`);
    }
    const committed = Number(psql(stack.database.url,
        'SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 FROM api_tokens ' +
        `WHERE id = '${tok.id}'`));
    const missed = committed < back.listened;
    return `refused after [${delays.map(ms)}] ms; the revocation committed ` +
        `${ms(Math.abs(back.listened - committed))} ms ${missed ? 'before' : 'after'} the new ` +
        `listener's LISTEN${missed ? ' (its notification could not reach it)' : ''}`;
  }

  test('notification connections killed while revoking: the revocation still reaches every ' +
      'instance within 1 s', { skip }, async (t) => {
    const more = await startInstances(2, {});
    const instances = [stack.server, ...more];
    const [a, b] = instances;
    try {
      // b's notifier connections die at the moment a revokes: racing b's reconnection, then
      // with b unable to reconnect for the whole second (it must fail closed meanwhile).
      t.diagnostic(`b's killed, revoked on a, [a, b, c] ${await revokeAroundKill(
          { instances, victim: b, revoker: a, name: 'b-killed' })}`);
      t.diagnostic(`b's killed and held off, revoked on a, [a, b, c] ${await revokeAroundKill(
          { instances, victim: b, revoker: a, name: 'b-held-off', hold: true })}`);
      // a's own notifier connections die right before a revokes (and cannot come back within
      // the second): the announcement does not depend on them.
      t.diagnostic(`a's own killed and held off, revoked on a, [a, b, c] ${await revokeAroundKill(
          { instances, victim: a, revoker: a, name: 'a-held-off', hold: true })}`);
    } finally {
      await stopInstances(more.slice(1));
      spare = more[0];
    }
  });

  // Revokes `tok` on `instance` every 20 ms until acknowledged (200; 409 when an earlier
  // attempt committed but was answered 503); every other answer must be 503.
  async function revokeUntilAcknowledged(instance, tok) {
    const statuses = [];
    for (;;) {
      const r = await revoke(instance, tok);
      statuses.push(r.status);
      if (r.status === 200 || r.status === 409) {
        return { ackAt: performance.now(), statuses };
      }
      assert.equal(r.status, 503, `revocation answered ${r.status}: ${JSON.stringify(r.body)}`);
      await sleep(20);
    }
  }

  test('PostgreSQL restarted: a revocation is refused with 503 or, once acknowledged, refused by ' +
      'every instance within 1 s', { skip }, async (t) => {
    const instances = [stack.server, spare ?? await stack.startInstance()];
    const [a, b] = instances;
    const during = await createToken('revoked-during-restart');
    const afterRestart = await createToken('revoked-after-restart');
    await useEverywhere(instances, during);
    await useEverywhere(instances, afterRestart);

    const restartAt = performance.now();
    let restartedAt;
    const restarting = pg.restart().then(() => {
      restartedAt = performance.now();
    });
    // During: from the moment b's /readyz sees the database gone (or pg_ctl is done).
    let seenGone = false;
    await within(10_000, async () => {
      const r = await fetch(`${b.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })
          .catch(() => ({ status: 0 }));
      seenGone = r.status !== 200;
      return seenGone || restartedAt !== undefined;
    }, 5);
    const downAt = performance.now();
    const revokingDuring = revokeUntilAcknowledged(b, during);
    await restarting;
    // Right after: as soon as one instance acknowledges.
    const right = await revokeUntilAcknowledged(a, afterRestart);
    const duringAck = await revokingDuring;

    const [duringDelays, afterDelays] = await Promise.all([
      refusalDelays(instances, during, duringAck.ackAt),
      refusalDelays(instances, afterRestart, right.ackAt),
    ]);
    t.diagnostic(`pg_ctl restart took ${ms(restartedAt - restartAt)} ms; database seen gone ` +
        `${seenGone ? `${ms(downAt - restartAt)} ms after it began` : 'never'}`);
    t.diagnostic(`during: revocation answered [${duringAck.statuses}], acknowledged ` +
        `${ms(duringAck.ackAt - restartAt)} ms after the restart began; refused after ` +
        `[a, b] = [${duringDelays.map(ms)}] ms`);
    t.diagnostic(`right after: revocation answered [${right.statuses}], acknowledged ` +
        `${ms(right.ackAt - restartedAt)} ms after pg_ctl returned; refused after ` +
        `[a, b] = [${afterDelays.map(ms)}] ms`);
    assertAllWithin(duringDelays, instances, 'revoked during the restart');
    assertAllWithin(afterDelays, instances, 'revoked right after the restart');
  });
});
