// End-to-end HTTP benchmark of the control plane (issue "API tokens", Benchmarks), driven by
// bench/run.sh: starts the development IdP and the control plane (SQLite) on loopback, logs in
// with the CLI through the scripted browser, creates an organization and an org-scoped API token
// with the CLI, then
//   1. runs wrk against GET /v1/auth/whoami with that token and, in the same run, against
//      Debian's nginx (private prefix) serving `return 200`, alternating the two;
//   2. creates many API tokens over the API, authenticates each once, and reads the server's
//      peak and current RSS from /proc/<pid>/status.
// Every process it starts is stopped at the end (also on failure). The API token is never
// printed and never put on a command line (wrk reads it from a Lua file in the temp dir).
//
// Environment (all optional):
//   CL_BUILD_DIR       release build tree (default <repo>/build-bench)
//   BENCH_DURATION     wrk duration per run (default 15s)
//   BENCH_CONNECTIONS  wrk connections (default 64);  BENCH_THREADS  wrk threads (default 2)
//   BENCH_ROUNDS       alternating nginx/control-plane rounds (default 2)
//   BENCH_TOKENS       tokens for the memory measurement (default 100000)
//   BENCH_TOKEN_BUDGET_S  stop creating tokens after this many seconds (default 240)
//   BENCH_PERF=1       record a perf profile of the control plane during one extra wrk run
//   BENCH_PERF_CALLGRAPH  perf --call-graph mode (default fp; dwarf for user-space chains)
//   BENCH_PERF_LEVEL   log level of the server while profiled (default warn; or info)
//   BENCH_SQLITE_CACHE_MIB  --sqlite-cache-mib of the server (default: the server's, 64)
//   BENCH_SERVER_ARGS  more control plane flags, space-separated (e.g. "--io-threads 3")
//   NGINX_BIN          nginx binary (default: nginx on PATH)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

process.env.CL_BUILD_DIR ??= new URL('../build-bench', import.meta.url).pathname;
const h = await import('../tests/e2e/harness.mjs');
const { startBenchServer } = await import('./bench_server.mjs');

const DURATION = process.env.BENCH_DURATION || '15s';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 64);
const THREADS = Number(process.env.BENCH_THREADS || 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 2);
const TOKENS = Number(process.env.BENCH_TOKENS || 100000);
const TOKEN_BUDGET_MS = Number(process.env.BENCH_TOKEN_BUDGET_S || 240) * 1000;
// Not $NGINX: nginx itself reads that variable (inherited listening sockets).
const NGINX = process.env.NGINX_BIN || 'nginx';

const started = [];  // every child we spawn, stopped in finally (SIGKILLed on abrupt exit)
process.once('exit', () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
function startTracked(cmd, args, opts) {
  const child = spawn(cmd, args, opts);
  started.push(child);
  return child;
}

function say(line) {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// wrk

// Runs wrk once; returns {rps, p50, p99, p99ms, non2xx, errors, raw}.
function runWrk(url, luaScript) {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${DURATION}`, '--latency'];
  if (luaScript) args.push('-s', luaScript);
  args.push(url);
  const r = spawnSync('wrk', args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.error ?? ''} ${r.stderr}`);
  const out = r.stdout;
  const num = (re) => {
    const m = out.match(re);
    return m ? m[1] : null;
  };
  const toMs = (s) => {
    if (!s) return null;
    const m = s.match(/^([\d.]+)(us|ms|s)$/);
    if (!m) return null;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const p50 = num(/^\s+50%\s+(\S+)/m);
  const p99 = num(/^\s+99%\s+(\S+)/m);
  return {
    rps: Number(num(/Requests\/sec:\s+([\d.]+)/)),
    p50,
    p99,
    p50ms: toMs(p50),
    p99ms: toMs(p99),
    non2xx: Number(num(/Non-2xx or 3xx responses:\s+(\d+)/) || 0),
    errors: num(/(Socket errors:.*)/),
    raw: out,
  };
}

// ---------------------------------------------------------------------------------------------
// nginx from a private prefix

async function startNginx(dir) {
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const port = await h.freePort();
  const conf = `# benchmark baseline: a static 200, no logging
worker_processes auto;
pid ${prefix}/nginx.pid;
error_log stderr warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "ok\\n"; }
  }
}
`;
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const child = startTracked(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', 'stderr'],
      { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return { child, url };
    } catch {
      // not up yet
    }
    await h.sleep(50);
  }
  throw new Error('nginx did not start');
}

// ---------------------------------------------------------------------------------------------
// control plane

function startServer(dir, idp, port, logLevel) {
  return startBenchServer(h, startTracked, {
    dir,
    idp,
    port,
    logFile: `server-${logLevel}.log`,
    args: [
      '--log-level', logLevel,
      // The memory measurement creates 100,000 tokens as fast as it can: lift the per-organization
      // creation limit (default 60 per minute) for this benchmark server.
      '--api-token-create-per-minute', '0',
      // BENCH_SQLITE_CACHE_MIB: SQLite's page cache bound (default 64 MiB), to tell the
      // credential cache's memory apart from the database's.
      ...(process.env.BENCH_SQLITE_CACHE_MIB ? ['--sqlite-cache-mib', process.env.BENCH_SQLITE_CACHE_MIB]
        : []),
      // BENCH_SERVER_ARGS: more server flags, space-separated (e.g. "--io-threads 3").
      ...(process.env.BENCH_SERVER_ARGS ? process.env.BENCH_SERVER_ARGS.trim().split(/\s+/) : []),
    ],
  });
}

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [])[1]);
  return { VmHWM: kb('VmHWM'), VmRSS: kb('VmRSS'), Threads: Number(text.match(/^Threads:\s+(\d+)/m)[1]) };
}
const mib = (kb) => `${(kb / 1024).toFixed(1)} MiB`;

// Runs `fn(i)` for i in [0, n) with `concurrency` in flight; stops starting new ones at
// `deadline`. Returns the number completed.
async function pool(n, concurrency, deadline, fn) {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < n && Date.now() < deadline) {
      const i = next++;
      await fn(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const dir = h.makeTempDir('cl-bench-');
  const results = { wrk: [], memory: {} };
  try {
    const port = await h.freePort();
    const idp = await h.startIdp({ redirectUris: [`http://127.0.0.1:${port}/auth/callback`] });
    started.push(idp.process);
    let server = await startServer(dir, idp, port, 'warn');
    say(`control plane pid ${server.child.pid} on ${server.baseUrl}; data in ${dir}`);

    // A CLI user with its own config, logged in through the scripted browser.
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const configPath = join(home, 'chainloop', 'config.toml');
    const user = {
      account: 'alice',
      env: () => ({ PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: home, BROWSER: 'true',
        DISPLAY: '', CHAINLOOP_LOGIN_TIMEOUT_SECONDS: '30' }),
      argv: (args) => ['--control-plane', server.baseUrl, '-c', configPath, ...args],
      sessionToken: () => null,  // the harness records the session it finds; not needed here
    };
    const cli = async (args) => {
      const r = await h.runCli(user.argv(args), { env: user.env() });
      if (r.code !== 0) throw new Error(`chainloop ${args.slice(0, 3).join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    await h.browserLogin(user);
    await cli(['organization', 'create', '--name', 'bench']);
    const token = (await cli(['organization', 'api-token', 'create', '--name', 'bench', '-o', 'token'])).trim();
    if (!token.startsWith('clapi_')) throw new Error('api-token create -o token did not print a token');
    const session = readFileSync(configPath, 'utf8').match(/clses_[A-Za-z0-9]+/)?.[0];
    if (!session) throw new Error('no session token in the CLI config');

    const whoamiUrl = `${server.baseUrl}/v1/auth/whoami`;
    const probe = await fetch(whoamiUrl, { headers: { authorization: `Bearer ${token}` } });
    const probeBody = await probe.json();
    if (probe.status !== 200 || probeBody?.principal?.kind !== 'api_token') {
      throw new Error(`whoami with the API token answered ${probe.status}`);
    }
    say(`whoami with the API token: 200 ${JSON.stringify(probeBody)}`);
    const lua = join(dir, 'auth.lua');
    writeFileSync(lua, `wrk.headers["Authorization"] = "Bearer ${token}"\n`, { mode: 0o600 });

    const nginx = await startNginx(dir);
    say(`nginx pid ${nginx.child.pid} on ${nginx.url}`);
    say(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} --latency, ${ROUNDS} alternating rounds`);

    const round = (label, url, script) => {
      const r = runWrk(url, script);
      results.wrk.push({ label, rps: r.rps, p50: r.p50, p99: r.p99, p99ms: r.p99ms,
        non2xx: r.non2xx, errors: r.errors });
      say(`  ${label.padEnd(28)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50}  p99 ${r.p99}` +
          `${r.non2xx ? `  NON-2xx ${r.non2xx}` : ''}${r.errors ? `  ${r.errors}` : ''}`);
      return r;
    };
    const summarize = (label, cp, ng) => {
      const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const cpRps = avg(cp.map((r) => r.rps));
      const ngRps = avg(ng.map((r) => r.rps));
      const p99 = Math.max(...cp.map((r) => r.p99ms));
      // Also each round's ratio to the nginx round before it, and their median: nginx's own rate
      // swings widely between rounds on a shared VM, and the median is robust to one outlier.
      const pairs = cp.map((r, i) => r.rps / ng[Math.min(i, ng.length - 1)].rps);
      const sorted = [...pairs].sort((a, b) => a - b);
      const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      const s = { label, controlplane_rps: Math.round(cpRps), nginx_rps: Math.round(ngRps),
        ratio: Number((cpRps / ngRps).toFixed(3)),
        round_ratios: pairs.map((x) => Number(x.toFixed(3))),
        median_round_ratio: Number(median.toFixed(3)), controlplane_p99_ms_worst: p99,
        nginx_p99_ms_worst: Math.max(...ng.map((r) => r.p99ms)) };
      say(`  => ${label}: control plane ${s.controlplane_rps} req/s vs nginx ${s.nginx_rps} req/s: ` +
          `ratio ${s.ratio} (per round ${s.round_ratios.join(', ')}; median ` +
          `${s.median_round_ratio}); control plane p99 (worst round) ${p99} ms`);
      return s;
    };

    const ng = [];
    const cp = [];
    for (let i = 0; i < ROUNDS; i++) {
      ng.push(round(`nginx return 200 #${i + 1}`, nginx.url));
      cp.push(round(`whoami (log warn) #${i + 1}`, whoamiUrl, lua));
    }
    results.summary_warn = summarize('log-level warn', cp, ng);

    if (process.env.BENCH_PERF === '1') {
      // BENCH_PERF_LEVEL=info profiles the server at the default log level instead.
      if (process.env.BENCH_PERF_LEVEL === 'info') {
        await h.stopProcess(server.child);
        server = await startServer(dir, idp, port, 'info');
      }
      const data = join(process.env.BENCH_OUT_DIR || dir, 'perf.data');
      // BENCH_PERF_CALLGRAPH=dwarf gives user-space call chains (the release build has no frame
      // pointers) at a higher recording cost.
      const cg = process.env.BENCH_PERF_CALLGRAPH || 'fp';
      const perf = startTracked('perf', ['record', '-F', '499', '--call-graph', cg,
        '-p', String(server.child.pid),
        '-o', data, '--', 'sleep', '8'], { stdio: 'ignore' });
      round('whoami under perf', whoamiUrl, lua);
      await new Promise((res) => (perf.exitCode !== null ? res() : perf.once('exit', res)));
      // Flat profile by thread and symbol, then where the scheduler is entered from.
      const report = (extra) => spawnSync('perf', ['report', '-i', data, '--no-children', '--stdio',
        ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
      const text = [
        report(['-g', 'none', '--percent-limit', '0.7', '-F', 'overhead,comm,dso,sym']),
        report(['-g', 'none', '--sort', 'dso']),
        report(['-g', 'none', '--percent-limit', '0.2', '--sort', 'sym', '--dsos',
          'chainloop-controlplane,libc.so.6,libstdc++.so.6,libcrypto.so.3']),
        report(['-g', 'caller,0.5,callee,function,percent', '--percent-limit', '5',
          '-F', 'overhead,sym']),
      ].join('\n');
      writeFileSync(join(process.env.BENCH_OUT_DIR || dir, 'perf-report.txt'), text);
      say(`perf report written to ${join(process.env.BENCH_OUT_DIR || dir, 'perf-report.txt')}`);
    }

    // The default log level (info) writes one access-log line per request.
    await h.stopProcess(server.child);
    server = await startServer(dir, idp, port, 'info');
    const ngInfo = [round('nginx return 200 (again)', nginx.url)];
    const cpInfo = [round('whoami (log info, default)', whoamiUrl, lua)];
    results.summary_info = summarize('log-level info', cpInfo, ngInfo);
    await h.stopProcess(nginx.child);
    await h.stopProcess(server.child);
    server = await startServer(dir, idp, port, 'warn');

    // -------------------------------------------------------------------------------------
    // Memory with many active tokens cached.
    const pid = server.child.pid;
    const before = procStatus(pid);
    say(`memory: fresh server ${mib(before.VmRSS)} RSS, ${before.Threads} threads`);
    const orgUrl = `${server.baseUrl}/v1/organizations/bench/api-tokens`;
    const tokens = new Array(TOKENS);
    let failures = 0;
    const t0 = Date.now();
    const created = await pool(TOKENS, 16, t0 + TOKEN_BUDGET_MS, async (i) => {
      const r = await fetch(orgUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `t-${i}` }),
      });
      const j = await r.json();
      if (r.status === 201) tokens[i] = j.token;
      else failures++;
    });
    const createMs = Date.now() - t0;
    const live = tokens.filter(Boolean);
    say(`memory: created ${live.length} tokens (${failures} failed) in ${(createMs / 1000).toFixed(1)} s ` +
        `(${(live.length / (createMs / 1000)).toFixed(0)}/s)`);
    const afterCreate = procStatus(pid);
    const t1 = Date.now();
    let authFailures = 0;
    await pool(live.length, 32, Infinity, async (i) => {
      const r = await fetch(whoamiUrl, { headers: { authorization: `Bearer ${live[i]}` } });
      await r.arrayBuffer();
      if (r.status !== 200) authFailures++;
    });
    const authMs = Date.now() - t1;
    const after = procStatus(pid);
    say(`memory: authenticated each once in ${(authMs / 1000).toFixed(1)} s (${authFailures} failed)`);
    say(`memory: after creating: VmRSS ${mib(afterCreate.VmRSS)}, VmHWM ${mib(afterCreate.VmHWM)}`);
    say(`memory: with ${live.length} tokens cached: VmRSS ${mib(after.VmRSS)}, VmHWM (peak) ` +
        `${mib(after.VmHWM)}; ${((after.VmRSS - afterCreate.VmRSS) * 1024 / live.length).toFixed(0)} ` +
        `bytes/token cached (RSS delta)`);
    results.memory = { tokens_requested: TOKENS, tokens_created: live.length, create_failures: failures,
      create_seconds: createMs / 1000, auth_seconds: authMs / 1000, auth_failures: authFailures,
      fresh: before, after_create: afterCreate, after_auth: after };
    say(`RESULTS_JSON ${JSON.stringify(results)}`);
  } finally {
    for (const child of started.reverse()) await h.stopProcess(child);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${e.stack || e}\n`);
    process.exit(1);
  },
);
