// Keyless CI token exchanges per second on one control plane instance with a warm key cache
// (issue "Keyless OIDC for CI", Benchmark). Starts the development IdP (the server needs one for
// logins), a fake GitLab-like CI issuer on loopback (tests/e2e/ci_issuer.mjs) and the control
// plane on SQLite under $TMPDIR (use TMPDIR=/dev/shm to take the disk out of the picture); logs
// in with the CLI through the scripted browser, creates an organization and a trust policy, warms
// the issuer's key cache, then runs N concurrent clients that each POST
// /v1/auth/federated/exchange with a fresh GitLab-shaped ID token (unique jti) for a fixed time.
// Tokens are minted before the timed phase so the client's RSA signing is not measured.
// Prints exchanges/s, p50/p99 latency and any non-200 answers. Every process it starts is stopped
// at the end (also on failure). No token is printed.
//
// Usage: TMPDIR=/dev/shm node bench/keyless_bench.mjs
// Environment (all optional):
//   CL_BUILD_DIR          build tree with server/ and cli/ (default <repo>/build-bench)
//   BENCH_DURATION_S      timed phase in seconds (default 10)
//   BENCH_CLIENTS         concurrent clients (default 16)
//   BENCH_TOKENS          tokens minted in advance (default 30000; the run stops early if used up)
import {spawn} from 'node:child_process';
import {mkdirSync} from 'node:fs';
import * as http from 'node:http';
import {join} from 'node:path';

process.env.CL_BUILD_DIR ??= new URL('../build-bench', import.meta.url).pathname;
const h = await import('../tests/e2e/harness.mjs');
const {startBenchServer} = await import('./bench_server.mjs');
const {startCiIssuer} = await import('../tests/e2e/ci_issuer.mjs');

const DURATION_MS = Number(process.env.BENCH_DURATION_S || 10) * 1000;
const CLIENTS = Number(process.env.BENCH_CLIENTS || 16);
const TOKENS = Number(process.env.BENCH_TOKENS || 30000);
const ORG = 'bench';

const started = [];
process.once('exit', () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

function say(line) {
  process.stdout.write(`${line}\n`);
}

function startServer(dir, idp, port, issuerUrl) {
  const track = (cmd, args, opts) => {
    const child = spawn(cmd, args, opts);
    started.push(child);
    return child;
  };
  return startBenchServer(h, track, {
    dir,
    idp,
    port,
    logFile: 'server.log',
    args: [
      '--federation-issuers', issuerUrl,
      // Neither the per-organization exchange limit nor failure throttling is what is measured.
      '--federated-exchange-per-minute', '0',
      '--auth-failure-limit', '0',
      '--log-level', 'warn',
    ],
  });
}

// One exchange over a keep-alive agent; resolves with the status code.
function exchangeOnce(agent, port, token) {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    organization: ORG,
  }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/v1/auth/federated/exchange',
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
      },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const dir = h.makeTempDir('cl-keyless-bench-');
  const issuer = await startCiIssuer();
  let server;
  try {
    const port = await h.freePort();
    const idp = await h.startIdp({redirectUris: [`http://127.0.0.1:${port}/auth/callback`]});
    started.push(idp.process);
    server = await startServer(dir, idp, port, issuer.url);
    issuer.audience = server.baseUrl;
    say(`control plane pid ${server.child.pid} on ${server.baseUrl} (SQLite in ${dir})`);

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

    const agent = new http.Agent({keepAlive: true, maxSockets: CLIENTS});
    // Warm-up: discovery and JWKS are fetched once; every later exchange uses the cached keys.
    for (let i = 0; i < 20; i++) {
      const status = await exchangeOnce(agent, port, issuer.mint());
      if (status !== 200) throw new Error(`warm-up exchange answered ${status}`);
    }
    const fetchesAfterWarmup = issuer.jwksFetches();

    say(`minting ${TOKENS} GitLab-shaped RS256 ID tokens (unique jti) ...`);
    const tokens = Array.from({length: TOKENS}, () => issuer.mint());
    issuer.minted.length = 0;

    say(`${CLIENTS} concurrent clients, ${DURATION_MS / 1000} s, POST /v1/auth/federated/exchange`);
    const latencies = [];
    const statuses = new Map();
    let next = 0;
    const t0 = performance.now();
    const end = t0 + DURATION_MS;
    const client = async () => {
      while (performance.now() < end && next < tokens.length) {
        const token = tokens[next++];
        const s = performance.now();
        const status = await exchangeOnce(agent, port, token);
        latencies.push(performance.now() - s);
        statuses.set(status, (statuses.get(status) || 0) + 1);
      }
    };
    await Promise.all(Array.from({length: CLIENTS}, client));
    const elapsed = (performance.now() - t0) / 1000;
    agent.destroy();

    latencies.sort((a, b) => a - b);
    const ok = statuses.get(200) || 0;
    const others = [...statuses].filter(([s]) => s !== 200);
    say(`exchanges: ${ok} in ${elapsed.toFixed(2)} s = ${(ok / elapsed).toFixed(0)}/s; ` +
        `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms` +
        (others.length ? `; NON-200: ${JSON.stringify(Object.fromEntries(others))}` : ''));
    say(`JWKS fetches during the timed phase: ${issuer.jwksFetches() - fetchesAfterWarmup}` +
        (next >= tokens.length ? ' (ran out of pre-minted tokens: raise BENCH_TOKENS)' : ''));
    if (others.length) process.exitCode = 1;
  } finally {
    // The temp dir goes with the harness's exit hook (kept with CL_E2E_KEEP=1).
    for (const child of started) await h.stopProcess(child);
    await issuer.stop();
  }
}

await main();
