// Soak test of the control plane ("Soak" in docs/benchmarks.md): a bounded mixed load for SOAK_SECONDS while
// the server's resident memory, threads and open file descriptors are sampled every 10 s from
// /proc/<pid>. After the warm-up the server must not grow: RSS (mean of the last 3 samples vs the
// first 3 after warm-up) grows less than 10% and less than 16 MiB, the descriptor count stays
// within 16 of its value at the end of the warm-up, and no operation fails. Exits 1 otherwise.
//
// The stack comes from tests/e2e/harness.mjs (development IdP, control plane on SQLite under
// $TMPDIR, CLI + scripted browser for logins) plus a fake GitLab-like CI issuer
// (tests/e2e/ci_issuer.mjs) trusted through --federation-issuers. The load, about 8 async loops
// with a pause per iteration so 2 shared cores are not saturated:
//   - login:    every ~30 s a fresh browser login of one of three users through the CLI, a whoami
//               with the new session, logout of that user's previous session, which is then
//               refused (401);
//   - tokens:   (2 loops) create an API token with the owner's session, list active tokens,
//               authenticate once with the new token, revoke it; the revoked token is refused;
//   - reads:    (2 loops) whoami, organization list, project list, token list with long-lived
//               API tokens;
//   - attest:   (2 loops) open a workflow run, push an in-toto statement, read the run back;
//   - keyless:  mint a GitLab-shaped CI ID token, exchange it (RFC 8693) for a clfed_ token,
//               one authenticated read with it.
// Any status other than the expected one is an error (the first few are printed, without
// credentials). No credential is printed or put on a command line.
//
// Usage:  TMPDIR=/dev/shm CL_BUILD_DIR=build node bench/soak.mjs
// Environment (all optional):
//   CL_BUILD_DIR          build tree with server/ and cli/ (default <repo>/build)
//   SOAK_SECONDS          length of the load (default 600)
//   SOAK_WARMUP_SECONDS   samples before this are warm-up (default 120)
//   SOAK_SAMPLE_SECONDS   sampling interval (default 10)
//   SOAK_PAUSE_MS         pause per loop iteration (default 100)
//   SOAK_LOOPS            comma-separated subset of login,tokens,reads,attest,keyless (default
//                         all), to attribute growth to one kind of load
//   SOAK_SQLITE_CACHE_MIB passed as --sqlite-cache-mib (SQLite's page cache bound, default 64):
//                         that cache grows with the database up to its bound, so with the
//                         default it is still filling during a 10-minute soak; a small bound
//                         makes it reach its plateau in the warm-up
//   CL_E2E_DATABASE=postgres  run on PostgreSQL (inside scripts/with-postgres.sh)
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs';
import * as http from 'node:http';
import {cpus, loadavg} from 'node:os';

if (!process.env.TMPDIR) process.env.TMPDIR = '/dev/shm';
const h = await import('../tests/e2e/harness.mjs');
const {startCiIssuer} = await import('../tests/e2e/ci_issuer.mjs');

const SOAK_MS = Number(process.env.SOAK_SECONDS || 600) * 1000;
const WARMUP_MS = Number(process.env.SOAK_WARMUP_SECONDS || 120) * 1000;
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_SECONDS || 10) * 1000;
const PAUSE_MS = Number(process.env.SOAK_PAUSE_MS || 100);
const SQLITE_CACHE_MIB = process.env.SOAK_SQLITE_CACHE_MIB || '';
const LOOPS = new Set((process.env.SOAK_LOOPS || 'login,tokens,reads,attest,keyless').split(','));
const LOGIN_EVERY_MS = 30_000;
const ORG = 'soak';
const PROJECT = 'app';
const MIB = 1024 * 1024;
const RSS_GROWTH_MAX_FRACTION = 0.10;
const RSS_GROWTH_MAX_BYTES = 16 * MIB;
const FD_GROWTH_MAX = 16;
const READ_PERMISSIONS = ['organization:read', 'project:read', 'workflow:read',
                          'workflow_run:read', 'api_token:read'];

function say(line) {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Counters: operations and errors by kind; the first few errors are kept for the report.

const ops = new Map();
const errors = new Map();
const firstErrors = [];
let stopping = false;

function count(kind) {
  ops.set(kind, (ops.get(kind) ?? 0) + 1);
}

function fail(kind, what) {
  errors.set(kind, (errors.get(kind) ?? 0) + 1);
  if (firstErrors.length < 10) {
    firstErrors.push(`${new Date().toISOString()} ${kind}: ${what}`);
    say(`  error ${kind}: ${what}`);
  }
}

// What an error body says, short and without anything credential-shaped.
function describe(r) {
  const b = r.body;
  const text = typeof b === 'string' ? b : JSON.stringify(b?.error ?? b);
  return `status ${r.status} ${String(text).slice(0, 200)}`
      .replace(/\bcl(?:api|ses|fed|code|dev)_[A-Za-z0-9]+/g, '<credential>')
      .replace(/\beyJ[A-Za-z0-9_.-]+/g, '<jwt>');
}

// ---------------------------------------------------------------------------------------------
// HTTP: one keep-alive agent, so the server sees a steady set of connections.

let agent;
let port;

// Sends a request; resolves with {status, body} (body parsed as JSON when it is JSON).
function request(method, path, {token, body, form} = {}) {
  const headers = {};
  let payload;
  if (token) headers.authorization = `Bearer ${token}`;
  if (form) {
    payload = new URLSearchParams(form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
        {host: '127.0.0.1', port, path, method, agent, headers, timeout: 15_000}, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // not JSON; keep the text
            }
            resolve({status: res.statusCode, body: parsed});
          });
          res.on('error', reject);
        });
    req.on('timeout', () => req.destroy(new Error('timeout after 15 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

// One operation: sends the request, counts it under `kind`, records an error unless the status
// is `expect`. Returns the response, or null on error.
async function op(kind, expect, method, path, options) {
  let r;
  try {
    r = await request(method, path, options);
  } catch (e) {
    fail(kind, `${method} ${path.replace(/\/api-tokens\/[^/]+/, '/api-tokens/<id>')}: ${e.message}`);
    return null;
  }
  count(kind);
  if (r.status !== expect) {
    fail(kind, `expected ${expect}, got ${describe(r)}`);
    return null;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Load loops.

async function loop(name, body) {
  let i = 0;
  while (!stopping) {
    try {
      await body(i++);
    } catch (e) {
      fail(name, `exception: ${String(e.message).split('\n')[0].slice(0, 200)}`);
    }
    await h.sleep(PAUSE_MS);
  }
}

// Waits up to `ms`, returning early when the soak stops.
async function pause(ms) {
  const until = Date.now() + ms;
  while (!stopping && Date.now() < until) await h.sleep(Math.min(500, until - Date.now()));
}

async function loginLoop(users) {
  let i = 0;
  while (!stopping) {
    const user = users[i++ % users.length];
    try {
      const previous = user.sessionToken();
      await user.login();
      count('login');
      const fresh = user.sessionToken();
      await op('login_whoami', 200, 'GET', '/v1/auth/whoami', {token: fresh});
      if (previous && previous !== fresh) {
        await op('logout', 204, 'POST', '/v1/auth/logout', {token: previous});
        await op('logged_out_refused', 401, 'GET', '/v1/auth/whoami', {token: previous});
      }
    } catch (e) {
      fail('login', `exception: ${String(e.message).split('\n')[0].slice(0, 200)}`);
    }
    await pause(LOGIN_EVERY_MS);
  }
}

function tokenLoop(worker, session) {
  return loop('token_cycle', async (i) => {
    const created = await op('token_create', 201, 'POST', `/v1/organizations/${ORG}/api-tokens`, {
      token: session,
      body: {name: `soak-${worker}-${i}`, permissions: ['organization:read', 'project:read']},
    });
    if (!created) return;
    const {token, api_token: meta} = created.body;
    await op('token_list', 200, 'GET', `/v1/organizations/${ORG}/api-tokens?status=active`,
             {token: session});
    await op('token_use', 200, 'GET', `/v1/organizations/${ORG}/projects`, {token});
    await op('token_revoke', 200, 'POST', `/v1/organizations/${ORG}/api-tokens/${meta.id}/revoke`,
             {token: session, body: {}});
    await op('revoked_refused', 401, 'GET', `/v1/organizations/${ORG}/projects`, {token});
  });
}

function readLoop(tokens) {
  return loop('read', async (i) => {
    const token = tokens[i % tokens.length];
    await op('read_whoami', 200, 'GET', '/v1/auth/whoami', {token});
    await op('read_orgs', 200, 'GET', '/v1/organizations', {token});
    await op('read_projects', 200, 'GET', `/v1/organizations/${ORG}/projects`, {token});
    await op('read_tokens', 200, 'GET', `/v1/organizations/${ORG}/api-tokens?status=active`,
             {token});
  });
}

function attestLoop(token) {
  return loop('attest', async () => {
    const run = await op('run_init', 201, 'POST', `/v1/organizations/${ORG}/workflow-runs`,
                         {token, body: {workflow: 'build', project: PROJECT}});
    if (!run) return;
    const id = run.body.workflow_run.id;
    await op('attest_push', 200, 'POST', `/v1/organizations/${ORG}/workflow-runs/${id}/attestation`,
             {token, body: {statement: h.statement()}});
    await op('run_read', 200, 'GET', `/v1/organizations/${ORG}/workflow-runs/${id}`, {token});
  });
}

function keylessLoop(issuer) {
  return loop('keyless', async () => {
    const r = await op('fed_exchange', 200, 'POST', '/v1/auth/federated/exchange', {
      form: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: issuer.mint(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        organization: ORG,
      },
    });
    issuer.minted.length = 0;  // the issuer keeps every token it mints; nothing here needs them
    if (!r) return;
    await op('fed_read', 200, 'GET', `/v1/organizations/${ORG}/projects`,
             {token: r.body.access_token});
  });
}

// ---------------------------------------------------------------------------------------------
// Sampling /proc/<pid>.

// Bytes of the SQLite database (file + WAL), or null on PostgreSQL: the bound of SQLite's page
// cache (cache_size = 64 MiB), which grows with the database and shows up in the server's RSS.
let sqliteFile = null;
function databaseBytes() {
  if (!sqliteFile) return null;
  let n = 0;
  for (const f of [sqliteFile, `${sqliteFile}-wal`]) if (existsSync(f)) n += statSync(f).size;
  return n;
}

function sampleProcess(pid, t0) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => {
    const m = status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : NaN;
  };
  return {
    t: Math.round((Date.now() - t0) / 1000),
    rss: field('VmRSS') * 1024,
    hwm: field('VmHWM') * 1024,
    anon: field('RssAnon') * 1024,
    file: field('RssFile') * 1024,
    shmem: field('RssShmem') * 1024,
    threads: field('Threads'),
    fds: readdirSync(`/proc/${pid}/fd`).length,
    db: databaseBytes(),
    cached: null,  // filled from /metrics by the caller
    load1: loadavg()[0],
  };
}

// Credentials in the server's authentication cache, from its /metrics gauge (null if absent).
async function cachedCredentials() {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, {signal: AbortSignal.timeout(5000)});
    const m = (await r.text()).match(/^chainloop_auth_cache_entries (\d+)/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const mib = (bytes) => (bytes / MIB).toFixed(1);
const dbMib = (s) => (s.db === null ? '-' : mib(s.db));

function verdictOf(samples, warmupS) {
  const after = samples.filter((s) => s.t >= warmupS);
  if (after.length < 4) {
    return {pass: false, reasons: [`only ${after.length} samples after warm-up (need 4)`],
            errors: [...errors.values()].reduce((a, b) => a + b, 0)};
  }
  const first = mean(after.slice(0, 3).map((s) => s.rss));
  const last = mean(after.slice(-3).map((s) => s.rss));
  const growth = last - first;
  const fdBase = after[0].fds;
  const fdMax = Math.max(...after.map((s) => s.fds));
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  // Bounded caches between the two windows (information, not the verdict): entries in the
  // credential cache and, on SQLite, database growth (its page cache follows it up to its bound).
  const a = after.slice(0, 3);
  const b = after.slice(-3);
  const dbBytes = after[0].db === null ? 0 : mean(b.map((s) => s.db)) - mean(a.map((s) => s.db));
  const reasons = [];
  if (!(growth < RSS_GROWTH_MAX_FRACTION * first)) {
    reasons.push(`RSS grew ${mib(growth)} MiB (>= 10% of ${mib(first)} MiB)`);
  }
  if (!(growth < RSS_GROWTH_MAX_BYTES)) reasons.push(`RSS grew ${mib(growth)} MiB (>= 16 MiB)`);
  if (fdMax > fdBase + FD_GROWTH_MAX) {
    reasons.push(`open descriptors reached ${fdMax} (end of warm-up ${fdBase}, limit +16)`);
  }
  if (errorCount > 0) reasons.push(`${errorCount} failed operations`);
  return {
    pass: reasons.length === 0,
    reasons,
    rss_first3_mib: Number(mib(first)),
    rss_last3_mib: Number(mib(last)),
    rss_growth_mib: Number(mib(growth)),
    rss_growth_pct: Number(((100 * growth) / first).toFixed(2)),
    auth_cache_entries_first3: Math.round(mean(a.map((s) => s.cached ?? 0))),
    auth_cache_entries_last3: Math.round(mean(b.map((s) => s.cached ?? 0))),
    sqlite_db_growth_mib: Number(mib(dbBytes)),
    sqlite_cache_mib: after[0].db === null ? null : Number(SQLITE_CACHE_MIB || 64),
    fd_end_of_warmup: fdBase,
    fd_max_after_warmup: fdMax,
    errors: errorCount,
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const skip = h.missingPrerequisite();
  if (skip) throw new Error(`cannot run: ${skip}`);
  say(`soak: ${SOAK_MS / 1000} s of mixed load, warm-up ${WARMUP_MS / 1000} s, samples every ` +
      `${SAMPLE_MS / 1000} s; build ${h.buildDir}; TMPDIR ${process.env.TMPDIR}`);
  say(`database: ${process.env.CL_E2E_DATABASE || 'sqlite'}`);
  say(`machine: ${cpus().length} cores, load average before ${loadavg().map((x) => x.toFixed(2))
          .join(' ')}`);

  const issuer = await startCiIssuer();
  let stack;
  let exitCode = 1;
  try {
    stack = await h.startStack({
      extraArgs: [
        '--federation-issuers', issuer.url,
        '--auth-failure-limit', '0',
        '--api-token-create-per-minute', '0',
        '--federated-exchange-per-minute', '0',
        ...(SQLITE_CACHE_MIB && process.env.CL_E2E_DATABASE !== 'postgres'
          ? ['--sqlite-cache-mib', SQLITE_CACHE_MIB] : []),
      ],
      logLevel: 'warn',
      secretHygiene: false,
    });
    issuer.audience = stack.baseUrl;
    port = stack.server.port;
    agent = new http.Agent({keepAlive: true, maxSockets: 16});
    const pid = stack.server.process.pid;
    if (stack.database.kind === 'sqlite') sqliteFile = stack.database.url.slice('sqlite:'.length);
    say(`control plane pid ${pid} on ${stack.baseUrl}; data in ${stack.dir}`);

    // Setup: an owner with an organization, a project and a trust policy; long-lived tokens.
    const owner = stack.newUser('olga.owner');
    await owner.login();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', PROJECT],
      ['organization', 'federation', 'create', '--name', 'gl', '--issuer', issuer.url,
       '--provider', 'gitlab', '--bound-claim', 'project_id=4242', '--bound-claim', 'ref=main',
       '--project', PROJECT],
    ]) {
      const r = await owner.run(args);
      if (r.code !== 0) throw new Error(`chainloop ${args.slice(0, 3).join(' ')}:\n${h.show(r)}`);
    }
    const session = owner.sessionToken();
    const newToken = async (name, permissions) => {
      const r = await request('POST', `/v1/organizations/${ORG}/api-tokens`,
                              {token: session, body: {name, permissions}});
      if (r.status !== 201) throw new Error(`create token ${name}: ${describe(r)}`);
      return r.body.token;
    };
    const readers = [];
    for (let i = 0; i < 4; i++) readers.push(await newToken(`reader-${i}`, READ_PERMISSIONS));
    const attesters = [await newToken('ci-0', undefined), await newToken('ci-1', undefined)];
    const loginUsers = ['alice', 'bob', 'carol'].map((n) => stack.newUser(n));
    // Warm the CI issuer's key cache so the first exchange is not a JWKS fetch under load.
    const warm = await request('POST', '/v1/auth/federated/exchange', {form: {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: issuer.mint(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      organization: ORG,
    }});
    if (warm.status !== 200) throw new Error(`warm-up exchange: ${describe(warm)}`);

    // Load and sampling.
    const t0 = Date.now();
    const samples = [sampleProcess(pid, t0)];
    samples[0].cached = await cachedCredentials();
    say(`sample t=0: RSS ${mib(samples[0].rss)} MiB, ${samples[0].fds} fds, ` +
        `${samples[0].threads} threads`);
    const loops = [];
    if (LOOPS.has('login')) loops.push(loginLoop(loginUsers));
    if (LOOPS.has('tokens')) loops.push(tokenLoop(0, session), tokenLoop(1, session));
    if (LOOPS.has('reads')) loops.push(readLoop(readers.slice(0, 2)), readLoop(readers.slice(2)));
    if (LOOPS.has('attest')) loops.push(attestLoop(attesters[0]), attestLoop(attesters[1]));
    if (LOOPS.has('keyless')) loops.push(keylessLoop(issuer));
    say(`loops: ${[...LOOPS].join(',')} (${loops.length} concurrent)`);
    let lastOps = 0;
    for (let next = t0 + SAMPLE_MS; next <= t0 + SOAK_MS; next += SAMPLE_MS) {
      await h.sleep(Math.max(0, next - Date.now()));
      if (stack.server.process.exitCode !== null || stack.server.process.signalCode !== null) {
        throw new Error(`server exited (${stack.server.process.exitCode}/` +
                        `${stack.server.process.signalCode}) during the soak`);
      }
      const s = sampleProcess(pid, t0);
      s.cached = await cachedCredentials();
      const total = [...ops.values()].reduce((a, b) => a + b, 0);
      s.ops = total - lastOps;
      lastOps = total;
      samples.push(s);
      say(`sample t=${s.t}: RSS ${mib(s.rss)} MiB (anon ${mib(s.anon)}, file ${mib(s.file)}, ` +
          `shmem ${mib(s.shmem)}), HWM ${mib(s.hwm)} MiB, ${s.fds} fds, db ${dbMib(s)} MiB, ` +
          `${s.threads} threads, ${s.cached ?? '?'} cached credentials, ${s.ops} ops, ` +
          `load ${s.load1.toFixed(2)}`);
    }
    stopping = true;
    const elapsedS = (Date.now() - t0) / 1000;
    await Promise.race([Promise.all(loops), h.sleep(60_000)]);

    // Report.
    say('');
    say('   t(s)  RSS(MiB)  anon  file  shmem  HWM(MiB)  fds  threads  ops/10s  load1  db(MiB)');
    for (const s of samples) {
      say(`${String(s.t).padStart(7)}  ${mib(s.rss).padStart(8)}  ${mib(s.anon).padStart(4)}  ` +
          `${mib(s.file).padStart(4)}  ${mib(s.shmem).padStart(5)}  ${mib(s.hwm).padStart(8)}  ` +
          `${String(s.fds).padStart(3)}  ${String(s.threads).padStart(7)}  ` +
          `${String(s.ops ?? '').padStart(7)}  ${s.load1.toFixed(2).padStart(5)}  ` +
          `${dbMib(s).padStart(7)}`);
    }
    say('');
    say('operation            count     per s  errors');
    const kinds = [...new Set([...ops.keys(), ...errors.keys()])].sort();
    const perKind = {};
    for (const k of kinds) {
      const n = ops.get(k) ?? 0;
      perKind[k] = {count: n, per_s: Number((n / elapsedS).toFixed(2)), errors: errors.get(k) ?? 0};
      say(`${k.padEnd(18)} ${String(n).padStart(7)} ${(n / elapsedS).toFixed(2).padStart(9)}  ` +
          `${perKind[k].errors}`);
    }
    const total = [...ops.values()].reduce((a, b) => a + b, 0);
    say(`${'total'.padEnd(18)} ${String(total).padStart(7)} ${(total / elapsedS).toFixed(2)
            .padStart(9)}`);
    if (firstErrors.length > 0) say(`first errors:\n  ${firstErrors.join('\n  ')}`);
    const verdict = verdictOf(samples, WARMUP_MS / 1000);
    say('');
    say(`after warm-up: RSS ${verdict.rss_first3_mib} -> ${verdict.rss_last3_mib} MiB ` +
        `(${verdict.rss_growth_mib} MiB, ${verdict.rss_growth_pct}%), fds ` +
        `${verdict.fd_end_of_warmup} -> max ${verdict.fd_max_after_warmup}, ` +
        `errors ${verdict.errors}`);
    if (verdict.auth_cache_entries_first3 !== undefined) {
      say(`bounded caches: credential cache ${verdict.auth_cache_entries_first3} -> ` +
          `${verdict.auth_cache_entries_last3} entries; SQLite database grew ` +
          `${verdict.sqlite_db_growth_mib} MiB` + (verdict.sqlite_cache_mib === null ? '' :
            ` (page cache bound ${verdict.sqlite_cache_mib} MiB)`));
    }
    say(`verdict: ${verdict.pass ? 'PASS' : `FAIL (${verdict.reasons.join('; ')})`}`);
    say(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    say(`RESULTS_JSON ${JSON.stringify({
      soak_seconds: SOAK_MS / 1000,
      warmup_seconds: WARMUP_MS / 1000,
      elapsed_seconds: Number(elapsedS.toFixed(1)),
      samples,
      operations: perKind,
      total_ops_per_s: Number((total / elapsedS).toFixed(2)),
      verdict,
    })}`);
    exitCode = verdict.pass ? 0 : 1;
  } finally {
    stopping = true;
    agent?.destroy();
    await stack?.cleanup();
    await issuer.stop();
  }
  return exitCode;
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`soak: ${e.stack ?? e}\n`);
  process.exit(1);
});
