// End to end: managing an organization's event webhooks through the CLI and the API. The signing
// secret is shown once (never again in list or describe, never in the logs); bad URLs and events
// are refused with the rule they break; a URL registered twice is a conflict; lists follow
// next_cursor; deletion is audited; members, viewers and API tokens are refused; a ping and an
// audited action (an API token created) each put a delivery in the webhook's log. Deliveries are
// checked in the log only (sending them is the dispatcher's business). Receivers are
// http://localhost:<closed port>: a host name, so creation accepts it, and a delivery attempt
// never leaves the machine. Runs on SQLite and, with CL_E2E_DATABASE=postgres, on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, freePort, missingPrerequisite, recordSecret, show, startStack } from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'hooks-org';
const SECRET_RE = /^clwhsec_[A-Za-z0-9_-]{43}$/;
const PATH = `/v1/organizations/${ORG}/webhooks`;

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

function parseJson(r) {
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`stdout is not JSON (${e.message})\n${show(r)}`);
  }
}

describe('event webhooks: management API and CLI', () => {
  let stack;
  let owner;
  let member;
  let viewer;
  let apiToken;
  let receiver; // http://localhost:<a port nothing listens on>
  let n = 0;
  const url = () => `${receiver}/hook-${++n}`;
  const asOwner = (method, path, body) =>
    api(stack, method, path, { token: owner.sessionToken(), body });

  // Creates a webhook through the API; returns {webhook, secret}.
  async function create(events = ['token.created'], extra = {}) {
    const r = await asOwner('POST', PATH, { url: url(), events, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    recordSecret(stack, r.body.secret, 'webhook signing secret');
    return r.body;
  }

  before(async () => {
    if (skip) return;
    stack = await startStack();
    receiver = `http://localhost:${await freePort()}`;
    owner = stack.newUser('hanna.owner');
    member = stack.newUser('mike.member');
    viewer = stack.newUser('vera.viewer');
    await owner.login();
    ok(await owner.run(['organization', 'create', '--name', ORG]));
    ok(await owner.run(['organization', 'set', '--name', ORG]));
    for (const [user, role] of [[member, 'member'], [viewer, 'viewer']]) {
      ok(await owner.run(['organization', 'invitation', 'create', '--receiver', user.email,
        '--role', role]));
      await user.login();
    }
    const t = ok(await owner.run(['organization', 'api-token', 'create', '--name', 'ci',
      '--permission', 'organization:read,api_token:create,api_token:read', '-o', 'token']));
    apiToken = t.stdout.trim();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('create shows the secret once; list and describe never show it', { skip }, async () => {
    const target = url();
    const json = ok(await owner.run(['organization', 'webhook', 'create', '--url', target,
      '--event', 'token.revoked,token.created', '--event', 'token.created', '--description',
      'security team', '-o', 'json']));
    const created = parseJson(json);
    recordSecret(stack, created.secret, 'webhook signing secret');
    assert.match(created.secret, SECRET_RE);
    assert.equal(created.webhook.url, target);
    assert.deepEqual(created.webhook.events, ['token.created', 'token.revoked']);
    assert.equal(created.webhook.description, 'security team');
    assert.equal(created.webhook.created_by.kind, 'user');

    const table = ok(await owner.run(['organization', 'webhooks', 'create', '--url', url(),
      '--event', 'member.removed']));
    assert.match(table.stdout, /will not be shown again/, show(table));
    const secret = table.stdout.split('\n').find((l) => l.startsWith('clwhsec_'));
    assert.match(secret ?? '', SECRET_RE, show(table));
    recordSecret(stack, secret, 'webhook signing secret');
    assert.notEqual(secret, created.secret);

    const id = created.webhook.id;
    const seen = [
      ok(await owner.run(['organization', 'webhook', 'list', '-o', 'json'])).stdout,
      ok(await owner.run(['organization', 'webhook', 'list'])).stdout,
      ok(await owner.run(['organization', 'webhook', 'describe', '--id', id, '-o', 'json'])).stdout,
      ok(await owner.run(['organization', 'webhook', 'describe', '--id', id])).stdout,
      JSON.stringify((await asOwner('GET', PATH)).body),
      JSON.stringify((await asOwner('GET', `${PATH}/${id}`)).body),
    ];
    for (const text of seen) {
      assert.ok(text.includes(target) || text.includes(id), text);
      assert.doesNotMatch(text, /clwhsec_|sealed|secret/, text);
    }
    const got = await asOwner('GET', `${PATH}/${id}`);
    assert.deepEqual(got.body.webhook, created.webhook);
    // Neither secret reaches the server's log.
    const logs = stack.server.logs();
    for (const s of [created.secret, secret]) assert.ok(!logs.includes(s), 'a secret is logged');
  });

  test('bad URLs and events are refused with the rule they break', { skip }, async () => {
    const urls = [
      ['ftp://example.com/hook', /http:\/\/ or https:\/\//],
      ['example.com/hook', /http:\/\/ or https:\/\//],
      ['https://user:pass@example.com/hook', /user name or password/],
      ['https://example.com/hook#frag', /fragment/],
      [`https://example.com/${'a'.repeat(2048)}`, /at most 2048/],
      ['https:///hook', /host/],
      ['https://example.com:99999/hook', /port/],
      ['https://exa mple.com/hook', /printable/],
      ['http://127.0.0.1:8080/hook', /127\.0\.0\.1.*webhook_allowed_networks/],
      ['http://10.0.0.5/hook', /10\.0\.0\.5/],
      ['http://192.168.1.1/hook', /192\.168\.1\.1/],
      ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254/],
      ['http://100.64.0.1/hook', /100\.64\.0\.1/],
      ['http://0.0.0.0/hook', /0\.0\.0\.0/],
      ['http://[::1]/hook', /::1/],
      ['http://[fd00::1]/hook', /fd00::1/],
      ['http://[::ffff:10.0.0.1]/hook', /10\.0\.0\.1/],
      ['http://2130706433/hook', /127\.0\.0\.1/], // 127.0.0.1 as one number
      ['http://0x7f.1/hook', /127\.0\.0\.1/],
    ];
    for (const [bad, message] of urls) {
      const r = await asOwner('POST', PATH, { url: bad, events: ['token.created'] });
      assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'invalid_argument', bad);
      assert.match(r.body.error.message, message, bad);
    }
    const events = [
      [[], /at least one event/],
      [['token.created', 'token.exploded'], /unknown event 'token.exploded'.*token\.revoked/],
      [['ping'], /cannot be subscribed/],
    ];
    for (const [bad, message] of events) {
      const r = await asOwner('POST', PATH, { url: url(), events: bad });
      assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message, JSON.stringify(bad));
    }
    const unknown = await asOwner('POST', PATH,
        { url: url(), events: ['token.created'], secret: 'mine' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'unknown_field');
    // The CLI shows the server's reason.
    const cli = await owner.run(['organization', 'webhook', 'create', '--url',
      'http://10.1.2.3/hook', '--event', 'token.created']);
    assert.notEqual(cli.code, 0, show(cli));
    assert.match(cli.stderr, /10\.1\.2\.3/, show(cli));
    // None of them was created.
    const list = await asOwner('GET', `${PATH}?limit=1000`);
    const registered = new Set(list.body.webhooks.map((w) => w.url));
    for (const [bad] of urls) assert.ok(!registered.has(bad), bad);
    assert.ok(!registered.has('http://10.1.2.3/hook'));
  });

  test('the same URL twice in one organization is a conflict', { skip }, async () => {
    const first = await create();
    const again = await asOwner('POST', PATH,
        { url: first.webhook.url, events: ['token.revoked'] });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.equal(again.body.error.code, 'already_exists');
    const cli = await owner.run(['organization', 'webhook', 'create', '--url', first.webhook.url,
      '--event', 'token.revoked']);
    assert.notEqual(cli.code, 0, show(cli));
    assert.match(cli.stderr, /already has a webhook/, show(cli));
  });

  test('lists follow next_cursor, newest first; delete is audited', { skip }, async () => {
    for (let i = 0; i < 3; i++) await create(['invitation.created']);
    const all = (await asOwner('GET', `${PATH}?limit=1000`)).body.webhooks;
    assert.ok(all.length >= 5, JSON.stringify(all));
    const times = all.map((w) => w.created_at);
    assert.deepEqual(times, [...times].sort().reverse());
    const seen = [];
    let cursor = null;
    for (let pages = 0; pages < 100; pages++) {
      const q = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await asOwner('GET', `${PATH}${q}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.webhooks.length <= 2);
      seen.push(...r.body.webhooks.map((w) => w.id));
      cursor = r.body.next_cursor;
      if (cursor === null) break;
    }
    assert.deepEqual(seen, all.map((w) => w.id));
    const limited = parseJson(ok(await owner.run(['organization', 'webhook', 'list', '--limit',
      '3', '-o', 'json'])));
    assert.deepEqual(limited.webhooks.map((w) => w.id), seen.slice(0, 3));

    const id = seen[0];
    const del = ok(await owner.run(['organization', 'webhook', 'delete', '--id', id, '-y']));
    assert.match(del.stdout, /deleted/, show(del));
    assert.equal((await asOwner('GET', `${PATH}/${id}`)).status, 404);
    const twice = await asOwner('DELETE', `${PATH}/${id}`);
    assert.equal(twice.status, 404, JSON.stringify(twice.body));
    const audit = await asOwner('GET', `/v1/organizations/${ORG}/audit-events?target_id=${id}`);
    assert.deepEqual(audit.body.audit_events.map((e) => e.action).sort(),
        ['webhook.created', 'webhook.deleted']);
  });

  test('members, viewers and API tokens are refused; any caller reads the catalogue', { skip },
      async () => {
        const { webhook } = await create();
        const calls = [
          ['GET', PATH], ['POST', PATH, { url: url(), events: ['token.created'] }],
          ['GET', `${PATH}/${webhook.id}`], ['DELETE', `${PATH}/${webhook.id}`],
          ['GET', `${PATH}/${webhook.id}/deliveries`], ['POST', `${PATH}/${webhook.id}/ping`, {}],
        ];
        for (const [who, token] of [['member', member.sessionToken()],
          ['viewer', viewer.sessionToken()], ['API token', apiToken]]) {
          for (const [method, path, body] of calls) {
            const r = await api(stack, method, path, { token, body });
            assert.equal(r.status, 403, `${who} ${method} ${path}: ${JSON.stringify(r.body)}`);
            assert.equal(r.body.error.code, 'permission_denied');
          }
          const events = await api(stack, 'GET', '/v1/webhook-events', { token });
          assert.equal(events.status, 200, JSON.stringify(events.body));
          const names = events.body.events.map((e) => e.name);
          assert.ok(names.includes('token.revoked') && names.includes('token.expiring_soon'));
          assert.ok(!names.includes('ping'));
        }
        assert.equal((await asOwner('GET', `${PATH}/${webhook.id}`)).status, 200, 'still there');
        const cli = await viewer.run(['--org', ORG, 'organization', 'webhook', 'list']);
        assert.notEqual(cli.code, 0, show(cli));
        assert.match(cli.stderr, /webhook:manage/, show(cli));
      });

  test('a ping and an audited action each put a delivery in the log', { skip }, async () => {
    const { webhook } = await create(['token.created']);
    const deliveries = async () => {
      const r = await asOwner('GET', `${PATH}/${webhook.id}/deliveries?limit=1000`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.deliveries;
    };
    assert.deepEqual(await deliveries(), []);

    const ping = await asOwner('POST', `${PATH}/${webhook.id}/ping`, {});
    assert.equal(ping.status, 202, JSON.stringify(ping.body));
    let log = await deliveries();
    assert.equal(log.length, 1, JSON.stringify(log));
    assert.equal(log[0].event, 'ping');
    assert.equal(log[0].event_id, ping.body.event_id);
    assert.match(log[0].status, /^(pending|delivered|failed)$/);

    // An API token created: its audit event is enqueued for the subscribed webhook, with the
    // audit event's id as the event id.
    const token = parseJson(ok(await owner.run(['organization', 'api-token', 'create', '--name',
      'hooked', '-o', 'json'])));
    const audit = await asOwner('GET',
        `/v1/organizations/${ORG}/audit-events?action=api_token.created&target_id=${token.api_token.id}`);
    assert.equal(audit.body.audit_events.length, 1, JSON.stringify(audit.body));
    log = await deliveries();
    const created = log.filter((d) => d.event === 'token.created');
    assert.equal(created.length, 1, JSON.stringify(log));
    assert.equal(created[0].event_id, audit.body.audit_events[0].id);

    // The CLI: ping and the log.
    const cliPing = ok(await owner.run(['organization', 'webhook', 'ping', '--id', webhook.id,
      '-o', 'json']));
    const eventId = parseJson(cliPing).event_id;
    const cliLog = parseJson(ok(await owner.run(['organization', 'webhook', 'deliveries', '--id',
      webhook.id, '-o', 'json'])));
    assert.ok(cliLog.deliveries.some((d) => d.event_id === eventId && d.event === 'ping'),
        JSON.stringify(cliLog));
    const table = ok(await owner.run(['organization', 'webhook', 'deliveries', '--id',
      webhook.id]));
    assert.match(table.stdout, /token\.created/, show(table));

    // A webhook that does not subscribe to token.created gets nothing from it.
    const other = await create(['member.removed']);
    ok(await owner.run(['organization', 'api-token', 'create', '--name', 'unhooked']));
    const none = await asOwner('GET', `${PATH}/${other.webhook.id}/deliveries`);
    assert.deepEqual(none.body.deliveries, []);
  });
});
