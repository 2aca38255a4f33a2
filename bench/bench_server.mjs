// Starts a control plane for a benchmark script: a temp SQLite database, the development IdP,
// logs to a file in `dir` (as a deployment sends them to a collector, not through a pipe), no
// CHAINLOOP_* settings inherited from the caller's environment except the client secret. Resolves
// when /readyz answers 200. Shared by http_bench.mjs and keyless_bench.mjs.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

// `h` is tests/e2e/harness.mjs as the caller imported it (after setting CL_BUILD_DIR);
// `spawnChild(cmd, args, opts)` starts and tracks the process so the caller can stop it.
export async function startBenchServer(h, spawnChild, { dir, idp, port, args = [], logFile }) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const all = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--external-url', baseUrl,
    '--database', `sqlite:${join(dir, 'controlplane.db')}`,
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
