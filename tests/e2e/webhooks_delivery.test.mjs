// End to end: webhook deliveries (docs/api.md, "Webhooks"). A loopback receiver verifies every
// request's signature with the secret shown at creation, refuses the first attempts and sees the
// retries of the same event (same event id, fresh timestamp, valid signature each time) until one
// is delivered; the delivery log says so. An event committed just before kill -9 is delivered
// after the restart (the outbox is durable). Two instances on one database deliver each event
// once. "Soon" notices (expiry, auto-revocation) are sent once, 7 days ahead. Without an allowed
// network, a loopback URL is refused at creation, and a host name that resolves to loopback is
// refused when connecting (the attempt's error says so). Runs on SQLite and PostgreSQL
// (CL_E2E_DATABASE); the several-instances case on PostgreSQL only.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  api, eventually as until, missingPrerequisite, recordSecret, runServerJob, show, startStack,
} from './harness.mjs';

const skip = missingPrerequisite();
const onPostgres = process.env.CL_E2E_DATABASE === 'postgres';
const FAST = ['--webhook-allowed-networks', '127.0.0.1/32', '--webhook-poll-interval', '100ms',
  '--webhook-retry-initial-delay', '300ms'];

// A loopback receiver: records each request with whether its signature verified under
// `rx.secret`; answers `rx.plan.shift()` (default 200).
async function startReceiver() {
  const rx = { received: [], plan: [], secret: '' };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const mac = Buffer.from('sha256=' + createHmac('sha256', rx.secret).update(body).digest('hex'));
      const got = Buffer.from(String(req.headers['x-chainloop-signature-256'] ?? ''));
      const verified = got.length === mac.length && timingSafeEqual(got, mac);
      let json = null;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        // recorded as not JSON
      }
      rx.received.push({ method: req.method, path: req.url, headers: req.headers, body, json, verified,
        at: Date.now() });
      res.writeHead(rx.plan.shift() ?? 200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  rx.port = server.address().port;
  rx.url = (path) => `http://127.0.0.1:${rx.port}${path}`;
  rx.close = () => new Promise((resolve) => server.close(resolve));
  return rx;
}


describe('webhook deliveries', { skip }, () => {
  let stack;
  let owner;
  let ownerToken;
  let rx;
  const ORG = 'hooks-e2e';

  const org = (rest = '') => `/v1/organizations/${ORG}${rest}`;

  async function createWebhook(url, events, { baseUrl } = {}) {
    const r = await api(stack, 'POST', org('/webhooks'), { token: ownerToken, body: { url, events }, baseUrl });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    recordSecret(stack, r.body.secret, `webhook secret for ${url}`);
    return r.body;
  }

  async function deliveries(id) {
    const r = await api(stack, 'GET', org(`/webhooks/${id}/deliveries?limit=1000`), { token: ownerToken });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.deliveries;
  }

  async function createToken(name, extra = []) {
    const r = await owner.run(['organization', 'api-token', 'create', '--name', name, ...extra, '-o', 'json']);
    assert.equal(r.code, 0, show(r));
    const created = JSON.parse(r.stdout);
    recordSecret(stack, created.token, `API token ${name}`);
    return created;
  }

  before(async () => {
    rx = await startReceiver();
    stack = await startStack({ extraArgs: FAST });
    owner = stack.newUser('hook-owner');
    await owner.login();
    ownerToken = owner.sessionToken();
    for (const args of [['organization', 'create', '--name', ORG], ['organization', 'set', '--name', ORG]]) {
      const r = await owner.run(args);
      assert.equal(r.code, 0, show(r));
    }
  });

  after(async () => {
    await stack?.cleanup();
    await rx?.close();
  });

  test('refused attempts are retried with the same event, each signed, until one is delivered', async () => {
    const { webhook, secret } = await createWebhook(rx.url('/retry'), ['token.created', 'token.revoked']);
    assert.match(secret, /^clwhsec_[A-Za-z0-9_-]{43}$/);
    rx.secret = secret;
    rx.plan.push(500, 503);
    const created = await createToken('retried');

    const mine = () => rx.received.filter((r) => r.path === '/retry' && r.json?.event === 'token.created');
    await until('three attempts', () => mine().length >= 3);
    const attempts = mine();
    assert.equal(attempts.length, 3, 'delivered at the third attempt, then not again');
    for (const a of attempts) {
      assert.equal(a.method, 'POST');
      assert.ok(a.verified, 'every attempt carries a valid signature');
      assert.equal(a.headers['content-type'], 'application/json');
      assert.equal(a.headers['x-chainloop-event'], 'token.created');
      assert.equal(a.headers['x-chainloop-event-id'], a.json.id);
      assert.equal(a.headers['x-chainloop-timestamp'], String(a.json.timestamp));
      assert.ok(Math.abs(a.json.timestamp - a.at / 1000) < 10, 'the timestamp is the attempt\'s');
      assert.equal(a.json.organization.name, ORG);
      assert.equal(a.json.data.api_token.id, created.api_token.id);
      assert.equal(a.json.data.api_token.name, 'retried');
    }
    assert.equal(new Set(attempts.map((a) => a.json.id)).size, 1, 'one event id across retries');
    assert.equal(new Set(attempts.map((a) => a.headers['x-chainloop-delivery'])).size, 1, 'one delivery');
    assert.ok(attempts[1].at - attempts[0].at >= 250, 'the retry waits for the backoff');
    assert.ok(attempts[2].at - attempts[1].at >= attempts[1].at - attempts[0].at - 100, 'the backoff grows');

    const log = await until('the log to say delivered', async () =>
      (await deliveries(webhook.id)).find((d) => d.event === 'token.created' && d.status === 'delivered'));
    assert.equal(log.attempts, 3);
    assert.equal(log.response_status, 200);
    assert.equal(log.event_id, attempts[0].json.id);
    assert.ok(log.delivered_at);
    assert.equal(log.next_attempt_at, null);

    // An event the webhook did not subscribe to is not sent; one it did is.
    const revoke = await owner.run(['organization', 'api-token', 'revoke', '--id', created.api_token.id, '-y']);
    assert.equal(revoke.code, 0, show(revoke));
    await until('token.revoked', () => rx.received.find((r) => r.json?.event === 'token.revoked'));
    assert.ok(!rx.received.some((r) => r.json?.event === 'organization.updated'));
  });

  test('an event committed just before kill -9 is delivered after the restart', async () => {
    const { secret } = await createWebhook(rx.url('/crash'), ['token.created']);
    rx.secret = secret;
    // Deliveries wait: the instance polls once an hour (its first poll is at start).
    await stack.restartServer({ extraArgs: [...FAST.slice(0, 2), '--webhook-poll-interval', '1h'] });
    await new Promise((r) => setTimeout(r, 500));
    const created = await createToken('before-the-crash');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.received.filter((r) => r.path === '/crash').length, 0, 'not sent before the crash');
    const killed = await stack.killServer();
    assert.equal(killed.signal, 'SIGKILL');
    await stack.restartServer({ extraArgs: FAST });
    const got = await until('the event after the restart',
      () => rx.received.find((r) => r.path === '/crash' && r.json?.data?.api_token?.id === created.api_token.id));
    assert.ok(got.verified);
    assert.equal(got.json.event, 'token.created');
  });

  test('"soon" notices are sent once, 7 days ahead', async () => {
    const { secret } = await createWebhook(rx.url('/soon'), ['token.expiring_soon', 'token.auto_revoke_soon']);
    rx.secret = secret;
    const soon = await createToken('expires-in-3-days', ['--expiration', '72h']);
    const later = await createToken('expires-in-30-days', ['--expiration', '720h']);
    // Tokens unused for 5 days are revoked: every token of the org is within 7 days of it.
    const on = await owner.run(['organization', 'update', '--name', ORG, '--api-token-max-days-inactive', '5']);
    assert.equal(on.code, 0, show(on));
    // One pass of the job now (the server's own runs hourly); twice, to show it sends once.
    for (let i = 0; i < 2; i++) {
      const r = await runServerJob(stack, 'webhook-dispatcher', { extraArgs: FAST.slice(0, 2) });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 1000)); // the server's dispatcher may send too
    const got = rx.received.filter((r) => r.path === '/soon');
    assert.ok(got.every((r) => r.verified));
    const expiring = got.filter((r) => r.json.event === 'token.expiring_soon');
    assert.deepEqual(expiring.map((r) => r.json.data.api_token.id), [soon.api_token.id],
      'only the token expiring within 7 days, once');
    assert.equal(expiring[0].json.data.api_token.name, 'expires-in-3-days');
    const due = Date.parse(expiring[0].json.data.due_at);
    assert.ok(Math.abs(due - Date.parse(soon.api_token.expires_at)) < 1000, 'due_at is the expiry');
    const revoking = got.filter((r) => r.json.event === 'token.auto_revoke_soon');
    const ids = revoking.map((r) => r.json.data.api_token.id);
    assert.ok(ids.includes(later.api_token.id), JSON.stringify(ids));
    // The other expires before it would be revoked: that notice is the expiry's.
    assert.ok(!ids.includes(soon.api_token.id), JSON.stringify(ids));
    assert.equal(new Set(ids).size, ids.length, 'one auto-revoke notice per token');
    const off = await owner.run(['organization', 'update', '--name', ORG, '--api-token-max-days-inactive', '0']);
    assert.equal(off.code, 0, show(off));
  });

  test('several instances deliver each event once', { skip: !onPostgres && 'PostgreSQL only' }, async () => {
    const { secret } = await createWebhook(rx.url('/fleet'), ['token.created']);
    rx.secret = secret;
    await stack.startInstance({ extraArgs: FAST });
    await stack.startInstance({ extraArgs: FAST });
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await createToken(`fleet-${i}`)).api_token.id);
    const seen = () => rx.received.filter((r) => r.path === '/fleet');
    await until('every event', () => new Set(seen().map((r) => r.json?.data?.api_token?.id)).size === ids.length);
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would have arrived by now
    const byEvent = new Map();
    for (const r of seen()) byEvent.set(r.json.id, (byEvent.get(r.json.id) ?? 0) + 1);
    assert.equal(byEvent.size, ids.length);
    assert.deepEqual([...byEvent.values()].filter((n) => n !== 1), [], 'no event delivered twice');
    assert.ok(seen().every((r) => r.verified));
  });

  test('without an allowed network, loopback is refused at creation and when connecting', async () => {
    const guarded = await stack.startInstance({ extraArgs: ['--webhook-poll-interval', '100ms'] });
    const refused = await api(stack, 'POST', org('/webhooks'), {
      token: ownerToken, baseUrl: guarded.baseUrl,
      body: { url: `http://127.0.0.1:${rx.port}/nope`, events: ['token.created'] },
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'invalid_argument');
    assert.ok(!rx.received.some((r) => r.path === '/nope'));

    // The other instances allow loopback and would deliver: stop them, so this one is the only
    // sender, and register the webhook by a host name that resolves to loopback.
    await stack.restartServer({ extraArgs: ['--webhook-poll-interval', '100ms'] });
    for (const inst of stack.instances.filter((i) => i !== guarded)) inst.process.kill('SIGTERM');
    const { webhook, secret } = await createWebhook(`http://localhost:${rx.port}/named`, ['token.created'],
      { baseUrl: guarded.baseUrl });
    rx.secret = secret;
    await createToken('guarded');
    const d = await until('a refused attempt', async () =>
      (await deliveries(webhook.id)).find((x) => x.event === 'token.created' && x.attempts >= 1));
    assert.notEqual(d.status, 'delivered');
    assert.match(d.error ?? '', /address not allowed/);
    assert.equal(d.response_status, null);
    assert.ok(!rx.received.some((r) => r.path === '/named'), 'nothing reached the loopback receiver');
  });
});
