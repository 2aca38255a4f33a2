// End to end: API tokens for automation. Creation and its output formats, attesting with
// nothing but $CHAINLOOP_TOKEN, project scope, people-only operations, names, expiry,
// revocation (same instance and across instances), checksums, credential precedence in the
// CLI, last-used tracking (periodic flush and flush at shutdown), the audit log and the
// organization's inactivity auto-revoke setting.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api, freePort, missingPrerequisite, runCli, show, sleep, startStack, statement, writeJson,
} from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'tokens-org';
const TOKEN_RE = /^clapi_[A-Za-z0-9]{49}$/;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

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

// The same token with one character of its secret replaced by another base62 character.
function corrupt(token) {
  const i = 'clapi_'.length + 10;
  const c = token[i];
  const replacement = BASE62[(BASE62.indexOf(c) + 1) % BASE62.length];
  return token.slice(0, i) + replacement + token.slice(i + 1);
}

// An owner with an organization and projects `app` and `other`, on a fresh stack.
async function ownerWithOrg(stack, login) {
  const owner = stack.newUser(login);
  await owner.login();
  for (const args of [
    ['organization', 'create', '--name', ORG],
    ['organization', 'set', '--name', ORG],
    ['project', 'create', '--name', 'app'],
    ['project', 'create', '--name', 'other'],
  ]) {
    ok(await owner.run(args));
  }
  return owner;
}

// Creates a token as `owner`; returns {token, id}.
async function createToken(owner, name, extra = []) {
  const r = ok(await owner.run(['organization', 'api-token', 'create', '--name', name, ...extra,
    '-o', 'json']));
  const body = parseJson(r);
  assert.match(body.token ?? '', TOKEN_RE, r.stdout);
  return { token: body.token, id: body.api_token.id, apiToken: body.api_token };
}

async function listTokens(owner, status = 'all') {
  const r = ok(await owner.run(['organization', 'api-token', 'list', '--status', status, '-o',
    'json']));
  return parseJson(r).api_tokens;
}

// A port nothing listens on: proves the CLI refused before sending anything.
async function deadControlPlane() {
  return `http://127.0.0.1:${await freePort()}`;
}

describe('API tokens', () => {
  let stack;
  let owner;
  let ci; // a CI job: never logs in, its config directory holds no session
  // Runs the CLI as the CI job with nothing but $CHAINLOOP_TOKEN.
  const asCi = (token, args) =>
    ci.run(['--org', ORG, ...args], { env: { CHAINLOOP_TOKEN: token } });

  before(async () => {
    if (skip) return;
    stack = await startStack({ extraArgs: ['--usage-flush-interval', '1s'] });
    owner = await ownerWithOrg(stack, 'tom.owner');
    ci = stack.newUser('ci-job');
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('create: -o token prints only the token, json includes it, table warns', { skip },
      async () => {
        const plain = ok(await owner.run(['organization', 'api-token', 'create', '--name', 'ci',
          '-o', 'token']));
        assert.match(plain.stdout, /^clapi_[A-Za-z0-9]{49}\n$/, show(plain));
        assert.doesNotMatch(plain.stdout + plain.stderr, /will not be shown again/);

        const json = ok(await owner.run(['organization', 'api-token', 'create', '--name',
          'ci-json', '-o', 'json']));
        const body = parseJson(json);
        assert.match(body.token, TOKEN_RE);
        assert.equal(body.api_token.name, 'ci-json');
        assert.equal(body.api_token.scope, 'global');
        assert.equal(body.api_token.revoked_at, null);
        assert.ok(body.api_token.permissions.includes('workflow_run:create'), json.stdout);

        const table = ok(await owner.run(['organization', 'api-token', 'create', '--name',
          'ci-table']));
        assert.match(table.stdout, /will not be shown again/, show(table));
        const secret = table.stdout.split('\n').find((l) => l.startsWith('clapi_'));
        assert.match(secret ?? '', TOKEN_RE, show(table));

        // Each printed value is a working credential.
        for (const token of [plain.stdout.trim(), body.token, secret]) {
          const who = await api(stack, 'GET', '/v1/auth/whoami', { token });
          assert.equal(who.status, 200, JSON.stringify(who.body));
          assert.equal(who.body.principal.kind, 'api_token');
        }
        // Secrets are never logged.
        const logs = stack.server.logs();
        for (const token of [plain.stdout.trim(), body.token, secret]) {
          assert.ok(!logs.includes(token), 'an API token appears in the server log');
        }
      });

  test('a CI job attests with nothing but $CHAINLOOP_TOKEN', { skip }, async () => {
    const { token } = await createToken(owner, 'ci-attest');
    assert.equal(ci.sessionToken(), null, 'the CI job has no login session');
    const file = writeJson(ci.home, 'statement.json', statement());
    const init = ok(await asCi(token, ['attestation', 'init', '--workflow', 'build', '--project',
      'app']));
    assert.doesNotMatch(init.stderr, /login session/, 'no session, so no precedence note');
    ok(await asCi(token, ['attestation', 'push', '--statement', file]));

    const list = ok(await owner.run(['workflow', 'run', 'list']));
    assert.match(list.stdout, /ATTESTED BY/, show(list));
    const line = list.stdout.split('\n').find((l) => /\bci-attest\b/.test(l));
    assert.ok(line, `run list names the token\n${show(list)}`);
    assert.match(line, /api_token/, line);

    const json = parseJson(ok(await owner.run(['workflow', 'run', 'list', '-o', 'json'])));
    const run = json.workflow_runs.find((r) => r.attested_by?.name === 'ci-attest');
    assert.ok(run, JSON.stringify(json));
    assert.equal(run.attested_by.kind, 'api_token');
    assert.equal(run.project, 'app');
    assert.equal(run.state, 'succeeded');
  });

  test('a token needs no --org: whoami names its organization, scope and permissions', { skip },
      async () => {
        const { token, id } = await createToken(owner, 'ci-no-org', ['--project', 'app',
          '--expiration', '24h']);
        const env = { CHAINLOOP_TOKEN: token };
        const file = writeJson(ci.home, 'statement-no-org.json', statement());
        const init = ok(await ci.run(['attestation', 'init', '--workflow', 'build-no-org',
          '--project', 'app'], { env }));
        assert.doesNotMatch(init.stderr, /organization/, show(init));
        ok(await ci.run(['attestation', 'push', '--statement', file], { env }));
        const list = parseJson(ok(await owner.run(['workflow', 'run', 'list', '-o', 'json'])));
        assert.ok(list.workflow_runs.some((r) => r.attested_by?.name === 'ci-no-org' &&
          r.state === 'succeeded'), JSON.stringify(list));

        const status = parseJson(ok(await ci.run(['auth', 'status', '-o', 'json'], { env })));
        assert.equal(status.organization?.name, ORG, JSON.stringify(status));
        assert.equal(status.current_organization, ORG, JSON.stringify(status));
        assert.equal(status.project?.name, 'app', JSON.stringify(status));
        assert.ok(Array.isArray(status.permissions) && status.permissions.length > 0,
          JSON.stringify(status));
        assert.match(status.expires_at ?? '', /^\d{4}-\d\d-\d\dT/, JSON.stringify(status));

        // Errors with -o json: one JSON line on stderr, the same exit status as a table.
        const other = await ci.run(['--org', 'no-such-org', 'project', 'list', '-o', 'json'],
          { env });
        const table = await ci.run(['--org', 'no-such-org', 'project', 'list'], { env });
        assert.equal(other.code, 1, show(other));
        assert.equal(table.code, other.code, show(table));
        assert.equal(other.stdout, '');
        const error = JSON.parse(other.stderr.trim());
        assert.equal(typeof error.error.code, 'string', other.stderr);
        assert.equal(typeof error.error.message, 'string', other.stderr);
        // It expires before any auto-revoke date: out of the way of the tests that count those.
        ok(await owner.run(['organization', 'api-token', 'revoke', '--id', id]));
      });

  test('a project-scoped token attests only in its project', { skip }, async () => {
    const { token, apiToken } = await createToken(owner, 'app-only', ['--project', 'app']);
    assert.equal(apiToken.scope, 'project');
    assert.equal(apiToken.project, 'app');

    const mine = ok(await asCi(token, ['attestation', 'init', '--workflow', 'scoped', '--project',
      'app']));
    assert.match(mine.stdout, /Project: app/, show(mine));

    const other = await asCi(token, ['attestation', 'init', '--workflow', 'scoped', '--project',
      'other']);
    assert.equal(other.code, 1, show(other));
    assert.match(other.stderr, /^Error: /m, show(other));
    assert.match(other.stderr, /permission|not allowed|scope|project/i, show(other));

    const raw = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
      token,
      body: { workflow: 'scoped', project: 'other' },
    });
    assert.equal(raw.status, 403, JSON.stringify(raw.body));
    assert.equal(raw.body?.error?.code, 'permission_denied');
    // The message the CLI printed is the server's.
    assert.ok(other.stderr.includes(raw.body.error.message), show(other));
  });

  test('a token cannot do what only people may do', { skip }, async () => {
    // People-only permissions cannot even be granted to a token.
    for (const perm of ['organization:update', 'invitation:create']) {
      const grant = await owner.run(['organization', 'api-token', 'create', '--name',
        'not-a-person', '--permission', perm]);
      assert.equal(grant.code, 1, show(grant));
      assert.match(grant.stderr, new RegExp(`${perm}.*cannot be given to an API token`),
          show(grant));
    }
    const { token } = await createToken(owner, 'not-a-person');

    const update = await asCi(token, ['organization', 'update', '--api-token-max-days-inactive',
      '30']);
    assert.equal(update.code, 1, show(update));
    const patch = await api(stack, 'PATCH', `/v1/organizations/${ORG}`, {
      token,
      body: { api_token_max_days_inactive: 30 },
    });
    assert.equal(patch.status, 403, JSON.stringify(patch.body));
    assert.equal(patch.body?.error?.code, 'permission_denied');
    assert.ok(update.stderr.includes(patch.body.error.message), show(update));

    const invite = await asCi(token, ['organization', 'invitation', 'create', '--receiver',
      'someone@example.com', '--role', 'viewer']);
    assert.equal(invite.code, 1, show(invite));
    const raw = await api(stack, 'POST', `/v1/organizations/${ORG}/invitations`, {
      token,
      body: { receiver_email: 'someone@example.com', role: 'viewer' },
    });
    assert.equal(raw.status, 403, JSON.stringify(raw.body));
    assert.equal(raw.body?.error?.code, 'permission_denied');

    // Nothing changed.
    const org = await api(stack, 'GET', `/v1/organizations/${ORG}`,
        { token: owner.sessionToken() });
    assert.equal(org.body.organization.api_token_max_days_inactive, null);
    const inv = await api(stack, 'GET', `/v1/organizations/${ORG}/invitations`,
        { token: owner.sessionToken() });
    assert.deepEqual(inv.body.invitations, []);
  });

  test('names: invalid refused locally, duplicates refused, reusable after revoke', { skip },
      async () => {
        const dead = await deadControlPlane();
        for (const name of ['Bad_Name', '-lead', 'a'.repeat(64)]) {
          const r = await runCli(['--control-plane', dead, '-c', owner.configPath, 'organization',
            'api-token', 'create', '--name', name], { env: owner.env() });
          assert.notEqual(r.code, 0, show(r));
          assert.match(r.stderr, /not a valid token name/, show(r));
        }

        const first = await createToken(owner, 'dup');
        const again = await owner.run(['organization', 'api-token', 'create', '--name', 'dup']);
        assert.equal(again.code, 1, show(again));
        assert.match(again.stderr, /already|exists|taken/i, show(again));
        assert.doesNotMatch(again.stdout, /clapi_/);
        const raw = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`, {
          token: owner.sessionToken(),
          body: { name: 'dup' },
        });
        assert.equal(raw.status, 409, JSON.stringify(raw.body));
        assert.equal(raw.body?.error?.code, 'already_exists');

        ok(await owner.run(['organization', 'api-token', 'revoke', '--id', first.id]));
        const reused = await createToken(owner, 'dup');
        assert.notEqual(reused.id, first.id);
        const named = (await listTokens(owner, 'all')).filter((t) => t.name === 'dup');
        assert.equal(named.length, 2, JSON.stringify(named));
        assert.equal(named.filter((t) => t.revoked_at === null).length, 1);
      });

  test('an expired token is refused with token_expired', { skip }, async () => {
    const { token, apiToken } = await createToken(owner, 'short-lived', ['--expiration', '2s']);
    // The server stamped the expiry before this point (timestamps are shown in whole seconds).
    const createdBy = Date.now();
    assert.equal(Date.parse(apiToken.expires_at) - Date.parse(apiToken.created_at), 2000,
        JSON.stringify(apiToken));
    const before = await api(stack, 'GET', '/v1/auth/whoami', { token });
    assert.equal(before.status, 200, JSON.stringify(before.body));

    await sleep(createdBy + 2000 + 300 - Date.now());
    const raw = await api(stack, 'GET', '/v1/auth/whoami', { token });
    assert.equal(raw.status, 401, JSON.stringify(raw.body));
    assert.equal(raw.body?.error?.code, 'token_expired');
    assert.match(raw.headers.get('www-authenticate') ?? '', /^Bearer/);

    const r = await asCi(token, ['workflow', 'run', 'list']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /expired/i, show(r));
    assert.doesNotMatch(r.stderr, /auth login/, 'no login hint for a token from the environment');
  });

  test('a revoked token is refused at once; list --status revoked shows it', { skip },
      async () => {
        const { token, id } = await createToken(owner, 'to-revoke');
        // Use it first so the server has it cached.
        assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token })).status, 200);
        ok(await asCi(token, ['workflow', 'run', 'list']));
        const metrics = String((await api(stack, 'GET', '/metrics')).body);
        const cached = metrics.match(/^chainloop_auth_cache_entries (\d+)/m);
        assert.ok(cached && Number(cached[1]) >= 1, 'the cache-size gauge counts the token');

        const revoked = ok(await owner.run(['organization', 'api-token', 'revoke', '--id', id]));
        assert.match(revoked.stdout, /to-revoke revoked/, show(revoked));

        const raw = await api(stack, 'GET', '/v1/auth/whoami', { token });
        assert.equal(raw.status, 401, JSON.stringify(raw.body));
        assert.equal(raw.body?.error?.code, 'token_revoked');
        const r = await asCi(token, ['workflow', 'run', 'list']);
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /revoked/i, show(r));

        const twice = await owner.run(['organization', 'api-token', 'revoke', '--id', id]);
        assert.equal(twice.code, 1, `revoking twice is refused\n${show(twice)}`);

        const listed = (await listTokens(owner, 'revoked')).find((t) => t.id === id);
        assert.ok(listed, 'listed among revoked tokens');
        assert.equal(listed.revocation_reason, 'manual');
        assert.ok(listed.revoked_at);
        assert.ok(!(await listTokens(owner, 'active')).some((t) => t.id === id),
            'not listed among active tokens');

        const table = ok(await owner.run(['organization', 'api-token', 'list', '--status',
          'revoked']));
        assert.match(table.stdout, /REASON/, show(table));
        const line = table.stdout.split('\n').find((l) => l.includes(id));
        assert.ok(line, show(table));
        assert.match(line, /\bto-revoke\b.*\bmanual\b/, line);
      });

  test('a token with a wrong checksum is refused locally and by the server', { skip },
      async () => {
        const { token } = await createToken(owner, 'checksummed');
        const bad = corrupt(token);
        assert.notEqual(bad, token);
        assert.equal(bad.length, token.length);

        const dead = await deadControlPlane();
        for (const how of [['--token', bad], []]) {
          const r = await runCli(['--control-plane', dead, '-c', ci.configPath, '--org', ORG,
            ...how, 'workflow', 'run', 'list'], { env: { ...ci.env(), CHAINLOOP_TOKEN: bad } });
          assert.notEqual(r.code, 0, show(r));
          assert.match(r.stderr, /not a valid chainloop token/, show(r));
          assert.match(r.stderr, /nothing was sent/, show(r));
          assert.ok(!r.stderr.includes(bad), 'the token is not echoed');
        }

        const raw = await api(stack, 'GET', '/v1/auth/whoami', { token: bad });
        assert.equal(raw.status, 401, JSON.stringify(raw.body));
        assert.equal(raw.body?.error?.code, 'malformed_token');
        assert.ok(!JSON.stringify(raw.body).includes(bad), 'the token is not echoed');
        // The original still works.
        assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token })).status, 200);
      });

  test('precedence: --token beats $CHAINLOOP_TOKEN beats the stored session', { skip },
      async () => {
        const fromEnv = await createToken(owner, 'prec-env');
        const fromFlag = await createToken(owner, 'prec-flag');
        const status = async (args, env) => {
          const r = ok(await owner.run(['auth', 'status', '-o', 'json', ...args], { env }));
          return { r, principal: parseJson(r).principal };
        };

        const session = await status([], {});
        assert.equal(session.principal.kind, 'user');
        assert.equal(session.principal.email, owner.email);
        assert.doesNotMatch(session.r.stderr, /note:/);

        const env = await status([], { CHAINLOOP_TOKEN: fromEnv.token });
        assert.equal(env.principal.kind, 'api_token', env.r.stdout);
        assert.equal(env.principal.name, 'prec-env');
        assert.match(env.r.stderr,
            /note: using the token from .*CHAINLOOP_TOKEN.* instead of your login session/,
            show(env.r));

        const flag = await status(['--token', fromFlag.token], { CHAINLOOP_TOKEN: fromEnv.token });
        assert.equal(flag.principal.kind, 'api_token', flag.r.stdout);
        assert.equal(flag.principal.name, 'prec-flag');
        assert.match(flag.r.stderr, /note: using the token from .*instead of your login session/,
            show(flag.r));

        // The session itself is untouched.
        assert.equal((await status([], {})).principal.kind, 'user');
      });

  test('last used at is recorded within the flush interval', { skip }, async () => {
    const { token, id } = await createToken(owner, 'usage');
    const initial = (await listTokens(owner, 'active')).find((t) => t.id === id);
    assert.equal(initial.last_used_at, null, JSON.stringify(initial));
    const neverLine = ok(await owner.run(['organization', 'api-token', 'list'])).stdout
        .split('\n').find((l) => l.includes(id));
    assert.match(neverLine ?? '', /\bnever\b/);

    const usedAt = Date.now();
    assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token })).status, 200);
    let seen = null;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !seen) {
      await sleep(250);
      seen = (await listTokens(owner, 'active')).find((t) => t.id === id)?.last_used_at ?? null;
    }
    assert.ok(seen, 'last_used_at set within 5 s with --usage-flush-interval 1s');
    assert.ok(Math.abs(Date.parse(seen) - usedAt) < 5000, `last_used_at ${seen} is about now`);

    const line = ok(await owner.run(['organization', 'api-token', 'list'])).stdout
        .split('\n').find((l) => l.includes(id));
    assert.ok(line && !/\bnever\b/.test(line), `table shows LAST USED AT\n${line}`);
  });

  test('the audit log records token creation and revocation', { skip }, async () => {
    const r = ok(await owner.run(['organization', 'audit', 'list']));
    assert.match(r.stdout, /api_token\.created/, show(r));
    assert.match(r.stdout, /api_token\.revoked/, show(r));

    const json = parseJson(ok(await owner.run(['organization', 'audit', 'list', '-o', 'json'])));
    const actions = json.audit_events.map((e) => e.action);
    assert.ok(actions.includes('api_token.created'), actions.join(', '));
    assert.ok(actions.includes('api_token.revoked'), actions.join(', '));
    const created = json.audit_events.find((e) => e.action === 'api_token.created');
    assert.equal(created.actor_kind, 'user');
    // No secret in the audit log.
    assert.doesNotMatch(JSON.stringify(json), /clapi_/);
  });

  test('organization auto-revoke setting', { skip }, async () => {
    const line = 'API token auto-revoke after: 90 days inactive';
    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '90']));
    const d1 = ok(await owner.run(['organization', 'describe']));
    assert.ok(d1.stdout.split('\n').includes(line), show(d1));
    const org = parseJson(ok(await owner.run(['organization', 'describe', '-o', 'json'])));
    assert.equal(org.organization.api_token_max_days_inactive, 90);
    // Active tokens now have an auto-revoke date.
    const active = await listTokens(owner, 'active');
    assert.ok(active.length > 0 && active.every((t) => t.auto_revoke_at), JSON.stringify(active));

    ok(await owner.run(['organization', 'update', '--api-token-max-days-inactive', '0']));
    const d2 = ok(await owner.run(['organization', 'describe']));
    assert.doesNotMatch(d2.stdout, /auto-revoke/i, show(d2));
    assert.ok((await listTokens(owner, 'active')).every((t) => t.auto_revoke_at === null));

    const dead = await deadControlPlane();
    for (const flag of [['--api-token-max-days-inactive', '366'],
      ['--api-token-max-days-inactive', '-1'], ['--api-token-max-days-inactive=-1'],
      ['--api-token-max-days-inactive', 'abc']]) {
      const r = await runCli(['--control-plane', dead, '-c', owner.configPath, 'organization',
        'update', ...flag], { env: owner.env() });
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /1-365/, show(r));
    }

    for (const value of [366, -1, 1.5, '30']) {
      const raw = await api(stack, 'PATCH', `/v1/organizations/${ORG}`, {
        token: owner.sessionToken(),
        body: { api_token_max_days_inactive: value },
      });
      assert.equal(raw.status, 400, `${value}: ${JSON.stringify(raw.body)}`);
      if (value === 366) {
        assert.equal(raw.body?.error?.code, 'invalid_argument');
        assert.match(raw.body.error.message, /365/);
      }
    }
    const after = await api(stack, 'GET', `/v1/organizations/${ORG}`,
        { token: owner.sessionToken() });
    assert.equal(after.body.organization.api_token_max_days_inactive, null);

    // Absent means unchanged: an update without the field is refused and changes nothing;
    // null and 0 turn it off.
    const setting = async () => (await api(stack, 'GET', `/v1/organizations/${ORG}`,
        { token: owner.sessionToken() })).body.organization.api_token_max_days_inactive;
    const patch = (body, extra = {}) => api(stack, 'PATCH', `/v1/organizations/${ORG}`,
        { token: owner.sessionToken(), body, ...extra });
    assert.equal((await patch({ api_token_max_days_inactive: 45 })).status, 200);
    for (const [what, extra] of [['{}', { body: {} }], ['no body', {}],
      ['empty body', { rawBody: '' }], ['whitespace', { rawBody: ' \n' }]]) {
      const r = await patch(undefined, extra);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body?.error?.code, 'missing_field', what);
      assert.equal(await setting(), 45, `${what} left the setting unchanged`);
    }
    for (const off of [null, 0]) {
      assert.equal((await patch({ api_token_max_days_inactive: 45 })).status, 200);
      const r = await patch({ api_token_max_days_inactive: off });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(await setting(), null, `${off} turns auto-revocation off`);
    }
    const audit = await api(stack, 'GET', `/v1/organizations/${ORG}/audit-events?limit=1000`,
        { token: owner.sessionToken() });
    const offs = audit.body.audit_events.filter((e) => /turned API token auto-revocation off/
        .test(e.message));
    // Two explicit turn-offs above and the CLI's `0` earlier: no event from a refused update.
    assert.equal(offs.length, 3, JSON.stringify(offs.map((e) => e.message)));
  });
});

describe('API token usage at shutdown', () => {
  let stack;
  let owner;
  before(async () => {
    if (skip) return;
    // No sweep either: the inactivity revoker writes pending usage before it sweeps, and its
    // first sweep comes at a random moment of the first minute by default.
    stack = await startStack({ extraArgs: ['--usage-flush-interval', '1h',
      '--token-revoker-initial-delay', '1h', '--token-revoker-interval', '1h'] });
    owner = await ownerWithOrg(stack, 'sam.owner');
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a graceful stop writes last_used_at', { skip }, async () => {
    const { token, id } = await createToken(owner, 'flushed-at-exit');
    assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token })).status, 200);
    await sleep(300);
    const before = (await listTokens(owner, 'active')).find((t) => t.id === id);
    assert.equal(before.last_used_at, null, 'not flushed yet with a 1h interval');

    const exited = await stack.restartServer();
    assert.equal(exited.code, 0, `the server exits cleanly on SIGTERM (${JSON.stringify(exited)})`);
    const afterRestart = (await listTokens(owner, 'active')).find((t) => t.id === id);
    assert.ok(afterRestart.last_used_at, JSON.stringify(afterRestart));
  });
});

describe('API token revocation across instances', () => {
  const db = process.env.CL_E2E_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
  const crossSkip = skip || (db !== 'postgres' &&
      'needs PostgreSQL (CL_E2E_DATABASE=postgres): SQLite serves a single instance');
  let stack;
  let owner;
  let b;
  before(async () => {
    if (crossSkip) return;
    // A long cache re-validation bound: B can only learn of the revocation by notification.
    stack = await startStack({ extraArgs: ['--auth-cache-revalidate', '1h'] });
    owner = await ownerWithOrg(stack, 'cara.owner');
    b = await stack.startInstance();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('a token revoked on A is refused by B within 1 s', { skip: crossSkip }, async (t) => {
    const { token, id } = await createToken(owner, 'multi');
    const onB = () => api(stack, 'GET', '/v1/auth/whoami', { token, baseUrl: b.baseUrl });
    // B accepts it (and caches it): B shares A's database and pepper.
    for (let i = 0; i < 3; i += 1) assert.equal((await onB()).status, 200);

    ok(await owner.run(['organization', 'api-token', 'revoke', '--id', id]));
    const revokedAt = Date.now();
    let last;
    while (Date.now() - revokedAt < 3000) {
      last = await onB();
      if (last.status !== 200) break;
      await sleep(100);
    }
    const elapsed = Date.now() - revokedAt;
    assert.equal(last.status, 401, `B still accepts the token after ${elapsed} ms`);
    assert.equal(last.body?.error?.code, 'token_revoked');
    assert.ok(elapsed <= 1000, `B refused it only after ${elapsed} ms`);
    t.diagnostic(`B refused the revoked token ${elapsed} ms after the revoke returned`);
  });
});
