// End-to-end HTTP benchmark of the control plane, driven by bench/run.sh: starts the development
// IdP, a fake GitLab-like CI issuer and the control plane (SQLite) on loopback, logs in with the
// CLI through the scripted browser, creates an organization, a project, a trust policy and an
// org-scoped API token, exchanges a CI ID token for a clfed_ token, then
//   1. creates BENCH_TOKENS more API tokens over the API, authenticates each once, and reads the
//      server's RSS from /proc/<pid>/status (bytes per cached token);
//   2. runs BENCH_ROUNDS rounds, each running wrk once against: Debian's nginx (private prefix)
//      serving `return 200`, the server's /healthz, and GET /v1/auth/whoami with the API token,
//      the session, the clfed_ token, the API token through the rotating Lua script, and all
//      the BENCH_TOKENS tokens in random order (the rotating Lua script, after an unmeasured
//      warm-up run: the steady state of a busy set of tokens, not the cold start);
//   3. prints the median of the per-round ratios next to their targets.
// The server runs at BENCH_LOG_LEVEL (default info: the default, one access-log line per
// request; /healthz logs at debug). Every process it starts is stopped at the end (also on
// failure); it exits non-zero if any request failed. No credential is printed or put on a
// command line (wrk reads them from 0600 files in the temp dir).
//
// Environment (all optional):
//   CL_BUILD_DIR       release build tree (default <repo>/build-bench)
//   BENCH_DURATION     wrk duration per run (default 10s)
//   BENCH_CONNECTIONS  wrk connections (default 64);  BENCH_THREADS  wrk threads (default 2)
//   BENCH_ROUNDS       rounds over all scenarios (default 5)
//   BENCH_TOKENS       API tokens for the memory measurement and the rotation (default 100000)
//   BENCH_TOKEN_BUDGET_S  stop creating tokens after this many seconds (default 300)
//   BENCH_LOG_LEVEL    server log level (default info)
//   BENCH_WARMUP       unmeasured wrk run before each many-token run (default 6s)
//   BENCH_PERF=1       record a perf profile of the control plane during one extra wrk run
//   BENCH_PERF_SCENARIO  which load to profile (default api_token; e.g. tokens_100000, session)
//   BENCH_PERF_CALLGRAPH  perf --call-graph mode (default fp; dwarf for user-space chains)
//   BENCH_SQLITE_CACHE_MIB  --sqlite-cache-mib of the server (default: the server's, 64)
//   BENCH_SERVER_ARGS  more control plane flags, space-separated (e.g. "--io-threads 3")
//   NGINX_BIN          nginx binary (default: nginx on PATH)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

process.env.CL_BUILD_DIR ??= new URL('../build-bench', import.meta.url).pathname;
const h = await import('../tests/e2e/harness.mjs');
const { startBenchServer } = await import('./bench_server.mjs');
const { startCiIssuer } = await import('../tests/e2e/ci_issuer.mjs');

const DURATION = process.env.BENCH_DURATION || '10s';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 64);
const THREADS = Number(process.env.BENCH_THREADS || 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const TOKENS = Number(process.env.BENCH_TOKENS || 100000);
const TOKEN_BUDGET_MS = Number(process.env.BENCH_TOKEN_BUDGET_S || 300) * 1000;
// Not $NGINX: nginx itself reads that variable (inherited listening sockets).
const NGINX = process.env.NGINX_BIN || 'nginx';
const LEVEL = process.env.BENCH_LOG_LEVEL || 'info';
const WARMUP = process.env.BENCH_WARMUP || '6s';

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
function runWrk(url, luaScript, duration = DURATION) {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${duration}`, '--latency'];
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

function startServer(dir, idp, port, logLevel, issuerUrl) {
  return startBenchServer(h, startTracked, {
    dir,
    idp,
    port,
    logFile: `server-${logLevel}.log`,
    args: [
      '--log-level', logLevel,
      '--federation-issuers', issuerUrl,
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
// wrk scripts (temp dir, mode 0600: they hold credentials)

// Static header: wrk sends the same request on every connection (its fast path).
function staticAuthScript(dir, name, token) {
  const file = join(dir, `${name}.lua`);
  writeFileSync(file, `wrk.headers["Authorization"] = "Bearer ${token}"\n`, { mode: 0o600 });
  return file;
}

// Many credentials: each wrk thread shuffles the list with its own seed and pre-formats one
// request per credential in init(), so request() only hands out the next string (random order,
// no formatting per request). Used with one token too, as the control for the Lua mechanism.
function rotatingAuthScript(dir, name, tokens) {
  const list = join(dir, `${name}.txt`);
  writeFileSync(list, `${tokens.join('\n')}\n`, { mode: 0o600 });
  const file = join(dir, `${name}.lua`);
  writeFileSync(file, `local next_seed = 1
function setup(thread)
  thread:set("seed", next_seed)
  next_seed = next_seed + 1
end
local reqs = {}
local i = 0
function init(args)
  math.randomseed(seed * 7919)
  local tokens = {}
  for line in io.lines("${list}") do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  for k = #tokens, 2, -1 do
    local j = math.random(k)
    tokens[k], tokens[j] = tokens[j], tokens[k]
  end
  for k = 1, #tokens do
    reqs[k] = wrk.format("GET", "/v1/auth/whoami", { ["Authorization"] = "Bearer " .. tokens[k] })
  end
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
`, { mode: 0o600 });
  return file;
}

// The server's credential cache counters from /metrics: {hit, miss, refreshes}.
async function cacheCounters(baseUrl) {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const value = (re) => Number((text.match(re) || [])[1] || 0);
  return {
    hit: value(/^chainloop_auth_cache_requests_total\{result="hit"\} (\S+)/m),
    miss: value(/^chainloop_auth_cache_requests_total\{result="miss"\} (\S+)/m),
    refreshes: value(/^chainloop_auth_cache_refreshes_total (\S+)/m),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fixed = (x, n = 3) => Number(x.toFixed(n));

// ---------------------------------------------------------------------------------------------

async function main() {
  const dir = h.makeTempDir('cl-bench-');
  const results = { level: LEVEL, rounds: [], memory: {} };
  const issuer = await startCiIssuer();
  try {
    const port = await h.freePort();
    const idp = await h.startIdp({ redirectUris: [`http://127.0.0.1:${port}/auth/callback`] });
    started.push(idp.process);
    const server = await startServer(dir, idp, port, LEVEL, issuer.url);
    issuer.audience = server.baseUrl;
    say(`control plane pid ${server.child.pid} on ${server.baseUrl} (log level ${LEVEL}); data in ${dir}`);

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
    await cli(['organization', 'set', '--name', 'bench']);
    await cli(['project', 'create', '--name', 'app']);
    await cli(['organization', 'federation', 'create', '--name', 'gl', '--issuer', issuer.url,
      '--provider', 'gitlab', '--bound-claim', 'project_id=4242', '--project', 'app']);
    const token = (await cli(['organization', 'api-token', 'create', '--name', 'bench', '-o', 'token'])).trim();
    if (!token.startsWith('clapi_')) throw new Error('api-token create -o token did not print a token');
    const session = readFileSync(configPath, 'utf8').match(/clses_[A-Za-z0-9]+/)?.[0];
    if (!session) throw new Error('no session token in the CLI config');
    // A keyless CI token (clfed_) from an exchange; the ID token lives long enough for the run.
    const exchanged = await fetch(`${server.baseUrl}/v1/auth/federated/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: issuer.mint({ exp: Math.floor(Date.now() / 1000) + 3000 }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        organization: 'bench',
      }).toString(),
    });
    const federated = (await exchanged.json()).access_token;
    if (exchanged.status !== 200 || !federated?.startsWith('clfed_')) {
      throw new Error(`the keyless exchange answered ${exchanged.status}`);
    }

    const whoamiUrl = `${server.baseUrl}/v1/auth/whoami`;
    for (const [what, credential, kind] of [['API token', token, 'api_token'],
      ['session', session, 'user'], ['clfed_ token', federated, 'federated']]) {
      // Twice: the first answer may come from a worker, which remembers what the I/O thread needs.
      for (let i = 0; i < 2; i++) {
        const r = await fetch(whoamiUrl, { headers: { authorization: `Bearer ${credential}` } });
        const body = await r.json();
        if (r.status !== 200 || body?.principal?.kind !== kind) {
          throw new Error(`whoami with the ${what} answered ${r.status} (${body?.principal?.kind})`);
        }
      }
    }
    say('whoami answers 200 with the API token, the session and the clfed_ token');

    // -------------------------------------------------------------------------------------
    // Many API tokens: created over the API, then each authenticated once (memory), then rotated
    // through by wrk in random order.
    const pid = server.child.pid;
    const before = procStatus(pid);
    say(`memory: server before creating tokens ${mib(before.VmRSS)} RSS, ${before.Threads} threads`);
    const orgUrl = `${server.baseUrl}/v1/organizations/bench/api-tokens`;
    const tokens = new Array(TOKENS);
    let failures = 0;
    const t0 = Date.now();
    await pool(TOKENS, 16, t0 + TOKEN_BUDGET_MS, async (i) => {
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
    if (failures) throw new Error(`${failures} token creations failed`);
    say(`memory: created ${live.length} tokens in ${(createMs / 1000).toFixed(1)} s ` +
        `(${(live.length / (createMs / 1000)).toFixed(0)}/s)`);
    const afterCreate = procStatus(pid);
    const t1 = Date.now();
    let authFailures = 0;
    await pool(live.length, 32, Infinity, async (i) => {
      const r = await fetch(whoamiUrl, { headers: { authorization: `Bearer ${live[i]}` } });
      await r.arrayBuffer();
      if (r.status !== 200) authFailures++;
    });
    if (authFailures) throw new Error(`${authFailures} of the new tokens were refused`);
    const authMs = Date.now() - t1;
    const after = procStatus(pid);
    const perToken = live.length ? (after.VmRSS - afterCreate.VmRSS) * 1024 / live.length : 0;
    say(`memory: authenticated each once in ${(authMs / 1000).toFixed(1)} s`);
    say(`memory: after creating: VmRSS ${mib(afterCreate.VmRSS)}; with ${live.length} tokens cached: ` +
        `VmRSS ${mib(after.VmRSS)}, VmHWM (peak) ${mib(after.VmHWM)}; ${perToken.toFixed(0)} ` +
        'bytes/token cached (RSS delta)');
    results.memory = { tokens: live.length, create_seconds: createMs / 1000, auth_seconds: authMs / 1000,
      before, after_create: afterCreate, after_auth: after, bytes_per_token_rss: Math.round(perToken) };

    // -------------------------------------------------------------------------------------
    // Alternating rounds: every scenario once per round, in the same order.
    const nginx = await startNginx(dir);
    say(`nginx pid ${nginx.child.pid} on ${nginx.url}`);
    const scenarios = [
      ['nginx', nginx.url, null],
      ['healthz', `${server.baseUrl}/healthz`, null],
      ['api_token', whoamiUrl, staticAuthScript(dir, 'api', token)],
      ['session', whoamiUrl, staticAuthScript(dir, 'session', session)],
      ['clfed', whoamiUrl, staticAuthScript(dir, 'clfed', federated)],
      ['api_token_lua', whoamiUrl, rotatingAuthScript(dir, 'one', [token])],
      ...(live.length ? [[`tokens_${live.length}`, whoamiUrl, rotatingAuthScript(dir, 'many', live), true]]
        : []),
    ];
    say(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} --latency, ${ROUNDS} rounds of: ` +
        scenarios.map(([n]) => n).join(', '));
    for (let i = 0; i < ROUNDS; i++) {
      const round = {};
      for (const [name, url, script, warm] of scenarios) {
        // The other scenarios of the round take longer than auth_cache_revalidate: the many
        // tokens' entries have aged out. Measured warm (steady state), after one unmeasured run.
        if (warm) runWrk(url, script, WARMUP);
        const before = script ? await cacheCounters(server.baseUrl) : null;
        const r = runWrk(url, script);
        // Credential lookups of this run that went to the database, and bulk refreshes.
        let cache = '';
        if (before) {
          const after = await cacheCounters(server.baseUrl);
          const hits = after.hit - before.hit;
          const misses = after.miss - before.miss;
          r.miss_ratio = misses / Math.max(1, hits + misses);
          r.refreshes = after.refreshes - before.refreshes;
          cache = `  cache misses ${(100 * r.miss_ratio).toFixed(2)}%, refreshed ${r.refreshes}`;
        }
        round[name] = { rps: r.rps, p50: r.p50, p99: r.p99, p99ms: r.p99ms, non2xx: r.non2xx, errors: r.errors,
          miss_ratio: r.miss_ratio, refreshes: r.refreshes };
        say(`  #${i + 1} ${name.padEnd(16)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50}  p99 ${r.p99}` +
            `${r.non2xx ? `  NON-2xx ${r.non2xx}` : ''}${r.errors ? `  ${r.errors}` : ''}${cache}`);
        if (r.non2xx) throw new Error(`${name}: ${r.non2xx} answers were not 2xx`);
        if (r.errors) throw new Error(`${name}: ${r.errors}`);
        if (!(r.rps > 0)) throw new Error(`${name}: no request was answered`);
      }
      results.rounds.push(round);
    }

    // Ratios per round, then their medians: both servers swing between rounds on a shared VM.
    const many = live.length ? `tokens_${live.length}` : null;
    const ratio = (a, b) => results.rounds.map((r) => r[a].rps / r[b].rps);
    const rows = [
      ['whoami (API token) / nginx', ratio('api_token', 'nginx'), 0.80],
      ['whoami (API token) / healthz', ratio('api_token', 'healthz'), 0.95],
      ['healthz / nginx', ratio('healthz', 'nginx'), null],
      ['session / API token', ratio('session', 'api_token'), 0.90],
      ['clfed_ / API token', ratio('clfed', 'api_token'), 0.90],
      ...(many ? [[`${live.length} tokens / API token`, ratio(many, 'api_token'), 0.90],
        [`${live.length} tokens / one token, same Lua`, ratio(many, 'api_token_lua'), 0.90]] : []),
      ['one token via Lua / static header', ratio('api_token_lua', 'api_token'), null],
      ['p99 whoami / p99 nginx', results.rounds.map((r) => r.api_token.p99ms / r.nginx.p99ms), -1.25],
    ];
    results.summary = {};
    say('\nmedian of the per-round ratios (target in brackets):');
    for (const [label, xs, target] of rows) {
      const m = median(xs);
      const met = target === null ? '' : target < 0 ? (m <= -target ? 'met' : 'NOT met')
        : (m >= target ? 'met' : 'NOT met');
      results.summary[label] = { median: fixed(m), rounds: xs.map((x) => fixed(x)), target, met };
      say(`  ${label.padEnd(40)} ${fixed(m).toFixed(3)}  [${target === null ? '-' : target < 0
        ? `<= ${-target}` : `>= ${target}`}] ${met}   rounds: ${xs.map((x) => x.toFixed(2)).join(' ')}`);
    }

    if (process.env.BENCH_PERF === '1') {
      const data = join(process.env.BENCH_OUT_DIR || dir, 'perf.data');
      // BENCH_PERF_CALLGRAPH=dwarf gives user-space call chains (the release build has no frame
      // pointers) at a higher recording cost. BENCH_PERF_SCENARIO picks the load (default api_token).
      const cg = process.env.BENCH_PERF_CALLGRAPH || 'fp';
      const which = process.env.BENCH_PERF_SCENARIO || 'api_token';
      const scenario = scenarios.find(([n]) => n === which);
      if (!scenario) throw new Error(`BENCH_PERF_SCENARIO: no scenario ${which}`);
      const perf = startTracked('perf', ['record', '-F', '499', '--call-graph', cg,
        '-p', String(server.child.pid), '-o', data, '--', 'sleep', '8'], { stdio: 'ignore' });
      const r = runWrk(scenario[1], scenario[2]);
      say(`  ${which} under perf: ${r.rps.toFixed(0)} req/s`);
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
    say(`RESULTS_JSON ${JSON.stringify(results)}`);
  } finally {
    for (const child of started.reverse()) await h.stopProcess(child);
    await issuer.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${e.stack || e}\n`);
    process.exit(1);
  },
);
