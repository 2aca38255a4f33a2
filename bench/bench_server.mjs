// Starts a control plane for a benchmark script: a temp SQLite database, the development IdP,
// logs to a file in `dir` (as a deployment sends them to a collector, not through a pipe), no
// CHAINLOOP_* settings inherited from the caller's environment except the client secret. Resolves
// when /readyz answers 200. Shared by http_bench.mjs, keyless_bench.mjs and db_bench.mjs;
// `benchDatabase` gives them the database BENCH_DATABASE names.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

// `h` is tests/e2e/harness.mjs as the caller imported it (after setting CL_BUILD_DIR);
// `spawnChild(cmd, args, opts)` starts and tracks the process so the caller can stop it.
// The database of a benchmark: BENCH_DATABASE=sqlite (default), a file in `dir`, or
// BENCH_DATABASE=postgres, a fresh database on the server of scripts/with-postgres.sh
// (CL_TEST_POSTGRES_URL) with a pool of BENCH_PG_POOL_SIZE connections (default 16). Returns
// {kind, url, drop()}; the caller drops it at the end.
export async function benchDatabase(h, dir) {
  const kind = process.env.BENCH_DATABASE || 'sqlite';
  if (kind === 'sqlite') {
    return { kind, url: `sqlite:${join(dir, 'controlplane.db')}`, drop: async () => {} };
  }
  if (kind !== 'postgres') throw new Error(`BENCH_DATABASE must be sqlite or postgres, not ${kind}`);
  if (!process.env.CL_TEST_POSTGRES_URL) {
    throw new Error('BENCH_DATABASE=postgres: run the script inside scripts/with-postgres.sh');
  }
  const saved = process.env.CL_E2E_DATABASE;
  process.env.CL_E2E_DATABASE = 'postgres';  // what the e2e harness's createDatabase reads
  try {
    const db = await h.createDatabase(dir);
    const url = new URL(db.url);
    url.searchParams.set('pool_size', process.env.BENCH_PG_POOL_SIZE || '16');
    return { kind, url: url.toString(), drop: db.drop };
  } finally {
    if (saved === undefined) delete process.env.CL_E2E_DATABASE;
    else process.env.CL_E2E_DATABASE = saved;
  }
}

// `database`: the --database URL (default: SQLite in `dir`).
export async function startBenchServer(h, spawnChild, { dir, idp, port, args = [], logFile, database }) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const all = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--external-url', baseUrl,
    '--database', database ?? `sqlite:${join(dir, 'controlplane.db')}`,
    '--data-dir', join(dir, 'data'),
    '--oidc-issuer', idp.issuer,
    '--oidc-client-id', h.CLIENT_ID,
    ...args,
  ];
  const env = { ...process.env, CHAINLOOP_OIDC_CLIENT_SECRET: h.CLIENT_SECRET };
  for (const k of Object.keys(env)) {
    if (k.startsWith('CHAINLOOP_') && k !== 'CHAINLOOP_OIDC_CLIENT_SECRET') delete env[k];
  }
  const log = openSync(join(dir, logFile), 'a');
  const child = spawnChild(h.serverBin, all, { env, stdio: ['ignore', log, log] });
  closeSync(log);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.status === 200) return { child, baseUrl };
    } catch {
      // not up yet
    }
    await h.sleep(100);
  }
  throw new Error('server not ready');
}
