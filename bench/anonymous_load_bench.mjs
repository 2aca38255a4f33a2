// Anonymous login load against a slow IdP (issue "HTTP framing and the cost of unauthenticated
// requests"): starts a fake IdP whose server-facing endpoints answer in BENCH_IDP_DELAY_MS
// (tests/e2e/slow_idp.mjs) and the control plane (SQLite) on loopback, logs a person in, then
// lets BENCH_CLIENTS anonymous clients hammer the login routes for BENCH_SECONDS
// (tests/e2e/login_flood.mjs, in a worker thread):
//   POST /v1/auth/device; GET /auth/login then GET /auth/callback with its state and a wrong
//   code (the server redeems it at the IdP's token endpoint); GET /auth/callback with a bogus
//   state. Each client uses its own loopback source address (127.1.x.y), the worst case for the
//   per-address limit (a botnet); BENCH_ONE_ADDRESS=1 puts them all on 127.0.0.2.
// Meanwhile BENCH_PROBES sequential probers on the main thread measure GET /readyz and an
// authenticated GET /v1/auth/whoami (a person's session: answered by a worker thread, not the
// I/O fast path). Prints latency percentiles of the probes, the IdP's peak concurrency, and the
// clients' answers by status and reason. Every process it starts is stopped at the end.
//
// Environment (all optional):
//   CL_BUILD_DIR         build tree (default <repo>/build)
//   BENCH_CLIENTS        anonymous clients (default 300)
//   BENCH_SECONDS        flood duration (default 20)
//   BENCH_IDP_DELAY_MS   IdP answer time (default 500)
//   BENCH_PROBES         concurrent probers (default 1)
//   BENCH_ONE_ADDRESS=1  all anonymous clients from one address
//   BENCH_ROUTES         which of device,login,callback the clients hammer (default all three)
//   BENCH_SERVER_ARGS    more control plane flags, space-separated
import * as http from 'node:http';

process.env.CL_BUILD_DIR ??= new URL('../build', import.meta.url).pathname;
process.env.CL_E2E_SECRET_HYGIENE ??= '0';
const h = await import('../tests/e2e/harness.mjs');
const { startSlowIdp, loginThroughIdp } = await import('../tests/e2e/slow_idp.mjs');
const { floodInWorker, request } = await import('../tests/e2e/login_flood.mjs');

const CLIENTS = Number(process.env.BENCH_CLIENTS || 300);
const SECONDS = Number(process.env.BENCH_SECONDS || 20);
const DELAY_MS = Number(process.env.BENCH_IDP_DELAY_MS || 500);
const PROBES = Number(process.env.BENCH_PROBES || 1);
const ONE_ADDRESS = process.env.BENCH_ONE_ADDRESS === '1' ? '127.0.0.2' : undefined;
const SERVER_ARGS = (process.env.BENCH_SERVER_ARGS || '').split(' ').filter(Boolean);
const ROUTES = (process.env.BENCH_ROUTES || 'device,login,callback').split(',');

function pct(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const fmt = (v) => v.toFixed(2);
const line = (name, v) => `${name.padEnd(20)} n=${v.length} p50 ${fmt(pct(v, 50))} ms ` +
    `p90 ${fmt(pct(v, 90))} ms p99 ${fmt(pct(v, 99))} ms max ${fmt(Math.max(...v))} ms`;

const idp = await startSlowIdp({ clientId: h.CLIENT_ID });
let stack;
try {
  stack = await h.startStack({ oidcIssuer: idp.url, logLevel: 'warn', extraArgs: SERVER_ARGS });
  const session = await loginThroughIdp(stack.baseUrl);
  const base = stack.baseUrl;
  console.log(`control plane ${base}, IdP delay ${DELAY_MS} ms, ${CLIENTS} clients ` +
      `(${ONE_ADDRESS ? 'one address' : 'one address each'}), ${SECONDS} s, routes ` +
      `${ROUTES.join(',')}, server args [${SERVER_ARGS.join(' ')}]`);

  // Quiet baseline: the same probes without the flood.
  const probe = async (ms, out) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const until = Date.now() + ms;
    const readyz = async () => {
      const a = await request(base, 'GET', '/readyz', { agent });
      if (a.status === 200) out.readyz.push(a.ms);
      else out.errors.push(`readyz ${a.status} ${a.reason}`);
    };
    const whoami = async () => {
      const b = await request(base, 'GET', '/v1/auth/whoami', { agent, token: session });
      if (b.status === 200) out.whoami.push(b.ms);
      else out.errors.push(`whoami ${b.status} ${b.reason}`);
    };
    // Alternate which goes first after the pause, so that both see wake-ups alike.
    for (let n = 0; Date.now() < until; n++) {
      for (const f of n % 2 ? [readyz, whoami] : [whoami, readyz]) await f();
      await new Promise((r) => setTimeout(r, 20));
    }
    agent.destroy();
  };
  const quiet = { readyz: [], whoami: [], errors: [] };
  await probe(3000, quiet);
  console.log('quiet:');
  console.log(`  ${line('GET /readyz', quiet.readyz)}`);
  console.log(`  ${line('GET /v1/auth/whoami', quiet.whoami)}`);
  if (quiet.errors.length) console.log(`  probe errors: ${quiet.errors.length}: ${quiet.errors.slice(0, 5)}`);

  idp.delayMs = DELAY_MS;
  idp.maxInFlight = 0;
  const loaded = { readyz: [], whoami: [], errors: [] };
  const flood = floodInWorker({ baseUrl: base, clients: CLIENTS, ms: SECONDS * 1000,
    routes: ROUTES, oneAddress: ONE_ADDRESS });
  await new Promise((r) => setTimeout(r, 1000));  // measure under the established flood
  await Promise.all(Array.from({ length: PROBES }, () => probe(SECONDS * 1000 - 1500, loaded)));
  const { answers, idpBusy } = await flood;
  idp.delayMs = 0;

  console.log(`under the flood:`);
  console.log(`  ${line('GET /readyz', loaded.readyz)}`);
  console.log(`  ${line('GET /v1/auth/whoami', loaded.whoami)}`);
  if (loaded.errors.length) console.log(`  probe errors: ${loaded.errors.length}: ${loaded.errors.slice(0, 5)}`);
  console.log(`IdP: peak ${idp.maxInFlight} calls in flight; calls ${JSON.stringify([...idp.calls])}`);
  let total = 0;
  for (const [k, v] of Object.entries(answers).sort()) {
    console.log(`  ${k}: ${v}`);
    total += v;
  }
  console.log(`anonymous answers: ${total} (${fmt(total / SECONDS)}/s); 503 idp_unavailable ` +
      `answered in p50 ${fmt(pct(idpBusy.map((b) => b.ms), 50))} ms`);
  const rows = h.sql(stack,
      'SELECT (SELECT COUNT(*) FROM login_requests) + (SELECT COUNT(*) FROM device_requests)');
  console.log(`pending login rows after the flood: ${rows}`);
  // A probe that was not answered 200 is a failed request: the run fails.
  if (quiet.errors.length || loaded.errors.length) process.exitCode = 1;
} finally {
  await stack?.cleanup();
  await idp.stop();
}
