// End to end: secret hygiene. A broad flow (browser and device logins, API tokens created,
// listed, used, expired, revoked and mangled, error paths, logout, keyless exchange with a fake
// CI issuer, a server job) while the harness records every credential it sees; then
// checkSecretHygiene() proves that none of them appears in any server log line, error body, CLI
// stderr or database column. A second stack runs at log level debug and sends credentials in
// Authorization headers and cookies, which must not be logged either. Also: files holding
// secrets are private, and the server refuses a pepper file others can read.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { chmodSync, statSync } from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  api, checkSecretHygiene, missingPrerequisite, recordSecret, runServerJob, show, sleep, sql,
  startStack,
} from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'hygiene-org';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

// The same credential with one character of its secret replaced (a typo: malformed_token).
function corrupt(token) {
  const i = token.indexOf('_') + 10;
  const c = token[i];
  return token.slice(0, i) + BASE62[(BASE62.indexOf(c) + 1) % BASE62.length] + token.slice(i + 1);
}

// A minimal GitLab-like CI issuer on 127.0.0.1:0: discovery, JWKS, RS256 ID tokens.
async function startCiIssuer() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `hygiene-${randomUUID()}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const issuer = {};
  const server = http.createServer((req, res) => {
    const body = req.url === '/.well-known/openid-configuration' ?
      { issuer: issuer.url, jwks_uri: `${issuer.url}/jwks`, response_types_supported: ['id_token'],
        subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] } :
      req.url === '/jwks' ? { keys: [jwk] } : null;
    if (!body) return res.writeHead(404).end();
    return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  issuer.stop = () => new Promise((res) => {
    server.closeAllConnections();
    server.close(res);
  });
  issuer.mint = (audience) => {
    const now = Math.floor(Date.now() / 1000);
    const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${enc({ alg: 'RS256', typ: 'JWT', kid })}.${enc({
      iss: issuer.url, aud: audience, sub: 'project_path:group/app:ref_type:branch:ref:main',
      jti: randomUUID(), iat: now, nbf: now - 1, exp: now + 300, namespace_id: '1001',
      namespace_path: 'group', project_id: '4242', project_path: 'group/app', ref: 'main',
      ref_type: 'branch', pipeline_id: '77', job_id: '78',
    })}`;
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  };
  return issuer;
}

// Kinds of credential recorded for `stack`, by the description the harness gave them.
function kindsRecorded(stack) {
  const kinds = new Set();
  for (const [value, what] of stack.secrets) {
    const prefix = /^(cl[a-z]+)_/.exec(value);
    if (prefix) kinds.add(prefix[1]);
    else if (value.split('.').length === 3 && value.startsWith('eyJ')) kinds.add('jwt');
    else if (what === 'pepper') kinds.add('pepper');
    else if (what.startsWith('device user code')) kinds.add('user_code');
  }
  return kinds;
}

describe('secret hygiene', () => {
  let stack;
  let issuer;
  let owner;

  before(async () => {
    if (skip) return;
    issuer = await startCiIssuer();
    stack = await startStack({
      extraArgs: ['--federation-issuers', issuer.url, '--usage-flush-interval', '1s'],
    });
    owner = stack.newUser('sam.secret');
    await owner.login();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', 'app'],
    ]) {
      ok(await owner.run(args));
    }
  });
  after(async () => {
    await stack?.cleanup();
    await issuer?.stop();
  });

  test('no credential issued in a broad flow leaks into logs, error bodies or the database',
      { skip }, async () => {
        const session = owner.sessionToken();
        const tokensPath = `/v1/organizations/${ORG}/api-tokens`;

        // A second person, logged in with the device flow, invited as a viewer.
        const viewer = stack.newUser('val.viewer');
        ok(await owner.run(['organization', 'invitation', 'create', '--receiver', viewer.email,
          '--role', 'viewer']));
        await viewer.deviceLogin();
        const viewerSession = viewer.sessionToken();
        assert.ok(viewerSession);

        // API tokens: CLI in every output format, and the API with an expiry.
        const plain = ok(await owner.run(['organization', 'api-token', 'create', '--name', 'plain',
          '-o', 'token'])).stdout.trim();
        ok(await owner.run(['organization', 'api-token', 'create', '--name', 'json', '-o',
          'json']));
        ok(await owner.run(['organization', 'api-token', 'create', '--name', 'table']));
        ok(await owner.run(['organization', 'api-token', 'create', '--name', 'scoped',
          '--project', 'app', '-o', 'json']));
        const short = await api(stack, 'POST', tokensPath,
            { token: session, body: { name: 'short', expires_in_seconds: 1 } });
        assert.equal(short.status, 201, JSON.stringify(short.body));
        ok(await owner.run(['organization', 'api-token', 'list', '--status', 'all']));

        // Use them: valid, via the CLI's environment, mangled, revoked, expired.
        assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token: plain })).status, 200);
        ok(await owner.run(['organization', 'describe'], { env: { CHAINLOOP_TOKEN: plain } }));
        const bad = await api(stack, 'GET', '/v1/auth/whoami', { token: corrupt(plain) });
        assert.equal(bad.body?.error?.code, 'malformed_token');
        const truncated = await api(stack, 'GET', '/v1/auth/whoami', { token: plain.slice(0, -3) });
        assert.equal(truncated.status, 401);
        const revoked = await api(stack, 'POST', tokensPath, { token: session, body: { name: 'rv' } });
        assert.equal(revoked.status, 201);
        const rv = await api(stack, 'POST', `${tokensPath}/${revoked.body.api_token.id}/revoke`,
            { token: session, body: {} });
        assert.equal(rv.status, 200, JSON.stringify(rv.body));
        const again = await api(stack, 'POST', `${tokensPath}/${revoked.body.api_token.id}/revoke`,
            { token: session, body: {} });
        assert.equal(again.status, 409);
        const refused = await api(stack, 'GET', '/v1/auth/whoami', { token: revoked.body.token });
        assert.equal(refused.body?.error?.code, 'token_revoked');
        await sleep(1200);
        const expired = await api(stack, 'GET', '/v1/auth/whoami', { token: short.body.token });
        assert.equal(expired.body?.error?.code, 'token_expired');
        // An API token where only people may act, a viewer where owners may act.
        const people = await api(stack, 'PATCH', `/v1/organizations/${ORG}`,
            { token: plain, body: { api_token_max_days_inactive: 30 } });
        assert.equal(people.status, 403, JSON.stringify(people.body));
        const denied = await api(stack, 'POST', tokensPath,
            { token: viewerSession, body: { name: 'nope' } });
        assert.equal(denied.status, 403);
        // Credentials in places they do not belong: body fields, query, wrong scheme.
        const inBody = await api(stack, 'POST', tokensPath,
            { token: session, body: { name: 'x', token: plain } });
        assert.equal(inBody.status, 400);
        const inQuery = await api(stack, 'GET', `/v1/auth/whoami?access_token=${plain}`);
        assert.equal(inQuery.status, 401);
        const basic = await api(stack, 'GET', '/v1/auth/whoami',
            { headers: { authorization: `Basic ${Buffer.from(`u:${plain}`).toString('base64')}` } });
        assert.equal(basic.status, 401);
        recordSecret(stack, Buffer.from(`u:${plain}`).toString('base64'), 'Basic credentials');
        // A credential pasted where a name goes, alone or glued to other text: the error that
        // quotes the name, and the log lines of the request, show it masked.
        for (const name of [plain, `x${plain}`, `9${plain}`, `${plain}y`, session, `a${session}`]) {
          const r = await api(stack, 'GET', `/v1/organizations/${name}/projects`, { token: session });
          assert.equal(r.status, 404, JSON.stringify(r.body));
          const secretPart = name.slice(name.indexOf('_') + 1, name.indexOf('_') + 30);
          assert.ok(!JSON.stringify(r.body).includes(secretPart), JSON.stringify(r.body));
          assert.match(r.body.error.message, /<redacted>/, JSON.stringify(r.body));
        }

        // Login codes are single use: replaying the owner's one-time code fails, quietly.
        const code = [...stack.secrets].find(([, what]) => what.startsWith('one-time login code'));
        assert.ok(code, 'the browser login handed a one-time code to the CLI');
        const replay = await api(stack, 'POST', '/v1/auth/token',
            { body: { code: code[0], code_verifier: 'x'.repeat(43) } });
        assert.equal(replay.status >= 400, true);
        const poll = await api(stack, 'POST', '/v1/auth/device/token',
            { body: { device_handle: corrupt(plain).replace('clapi_', 'cldev_') } });
        assert.equal(poll.status >= 400, true);

        // Keyless: a trust policy, an exchange, a replay, the raw CI token as a bearer.
        const policy = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
          token: session,
          body: { name: 'gl', issuer: issuer.url, provider: 'gitlab',
            bound_claims: { project_id: '4242' }, project: 'app' },
        });
        assert.equal(policy.status, 201, JSON.stringify(policy.body));
        const ciToken = issuer.mint(stack.baseUrl);
        recordSecret(stack, ciToken, 'CI ID token');
        const exchangeBody = {
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: ciToken,
          subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
          organization: ORG,
        };
        const ex = await api(stack, 'POST', '/v1/auth/federated/exchange', { body: exchangeBody });
        assert.equal(ex.status, 200, JSON.stringify(ex.body));
        assert.match(ex.body.access_token, /^clfed_/);
        const fed = await api(stack, 'GET', `/v1/organizations/${ORG}/workflows`,
            { token: ex.body.access_token });
        assert.equal(fed.status, 200, JSON.stringify(fed.body));
        const replayed = await api(stack, 'POST', '/v1/auth/federated/exchange',
            { body: exchangeBody });
        assert.equal(replayed.status, 401);
        const tampered = await api(stack, 'POST', '/v1/auth/federated/exchange',
            { body: { ...exchangeBody, subject_token: `${ciToken.slice(0, -4)}AAAA` } });
        assert.equal(tampered.status, 401);
        const rawCi = issuer.mint(stack.baseUrl);
        const run = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`,
            { token: rawCi, body: { workflow: 'build', project: 'app' } });
        assert.equal(run.status, 201, JSON.stringify(run.body));

        // A server job next to the running server; then logout, and the logged-out session.
        const job = await runServerJob(stack, 'token-revoker');
        assert.equal(job.code, 0, job.stderr);
        await sleep(1200); // one usage flush
        const out = await api(stack, 'POST', '/v1/auth/logout', { token: viewerSession });
        assert.equal(out.status, 204);
        const gone = await api(stack, 'GET', '/v1/auth/whoami', { token: viewerSession });
        assert.equal(gone.body?.error?.code, 'session_revoked');
        // A graceful restart flushes and logs shutdown; its logs are checked too.
        await stack.restartServer();

        const kinds = kindsRecorded(stack);
        for (const kind of ['clapi', 'clses', 'clfed', 'clcode', 'jwt', 'pepper', 'user_code']) {
          assert.ok(kinds.has(kind), `the harness recorded a ${kind} (recorded: ${[...kinds]})`);
        }
        const summary = checkSecretHygiene(stack);
        assert.ok(summary.secrets >= 15, JSON.stringify(summary));
        assert.ok(summary.errorBodies >= 10, JSON.stringify(summary));
        assert.ok(summary.logBytes > 1000 && summary.dbBytes > 1000, JSON.stringify(summary));
      });

  test('the check finds a leak when there is one', { skip }, async () => {
    // A detector that never fires proves nothing. A credential typed into a request path is
    // masked by the server (log line and 404 message), so plant a recorded credential in a copy
    // of a server log and an error body, and an unrecorded one in the database, and expect all
    // three to be found.
    const planted = `clapi_${'Q'.repeat(49)}`;
    const unrecorded = `clses_${'Z'.repeat(49)}`;
    recordSecret(stack, planted, 'planted token');
    const r = await api(stack, 'GET', `/v1/${planted}`);
    assert.equal(r.status, 404);
    assert.ok(!JSON.stringify(r.body).includes(planted), 'the 404 echoes the credential');
    assert.match(JSON.stringify(r.body), /clapi_<redacted>/);
    await sleep(200); // the request line is logged after the response is sent
    assert.ok(!stack.server.logs().includes(planted), 'the access log holds the credential');
    const plantedLog = { what: 'server (planted copy)', text: () => `{"path":"/v1/${planted}"}` };
    stack.serverOutputs.push(plantedLog);
    stack.errorBodies.push({ what: '404 GET /v1/<credential> (planted)', text: `{"x":"${planted}"}` });
    sql(stack, `INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, action, ` +
        `target_kind, target_id, message, created_at) VALUES ('planted', 'x', 'system', 'x', ` +
        `'x', 'planted', 'x', 'x', '${unrecorded}', 0)`);
    let error;
    try {
      checkSecretHygiene(stack);
    } catch (e) {
      error = e.message;
    }
    assert.match(error ?? '', /planted token clapi_QQ\.\.\. \(55 chars\) appears in log of server \(planted copy\)/);
    assert.match(error, /planted token [^\n]* appears in error body of 404 GET \/v1\/<credential> \(planted\)/);
    assert.match(error, /a credential clses_ZZ[^\n]* appears in database dump/);
    assert.doesNotMatch(error, /QQQQQQQQ|ZZZZZZZZ/, 'the report masks what it found');
    // Leave the stack clean for cleanup's own check.
    sql(stack, "DELETE FROM audit_events WHERE id = 'planted'");
    stack.secrets.delete(planted);
    stack.errorBodies = stack.errorBodies.filter((b) => !b.text.includes(planted));
    stack.serverOutputs = stack.serverOutputs.filter((o) => o !== plantedLog);
  });

  test('files holding secrets are private; a readable pepper file stops the server', { skip },
      async () => {
        const modeOf = (path) => statSync(path).mode & 0o777;
        assert.equal(modeOf(stack.pepperFile), 0o600, 'pepper file');
        assert.equal(modeOf(owner.configPath) & 0o077, 0, 'CLI config holding the session');
        if (stack.database.kind === 'sqlite') {
          const file = stack.database.url.slice('sqlite:'.length);
          assert.equal(modeOf(file) & 0o077, 0, 'SQLite database file');
        }
        chmodSync(stack.pepperFile, 0o644);
        try {
          await assert.rejects(stack.restartServer(), /pepper/);
        } finally {
          chmodSync(stack.pepperFile, 0o600);
        }
        await stack.restartServer();
        const who = await api(stack, 'GET', '/v1/auth/whoami', { token: owner.sessionToken() });
        assert.equal(who.status, 200);
      });
});

describe('secret hygiene at log level debug', () => {
  let stack;

  before(async () => {
    if (skip) return;
    stack = await startStack({ logLevel: 'debug', extraArgs: ['--usage-flush-interval', '1s'] });
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('Authorization headers and cookies are never logged', { skip }, async () => {
    const owner = stack.newUser('dora.debug');
    await owner.login();
    ok(await owner.run(['organization', 'create', '--name', ORG]));
    const session = owner.sessionToken();
    const created = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
        { token: session, body: { name: 'dbg' } });
    assert.equal(created.status, 201);
    const token = created.body.token;
    const csrf = 'csrf'.repeat(8);
    const cookie = `cl_session=${session}; cl_csrf=${csrf}`;
    for (const [headers, want] of [
      [{ authorization: `Bearer ${token}` }, 200],
      [{ authorization: `bearer ${token}` }, undefined],
      [{ authorization: `Bearer ${corrupt(token)}` }, 401],
      [{ cookie }, 200],
      [{ cookie: `cl_session=${corrupt(session)}` }, 401],
    ]) {
      const r = await api(stack, 'GET', '/v1/auth/whoami', { headers });
      if (want) assert.equal(r.status, want, `${Object.keys(headers)}: ${JSON.stringify(r.body)}`);
    }
    // A cookie-authenticated write with the CSRF header.
    const write = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
        { headers: { cookie, 'x-csrf-token': csrf }, body: { name: 'from-cookie' } });
    assert.equal(write.status, 201, JSON.stringify(write.body));
    // The usage flusher logs at debug level once it has written the tokens' last use.
    const allLogs = () => stack.serverOutputs.map((o) => o.text()).join('');
    for (let i = 0; i < 100 && !/"level":"debug"/.test(allLogs()); i += 1) await sleep(100);
    const logs = allLogs();
    assert.match(logs, /"level":"debug"/, 'the server really logs at debug level');
    assert.doesNotMatch(logs, /Bearer [A-Za-z0-9]/i, 'an Authorization header value was logged');
    assert.doesNotMatch(logs, /cl_session=|cl_csrf=[^;"]/, 'a cookie was logged');
    checkSecretHygiene(stack);
  });
});
