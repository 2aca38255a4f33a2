// End to end: keyless CI authentication. A fake GitLab-like issuer on loopback (discovery +
// JWKS, RS256) mints CI ID tokens; the control plane trusts it through --federation-issuers and
// an organization trust policy; the CLI and raw API calls exchange or present those tokens.
import assert from 'node:assert/strict';
import {generateKeyPairSync, randomBytes, randomUUID, sign} from 'node:crypto';
import * as http from 'node:http';
import {after, before, describe, test} from 'node:test';

import {api, missingPrerequisite, show, startStack, statement, writeJson} from './harness.mjs';

const skip = missingPrerequisite();

const ORG = 'keyless-org';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

function newRsaKey(kid) {
  const {privateKey, publicKey} = generateKeyPairSync('rsa', {modulusLength: 2048});
  return {
    kid,
    privateKey,
    jwk: {...publicKey.export({format: 'jwk'}), kid, alg: 'RS256', use: 'sig'}
  };
}

// A CI issuer on 127.0.0.1:0 serving discovery and its JWKS, counting every request it gets.
async function startFakeIssuer() {
  const key = newRsaKey(`kid-${randomBytes(6).toString('hex')}`);
  const issuer = {key, requests: [], minted: []};
  const server = http.createServer((req, res) => {
    issuer.requests.push(req.url);
    let body;
    if (req.url === '/.well-known/openid-configuration') {
      body = {
        issuer: issuer.url,
        jwks_uri: `${issuer.url}/oauth/discovery/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
      };
    } else if (req.url === '/oauth/discovery/keys') {
      body = {keys: [key.jwk]};
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(body));
  });
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', res);
  });
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  issuer.stopped = false;
  issuer.stop = async () => {
    if (issuer.stopped) return;
    issuer.stopped = true;
    server.closeAllConnections();
    await new Promise((res) => server.close(res));
  };
  // A GitLab-shaped CI ID token. `claims` override defaults (undefined removes a claim);
  // `signWith` signs with another key (its kid goes in the header).
  issuer.mint = (claims = {}, {signWith = key} = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      namespace_id: '1001',
      namespace_path: 'group',
      project_id: '4242',
      project_path: 'group/app',
      user_id: '17',
      user_login: 'ci-bot',
      user_email: 'ci-bot@example.com',
      pipeline_id: '987654',
      pipeline_source: 'push',
      job_id: '123456789',
      ref: 'main',
      ref_type: 'branch',
      ref_protected: 'true',
      ci_config_ref_uri: 'gitlab.example.com/group/app//.gitlab-ci.yml@refs/heads/main',
      jti: randomUUID(),
      iss: issuer.url,
      iat: now,
      nbf: now - 1,
      exp: now + 600,
      sub: 'project_path:group/app:ref_type:branch:ref:main',
      aud: issuer.audience,
      ...claims,
    };
    for (const k of Object.keys(payload))
      if (payload[k] === undefined) delete payload[k];
    const header = {alg: 'RS256', typ: 'JWT', kid: signWith.kid};
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const sig = sign('sha256', Buffer.from(input), signWith.privateKey);
    const jwt = `${input}.${b64url(sig)}`;
    issuer.minted.push(jwt);
    return jwt;
  };
  return issuer;
}

// POST /v1/auth/federated/exchange, form-encoded as RFC 8693 describes.
async function exchange(stack, subjectToken, org = ORG) {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: ID_TOKEN_TYPE,
    organization: org,
  });
  const r = await fetch(`${stack.baseUrl}/v1/auth/federated/exchange`, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: form.toString(),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return {status: r.status, body};
}

function runsOf(r) {
  const parsed = JSON.parse(r.stdout);
  return Array.isArray(parsed) ? parsed : parsed.workflow_runs;
}

describe('keyless CI authentication', () => {
  let stack;
  let issuer;
  let stranger;  // an issuer that is NOT in --federation-issuers
  let owner;
  let viewer;
  let ci;  // a CI job: no login, only the ID token in its environment
  let policyId;

  const ciRun = (args, token) => ci.run(['--org', ORG, ...args], {
    env: {CHAINLOOP_OIDC_TOKEN: token},
  });

  before(async () => {
    if (skip) return;
    issuer = await startFakeIssuer();
    stranger = await startFakeIssuer();
    stack = await startStack({extraArgs: ['--federation-issuers', issuer.url]});
    issuer.audience = stack.baseUrl;
    stranger.audience = stack.baseUrl;
    owner = stack.newUser('olga.owner');
    viewer = stack.newUser('vera.viewer');
    ci = stack.newUser('gitlab-job');
    await owner.login();
    for (const args
             of [['organization', 'create', '--name', ORG],
                 ['organization', 'set', '--name', ORG],
                 ['project', 'create', '--name', 'app'],
                 ['project', 'create', '--name', 'other'],
                 [
                   'organization', 'invitation', 'create', '--receiver', viewer.email, '--role',
                   'viewer'
                 ],
    ]) {
      const r = await owner.run(args);
      assert.equal(r.code, 0, `${args.join(' ')}\n${show(r)}`);
    }
    await viewer.login();
  });
  after(async () => {
    await stack?.cleanup();
    await issuer?.stop();
    await stranger?.stop();
  });

  test(
      'owner creates a trust policy; unsafe policies and viewers are refused', {skip}, async () => {
        const created = await owner.run([
          'organization',
          'federation',
          'create',
          '--name',
          'gl',
          '--issuer',
          issuer.url,
          '--provider',
          'gitlab',
          '--bound-claim',
          'project_id=4242',
          '--project',
          'app',
        ]);
        assert.equal(created.code, 0, show(created));

        // Only non-identifying claims: it would trust every job of the issuer.
        const loose = await owner.run([
          'organization',
          'federation',
          'create',
          '--name',
          'loose',
          '--issuer',
          issuer.url,
          '--provider',
          'gitlab',
          '--bound-claim',
          'ref=main',
        ]);
        assert.notEqual(loose.code, 0, show(loose));
        const looseApi = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
          token: owner.sessionToken(),
          body:
              {name: 'loose', issuer: issuer.url, provider: 'gitlab', bound_claims: {ref: 'main'}},
        });
        assert.equal(looseApi.status, 400, JSON.stringify(looseApi.body));
        assert.equal(looseApi.body?.error?.code, 'invalid_trust_policy');

        // An issuer the operator did not list cannot be trusted by an organization either.
        const untrusted = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
          token: owner.sessionToken(),
          body: {
            name: 'stranger',
            issuer: stranger.url,
            provider: 'gitlab',
            bound_claims: {project_id: '4242'}
          },
        });
        assert.equal(untrusted.status, 400, JSON.stringify(untrusted.body));
        assert.equal(untrusted.body?.error?.code, 'untrusted_issuer');

        const set = await viewer.run(['organization', 'set', '--name', ORG]);
        assert.equal(set.code, 0, show(set));
        const denied = await viewer.run([
          'organization',
          'federation',
          'create',
          '--name',
          'mine',
          '--issuer',
          issuer.url,
          '--bound-claim',
          'project_id=4242',
        ]);
        assert.notEqual(denied.code, 0, show(denied));
        const deniedApi = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
          token: viewer.sessionToken(),
          body: {name: 'mine', issuer: issuer.url, bound_claims: {project_id: '4242'}},
        });
        assert.equal(deniedApi.status, 403, JSON.stringify(deniedApi.body));

        const list = await owner.run(['organization', 'federation', 'list']);
        assert.equal(list.code, 0, show(list));
        const line = list.stdout.split('\n').find((l) => /\bgl\b/.test(l));
        assert.ok(line, `list shows the policy\n${show(list)}`);
        assert.ok(line.includes(issuer.url), line);
        assert.doesNotMatch(list.stdout, /\bloose\b|\bmine\b|\bstranger\b/);

        const raw = await api(stack, 'GET', `/v1/organizations/${ORG}/federation-policies`, {
          token: owner.sessionToken(),
        });
        assert.equal(raw.status, 200, JSON.stringify(raw.body));
        assert.equal(raw.body.policies.length, 1, JSON.stringify(raw.body));
        const p = raw.body.policies[0];
        assert.equal(p.name, 'gl');
        assert.equal(p.issuer, issuer.url);
        assert.equal(p.provider, 'gitlab');
        assert.equal(p.audience, stack.baseUrl);
        assert.deepEqual(p.bound_claims, {project_id: '4242'});
        assert.equal(p.project, 'app');
        policyId = p.id;
      });

  test('a CI job attests with its ID token through the CLI', {skip}, async () => {
    assert.ok(policyId, 'the policy test ran first');
    const token = issuer.mint();
    const file = writeJson(ci.home, 'statement.json', statement());

    const init =
        await ciRun(['attestation', 'init', '--workflow', 'build', '--project', 'app'], token);
    assert.equal(init.code, 0, show(init));
    const push = await ciRun(['attestation', 'push', '--statement', file], token);
    assert.equal(push.code, 0, show(push));
    // The CLI never prints the CI token.
    for (const r of [init, push]) assert.ok(!(r.stdout + r.stderr).includes(token));

    const list = await owner.run(['workflow', 'run', 'list']);
    assert.equal(list.code, 0, show(list));
    const line = list.stdout.split('\n').find((l) => l.includes('gitlab: group/app@main'));
    assert.ok(line, `run list shows the CI identity\n${show(list)}`);
    assert.match(line, /\bbuild\b/);
    assert.match(line, /federated/);

    const json = await owner.run(['workflow', 'run', 'list', '-o', 'json']);
    assert.equal(json.code, 0, show(json));
    const runs = runsOf(json);
    assert.equal(runs.length, 1, json.stdout);
    assert.equal(runs[0].state, 'succeeded', json.stdout);
    assert.equal(runs[0].project, 'app');
    assert.equal(runs[0].attested_by?.kind, 'federated', json.stdout);
    assert.equal(runs[0].attested_by?.name, 'gitlab: group/app@main', json.stdout);
    // The stored attestation records the CI identity: issuer, subject and key claims.
    const claims = runs[0].attested_by?.claims ?? {};
    assert.equal(claims.iss, issuer.url, json.stdout);
    assert.equal(claims.sub, 'project_path:group/app:ref_type:branch:ref:main');
    assert.equal(claims.project_path, 'group/app');
    assert.equal(claims.project_id, '4242');
    assert.equal(claims.ref, 'main');
    assert.equal(claims.pipeline_id, '987654');
  });

  test('the job token cannot act in another project', {skip}, async () => {
    const token = issuer.mint();
    const init =
        await ciRun(['attestation', 'init', '--workflow', 'build', '--project', 'other'], token);
    assert.notEqual(init.code, 0, show(init));
    assert.match(init.stderr, /permission/i, show(init));

    const ex = await exchange(stack, issuer.mint());
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    const raw = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
      token: ex.body.access_token,
      body: {workflow: 'build', project: 'other'},
    });
    assert.equal(raw.status, 403, JSON.stringify(raw.body));
    assert.equal(raw.body?.error?.code, 'permission_denied');
  });

  test('exchange returns a short-lived clfed_ token, once per ID token', {skip}, async () => {
    const now = Math.floor(Date.now() / 1000);
    const long = issuer.mint({exp: now + 3600});
    const first = await exchange(stack, long);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.body.access_token, /^clfed_/);
    assert.equal(first.body.token_type, 'Bearer');
    assert.equal(first.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.ok(
        first.body.expires_in <= 900 && first.body.expires_in > 800,
        `capped at 15 minutes: ${first.body.expires_in}`);

    // The exchanged token works for reading the organization's runs.
    const runs = await api(stack, 'GET', `/v1/organizations/${ORG}/workflow-runs`, {
      token: first.body.access_token,
    });
    assert.equal(runs.status, 200, JSON.stringify(runs.body));

    const again = await exchange(stack, long);
    assert.equal(again.status, 401, JSON.stringify(again.body));
    assert.equal(again.body?.error?.code, 'replayed_token');

    const short = issuer.mint({exp: Math.floor(Date.now() / 1000) + 120});
    const before = Math.floor(Date.now() / 1000);
    const second = await exchange(stack, short);
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.ok(
        second.body.expires_in <= 120 - (Math.floor(Date.now() / 1000) - before - 1) &&
            second.body.expires_in > 60,
        `never beyond the ID token's exp: ${second.body.expires_in}`);
  });

  test('bad tokens get distinct refusals', {skip}, async () => {
    const now = Math.floor(Date.now() / 1000);

    const aud = await exchange(stack, issuer.mint({aud: 'https://elsewhere.example.com'}));
    assert.equal(aud.status, 401, JSON.stringify(aud.body));
    assert.equal(aud.body?.error?.code, 'bad_audience');

    const expired =
        await exchange(stack, issuer.mint({iat: now - 900, nbf: now - 900, exp: now - 300}));
    assert.equal(expired.status, 401, JSON.stringify(expired.body));
    assert.equal(expired.body?.error?.code, 'token_expired');

    // Another key that claims the issuer's key id.
    const impostor = newRsaKey(issuer.key.kid);
    const forged = await exchange(stack, issuer.mint({}, {signWith: impostor}));
    assert.equal(forged.status, 401, JSON.stringify(forged.body));
    assert.equal(forged.body?.error?.code, 'bad_signature');

    const strangerRequestsBefore = stranger.requests.length;
    const foreign = await exchange(stack, stranger.mint());
    assert.equal(foreign.status, 401, JSON.stringify(foreign.body));
    assert.equal(foreign.body?.error?.code, 'untrusted_issuer');
    assert.equal(
        stranger.requests.length, strangerRequestsBefore,
        `the server contacted an issuer it does not trust: ${stranger.requests}`);
    assert.equal(stranger.requests.length, 0, `${stranger.requests}`);

    const otherProjectToken = issuer.mint({
      project_id: '9999',
      project_path: 'group/fork',
      sub: 'project_path:group/fork:ref_type:branch:ref:main'
    });
    const nomatch = await exchange(stack, otherProjectToken);
    assert.equal(nomatch.status, 403, JSON.stringify(nomatch.body));
    assert.equal(nomatch.body?.error?.code, 'no_matching_trust_policy');
    const message = JSON.stringify(nomatch.body);
    assert.match(nomatch.body.error.message, /project_id/, message);
    assert.ok(!message.includes(otherProjectToken), 'the token is never echoed');
    assert.ok(!message.includes(otherProjectToken.split('.')[2]), 'nor its signature');
  });

  test('raw CI ID token as Bearer opens and completes a run', {skip}, async () => {
    const token = issuer.mint();
    const opened = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
      token,
      body: {workflow: 'raw-build', project: 'app'},
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    const id = opened.body.workflow_run.id;
    const stmt = statement();
    const pushed = await api(
        stack, 'POST',
        `/v1/organizations/${ORG}/workflow-runs/${encodeURIComponent(id)}/attestation`, {
          token,
          body: {statement: stmt},
        });
    assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
    const run = pushed.body.workflow_run;
    assert.equal(run.attested_by?.kind, 'federated', JSON.stringify(run));
    assert.equal(run.attested_by?.name, 'gitlab: group/app@main');
    assert.equal(
        run.attested_by?.id, `${issuer.url}|project_path:group/app:ref_type:branch:ref:main`);
    assert.equal(run.attested_by?.claims?.project_path, 'group/app', JSON.stringify(run));
    assert.equal(run.attested_by?.claims?.pipeline_id, '987654');

    // One CI token, one run: a second init with it is a replay.
    const again = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
      token,
      body: {workflow: 'raw-build', project: 'app'},
    });
    assert.equal(again.status, 401, JSON.stringify(again.body));
    assert.equal(again.body?.error?.code, 'replayed_token');

    const listed = await api(stack, 'GET', `/v1/organizations/${ORG}/workflow-runs/${id}`, {
      token: owner.sessionToken(),
    });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.equal(listed.body.workflow_run.attested_by?.kind, 'federated');
    assert.deepEqual(listed.body.workflow_run.statement?.subject, stmt.subject);
  });

  // Last: it stops the issuer.
  test('cached keys keep working when the issuer goes down', {skip}, async () => {
    const warm = await exchange(stack, issuer.mint());
    assert.equal(warm.status, 200, JSON.stringify(warm.body));
    await issuer.stop();
    const fresh = await exchange(stack, issuer.mint());
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.match(fresh.body.access_token, /^clfed_/);

    // No CI token (not even its signature) and no exchanged token reached the server's logs.
    const logs = stack.server.logs();
    assert.ok(issuer.minted.length > 10, `${issuer.minted.length} tokens minted`);
    for (const jwt of [...issuer.minted, ...stranger.minted]) {
      assert.ok(!logs.includes(jwt.split('.')[2]), 'a CI token signature is in the server log');
    }
    for (const t of [warm.body.access_token, fresh.body.access_token]) {
      assert.ok(!logs.includes(t.slice(6)), 'an exchanged token is in the server log');
    }
  });
});
