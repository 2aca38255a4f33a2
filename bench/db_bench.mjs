// Database-backed endpoints of one control plane instance, on SQLite or PostgreSQL: the set-up of
// bench/keyless_bench.mjs (development IdP, fake CI issuer, control plane, CLI login through the
// scripted browser, organization `bench`, project `app`, a trust policy), then BENCH_EXISTING API
// tokens and one org-scoped API token for attestations, then for BENCH_DURATION_S each, with
// BENCH_CONNECTIONS concurrent keep-alive clients:
//   - GET  /v1/organizations/bench/api-tokens     (first page, with a session)
//   - GET  /v1/organizations/bench/projects       (with a session)
//   - POST /v1/organizations/bench/api-tokens     (token creation, with a session)
//   - POST .../workflow-runs + .../workflow-runs/{id}/attestation (init + push, with an API token;
//     one operation is both requests)
//   - POST /v1/auth/federated/exchange            (keyless, pre-minted ID tokens)
// Prints one table (operations/s, requests/s, p50, p99, non-2xx answers). Exits non-zero when any
// request fails or answers other than expected, so a short CI run proves the script works. Every
// process it starts is stopped at the end (also on failure); no credential is printed.
//
// Usage: TMPDIR=/dev/shm node bench/db_bench.mjs
//        scripts/with-postgres.sh env BENCH_DATABASE=postgres node bench/db_bench.mjs
// Environment (all optional):
//   CL_BUILD_DIR          build tree with server/ and cli/ (default <repo>/build-bench)
//   BENCH_DATABASE        sqlite (default) or postgres (needs CL_TEST_POSTGRES_URL)
//   BENCH_PG_POOL_SIZE    the server's PostgreSQL pool size (default 16)
//   BENCH_CONNECTIONS     concurrent clients (default 16)
//   BENCH_DURATION_S      seconds per operation (default 5)
//   BENCH_EXISTING        API tokens created before the list is measured (default 1000)
//   BENCH_EXCHANGE_TOKENS CI ID tokens minted for the exchange (default 20000; stops when used up)
//   BENCH_ONLY            comma-separated operation names to run (default: all)
//   BENCH_PG_STATS=1      PostgreSQL: statements per operation (pg_stat_statements preloaded)
import * as http from 'node:http';

process.env.CL_BUILD_DIR ??= new URL('../build-bench', import.meta.url).pathname;
const h = await import('../tests/e2e/harness.mjs');
const kb = await import('./keyless_bench.mjs');

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 16);
const DURATION_MS = Number(process.env.BENCH_DURATION_S || 5) * 1000;
const EXISTING = Number(process.env.BENCH_EXISTING || 1000);
const EXCHANGE_TOKENS = Number(process.env.BENCH_EXCHANGE_TOKENS || 20000);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const ORG_PATH = `/v1/organizations/${kb.ORG}`;

const started = [];
process.once('exit', () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

// Creates `n` API tokens with `session`, 16 at a time; throws on any failure.
async function createTokens(agent, port, session, n, prefix) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await kb.request(agent, port, 'POST', `${ORG_PATH}/api-tokens`, {
        headers: {'authorization': `Bearer ${session}`, 'content-type': 'application/json'},
        body: JSON.stringify({name: `${prefix}-${i}`}),
      });
      if (r.status !== 201) throw new Error(`creating API token ${i} answered ${r.status}`);
    }
  };
  await Promise.all(Array.from({length: 16}, worker));
}

function statement(i) {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{name: 'app', digest: {sha256: i.toString(16).padStart(64, '0')}}],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {},
  };
}

async function main() {
  const dir = h.makeTempDir('cl-db-bench-');
  const stack = await kb.startKeylessStack((child) => started.push(child), {
    dir,
    // The list needs BENCH_EXISTING tokens and the creation phase makes thousands.
    serverArgs: ['--api-token-create-per-minute', '0'],
  });
  const agent = new http.Agent({keepAlive: true, maxSockets: CONNECTIONS});
  let failed = false;
  try {
    const {server, port, issuer, db, session} = stack;
    kb.say(`control plane pid ${server.child.pid} on ${server.baseUrl} (${db.kind}); ` +
           `${CONNECTIONS} connections, ${DURATION_MS / 1000} s per operation`);
    const withSession = {authorization: `Bearer ${session}`};
    const created = await kb.request(agent, port, 'POST', `${ORG_PATH}/api-tokens`, {
      headers: {...withSession, 'content-type': 'application/json'},
      body: JSON.stringify({name: 'attest'}),
    });
    if (created.status !== 201) throw new Error(`creating the API token answered ${created.status}`);
    const apiToken = JSON.parse(created.body).token;
    await createTokens(agent, port, session, EXISTING, 'existing');
    kb.say(`${EXISTING + 1} API tokens exist`);

    let tokens = [];
    const ops = [
      {name: 'list_api_tokens', label: 'GET .../api-tokens (first page)', want: 200,
       once: async () => (await kb.request(agent, port, 'GET', `${ORG_PATH}/api-tokens`,
                                           {headers: withSession})).status},
      {name: 'list_projects', label: 'GET .../projects', want: 200,
       once: async () => (await kb.request(agent, port, 'GET', `${ORG_PATH}/projects`,
                                           {headers: withSession})).status},
      {name: 'create_api_token', label: 'POST .../api-tokens', want: 201,
       once: async (i) => (await kb.request(agent, port, 'POST', `${ORG_PATH}/api-tokens`, {
         headers: {...withSession, 'content-type': 'application/json'},
         body: JSON.stringify({name: `created-${i}`}),
       })).status},
      {name: 'attestation', label: 'attestation init + push (API token)', want: [201, 200],
       requests: 2,
       once: async (i) => {
         const headers = {'authorization': `Bearer ${apiToken}`, 'content-type': 'application/json'};
         const init = await kb.request(agent, port, 'POST', `${ORG_PATH}/workflow-runs`,
                                       {headers, body: JSON.stringify({workflow: 'build', project: 'app'})});
         if (init.status !== 201) return init.status;
         const id = JSON.parse(init.body).workflow_run.id;
         const push = await kb.request(agent, port, 'POST',
                                       `${ORG_PATH}/workflow-runs/${id}/attestation`,
                                       {headers, body: JSON.stringify({statement: statement(i)})});
         return [init.status, push.status];
       }},
      {name: 'exchange', label: 'POST /v1/auth/federated/exchange', want: 200,
       prepare: async () => {
         await kb.warmUpExchanges(agent, port, issuer, CONNECTIONS);
         tokens = Array.from({length: EXCHANGE_TOKENS}, () => issuer.mint());
         issuer.minted.length = 0;
       },
       once: (i) => i < tokens.length ? kb.exchangeOnce(agent, port, tokens[i]) : null},
    ];

    const rows = [];
    const statements = [];  // BENCH_PG_STATS=1
    for (const op of ops) {
      if (ONLY && !ONLY.has(op.name)) continue;
      if (op.prepare) await op.prepare();
      const before = kb.pgStats(db);
      const r = await kb.runLoad({clients: CONNECTIONS, durationMs: DURATION_MS, once: op.once});
      const after = kb.pgStats(db);
      if (after?.statements != null) {
        statements.push(`${op.name}: ${((after.statements - before.statements) / r.ops).toFixed(1)} ` +
                        'statements per op');
      }
      const want = new Set([op.want].flat());
      const bad = [...r.statuses].filter(([s]) => !want.has(s));
      const badCount = bad.reduce((n, [, c]) => n + c, 0);
      if (bad.length || r.ops === 0) failed = true;
      rows.push([op.label, (r.ops / r.elapsed).toFixed(0),
                 ((r.ops * (op.requests || 1)) / r.elapsed).toFixed(0),
                 kb.percentile(r.latencies, 50).toFixed(2), kb.percentile(r.latencies, 99).toFixed(2),
                 badCount ? `${badCount} ${JSON.stringify(Object.fromEntries(bad))}` : '0']);
    }
    const head = ['operation', 'ops/s', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx'];
    const widths = head.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
    const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) :
                                                           c.padStart(widths[i]))).join('  ');
    kb.say(`\n${db.kind}, ${CONNECTIONS} connections, load average ${
      (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    kb.say(line(head));
    for (const row of rows) kb.say(line(row));
    for (const l of statements) kb.say(`PostgreSQL, ${l}`);
  } catch (e) {
    failed = true;
    kb.say(`db_bench failed: ${e.message}`);
  } finally {
    agent.destroy();
    await stack.stop();
  }
  if (failed) process.exitCode = 1;
}

await main();
