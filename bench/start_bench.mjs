// Server start time against the number of API tokens: the time from spawning
// `chainloop-controlplane serve` until GET /readyz answers 200, on a database with 0 API tokens
// and on the same database after BENCH_TOKENS API tokens were added (one SQL statement in one
// transaction, straight into the tables: creating them through the API would take hours). Start
// time should not depend on the number of tokens: nothing at start-up may read or scan them all.
//
// After a first start that creates the schema and the pepper, each case is started BENCH_STARTS
// times (stopped with SIGTERM in between); the median and the range are printed, and the ratio
// of the medians. The login IdP is not started: the server needs it only when someone logs in. Every process it starts is stopped and
// the temp dir (or PostgreSQL database) removed at the end.
//
// Usage: node bench/start_bench.mjs
//        bash scripts/with-postgres.sh env BENCH_DATABASE=postgres node bench/start_bench.mjs
// Environment (all optional):
//   CL_BUILD_DIR     build tree with server/chainloop-controlplane (default <repo>/build)
//   BENCH_DATABASE   sqlite (default) or postgres (needs CL_TEST_POSTGRES_URL, as set by
//                    scripts/with-postgres.sh; a database is created in it and dropped)
//   BENCH_TOKENS     API tokens in the large database (default 1000000)
//   BENCH_STARTS     starts measured per database (default 3)
//   TMPDIR           where the temp dir goes (the SQLite file of 1,000,000 tokens is ~450 MB)
//   BENCH_KEEP       1: keep the temp dir (SQLite) or database (PostgreSQL) and print where
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const buildDir = process.env.CL_BUILD_DIR ?? new URL('../build', import.meta.url).pathname;
const serverBin = join(buildDir, 'server', 'chainloop-controlplane');
const dialect = process.env.BENCH_DATABASE ?? 'sqlite';
const tokens = Number(process.env.BENCH_TOKENS ?? 1_000_000);
const starts = Number(process.env.BENCH_STARTS ?? 3);
const READY_TIMEOUT_MS = 120_000;

const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'cl-start-bench-'));
const children = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Runs a command to completion; throws with its output when it fails.
function run(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

// The database: a URL for the server and a way to run SQL in it.
function makeDatabase() {
  if (dialect === 'sqlite') {
    const file = join(dir, 'controlplane.db');
    return {
      url: `sqlite:${file}`,
      sql: (text) => run('sqlite3', ['-bail', file], text),
      drop: () => {},
    };
  }
  if (dialect !== 'postgres') throw new Error(`BENCH_DATABASE: sqlite or postgres, not ${dialect}`);
  const admin = process.env.CL_TEST_POSTGRES_URL;
  if (!admin) throw new Error('BENCH_DATABASE=postgres needs CL_TEST_POSTGRES_URL (scripts/with-postgres.sh)');
  const name = `cl_start_bench_${process.pid}`;
  run('psql', ['-v', 'ON_ERROR_STOP=1', '-q', admin, '-c', `CREATE DATABASE ${name}`]);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    sql: (text) => run('psql', ['-v', 'ON_ERROR_STOP=1', '-q', url.toString()], text),
    drop: () => run('psql', ['-q', admin, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]),
  };
}

// Spawns the server and resolves with the milliseconds until /readyz answered 200, and the
// process (still running) with its output so far.
async function startServer(db) {
  const port = await freePort();
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--database', db.url,
    '--data-dir', join(dir, 'data'),
    '--pepper-file', join(dir, 'pepper'),
    '--oidc-issuer', 'http://127.0.0.1:9/never-called',
    '--oidc-client-id', 'start-bench',
    '--log-level', 'info',
  ];
  const env = { PATH: process.env.PATH, CHAINLOOP_OIDC_CLIENT_SECRET: 'start-bench-secret' };
  const t0 = performance.now();
  const child = spawn(serverBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = null;
  child.once('exit', (code, signal) => { exited = { code, signal }; });
  for (;;) {
    if (exited) throw new Error(`server exited (${JSON.stringify(exited)}):\n${output}`);
    if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`not ready in time:\n${output}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      await r.arrayBuffer();
      if (r.status === 200) return { ms: performance.now() - t0, child, output: () => output };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// The first start creates the schema and the pepper: it is run once beforehand, not measured.
async function measure(db, label) {
  const times = [];
  let log = '';
  for (let i = 0; i < starts; i++) {
    const s = await startServer(db);
    times.push(s.ms);
    await stop(s.child);
    log = s.output();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`${label}: median ${median.toFixed(0)} ms to ready ` +
      `(${sorted.map((t) => t.toFixed(0)).join(', ')} ms)`);
  return { median, log };
}

// BENCH_TOKENS API tokens in one organization, a tenth of them in a project, with distinct
// hashes under the server's pepper id, in one transaction. Plain SQL both dialects accept.
function insertTokens(db, pepperId) {
  const org = '3f0c6a52-9d7e-4b1a-8c2d-5e6f7a8b9c0d';
  const project = '7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
  const now = Date.now();
  const series = dialect === 'sqlite'
    ? `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${tokens})
       SELECT i FROM seq`
    : `SELECT i FROM generate_series(1, ${tokens}) AS i`;
  const hex = dialect === 'sqlite' ? "printf('%064x', i)" : "lpad(to_hex(i), 64, '0')";
  db.sql(`
BEGIN;
INSERT INTO organizations (id, name, created_at) VALUES ('${org}', 'start-bench', ${now});
INSERT INTO projects (id, org_id, name, created_at) VALUES ('${project}', '${org}', 'p', ${now});
INSERT INTO api_tokens (id, org_id, project_id, name, token_hash, permissions, created_by_kind,
                        created_by_id, created_by_name, created_at, last_used_at, pepper_id)
SELECT 'tok-' || i, '${org}', CASE WHEN i % 10 = 0 THEN '${project}' END, 'token-' || i,
       ${hex}, 'workflow_run:create', 'user', 'start-bench', 'start-bench',
       ${now} - i, ${now} - i, '${pepperId}'
FROM (${series}) AS s;
COMMIT;
`);
}

let db = null;
try {
  db = makeDatabase();
  console.log(`database: ${dialect}; ${starts} starts each; build: ${buildDir}`);
  const first = await startServer(db);  // migrations, pepper file
  await stop(first.child);
  console.log(`first start (creates the schema and the pepper): ${first.ms.toFixed(0)} ms`);
  const empty = await measure(db, '0 API tokens');
  const pepper = empty.log.match(/peppers loaded.*?current[^0-9a-f]*([0-9a-f]{8})/);
  if (!pepper) throw new Error(`no "peppers loaded" line with the current pepper id:\n${empty.log}`);
  const t0 = performance.now();
  insertTokens(db, pepper[1]);
  console.log(`inserted ${tokens} API tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const full = await measure(db, `${tokens} API tokens`);
  console.log(`ratio (${tokens} / 0): ${(full.median / empty.median).toFixed(2)}`);
} finally {
  for (const c of [...children]) await stop(c);
  if (process.env.BENCH_KEEP === '1') {
    console.log(`kept: ${dir}${db ? ` (database ${db.url})` : ''}`);
  } else {
    try {
      db?.drop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
