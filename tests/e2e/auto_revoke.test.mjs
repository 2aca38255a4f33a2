// End to end: automatic revocation of inactive API tokens, on SQLite and PostgreSQL.
// Time cannot pass in an end-to-end test, so a token's age is simulated by editing its
// created_at / last_used_at (Unix milliseconds) in the test database after the server has
// flushed its own usage writes. Covers: the one-shot sweep (`chainloop-controlplane jobs run
// token-revoker`) and what it spares (recently used, young, already revoked, organizations
// without a threshold), the running server refusing the revoked token (its cache learns it by
// notification on PostgreSQL, by re-validation on SQLite), the revoked list's reason, the audit
// event by the system, the warning column, the strict boundary, two concurrent sweeps on one
// PostgreSQL database, the background job of a running server, and a token whose latest use is
// still only in the server's memory surviving the sweep (the sweep flushes usage first).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api, missingPrerequisite, runServerJob, show, sleep, sql, startStack,
} from './harness.mjs';

const skip = missingPrerequisite();
const isPostgres = process.env.CL_E2E_DATABASE === 'postgres';
const DAY = 86_400_000;
const THRESHOLD_DAYS = 30;
// A background sweep must not race the sweeps these tests run by hand: first run in ~100 years.
const NO_BACKGROUND_SWEEP = ['--token-revoker-interval', '36500d',
  '--token-revoker-initial-delay', '36500d'];

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

function parseJson(r) {
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`stdout is not JSON (${e.message})\n${show(r)}`);
  }
}

function lines(text) {
  return text.split('\n').filter((l) => l.trim() !== '');
}

// An owner logged in, with organization `org` created and current.
async function ownerWithOrg(stack, login, org) {
  const owner = stack.newUser(login);
  await owner.login();
  ok(await owner.run(['organization', 'create', '--name', org]));
  ok(await owner.run(['organization', 'set', '--name', org]));
  return owner;
}

// Creates a token as `owner` (in `org` when given); returns {token, id, name}.
async function createToken(owner, name, org) {
  const args = org ? ['--org', org] : [];
  const r = ok(await owner.run([...args, 'organization', 'api-token', 'create', '--name', name,
    '-o', 'json']));
  const body = parseJson(r);
  assert.match(body.token ?? '', /^clapi_/, r.stdout);
  return { token: body.token, id: body.api_token.id, name };
}

async function listTokens(owner, status, org) {
  const args = org ? ['--org', org] : [];
  const r = ok(await owner.run([...args, 'organization', 'api-token', 'list', '--status', status,
    '-o', 'json']));
  return parseJson(r).api_tokens;
}

async function auditEvents(owner, org) {
  const args = org ? ['--org', org] : [];
  const r = ok(await owner.run([...args, 'organization', 'audit', 'list', '--limit', '1000', '-o',
    'json']));
  return parseJson(r).audit_events;
}

const whoami = (stack, token) => api(stack, 'GET', '/v1/auth/whoami', { token });

// Uses every token once (so the server caches it), then waits until the server's usage flush
// has written last_used_at for all of them: after that, nothing the server holds in memory can
// overwrite the ages the test writes.
async function useAndSettle(stack, tokens) {
  for (const t of tokens) {
    const r = await whoami(stack, t.token);
    assert.equal(r.status, 200, `${t.name}: ${JSON.stringify(r.body)}`);
  }
  const ids = tokens.map((t) => `'${t.id}'`).join(', ');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const n = Number(sql(stack,
        `SELECT count(*) FROM api_tokens WHERE id IN (${ids}) AND last_used_at IS NOT NULL`));
    if (n === tokens.length) return;
    assert.ok(Date.now() < deadline, `usage of ${n}/${tokens.length} tokens flushed after 10 s`);
    await sleep(200);
  }
}

// Rewrites a token's history: created `createdAt`, last used `lastUsedAt` (null: never).
function setAge(stack, token, { createdAt, lastUsedAt = null }) {
  const last = lastUsedAt === null ? 'NULL' : String(Math.round(lastUsedAt));
  sql(stack, `UPDATE api_tokens SET created_at = ${Math.round(createdAt)}, ` +
      `last_used_at = ${last} WHERE id = '${token.id}'`);
  const row = sql(stack,
      `SELECT created_at, last_used_at FROM api_tokens WHERE id = '${token.id}'`);
  assert.equal(row, `${Math.round(createdAt)}|${lastUsedAt === null ? '' : last}`, token.name);
}

// Parses `jobs run token-revoker` output: {skipped, perOrg: {org: n}, total}.
function parseSweep(r) {
  assert.equal(r.code, 0, show(r));
  const out = lines(r.stdout);
  if (out.length === 1 && out[0] === 'skipped: another instance is sweeping') {
    return { skipped: true, perOrg: {}, total: 0 };
  }
  const perOrg = {};
  let total = null;
  for (const l of out) {
    const m = l.match(/^(\S+): (\d+)$/);
    assert.ok(m, `unexpected line '${l}'\n${show(r)}`);
    if (m[1] === 'total') total = Number(m[2]);
    else perOrg[m[1]] = Number(m[2]);
  }
  assert.notEqual(total, null, `no total line\n${show(r)}`);
  return { skipped: false, perOrg, total };
}

// Polls the main server with `token` until it is refused; returns {last, elapsed} measured
// from `since`.
async function pollUntilRefused(stack, token, since, limitMs) {
  let last;
  for (;;) {
    last = await whoami(stack, token);
    if (last.status !== 200 || Date.now() - since > limitMs) break;
    await sleep(100);
  }
  return { last, elapsed: Date.now() - since };
}

describe('API token auto-revocation: one sweep', () => {
  const ORG = 'revoke-org';
  const OTHER = 'no-threshold-org';
  let stack;
  let owner;
  let ci;
  const tok = {};
  let manualRevokedAt;

  before(async () => {
    if (skip) return;
    // On PostgreSQL a long re-validation bound: the server can only learn of the revocation by
    // the sweep's notification. On SQLite the default 5 s bound is how it learns.
    stack = await startStack({
      extraArgs: ['--usage-flush-interval', '1s', ...NO_BACKGROUND_SWEEP,
        ...(isPostgres ? ['--auth-cache-revalidate', '1h'] : [])],
    });
    owner = await ownerWithOrg(stack, 'olga.owner', OTHER);
    ok(await owner.run(['organization', 'create', '--name', ORG]));
    ok(await owner.run(['organization', 'set', '--name', ORG]));
    ci = stack.newUser('ci-job');
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('the threshold is set through the CLI', { skip }, async () => {
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive',
      String(THRESHOLD_DAYS)]));
    const d = ok(await owner.run(['organization', 'describe']));
    assert.ok(lines(d.stdout).includes(`API token auto-revoke after: ${THRESHOLD_DAYS} days ` +
        'inactive'), show(d));
    const other = ok(await owner.run(['--org', OTHER, 'organization', 'describe', '-o', 'json']));
    assert.equal(parseJson(other).organization.api_token_max_days_inactive ?? null, null,
        other.stdout);
  });

  test('the sweep revokes only the inactive token', { skip }, async () => {
    tok.a = await createToken(owner, 'idle-a');
    tok.b = await createToken(owner, 'recent-b');
    tok.c = await createToken(owner, 'young-c');
    tok.d = await createToken(owner, 'manual-d');
    tok.e = await createToken(owner, 'other-e', OTHER);
    await useAndSettle(stack, Object.values(tok));
    ok(await owner.run(['organization', 'api-token', 'revoke', '--id', tok.d.id]));
    manualRevokedAt = sql(stack, `SELECT revoked_at FROM api_tokens WHERE id = '${tok.d.id}'`);

    const now = Date.now();
    setAge(stack, tok.a, { createdAt: now - 31 * DAY });
    setAge(stack, tok.b, { createdAt: now - 31 * DAY, lastUsedAt: now - DAY });
    setAge(stack, tok.c, { createdAt: now - 29 * DAY });
    setAge(stack, tok.d, { createdAt: now - 31 * DAY });
    setAge(stack, tok.e, { createdAt: now - 400 * DAY });

    const r = await runServerJob(stack, 'token-revoker');
    tok.sweptAt = Date.now();
    const sweep = parseSweep(r);
    assert.deepEqual(lines(r.stdout), [`${ORG}: 1`, 'total: 1'], show(r));
    assert.equal(sweep.total, 1);
    assert.doesNotMatch(r.stdout + r.stderr, /clapi_/, 'no token in the job output');

    const rows = sql(stack, 'SELECT name, revocation_reason FROM api_tokens ' +
        "WHERE revoked_at IS NOT NULL ORDER BY name").split('\n');
    assert.deepEqual(rows, ['idle-a|inactive', 'manual-d|manual']);
  });

  test('the running server refuses the revoked token, saying why', { skip }, async (t) => {
    assert.ok(tok.sweptAt, 'needs the sweep above');
    // SQLite: the job cannot reach the server's cache; its 5 s re-validation bound applies.
    // PostgreSQL: the job's notification reaches it at once (re-validation is 1 h here).
    const bound = isPostgres ? 1000 : 7000;
    const { last, elapsed } = await pollUntilRefused(stack, tok.a.token, tok.sweptAt,
        bound + 2000);
    t.diagnostic(`the server refused the swept token ${elapsed} ms after the job exited`);
    assert.equal(last.status, 401, `still accepted after ${elapsed} ms`);
    assert.equal(last.body?.error?.code, 'token_revoked', JSON.stringify(last.body));
    assert.match(last.body.error.message, /inactivity/, JSON.stringify(last.body));
    assert.ok(elapsed <= bound, `refused only after ${elapsed} ms (bound ${bound} ms)`);

    const r = await ci.run(['--org', ORG, 'workflow', 'run', 'list'],
        { env: { CHAINLOOP_TOKEN: tok.a.token } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /revoked/i, show(r));
    assert.match(r.stderr, /inactivity/i, show(r));
    assert.ok(!r.stderr.includes(tok.a.token), 'the token is not echoed');
  });

  test('the active list warns about the token close to its auto-revoke date', { skip },
      async () => {
        // Before B, C and E are used again (their use would push the date back).
        const active = await listTokens(owner, 'active');
        const c = active.find((x) => x.id === tok.c.id);
        const b = active.find((x) => x.id === tok.b.id);
        assert.ok(c && b, JSON.stringify(active));
        assert.ok(!active.some((x) => x.id === tok.a.id), 'A is not active any more');
        const cAt = Date.parse(c.auto_revoke_at);
        assert.ok(Math.abs(cAt - (Date.now() + DAY)) < 60_000,
            `C (created 29 days ago) is revoked in one day: ${c.auto_revoke_at}`);
        const bAt = Date.parse(b.auto_revoke_at);
        assert.ok(Math.abs(bAt - (Date.now() + 29 * DAY)) < 60_000,
            `B (used a day ago) is revoked in 29 days: ${b.auto_revoke_at}`);
        const inOther = await listTokens(owner, 'active', OTHER);
        assert.equal(inOther.find((x) => x.id === tok.e.id)?.auto_revoke_at, null,
            JSON.stringify(inOther));

        const table = ok(await owner.run(['organization', 'api-token', 'list']));
        const out = lines(table.stdout);
        assert.match(out[0], /AUTO REVOKE AT/, show(table));
        const cLine = out.find((l) => l.includes(tok.c.id));
        const bLine = out.find((l) => l.includes(tok.b.id));
        assert.ok(cLine && bLine, show(table));
        assert.match(cLine, /\byoung-c\b.*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(!\)/, cLine);
        const shown = Date.parse(cLine.match(/(\S+) \(!\)/)[1]);
        assert.ok(shown - Date.now() <= 7 * DAY && shown > Date.now(), cLine);
        assert.doesNotMatch(bLine, /\(!\)/, bLine);
        assert.ok(out.some((l) => /^\(!\) .*within 7 days/.test(l)), show(table));

        // No threshold, no column.
        const other = ok(await owner.run(['--org', OTHER, 'organization', 'api-token', 'list']));
        assert.doesNotMatch(other.stdout, /AUTO REVOKE AT|\(!\)/, show(other));
      });

  test('recently used, young and other-organization tokens still work', { skip }, async () => {
    for (const t of [tok.b, tok.c, tok.e]) {
      const r = await whoami(stack, t.token);
      assert.equal(r.status, 200, `${t.name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.principal.name, t.name);
    }
    const d = await whoami(stack, tok.d.token);
    assert.equal(d.status, 401);
    assert.equal(d.body?.error?.code, 'token_revoked');
    assert.doesNotMatch(d.body.error.message, /inactivity/, 'D was revoked by a person');
  });

  test('list --status revoked shows the reason', { skip }, async () => {
    const revoked = await listTokens(owner, 'revoked');
    const a = revoked.find((x) => x.id === tok.a.id);
    const d = revoked.find((x) => x.id === tok.d.id);
    assert.ok(a && d, JSON.stringify(revoked));
    assert.equal(a.revocation_reason, 'inactive');
    assert.ok(a.revoked_at);
    assert.ok(Math.abs(Date.parse(a.revoked_at) - tok.sweptAt) < 10_000, a.revoked_at);
    assert.equal(d.revocation_reason, 'manual', 'an already revoked token is left as it was');
    assert.equal(sql(stack, `SELECT revoked_at FROM api_tokens WHERE id = '${tok.d.id}'`),
        manualRevokedAt);
    assert.equal(revoked.length, 2, JSON.stringify(revoked));

    const table = ok(await owner.run(['organization', 'api-token', 'list', '--status',
      'revoked']));
    assert.match(lines(table.stdout)[0], /REASON/, show(table));
    const aLine = lines(table.stdout).find((l) => l.includes(tok.a.id));
    const dLine = lines(table.stdout).find((l) => l.includes(tok.d.id));
    assert.match(aLine ?? '', /\bidle-a\b.*\binactive\b/, show(table));
    assert.match(dLine ?? '', /\bmanual-d\b.*\bmanual\b/, show(table));

    assert.deepEqual(await listTokens(owner, 'revoked', OTHER), []);
  });

  test('the audit log has one system event naming the revoked token', { skip }, async () => {
    const message = `system has revoked the API token idle-a after ${THRESHOLD_DAYS} days of ` +
        'inactivity';
    const events = await auditEvents(owner);
    const system = events.filter((e) => e.actor_kind === 'system');
    assert.equal(system.length, 1, JSON.stringify(system));
    assert.equal(system[0].action, 'api_token.revoked');
    assert.equal(system[0].target_id, tok.a.id);
    assert.equal(system[0].message, message);
    assert.equal((await auditEvents(owner, OTHER)).filter((e) => e.actor_kind === 'system')
        .length, 0);

    const table = ok(await owner.run(['organization', 'audit', 'list']));
    const line = lines(table.stdout).find((l) => l.includes(message));
    assert.ok(line, show(table));
    assert.match(line, /\bsystem\b.*api_token\.revoked/, line);
    assert.doesNotMatch(table.stdout, /clapi_/);
  });

  test('boundary: a last use just inside the threshold stays, just outside is revoked',
      { skip }, async () => {
        const keep = await createToken(owner, 'edge-keep');
        const drop = await createToken(owner, 'edge-drop');
        const fresh = await createToken(owner, 'edge-new'); // never used, just inside
        const stale = await createToken(owner, 'edge-old'); // never used, just outside
        const now = Date.now();
        const limit = now - THRESHOLD_DAYS * DAY;
        // ±5 s: the sweep starts well within 5 s of `now`, so the comparison is decided.
        setAge(stack, keep, { createdAt: now - 40 * DAY, lastUsedAt: limit + 5000 });
        setAge(stack, drop, { createdAt: now - 40 * DAY, lastUsedAt: limit - 5000 });
        setAge(stack, fresh, { createdAt: limit + 5000 });
        setAge(stack, stale, { createdAt: limit - 5000 });
        const r = await runServerJob(stack, 'token-revoker');
        assert.ok(Date.now() - now < 5000, 'the sweep ran within the margin');
        assert.deepEqual(lines(r.stdout), [`${ORG}: 2`, 'total: 2'], show(r));

        const revoked = (await listTokens(owner, 'revoked')).map((x) => x.name).sort();
        assert.deepEqual(revoked, ['edge-drop', 'edge-old', 'idle-a', 'manual-d']);
        for (const t of [keep, fresh]) {
          assert.equal((await whoami(stack, t.token)).status, 200, t.name);
        }
      });
});

describe('API token auto-revocation: two sweeps at once on one database', () => {
  const ORG = 'twin-org';
  const INACTIVE = 6;
  const twinSkip = skip || (!isPostgres &&
      'needs PostgreSQL (CL_E2E_DATABASE=postgres): SQLite serves a single instance');
  let stack;
  let owner;
  before(async () => {
    if (twinSkip) return;
    stack = await startStack({ extraArgs: NO_BACKGROUND_SWEEP });
    owner = await ownerWithOrg(stack, 'tina.owner', ORG);
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '10']));
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('exactly one revocation and one audit event per inactive token', { skip: twinSkip },
      async (t) => {
        const idle = [];
        for (let i = 0; i < INACTIVE; i += 1) idle.push(await createToken(owner, `idle-${i}`));
        const busy = await createToken(owner, 'busy');
        const now = Date.now();
        for (const x of idle) setAge(stack, x, { createdAt: now - 11 * DAY });

        const results = await Promise.all([runServerJob(stack, 'token-revoker'),
          runServerJob(stack, 'token-revoker')]);
        const sweeps = results.map(parseSweep);
        t.diagnostic(`sweep outputs: ${results.map((r) => JSON.stringify(r.stdout)).join(', ')}`);
        const total = sweeps.reduce((n, s) => n + s.total, 0);
        assert.equal(total, INACTIVE, results.map(show).join('\n'));
        const perOrg = sweeps.reduce((n, s) => n + (s.perOrg[ORG] ?? 0), 0);
        assert.equal(perOrg, INACTIVE);

        assert.equal(Number(sql(stack,
            "SELECT count(*) FROM api_tokens WHERE revocation_reason = 'inactive'")), INACTIVE);
        const system = (await auditEvents(owner)).filter((e) => e.actor_kind === 'system');
        assert.equal(system.length, INACTIVE, JSON.stringify(system));
        assert.deepEqual(system.map((e) => e.target_id).sort(), idle.map((x) => x.id).sort());
        assert.equal(Number(sql(stack,
            "SELECT count(*) FROM audit_events WHERE actor_kind = 'system'")), INACTIVE);
        assert.equal((await whoami(stack, busy.token)).status, 200);

        // A third sweep finds nothing left to do.
        const again = parseSweep(await runServerJob(stack, 'token-revoker'));
        assert.equal(again.total, 0);
      });
});

describe('API token auto-revocation: the background job', () => {
  const ORG = 'bg-org';
  let stack;
  let owner;
  before(async () => {
    if (skip) return;
    stack = await startStack({
      extraArgs: ['--token-revoker-interval', '1s', '--token-revoker-initial-delay', '0',
        '--usage-flush-interval', '1s'],
    });
    owner = await ownerWithOrg(stack, 'bea.owner', ORG);
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '5']));
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a running server revokes an aged token by itself within seconds', { skip },
      async (t) => {
        const aged = await createToken(owner, 'bg-aged');
        const kept = await createToken(owner, 'bg-kept');
        await useAndSettle(stack, [aged, kept]);
        setAge(stack, aged, { createdAt: Date.now() - 6 * DAY });
        const agedAt = Date.now();

        // Sweeps run every second. Watch the database, not the server: using the token would
        // (rightly) count as activity and keep it alive.
        let reason = '';
        while (reason !== 'inactive' && Date.now() - agedAt < 5000) {
          await sleep(100);
          reason = sql(stack, `SELECT revocation_reason FROM api_tokens WHERE id = '${aged.id}'`);
        }
        const elapsed = Date.now() - agedAt;
        t.diagnostic(`revoked ${elapsed} ms after the token was aged`);
        assert.equal(reason, 'inactive', `not revoked ${elapsed} ms after it was aged`);
        // The sweeping instance dropped it from its cache at once.
        const last = await whoami(stack, aged.token);
        assert.equal(last.status, 401, JSON.stringify(last.body));
        assert.equal(last.body?.error?.code, 'token_revoked');
        assert.match(last.body.error.message, /inactivity/);
        assert.equal((await whoami(stack, kept.token)).status, 200);

        const revoked = await listTokens(owner, 'revoked');
        assert.deepEqual(revoked.map((x) => [x.name, x.revocation_reason]),
            [['bg-aged', 'inactive']]);
        const system = (await auditEvents(owner)).filter((e) => e.actor_kind === 'system');
        assert.equal(system.length, 1, 'later sweeps do not revoke it again');
        assert.equal(system[0].target_id, aged.id);

        const metrics = await api(stack, 'GET', '/metrics');
        if (metrics.status === 200 && typeof metrics.body === 'string') {
          assert.match(metrics.body, /^chainloop_token_revoker_revoked_total 1$/m);
          assert.match(metrics.body, /^chainloop_token_revoker_sweeps_total\{result="ok"\} \d+$/m);
        } else {
          t.diagnostic(`/metrics answered ${metrics.status}; metrics not checked`);
        }
      });
});

describe('API token auto-revocation: usage not yet written', () => {
  const ORG = 'flush-org';
  let stack;
  let owner;
  before(async () => {
    if (skip) return;
    // Usage is only written at shutdown or by a sweep's own flush; sweeps run every second.
    stack = await startStack({
      extraArgs: ['--token-revoker-interval', '1s', '--token-revoker-initial-delay', '0',
        '--usage-flush-interval', '1h'],
    });
    owner = await ownerWithOrg(stack, 'fran.owner', ORG);
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '5']));
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a token used just before the sweep survives it', { skip }, async (t) => {
    // A background sweep may flush the use before the test ages the token, which would prove
    // nothing: retry until the aging (one statement) saw the use still only in memory.
    let used;
    let unused;
    let usedAt;
    let agedAt;
    for (let attempt = 1; ; attempt += 1) {
      used = await createToken(owner, `just-used-${attempt}`);
      unused = await createToken(owner, `never-used-${attempt}`);
      usedAt = Date.now();
      assert.equal((await whoami(stack, used.token)).status, 200);
      // In the database both now look created 6 days ago; only the server's memory knows
      // `used` was used a moment ago.
      agedAt = Date.now();
      const seen = sql(stack, `UPDATE api_tokens SET created_at = ${agedAt - 6 * DAY} ` +
          `WHERE id = '${used.id}' OR id = '${unused.id}' RETURNING last_used_at`);
      if (seen.split('\n').every((v) => v === '')) break;
      t.diagnostic(`attempt ${attempt}: a sweep flushed the use before the aging; retrying`);
      assert.ok(attempt < 5, 'the use was flushed before the aging 5 times in a row');
    }

    let reason = '';
    while (reason !== 'inactive' && Date.now() - agedAt < 5000) {
      await sleep(100);
      reason = sql(stack, `SELECT revocation_reason FROM api_tokens WHERE id = '${unused.id}'`);
    }
    t.diagnostic(`the unused token was revoked ${Date.now() - agedAt} ms after aging`);
    assert.equal(reason, 'inactive', 'a background sweep ran');
    const row = sql(stack, 'SELECT revocation_reason, last_used_at FROM api_tokens ' +
        `WHERE id = '${used.id}'`);
    const [usedReason, lastUsed] = row.split('|');
    assert.equal(usedReason, '', `the used token was not revoked (${row})`);
    assert.ok(Math.abs(Number(lastUsed) - usedAt) < 5000,
        `the sweep flushed the pending use first (last_used_at ${lastUsed})`);
    assert.equal((await whoami(stack, used.token)).status, 200);
  });
});

describe('API token auto-revocation: a sweep by another instance', () => {
  const ORG = 'other-org';
  let stack;
  let owner;
  before(async () => {
    if (skip) return;
    // This server never sweeps and writes coalesced usage only at shutdown; the sweeps come
    // from `jobs run token-revoker`, a separate process that knows nothing of its memory.
    stack = await startStack({
      extraArgs: [...NO_BACKGROUND_SWEEP, '--usage-flush-interval', '1h'],
    });
    owner = await ownerWithOrg(stack, 'olga.owner', ORG);
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '5']));
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('the first use after a long idle period is written at once and keeps the token',
      { skip }, async () => {
        const nightly = await createToken(owner, 'nightly');
        const recent = await createToken(owner, 'recent');
        // Idle for 6 days as far as anyone knows; the server has never seen either token.
        const hourAgo = Math.round(Date.now() - 60 * 60 * 1000);
        setAge(stack, nightly, { createdAt: Date.now() - 6 * DAY });
        setAge(stack, recent, { createdAt: Date.now() - 6 * DAY, lastUsedAt: hourAgo });
        const usedAt = Date.now();
        assert.equal((await whoami(stack, nightly.token)).status, 200);
        assert.equal((await whoami(stack, recent.token)).status, 200);
        const lastUsed = Number(sql(stack,
            `SELECT last_used_at FROM api_tokens WHERE id = '${nightly.id}'`));
        assert.ok(lastUsed >= usedAt && lastUsed <= Date.now(), `last_used_at ${lastUsed}`);
        // A use an hour after the last one is only queued (flushed in an hour here).
        assert.equal(Number(sql(stack,
            `SELECT last_used_at FROM api_tokens WHERE id = '${recent.id}'`)), hourAgo,
            'a recent token\'s use was written synchronously');

        const sweep = parseSweep(await runServerJob(stack, 'token-revoker'));
        assert.equal(sweep.total, 0, JSON.stringify(sweep));
        assert.equal(sql(stack,
            `SELECT revocation_reason FROM api_tokens WHERE id = '${nightly.id}'`), '');
        assert.equal((await whoami(stack, nightly.token)).status, 200);
      });
});
