// End to end: keyless CI authentication. Fake CI issuers on loopback (tests/e2e/ci_issuer.mjs:
// discovery + JWKS, RS256 and ES256 keys, rotation, GitLab- and GitHub-shaped ID tokens, GitHub's
// ID token request endpoint) are trusted through --federation-issuers and organization trust
// policies; the CLI and raw API calls exchange or present their tokens. Runs on SQLite and, with
// CL_E2E_DATABASE=postgres, on PostgreSQL.
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {newKey, startCiIssuer} from './ci_issuer.mjs';
import {api, missingPrerequisite, show, sleep, startStack, statement, writeJson} from './harness.mjs';

const COOLDOWN_S = 8;  // the key-set refetch cooldown this stack runs with
const skip = missingPrerequisite();

const ORG = 'keyless-org';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const JWKS_PATH = '/oauth/discovery/keys';

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

// Creates a trust policy through the API as `user`; returns its id.
async function createPolicy(stack, user, body) {
  const r = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
    token: user.sessionToken(),
    body,
  });
  assert.equal(r.status, 201, `${body.name}: ${JSON.stringify(r.body)}`);
  return r.body.id ?? r.body.policy?.id;
}

// The (non-trivial) signature parts of every token the issuers minted: no log line or audit
// event may contain one. (`alg: none` tokens have an empty signature.)
function signaturesOf(issuers) {
  return issuers.flatMap((i) => i.minted.map((jwt) => jwt.split('.')[2] ?? ''))
      .filter((sig) => sig.length >= 32);
}

async function auditEvents(stack, user) {
  const r = await api(stack, 'GET', `/v1/organizations/${ORG}/audit-events?limit=1000`, {
    token: user.sessionToken(),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.audit_events;
}

describe('keyless CI authentication', () => {
  let stack;
  let issuer;    // GitLab-shaped, RS256: the main trusted issuer
  let stranger;  // an issuer that is NOT in --federation-issuers
  let github;    // GitHub-Actions-shaped, RS256, with the ID token request endpoint
  let ec;        // GitLab-shaped, ES256 keys, glob policy
  let rot;       // key rotation
  let cold;      // trusted but down before anything was cached
  let badJwks;   // serves a malformed JWKS
  let bigJwks;   // serves an oversized JWKS
  let rotWarmAt = 0;  // when the server first fetched rot's JWKS
  let owner;
  let viewer;
  let ci;  // a CI job: no login, only the ID token in its environment
  let policyId;

  const ciRun = (args, token) => ci.run(['--org', ORG, ...args], {
    env: {CHAINLOOP_OIDC_TOKEN: token},
  });

  before(async () => {
    if (skip) return;
    issuer = await startCiIssuer();
    stranger = await startCiIssuer();
    github = await startCiIssuer({provider: 'github'});
    ec = await startCiIssuer({alg: 'ES256'});
    rot = await startCiIssuer();
    cold = await startCiIssuer();
    badJwks = await startCiIssuer();
    bigJwks = await startCiIssuer();
    const trusted = [issuer, github, ec, rot, cold, badJwks, bigJwks];
    // Failed-authentication throttling off: this file sends many bad tokens from one address.
    stack = await startStack({
      extraArgs: [
        '--federation-issuers', trusted.map((i) => i.url).join(','), '--auth-failure-limit', '0',
        '--federation-jwks-refresh-cooldown', `${COOLDOWN_S}s`,
      ]
    });
    for (const i of [...trusted, stranger]) i.audience = stack.baseUrl;
    // Warm rot's key cache first: an unknown-kid refetch is allowed once per COOLDOWN_S after it.
    const warm = await exchange(stack, rot.mint(), 'no-such-org');
    assert.equal(warm.status, 403, JSON.stringify(warm.body));
    assert.equal(rot.jwksFetches(), 1);
    rotWarmAt = Date.now();

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

    await createPolicy(stack, owner, {
      name: 'gh',
      issuer: github.url,
      provider: 'github',
      bound_claims: {
        repository_owner_id: '65',
        repository: 'octo-org/octo-*',
        ref: 'refs/heads/main',
      },
      project: 'app',
    });
    await createPolicy(stack, owner, {
      name: 'gl-ec',
      issuer: ec.url,
      provider: 'gitlab',
      bound_claims: {namespace_id: '1001', namespace_path: 'group', ref: 'release/*'},
    });
    for (const [name, i] of [['rot', rot], ['cold', cold], ['jwks-bad', badJwks],
                             ['jwks-big', bigJwks]]) {
      await createPolicy(stack, owner, {
        name,
        issuer: i.url,
        provider: 'gitlab',
        bound_claims: {project_id: '4242'},
        project: 'app',
      });
    }
    await cold.stop();
  });
  after(async () => {
    await stack?.cleanup();
    for (const i of [issuer, stranger, github, ec, rot, cold, badJwks, bigJwks]) await i?.stop();
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

        // Identifying claims bound so loosely that they would trust other owners' repositories.
        for (const [provider, iss, bound] of [
          ['gitlab', issuer.url, {project_path: '*/*'}],
          ['gitlab', issuer.url, {project_path: '*/*/*'}],
          ['gitlab', issuer.url, {project_path: '*-*'}],
          ['gitlab', issuer.url, {project_path: '*1*'}],
          ['gitlab', issuer.url, {project_path: 'group/*'}],
          ['gitlab', issuer.url, {namespace_path: 'gr*'}],
          ['gitlab', issuer.url, {project_id: '42*'}],
          ['gitlab', issuer.url, {project_id: '4242', project_path: '*/app'}],
          ['github', github.url, {repository: '*/*'}],
          ['github', github.url, {repository: '*/octo-repo'}],
          ['github', github.url, {repository_owner: '*'}],
        ]) {
          const r = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
            token: owner.sessionToken(),
            body: {name: 'wild', issuer: iss, provider, bound_claims: bound},
          });
          assert.equal(r.status, 400, `${JSON.stringify(bound)}: ${JSON.stringify(r.body)}`);
          assert.equal(r.body?.error?.code, 'invalid_trust_policy', JSON.stringify(bound));
          assert.match(r.body.error.message, /owner|first path segment|letter or digit|numeric/,
              JSON.stringify(r.body));
        }

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
        const line = list.stdout.split('\n').find((l) => /(^|\s)gl(\s|$)/.test(l));
        assert.ok(line, `list shows the policy\n${show(list)}`);
        assert.ok(line.includes(issuer.url), line);
        assert.doesNotMatch(list.stdout, /\bloose\b|\bmine\b|\bstranger\b/);

        const raw = await api(stack, 'GET', `/v1/organizations/${ORG}/federation-policies`, {
          token: owner.sessionToken(),
        });
        assert.equal(raw.status, 200, JSON.stringify(raw.body));
        const names = raw.body.policies.map((q) => q.name).sort();
        assert.deepEqual(
            names, ['cold', 'gh', 'gl', 'gl-ec', 'jwks-bad', 'jwks-big', 'rot'],
            JSON.stringify(raw.body));
        const p = raw.body.policies.find((q) => q.name === 'gl');
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
    // The exchanged token ends when the ID token stops being accepted: exp + the 60 s leeway.
    assert.ok(
        second.body.expires_in <= 180 - (Math.floor(Date.now() / 1000) - before - 1) &&
            second.body.expires_in > 120,
        `never beyond the ID token's exp + leeway: ${second.body.expires_in}`);

    // Within the leeway after exp, the raw token is accepted alike by the exchange and by
    // attestation init (one rule for both); past it, refused alike.
    for (const [ago, status] of [[30, [200, 201]], [90, [401, 401]]]) {
      const exp = Math.floor(Date.now() / 1000) - ago;
      const viaExchange = await exchange(stack, issuer.mint({exp, iat: exp - 300, nbf: exp - 300}));
      const direct = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
        token: issuer.mint({exp, iat: exp - 300, nbf: exp - 300}),
        body: {workflow: 'build', project: 'app'},
      });
      assert.equal(viaExchange.status, status[0], `exchange, ${ago} s after exp: ` +
          JSON.stringify(viaExchange.body));
      assert.equal(direct.status, status[1], `init, ${ago} s after exp: ` +
          JSON.stringify(direct.body));
      if (ago > 60) {
        assert.equal(viaExchange.body?.error?.code, 'token_expired');
        assert.equal(direct.body?.error?.code, 'token_expired');
      } else {
        assert.ok(viaExchange.body.expires_in <= 30, JSON.stringify(viaExchange.body));
      }
    }
  });

  test('bad tokens get distinct refusals', {skip}, async () => {
    const now = Math.floor(Date.now() / 1000);

    // Every "no policy applies" is one answer, word for word: an audience no policy names, a
    // project no policy binds, an organization without policies, an unknown organization.
    const noPolicy = [
      await exchange(stack, issuer.mint({aud: 'https://elsewhere.example.com'})),
      await exchange(stack, issuer.mint({project_id: '999999', project_path: 'other/app',
        namespace_id: '999', namespace_path: 'other'})),
      await exchange(stack, issuer.mint(), 'no-such-org'),
    ];
    for (const r of noPolicy) {
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body?.error?.code, 'no_matching_trust_policy');
      assert.equal(r.body.error.message, noPolicy[0].body.error.message);
    }

    const expired =
        await exchange(stack, issuer.mint({iat: now - 900, nbf: now - 900, exp: now - 300}));
    assert.equal(expired.status, 401, JSON.stringify(expired.body));
    assert.equal(expired.body?.error?.code, 'token_expired');

    // Another key that claims the issuer's key id.
    const impostor = newKey('RS256', issuer.key.kid);
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
    // One answer for every "no policy applies"; the claims compared go to the server log.
    assert.equal(nomatch.body.error.message, noPolicy[0].body.error.message, message);
    const logs = () => stack.serverOutputs.map((o) => o.text()).join('');
    for (let i = 0; i < 50 && !/project_id=9999/.test(logs()); i += 1) await sleep(100);
    assert.match(logs(), /"msg":"ci token: no trust policy applies".*project_id=9999/);
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

  // The stored run attested by `name`, read back by the owner through the API.
  async function runAttestedBy(name) {
    const r = await api(stack, 'GET', `/v1/organizations/${ORG}/workflow-runs`, {
      token: owner.sessionToken(),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.workflow_runs.filter((run) => run.attested_by?.name === name);
  }

  test('GitHub Actions: the CLI requests an ID token and attests with it', {skip}, async () => {
    const job = stack.newUser('github-job');
    const env = {
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: github.actionsRequestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: github.actionsRequestToken,
      GITLAB_CI: '',
      CI_JOB_URL: '',
      GITLAB_OIDC: '',
    };
    const file = writeJson(job.home, 'statement.json', statement());
    const run = (args, extra = {}) =>
        job.run(['--org', ORG, ...args], {env: {...env, ...extra}});

    // A wrong request token: GitHub refuses, the CLI says so and sends nothing further.
    const refused = await run(['attestation', 'init', '--workflow', 'gh-release', '--project',
                               'app'], {ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'not-the-token'});
    assert.notEqual(refused.code, 0, show(refused));
    assert.match(refused.stderr, /GitHub Actions refused the ID token request/, show(refused));

    github.actionsRequests.length = 0;
    const init = await run(['attestation', 'init', '--workflow', 'gh-release', '--project', 'app']);
    assert.equal(init.code, 0, show(init));
    const push = await run(['attestation', 'push', '--statement', file]);
    assert.equal(push.code, 0, show(push));
    // Not an attestation command: the ID token is exchanged for a clfed_ token first.
    const list = await run(['workflow', 'run', 'list']);
    assert.equal(list.code, 0, show(list));

    assert.equal(github.actionsRequests.length, 3, JSON.stringify(github.actionsRequests));
    for (const r of github.actionsRequests) {
      assert.equal(r.authorization, `bearer ${github.actionsRequestToken}`);
      assert.equal(r.audience, stack.baseUrl);
    }
    for (const r of [init, push, list]) {
      for (const jwt of github.minted) assert.ok(!(r.stdout + r.stderr).includes(jwt));
      assert.ok(!(r.stdout + r.stderr).includes(github.actionsRequestToken));
    }

    const runs = await runAttestedBy('github: octo-org/octo-repo@refs/heads/main');
    assert.equal(runs.length, 1, JSON.stringify(runs));
    const [stored] = runs;
    assert.equal(stored.state, 'succeeded', JSON.stringify(stored));
    assert.equal(stored.project, 'app');
    assert.equal(stored.attested_by.kind, 'federated');
    const claims = stored.attested_by.claims ?? {};
    assert.equal(claims.iss, github.url, JSON.stringify(stored));
    assert.equal(claims.sub, 'repo:octo-org/octo-repo:ref:refs/heads/main');
    assert.equal(claims.repository, 'octo-org/octo-repo');
    assert.equal(claims.repository_id, '74');
    assert.equal(claims.ref, 'refs/heads/main');
    assert.equal(claims.workflow_ref,
                 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main');
    assert.equal(claims.run_id, '6620371931');
  });

  test('GitLab CI: the CLI reads $GITLAB_OIDC inside a GitLab job', {skip}, async () => {
    const job = stack.newUser('gitlab-env-job');
    const token = issuer.mint({ref: 'main', pipeline_id: '555001', job_id: '555002'});
    const env = {
      GITLAB_CI: 'true',
      CI_JOB_URL: 'https://gitlab.example.com/group/app/-/jobs/555002',
      GITLAB_OIDC: token,
      ACTIONS_ID_TOKEN_REQUEST_URL: '',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
    };
    const file = writeJson(job.home, 'statement.json', statement());
    const run = (args, extra = {}) =>
        job.run(['--org', ORG, ...args], {env: {...env, ...extra}});

    // Outside a GitLab job ($GITLAB_CI unset) the variable is not a credential.
    const outside = await run(['attestation', 'init', '--workflow', 'gl-env', '--project', 'app'],
                              {GITLAB_CI: ''});
    assert.notEqual(outside.code, 0, show(outside));
    assert.match(outside.stderr, /not logged in/, show(outside));

    const init = await run(['attestation', 'init', '--workflow', 'gl-env', '--project', 'app']);
    assert.equal(init.code, 0, show(init));
    const push = await run(['attestation', 'push', '--statement', file]);
    assert.equal(push.code, 0, show(push));
    for (const r of [outside, init, push]) assert.ok(!(r.stdout + r.stderr).includes(token));

    const runs = (await runAttestedBy('gitlab: group/app@main'))
                     .filter((r) => r.attested_by.claims?.pipeline_id === '555001');
    assert.equal(runs.length, 1, JSON.stringify(runs));
    const [stored] = runs;
    assert.equal(stored.state, 'succeeded', JSON.stringify(stored));
    assert.equal(stored.attested_by.kind, 'federated');
    const claims = stored.attested_by.claims;
    assert.equal(claims.iss, issuer.url);
    assert.equal(claims.sub, 'project_path:group/app:ref_type:branch:ref:main');
    assert.equal(claims.project_path, 'group/app');
    assert.equal(claims.project_id, '4242');
    assert.equal(claims.ref, 'main');
    assert.equal(claims.ref_type, 'branch');
    assert.equal(claims.job_id, '555002');
    assert.equal(claims.ci_config_ref_uri,
                 'gitlab.example.com/group/app//.gitlab-ci.yml@refs/heads/main');
  });

  test('GitHub-shaped tokens: the policy admits the repository, not a fork', {skip}, async () => {
    const ok = await exchange(stack, github.mint());
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(ok.body.access_token, /^clfed_/);

    // A fork: same repository name under another owner, other immutable ids.
    const fork = github.mint({
      repository: 'evil-org/octo-repo',
      repository_owner: 'evil-org',
      repository_owner_id: '666',
      repository_id: '999',
      sub: 'repo:evil-org/octo-repo:ref:refs/heads/main',
    });
    const denied = await exchange(stack, fork);
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    assert.equal(denied.body.error.code, 'no_matching_trust_policy');
    assert.doesNotMatch(denied.body.error.message, /666|evil-org/);
    assert.ok(!JSON.stringify(denied.body).includes(fork.split('.')[2]));

    // A name that only looks like the owner's ("octo-org-fork/...") does not match octo-org/*.
    const lookalike = await exchange(stack, github.mint({repository: 'octo-org-fork/octo-repo'}));
    assert.equal(lookalike.status, 403, JSON.stringify(lookalike.body));

    // Another branch of the right repository.
    const branch = await exchange(stack, github.mint({ref: 'refs/heads/feature'}));
    assert.equal(branch.status, 403, JSON.stringify(branch.body));
    assert.equal(branch.body.error.code, 'no_matching_trust_policy');
  });

  test('ES256 keys, glob policies, and a fork\'s project path', {skip}, async () => {
    const release = ec.mint({project_path: 'group/lib', project_id: '5151', ref: 'release/1.4'});
    assert.equal(JSON.parse(Buffer.from(release.split('.')[0], 'base64url')).alg, 'ES256');
    const ok = await exchange(stack, release);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    for (const claims of [
      // A fork in another namespace.
      {project_path: 'group-fork/app', namespace_path: 'group-fork', namespace_id: '2002',
       project_id: '7777', ref: 'release/1.4'},
      // The same path re-registered under another namespace id.
      {namespace_id: '2002', ref: 'release/1.4'},
      // A branch outside the glob.
      {ref: 'main'},
    ]) {
      const r = await exchange(stack, ec.mint(claims));
      assert.equal(r.status, 403, `${JSON.stringify(claims)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'no_matching_trust_policy');
    }

    // An ES256 signature under a header that claims RS256: the key decides, not the token.
    const mismatch = await exchange(stack, ec.mint({ref: 'release/1.4'}, {header: {alg: 'RS256'}}));
    assert.equal(mismatch.status, 401, JSON.stringify(mismatch.body));
    assert.equal(mismatch.body.error.code, 'jwt_key_alg_mismatch');
  });

  test('forged, premature, oversized and malformed tokens are refused', {skip}, async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      ['alg none', issuer.mintAlgNone(), 'jwt_bad_alg'],
      ['alg none, junk signature', issuer.mintAlgNone({}, {withSignature: true}), 'jwt_bad_alg'],
      ['HS256 keyed with the public key', issuer.mintHs256WithPublicKey(), 'jwt_bad_alg'],
      ['nbf in the future', issuer.mint({nbf: now + 600, exp: now + 1200}), 'jwt_not_yet_valid'],
      ['oversized', issuer.mint({padding: 'x'.repeat(20_000)}), 'jwt_malformed'],
      ['not a JWT', 'not-a-jwt', 'jwt_malformed'],
      ['two parts', 'eyJhbGciOiJSUzI1NiJ9.e30', 'jwt_malformed'],
      ['four parts', `${issuer.mint()}.e30`, 'jwt_malformed'],
      ['header not JSON', issuer.signRaw('{"alg":"RS256",', issuer.claims(now)), 'jwt_malformed'],
      ['payload not JSON', issuer.signRaw({alg: 'RS256', kid: issuer.key.kid}, '[1,2'),
       'jwt_malformed'],
      ['payload not base64url', (() => {
         const [h, , sig] = issuer.mint().split('.');
         return `${h}.%%%.${sig}`;
       })(), 'jwt_malformed'],
    ];
    for (const [what, token, code] of cases) {
      const r = await exchange(stack, token);
      assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body?.error?.code, code, `${what}: ${JSON.stringify(r.body)}`);
      assert.ok(!JSON.stringify(r.body).includes(token), `${what}: token echoed`);
    }

    // The same tokens as raw Bearer credentials on the attestation endpoint.
    for (const [what, token] of cases) {
      const r = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
        token,
        body: {workflow: 'forged', project: 'app'},
      });
      // A 20 KB token does not even fit in the server's request header limit.
      const want = what === 'oversized' ? 431 : 401;
      assert.equal(r.status, want, `${what} as Bearer: ${JSON.stringify(r.body)}`);
    }
  });

  test('an ID token is single use across exchange and the attestation endpoints', {skip},
       async () => {
         const exchanged = issuer.mint();
         assert.equal((await exchange(stack, exchanged)).status, 200);
         const raw = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
           token: exchanged,
           body: {workflow: 'replay', project: 'app'},
         });
         assert.equal(raw.status, 401, JSON.stringify(raw.body));
         assert.equal(raw.body.error.code, 'replayed_token');

         const opened = issuer.mint();
         const first = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
           token: opened,
           body: {workflow: 'replay', project: 'app'},
         });
         assert.equal(first.status, 201, JSON.stringify(first.body));
         const again = await exchange(stack, opened);
         assert.equal(again.status, 401, JSON.stringify(again.body));
         assert.equal(again.body.error.code, 'replayed_token');
       });

  test('malformed and oversized key sets: issuer_unavailable, then recovery', {skip}, async () => {
    badJwks.jwksBody = '{"keys": [';
    const malformed = await exchange(stack, badJwks.mint());
    assert.equal(malformed.status, 503, JSON.stringify(malformed.body));
    assert.equal(malformed.body.error.code, 'issuer_unavailable');

    // Over the 256 KiB cap: a real key padded with junk keys.
    const junk = Array.from({length: 900}, (_, i) => ({kty: 'RSA', kid: `junk-${i}`,
                                                       n: 'x'.repeat(300), e: 'AQAB'}));
    bigJwks.jwksBody = JSON.stringify({keys: [bigJwks.key.jwk, ...junk]});
    assert.ok(bigJwks.jwksBody.length > 256 * 1024);
    const oversized = await exchange(stack, bigJwks.mint());
    assert.equal(oversized.status, 503, JSON.stringify(oversized.body));
    assert.equal(oversized.body.error.code, 'issuer_unavailable');

    // Fixed documents are picked up once the short retry delay (5 s) has passed.
    badJwks.jwksBody = null;
    bigJwks.jwksBody = null;
    await sleep(5_500);
    for (const i of [badJwks, bigJwks]) {
      const r = await exchange(stack, i.mint());
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });

  test('issuer down with a cold cache: 503 issuer_unavailable', {skip}, async () => {
    assert.ok(cold.stopped);
    const r = await exchange(stack, cold.mint());
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'issuer_unavailable');
    const raw = await api(stack, 'POST', `/v1/organizations/${ORG}/workflow-runs`, {
      token: cold.mint(),
      body: {workflow: 'cold', project: 'app'},
    });
    assert.equal(raw.status, 503, JSON.stringify(raw.body));
    assert.equal(raw.body.error.code, 'issuer_unavailable');
  });

  test('exchanges and direct uses of ID tokens are audited', {skip}, async () => {
    const events = await auditEvents(stack, owner);
    const exchanged = events.filter((e) => e.action === 'federation.token_exchanged');
    const gh = exchanged.find((e) => e.message.includes(github.url));
    assert.ok(gh, JSON.stringify(exchanged));
    assert.equal(gh.actor_kind, 'federated');
    assert.equal(gh.target_kind, 'trust_policy');
    assert.match(gh.message, /sub repo:octo-org\/octo-repo:ref:refs\/heads\/main/);
    assert.match(gh.message, /trust policy gh$/);

    const used = events.filter((e) => e.action === 'federation.ci_token_used');
    const init = used.find((e) => e.message.includes('attestation init') &&
                                  e.message.includes(issuer.url));
    const push = used.find((e) => e.message.includes('attestation push') &&
                                  e.message.includes(issuer.url));
    assert.ok(init && push, JSON.stringify(used));
    assert.equal(init.actor_kind, 'federated');
    assert.equal(init.actor_name, 'gitlab: group/app@main');
    assert.match(init.message, /sub project_path:group\/app:ref_type:branch:ref:main/);
    assert.match(init.message, /trust policy gl$/);
    // Refused tokens leave no "used" event: only the successful uses above.
    assert.ok(!used.some((e) => e.message.includes(cold.url)), JSON.stringify(used));
    const all = JSON.stringify(events);
    for (const sig of signaturesOf([issuer, github, ec])) assert.ok(!all.includes(sig));
  });

  test('key rotation: a new kid triggers one JWKS refresh, then the cooldown holds', {skip},
       async () => {
         // The cache was warmed in before(); refetches for unknown kids wait COOLDOWN_S after it
         // (60 s by default; shortened here through federation_jwks_refresh_cooldown).
         await sleep(Math.max(0, rotWarmAt + COOLDOWN_S * 1000 + 1000 - Date.now()));
         const oldKey = rot.key;
         const fetches = rot.jwksFetches();
         rot.rotate('ES256');
         const rotated = await exchange(stack, rot.mint());
         assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
         assert.equal(rot.jwksFetches(), fetches + 1);

         // Another unknown kid right away: refused without hitting the issuer again.
         rot.rotate('RS256');
         const early = await exchange(stack, rot.mint());
         assert.equal(early.status, 401, JSON.stringify(early.body));
         assert.equal(early.body.error.code, 'jwt_unknown_kid');
         assert.equal(rot.jwksFetches(), fetches + 1);

         // Keys already known keep working without a fetch.
         const old = await exchange(stack, rot.mint({}, {signWith: oldKey}));
         assert.equal(old.status, 200, JSON.stringify(old.body));
         assert.equal(rot.jwksFetches(), fetches + 1);
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
    const all = [issuer, stranger, github, ec, rot, cold, badJwks, bigJwks];
    for (const sig of signaturesOf(all)) {
      assert.ok(!logs.includes(sig), 'a CI token signature is in the server log');
    }
    for (const t of [warm.body.access_token, fresh.body.access_token]) {
      assert.ok(!logs.includes(t.slice(6)), 'an exchanged token is in the server log');
    }
  });
});
