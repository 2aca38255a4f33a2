// Keyless CI token exchanges per second on one control plane instance with a warm key cache
// (issue "Keyless OIDC for CI", Benchmark). Starts the development IdP (the server needs one for
// logins), a fake GitLab-like CI issuer on loopback (tests/e2e/ci_issuer.mjs) and the control
// plane on SQLite under $TMPDIR (use TMPDIR=/dev/shm to take the disk out of the picture) or on
// PostgreSQL (BENCH_DATABASE=postgres, inside scripts/with-postgres.sh); logs in with the CLI
// through the scripted browser, creates an organization and a trust policy, warms the issuer's
// key cache, then runs N concurrent clients that each POST /v1/auth/federated/exchange with a
// fresh GitLab-shaped ID token (unique jti) for a fixed time.
// Tokens are minted before the timed phase so the client's RSA signing is not measured.
// Prints exchanges/s, p50/p99 latency and any non-200 answers. Every process it starts is stopped
// at the end (also on failure). No token is printed. bench/db_bench.mjs imports the set-up and
// the load loop from here.
//
// Usage: TMPDIR=/dev/shm node bench/keyless_bench.mjs
//        scripts/with-postgres.sh env BENCH_DATABASE=postgres node bench/keyless_bench.mjs
// Environment (all optional):
//   CL_BUILD_DIR          build tree with server/ and cli/ (default <repo>/build-bench)
//   BENCH_DATABASE        sqlite (default) or postgres (needs CL_TEST_POSTGRES_URL)
//   BENCH_PG_POOL_SIZE    the server's PostgreSQL pool size (default 16)
//   BENCH_DURATION_S      timed phase in seconds (default 10)
//   BENCH_CLIENTS         concurrent clients (default 16)
//   BENCH_TOKENS          tokens minted in advance (default 30000; the run stops early if used up)
//   BENCH_PERF_OUT        record `perf record -g` of the server during the timed phase to this file
//   BENCH_PERF_PG_OUT     the same for the PostgreSQL backends serving the server
//   BENCH_PG_STATS=1      PostgreSQL: print statements per exchange from pg_stat_statements (the
//                         server must preload it) and commits per exchange from pg_stat_database
import {spawn} from 'node:child_process';
import {mkdirSync, readFileSync} from 'node:fs';
import * as http from 'node:http';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

process.env.CL_BUILD_DIR ??= new URL('../build-bench', import.meta.url).pathname;
const h = await import('../tests/e2e/harness.mjs');
const {benchDatabase, startBenchServer} = await import('./bench_server.mjs');
const {startCiIssuer} = await import('../tests/e2e/ci_issuer.mjs');

export const ORG = 'bench';

export function say(line) {
  process.stdout.write(`${line}\n`);
}

// Starts the IdP, the CI issuer and the control plane (database from BENCH_DATABASE), logs a
// user in with the CLI, creates organization ORG, project `app` and a trust policy `gl` for the
// issuer scoped to it. `track(child)` records each process for the caller to stop; `stop()`
// stops them and drops the database. `serverArgs` are appended to the server's flags.
export async function startKeylessStack(track, {dir, serverArgs = []}) {
  const issuer = await startCiIssuer();
  const db = await benchDatabase(h, dir);
  const children = [];
  const tracked = (child) => {
    children.push(child);
    track(child);
    return child;
  };
  const stop = async () => {
    for (const child of children) await h.stopProcess(child);
    await issuer.stop();
    await db.drop();
  };
  try {
    const port = await h.freePort();
    const idp = await h.startIdp({redirectUris: [`http://127.0.0.1:${port}/auth/callback`]});
    tracked(idp.process);
    const server = await startBenchServer(h, (cmd, args, opts) => tracked(spawn(cmd, args, opts)), {
      dir,
      idp,
      port,
      database: db.url,
      logFile: 'server.log',
      args: [
        '--federation-issuers', issuer.url,
        // Neither the per-organization exchange limit nor failure throttling is what is measured.
        '--federated-exchange-per-minute', '0',
        '--auth-failure-limit', '0',
        '--log-level', 'warn',
        ...serverArgs,
      ],
    });
    issuer.audience = server.baseUrl;

    const home = join(dir, 'home');
    mkdirSync(home, {recursive: true});
    const configPath = join(home, 'chainloop', 'config.toml');
    const user = {
      account: 'alice',
      env: () => ({PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: home, BROWSER: 'true',
                   DISPLAY: '', CHAINLOOP_LOGIN_TIMEOUT_SECONDS: '30'}),
      argv: (args) => ['--control-plane', server.baseUrl, '-c', configPath, ...args],
      sessionToken: () => null,  // the harness records it as a secret of a stack; no stack here
    };
    const cli = async (args) => {
      const r = await h.runCli(user.argv(args), {env: user.env()});
      if (r.code !== 0) throw new Error(`chainloop ${args.slice(0, 3).join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await h.browserLogin(user);
    await cli(['organization', 'create', '--name', ORG]);
    await cli(['organization', 'set', '--name', ORG]);
    await cli(['project', 'create', '--name', 'app']);
    await cli(['organization', 'federation', 'create', '--name', 'gl', '--issuer', issuer.url,
               '--provider', 'gitlab', '--bound-claim', 'project_id=4242', '--bound-claim',
               'ref=main', '--project', 'app']);
    const session = readFileSync(configPath, 'utf8').match(/clses_[A-Za-z0-9]+/)?.[0];
    if (!session) throw new Error('no session token in the CLI config');
    return {server, port, issuer, db, cli, session, stop};
  } catch (e) {
    await stop();
    throw e;
  }
}

// One HTTP request over a keep-alive agent; resolves with {status, body} (body as text).
export function request(agent, port, method, path, {headers = {}, body} = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      method,
      agent,
      headers: body === undefined ? headers :
                                    {...headers, 'content-length': Buffer.byteLength(body)},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({status: res.statusCode, body: Buffer.concat(chunks).toString()}));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One exchange; resolves with the status code.
export async function exchangeOnce(agent, port, token) {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    organization: ORG,
  }).toString();
  const r = await request(agent, port, 'POST', '/v1/auth/federated/exchange', {
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body,
  });
  return r.status;
}

// Exchanges until the issuer's keys are cached (discovery and JWKS are fetched once), then
// `clients` at a time so that the connections (and the server's database pool) are open;
// returns the JWKS fetch count after it.
export async function warmUpExchanges(agent, port, issuer, clients = 16) {
  const once = async () => {
    const status = await exchangeOnce(agent, port, issuer.mint());
    if (status !== 200) throw new Error(`warm-up exchange answered ${status}`);
  };
  for (let i = 0; i < 5; i++) await once();
  for (let round = 0; round < 4; round++) {
    await Promise.all(Array.from({length: clients}, once));
  }
  return issuer.jwksFetches();
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Runs `clients` concurrent loops for `durationMs`; each iteration awaits `once(i)` (i counts
// iterations across clients; `once` returns the HTTP status of its last request, or an array of
// statuses) and stops early when `once` returns null. Resolves with {ops, elapsed (s),
// latencies (ms, sorted), statuses (Map status -> count)}.
export async function runLoad({clients, durationMs, once}) {
  const latencies = [];
  const statuses = new Map();
  let next = 0;
  let done = false;
  const t0 = performance.now();
  const end = t0 + durationMs;
  const client = async () => {
    while (!done && performance.now() < end) {
      const s = performance.now();
      const got = await once(next++);
      if (got === null) {
        done = true;
        break;
      }
      latencies.push(performance.now() - s);
      for (const status of [got].flat()) statuses.set(status, (statuses.get(status) || 0) + 1);
    }
  };
  await Promise.all(Array.from({length: clients}, client));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {ops: latencies.length, elapsed, latencies, statuses};
}

// `perf record -g` of `pids` into `out` until the returned function is awaited (BENCH_PERF_OUT,
// BENCH_PERF_PG_OUT).
export function startPerf(pids, out) {
  if (!out || pids.length === 0) return async () => {};
  const perf = spawn('perf', ['record', '-F', '499', '-g', '-p', pids.join(','), '-o', out],
                     {stdio: ['ignore', 'ignore', 'inherit']});
  return async () => {
    perf.kill('SIGINT');
    await new Promise((resolve) => perf.once('exit', resolve));
  };
}

// CPU seconds (user + system) used so far by the processes `pids` (Linux /proc; 0 for a pid
// that is gone), and by this Node process (the clients).
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);  // utime, stime
    } catch {
      // exited
    }
  }
  const self = process.cpuUsage();
  return {processes: ticks / 100, client: (self.user + self.system) / 1e6};
}

// The PostgreSQL backends serving the bench database (their pids), or [] on SQLite.
export function pgBackends(db) {
  if (db.kind !== 'postgres') return [];
  const url = new URL(db.url);
  url.searchParams.delete('pool_size');
  const out = h.sql({database: {kind: 'postgres', url: url.toString()}},
                    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() ' +
                    'AND pid <> pg_backend_pid()');
  return out.split('\n').filter(Boolean).map(Number);
}

// PostgreSQL counters of the bench database (BENCH_PG_STATS=1): commits and, when the server
// preloads pg_stat_statements, statement calls. null on SQLite or when off.
export function pgStats(db) {
  if (db.kind !== 'postgres' || process.env.BENCH_PG_STATS !== '1') return null;
  const url = new URL(db.url);
  url.searchParams.delete('pool_size');
  const psql = (sql) => h.sql({database: {kind: 'postgres', url: url.toString()}}, sql);
  let statements = null;
  try {
    psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    statements = Number(psql('SELECT sum(calls) FROM pg_stat_statements s JOIN pg_database d ' +
                             'ON d.oid = s.dbid WHERE d.datname = current_database()'));
  } catch {
    // not preloaded: commits only
  }
  psql('SELECT pg_stat_force_next_flush()');
  const commits = Number(psql('SELECT xact_commit FROM pg_stat_database ' +
                              'WHERE datname = current_database()'));
  return {statements, commits, top: () => statements === null ? '' : psql(
      'SELECT calls, left(regexp_replace(query, \'\\s+\', \' \', \'g\'), 110) FROM ' +
      'pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid ' +
      'WHERE d.datname = current_database() ORDER BY calls DESC LIMIT 12')};
}

async function main() {
  const DURATION_MS = Number(process.env.BENCH_DURATION_S || 10) * 1000;
  const CLIENTS = Number(process.env.BENCH_CLIENTS || 16);
  const TOKENS = Number(process.env.BENCH_TOKENS || 30000);
  const started = [];
  process.once('exit', () => {
    for (const child of started) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
  const dir = h.makeTempDir('cl-keyless-bench-');
  const stack = await startKeylessStack((child) => started.push(child), {dir});
  try {
    const {server, port, issuer, db} = stack;
    say(`control plane pid ${server.child.pid} on ${server.baseUrl} (${db.kind}; files in ${dir})`);
    const agent = new http.Agent({keepAlive: true, maxSockets: CLIENTS});
    const fetchesAfterWarmup = await warmUpExchanges(agent, port, issuer, CLIENTS);

    say(`minting ${TOKENS} GitLab-shaped RS256 ID tokens (unique jti) ...`);
    const tokens = Array.from({length: TOKENS}, () => issuer.mint());
    issuer.minted.length = 0;

    say(`${CLIENTS} concurrent clients, ${DURATION_MS / 1000} s, POST /v1/auth/federated/exchange`);
    const before = pgStats(db);
    const backends = pgBackends(db);
    const cpu0 = [cpuSeconds([server.child.pid]), cpuSeconds(backends)];
    const stopPerf = startPerf([server.child.pid], process.env.BENCH_PERF_OUT);
    const stopPgPerf = startPerf(backends, process.env.BENCH_PERF_PG_OUT);
    const r = await runLoad({
      clients: CLIENTS,
      durationMs: DURATION_MS,
      once: (i) => i < tokens.length ? exchangeOnce(agent, port, tokens[i]) : null,
    });
    const cpu1 = [cpuSeconds([server.child.pid]), cpuSeconds(backends)];
    await stopPerf();
    await stopPgPerf();
    agent.destroy();

    const ok = r.statuses.get(200) || 0;
    const others = [...r.statuses].filter(([s]) => s !== 200);
    say(`exchanges: ${ok} in ${r.elapsed.toFixed(2)} s = ${(ok / r.elapsed).toFixed(0)}/s; ` +
        `p50 ${percentile(r.latencies, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(r.latencies, 99).toFixed(2)} ms` +
        (others.length ? `; NON-200: ${JSON.stringify(Object.fromEntries(others))}` : ''));
    say(`JWKS fetches during the timed phase: ${issuer.jwksFetches() - fetchesAfterWarmup}` +
        (r.ops >= tokens.length ? ' (ran out of pre-minted tokens: raise BENCH_TOKENS)' : ''));
    const share = (x) => `${(x / r.elapsed).toFixed(2)} cores, ${(x / r.ops * 1e6).toFixed(0)} µs/op`;
    say(`CPU during the timed phase: server ${share(cpu1[0].processes - cpu0[0].processes)}; ` +
        `Node clients ${share(cpu1[0].client - cpu0[0].client)}` +
        (db.kind === 'postgres' ?
          `; PostgreSQL backends (${backends.length}) ${share(cpu1[1].processes - cpu0[1].processes)}` :
          ''));
    const after = pgStats(db);
    if (before && after) {
      const per = (a, b) => ((a - b) / r.ops).toFixed(2);
      // pg_stat_database counts autocommit reads as commits too, and its counters lag a little.
      say(`PostgreSQL per exchange: ≈ ${per(after.commits, before.commits)} commits` +
          (after.statements === null ? ' (pg_stat_statements not preloaded)' :
                                       `, ${per(after.statements, before.statements)} statements`));
      if (after.statements !== null) say(after.top());
    }
    if (others.length) process.exitCode = 1;
  } finally {
    // The temp dir goes with the harness's exit hook (kept with CL_E2E_KEEP=1).
    await stack.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
