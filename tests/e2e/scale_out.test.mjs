// End to end: three control planes on one PostgreSQL database behind Debian's nginx running
// deploy/nginx/chainloop.conf (rendered only for loopback ports, a test certificate and a temp
// log directory). The configuration passes `nginx -t` and terminates TLS; a login completes with
// each step on another instance; an API token works on every instance and its revocation, made
// on one instance or through the balancer, is refused everywhere within 1 s; clients behind the
// balancer are told apart by their own address (a ban hits only the attacker, the per-address
// connection limit never trips on nginx's connections); kill -9 of an instance under load loses
// no acknowledged token, GETs keep succeeding, and nginx never sends a POST twice.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import * as net from 'node:net';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { driverScript, missingPrerequisite, recordSecret, sleep } from './harness.mjs';
import {
  balancerMissing, checkBalancerConfig, request, startScaleOutStack,
} from './harness/balancer.mjs';

const notPostgres = process.env.CL_E2E_DATABASE !== 'postgres' &&
    'several instances share one PostgreSQL database (CL_E2E_DATABASE=postgres)';
const prerequisite = notPostgres ? false : missingPrerequisite();
const noBalancer = notPostgres ? false : balancerMissing();
if (noBalancer && process.env.CL_E2E_STRICT === '1') {
  throw new Error(`e2e prerequisite missing: ${noBalancer}`);
}
const skip = notPostgres || prerequisite || noBalancer;

const ORG = 'scale-org';
const LIMIT = 5; // auth_failure_limit of every instance
const PER_IP = 4; // max_connections_per_ip of every instance
const PROPAGATION_MS = 1000; // docs/security.md: a revocation reaches every instance within 1 s

const GET_CLIENTS = 4; // concurrent clients of the kill -9 test
const POST_CLIENTS = 3;

const forgedToken = () => `clapi_${randomBytes(32).toString('hex')}`;

// Polls `check` (resolving true when done) until it holds or `ms` pass; resolves the elapsed
// milliseconds, or null on timeout.
async function within(ms, check, intervalMs = 10) {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) return null;
    await sleep(intervalMs);
  }
}

describe('three instances behind nginx', () => {
  let stack;
  let session; // a session of the org's owner, from a CLI login through the balancer
  let direct; // [A, B, C] base URLs
  let ca;

  // The balancer: https URL, trusted CA, optional source address and keep-alive agent.
  const viaBalancer = (path, opts = {}) => request(`${stack.baseUrl}${path}`, { ca, ...opts });

  before(async () => {
    if (skip) return;
    stack = await startScaleOutStack({
      instances: 3,
      extraArgs: [
        '--auth-failure-limit', String(LIMIT), '--auth-failure-window', '60s',
        '--auth-ban-duration', '60s', '--max-connections-per-ip', String(PER_IP),
        '--api-token-create-per-minute', '0',
      ],
    });
    direct = stack.direct.map((s) => s.baseUrl);
    ca = stack.balancer.ca;
    const owner = stack.newUser('scale-owner');
    await owner.deviceLogin();
    session = owner.sessionToken();
    assert.ok(session, 'device login through the balancer stored no session');
    const org = await viaBalancer('/v1/organizations',
        { method: 'POST', token: session, body: { name: ORG } });
    assert.equal(org.status, 201, JSON.stringify(org.body));
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('the configuration passes nginx -t, terminates TLS and bounds bodies', async (t) => {
    if (skip) return t.skip(skip);
    const checked = checkBalancerConfig(stack.balancer.dir);
    assert.ok(checked.ok, checked.output);
    assert.match(checked.output, /syntax is ok/);

    // TLS with the balancer's certificate: trusted with its CA, refused without.
    const ok = await viaBalancer('/healthz');
    assert.equal(ok.status, 200);
    await assert.rejects(request(`${stack.baseUrl}/healthz`), /self[- ]signed|unable to verify/i);
    const curl = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert',
      stack.balancer.caFile, `${stack.baseUrl}/healthz`], { encoding: 'utf8' });
    assert.equal(curl.stdout, '200', curl.stderr);
    // Plain HTTP only redirects to HTTPS, keeping the method.
    const plain = await request(`${stack.balancer.httpUrl}/v1/auth/whoami`);
    assert.equal(plain.status, 308);
    assert.equal(plain.headers.location, 'https://127.0.0.1/v1/auth/whoami');

    // client_max_body_size = the servers' max_body_bytes: nginx refuses more itself.
    const big = await viaBalancer('/v1/organizations',
        { method: 'POST', token: session, body: 'x'.repeat((1 << 20) + 1) });
    assert.equal(big.status, 413);
    const logged413 = () => stack.balancer.accessLog().filter((e) => e.status === 413);
    await within(2000, () => logged413().length > 0);
    const refused = logged413();
    assert.equal(refused.length, 1);
    assert.deepEqual(refused[0].upstreams, [], 'the 413 came from an instance, not from nginx');

    // The instances see the client's address, not nginx's (X-Forwarded-For + trusted_proxies).
    const seen = await viaBalancer('/v1/auth/whoami', { token: session, from: '127.0.0.7' });
    assert.equal(seen.status, 200);
    const logged = /"remote_addr":"127\.0\.0\.7","peer_addr":"127\.0\.0\.1"/;
    const ms = await within(2000, () => stack.direct.some((s) => logged.test(s.logs())));
    assert.notEqual(ms, null, 'no instance logged the forwarded client address');
  });

  test('a login completes with each step on another instance', async (t) => {
    if (skip) return t.skip(skip);
    const [a, b, c] = direct;
    // Device flow by hand: started on A, approved at the IdP, redeemed on B, used on C.
    const started = await request(`${a}/v1/auth/device`, { method: 'POST', body: {} });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    recordSecret(stack, started.body.device_handle, 'device handle');
    const { approveDevice } = await import(pathToFileURL(driverScript).href);
    await approveDevice(started.body.verification_uri_complete, { login: 'scale-hand' });
    let redeemed;
    const ms = await within(15_000, async () => {
      redeemed = await request(`${b}/v1/auth/device/token`,
          { method: 'POST', body: { device_handle: started.body.device_handle } });
      return redeemed.status !== 400 || redeemed.body?.error?.code !== 'authorization_pending';
    }, 1000);
    assert.notEqual(ms, null, 'device login still pending on B');
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    const token = redeemed.body.session_token;
    recordSecret(stack, token, 'session of scale-hand');
    const onC = await request(`${c}/v1/auth/whoami`, { token });
    assert.equal(onC.status, 200, JSON.stringify(onC.body));
    assert.equal(onC.body.principal.email, 'scale-hand@example.com');
    assert.equal((await viaBalancer('/v1/auth/whoami', { token })).status, 200);

    // A CLI browser login through the balancer: nginx sends its legs round robin, so the login
    // start and the IdP's callback reach different instances (the access log says which).
    const user = stack.newUser('scale-browser');
    await user.login();
    assert.equal((await viaBalancer('/v1/auth/whoami', { token: user.sessionToken() })).status,
        200);
    const log = stack.balancer.accessLog();
    const leg = (path) => log.filter((e) => e.path === path).at(-1);
    const legs = ['/auth/login', '/auth/callback', '/v1/auth/token'].map(leg);
    for (const e of legs) assert.equal(e?.upstreams.length, 1, JSON.stringify(e));
    t.diagnostic(`browser login legs: ${legs.map((e) => `${e.path} on ${e.upstreams[0]}`)}`);
    assert.notEqual(legs[0].upstreams[0], legs[1].upstreams[0],
        'login start and callback were served by the same instance');
  });

  // GET /v1/auth/whoami with `token` straight to `url`; true once refused as revoked. From an
  // address of its own, so these expected failures count against no other client.
  async function refusedAsRevoked(url, token) {
    const r = await request(`${url}/v1/auth/whoami`, { token, from: '127.0.0.20', ca });
    if (r.status === 200) return false;
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body?.error?.code, 'token_revoked', JSON.stringify(r.body));
    return true;
  }

  async function createToken(name) {
    const r = await viaBalancer(`/v1/organizations/${ORG}/api-tokens`,
        { method: 'POST', token: session, body: { name } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    recordSecret(stack, r.body.token, `API token ${name}`);
    return { id: r.body.api_token.id, token: r.body.token };
  }

  test('an API token works on every instance; a revocation is refused everywhere within 1 s',
      async (t) => {
        if (skip) return t.skip(skip);
        const first = await createToken('everywhere-1');
        for (const url of direct) {
          const r = await request(`${url}/v1/auth/whoami`, { token: first.token });
          assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`);
        }
        // Revoked straight on A; B and C have it cached (just used) and must hear about it.
        const revoked = await request(
            `${direct[0]}/v1/organizations/${ORG}/api-tokens/${first.id}/revoke`,
            { method: 'POST', token: session, body: {} });
        assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
        const times = await Promise.all(direct.map(
            (url) => within(PROPAGATION_MS, () => refusedAsRevoked(url, first.token))));
        t.diagnostic(`revoked on A, refused after [A, B, C] = ${times} ms`);
        for (const [i, ms] of times.entries()) {
          assert.notEqual(ms, null, `instance ${i} still accepts the token after 1 s`);
        }

        // Revoked through the balancer (whichever instance nginx picks): refused everywhere.
        const second = await createToken('everywhere-2');
        for (const url of direct) {
          assert.equal((await request(`${url}/v1/auth/whoami`, { token: second.token })).status,
              200);
        }
        const viaLb = await viaBalancer(`/v1/organizations/${ORG}/api-tokens/${second.id}/revoke`,
            { method: 'POST', token: session, body: {} });
        assert.equal(viaLb.status, 200, JSON.stringify(viaLb.body));
        const all = await Promise.all([...direct, stack.baseUrl].map(
            (url) => within(PROPAGATION_MS, () => refusedAsRevoked(url, second.token))));
        t.diagnostic(`revoked through nginx, refused after [A, B, C, nginx] = ${all} ms`);
        for (const [i, ms] of all.entries()) {
          assert.notEqual(ms, null, `target ${i} still accepts the token after 1 s`);
        }
      });

  test('one client\'s failures behind the balancer ban that client only', async (t) => {
    if (skip) return t.skip(skip);
    const attacker = '127.0.0.2';
    const other = '127.0.0.3';
    // Bans are per instance and nginx spreads the attempts: go on until every instance refuses.
    const statuses = [];
    let consecutive = 0;
    for (let i = 0; i < 3 * LIMIT + 6 && consecutive < 3; i++) {
      const r = await viaBalancer('/v1/auth/whoami', { token: forgedToken(), from: attacker });
      statuses.push(r.status);
      if (r.status === 429) {
        assert.equal(r.body?.error?.code, 'too_many_failed_attempts', JSON.stringify(r.body));
      } else {
        assert.equal(r.status, 401, JSON.stringify(r.body));
      }
      consecutive = r.status === 429 ? consecutive + 1 : 0;
    }
    t.diagnostic(`attacker: ${statuses.join(' ')}`);
    assert.equal(consecutive, 3, `the attacker was not banned by every instance: ${statuses}`);
    assert.ok(statuses.filter((st) => st === 401).length >= LIMIT, String(statuses));

    // Another client of the same balancer: its own failures are 401 on every instance.
    for (let i = 0; i < 3; i++) {
      const r = await viaBalancer('/v1/auth/whoami', { token: forgedToken(), from: other });
      assert.equal(r.status, 401, JSON.stringify(r.body));
    }
    // Valid credentials are served to both (a ban never refuses an authenticated request).
    for (const from of [other, attacker]) {
      assert.equal((await viaBalancer('/v1/auth/whoami', { token: session, from })).status, 200);
    }
    const logs = stack.direct.map((s) => s.logs()).join('\n');
    assert.match(logs, /client address banned[^\n]*"address":"127\.0\.0\.2"/);
    assert.doesNotMatch(logs, /client address banned[^\n]*"address":"127\.0\.0\.(1|3)"/);
  });

  test('a ban decided by one instance is enforced by all within 1 s', async (t) => {
        if (skip) return t.skip(skip);
        const client = '127.0.0.4';
        for (let i = 0; i < LIMIT; i++) {
          const r = await request(`${direct[0]}/v1/auth/whoami`,
              { token: forgedToken(), from: client });
          assert.equal(r.status, 401, JSON.stringify(r.body));
        }
        const banned = await request(`${direct[0]}/v1/auth/whoami`,
            { token: forgedToken(), from: client });
        assert.equal(banned.status, 429, JSON.stringify(banned.body));
        // Polled every 300 ms: fewer than LIMIT failures each, so B and C cannot ban on their own.
        const times = await Promise.all(direct.slice(1).map((url) => within(PROPAGATION_MS,
            async () => (await request(`${url}/v1/auth/whoami`,
                { token: forgedToken(), from: client })).status === 429, 300)));
        t.diagnostic(`banned on A, refused on [B, C] after ${times} ms`);
        for (const ms of times) assert.notEqual(ms, null, 'the ban did not reach every instance');
      });

  test('the per-address connection limit never trips on the balancer\'s connections',
      async (t) => {
        if (skip) return t.skip(skip);
        // The limit is on: one address straight to an instance gets PER_IP connections served.
        const port = stack.direct[0].port;
        const held = [];
        try {
          for (let i = 0; i < PER_IP + 2; i++) {
            held.push(await connect(port, '127.0.0.9').catch(() => null));
          }
          const served = [];
          for (const s of held) served.push(s ? await statusOn(s) : 0);
          assert.equal(served.filter((st) => st === 200).length, PER_IP, String(served));
        } finally {
          for (const s of held) s?.destroy();
        }

        // 64 concurrent keep-alive requests from four addresses through nginx, twice: nginx
        // opens far more than PER_IP connections to each instance, all from 127.0.0.1.
        const errorsBefore = stack.balancer.errorLog().length;
        const rejected =
            'chainloop_http_connections_rejected_total{limit="max_connections_per_ip"}';
        const rejectedBefore = await Promise.all(direct.map((url) => metric(url, rejected)));
        assert.ok(rejectedBefore[0] >= 2, `A counted ${rejectedBefore[0]} rejections above`);
        const clients = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'].map(
            (from) => ({ from, agent: new https.Agent({ keepAlive: true, ca }) }));
        try {
          for (let round = 0; round < 2; round++) {
            const results = await Promise.all(Array.from({ length: 64 }, (_, i) => {
              const { from, agent } = clients[i % clients.length];
              return viaBalancer('/v1/auth/whoami', { token: session, from, agent })
                  .then((r) => r.status, (e) => String(e));
            }));
            assert.deepEqual(results.filter((st) => st !== 200), [], `round ${round}`);
          }
        } finally {
          for (const c of clients) c.agent.destroy();
        }
        const errors = stack.balancer.errorLog().slice(errorsBefore);
        assert.doesNotMatch(errors, /upstream|reset by peer|refused/, errors);
        const rejectedAfter = await Promise.all(direct.map((url) => metric(url, rejected)));
        assert.deepEqual(rejectedAfter, rejectedBefore, 'an instance rejected connections');
        // Upstream keep-alive: nginx keeps idle connections to every instance open (without
        // HTTP/1.1 and an empty Connection header it would close each after its request), so
        // each has more open than the one this metrics request arrives on.
        for (const url of direct) {
          const open = await metric(url, 'chainloop_http_connections_active');
          assert.ok(open >= 2, `${url}: ${open} open connections, none kept by nginx`);
        }
      });

  // Last: it leaves one instance dead.
  test('kill -9 of an instance under load: no acknowledged token lost, no POST sent twice',
      async (t) => {
        if (skip) return t.skip(skip);
        const victim = stack.direct[2];
        const victimAddr = `127.0.0.1:${victim.port}`;
        const gets = []; // {status | error, at}
        const posts = []; // {status | error, name, id}
        let stop = false;
        const client = async (n, isPost) => {
          const agent = new https.Agent({ keepAlive: true, ca });
          for (let i = 0; !stop; i++) {
            const at = Date.now();
            const name = `load-${n}-${i}`;
            const call = isPost ?
              viaBalancer(`/v1/organizations/${ORG}/api-tokens`,
                  { method: 'POST', token: session, body: { name }, agent }) :
              viaBalancer('/v1/auth/whoami', { token: session, agent });
            const r = await call.catch((e) => ({ error: String(e) }));
            if (isPost) {
              if (r.status === 201) recordSecret(stack, r.body.token, `API token ${name}`);
              posts.push({ status: r.status, error: r.error, name, id: r.body?.api_token?.id });
            } else {
              gets.push({ status: r.status, error: r.error, at });
            }
          }
          agent.destroy();
        };
        const running = [
          ...Array.from({ length: GET_CLIENTS }, (_, n) => client(n, false)),
          ...Array.from({ length: POST_CLIENTS }, (_, n) => client(GET_CLIENTS + n, true)),
        ];
        await sleep(1500);
        // Frozen first, so that it dies with requests provably inside: within 400 ms every
        // client's round robin reaches it, and nginx, waiting for an answer, sends it nothing
        // else (proxy_read_timeout 30 s). Each client then has one request in flight at the kill.
        victim.process.kill('SIGSTOP');
        await sleep(400);
        const exited = new Promise((res) => victim.process.once('exit', res));
        victim.process.kill('SIGKILL');
        await exited;
        const killedAt = Date.now();
        await sleep(2500);
        stop = true;
        await Promise.all(running);

        // Every acknowledged creation is there, read straight from a surviving instance.
        const acked = posts.filter((p) => p.status === 201);
        // Every page, following next_cursor.
        const tokens = [];
        for (let cursor = null, first = true; first || cursor !== null; first = false) {
          const query = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
          const listed = await request(
              `${direct[0]}/v1/organizations/${ORG}/api-tokens?limit=1000${query}`, { token: session });
          assert.equal(listed.status, 200, JSON.stringify(listed.body));
          tokens.push(...listed.body.api_tokens);
          cursor = listed.body.next_cursor;
        }
        const ids = new Map(tokens.map((k) => [k.name, k.id]));
        const lost = acked.filter((p) => ids.get(p.name) !== p.id).map((p) => p.name);
        assert.deepEqual(lost, [], 'acknowledged token creations missing after the kill');

        // GETs keep succeeding: those the dead instance had are retried on another.
        const afterKill = gets.filter((g) => g.at > killedAt);
        assert.ok(afterKill.length > 0, 'no GET after the kill');
        const failedGets = gets.filter((g) => g.status !== 200);
        // A POST the dead instance had received gets 502 (never resent: its outcome is
        // unknown): at least one, at most one per POST client, the one it had in flight.
        const failedPosts = posts.filter((p) => p.status !== 201);
        const posts502 = failedPosts.filter((p) => p.status === 502).length;
        t.diagnostic(`${gets.length} GETs (${afterKill.length} after the kill), ` +
            `${posts.length} POSTs (${acked.length} acknowledged, ${posts502} answered 502)`);
        assert.deepEqual(failedGets, [], 'GETs failed through the balancer');
        assert.deepEqual(failedPosts.filter((p) => p.status !== 502), [],
            'POSTs failed otherwise than with 502');
        assert.ok(posts502 >= 1 && posts502 <= POST_CLIENTS, `${posts502} POSTs answered 502`);

        // The access log: a POST goes to a second instance only when the first never got a byte
        // of it (connection refused); the GETs the dead instance had were sent again elsewhere.
        const log = stack.balancer.accessLog();
        const tokenPosts = log.filter((e) => e.method === 'POST' && e.path.endsWith('/api-tokens'));
        assert.ok(tokenPosts.length >= posts.length, 'POSTs missing from the access log');
        const resent = tokenPosts.filter((e) => e.sent.slice(0, -1).some((bytes) => bytes > 0));
        assert.deepEqual(resent.map((e) => e.line), [], 'nginx sent a POST twice');
        const retriedGets = log.filter((e) => e.method === 'GET' && e.upstreams.length === 2 &&
            e.upstreams[0] === victimAddr && e.sent[0] > 0);
        assert.ok(retriedGets.length > 0, 'no GET was retried after reaching the dead instance');
        t.diagnostic(`access log: ${log.filter((e) => e.upstreams.length > 1).length} requests ` +
            `retried, ${log.filter((e) => e.method === 'POST' && e.upstreams.length > 1).length} ` +
            'of them POSTs refused at connect');
      });
});

// The value of one series (name and labels) on an instance's /metrics (0 when absent).
async function metric(url, series) {
  const r = await request(`${url}/metrics`);
  assert.equal(r.status, 200);
  const line = r.body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

// A raw TCP connection from `localAddress`; resolves once connected.
function connect(port, localAddress) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.data = '';
    s.gone = false;
    s.on('data', (d) => { s.data += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { s.gone = true; });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// One keep-alive request on `s`: its status, or 0 when the connection was closed.
async function statusOn(s) {
  s.data = '';
  if (!s.gone) s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const deadline = Date.now() + 3000;
  while (!/\r\n\r\n/.test(s.data) && !s.gone && Date.now() < deadline) await sleep(10);
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(s.data)?.[1] ?? 0);
}
