// End to end: keyless CI authentication, organization trust policies. Owners create them through
// the CLI and the API; unsafe policies, untrusted issuers and viewers are refused; a policy admits
// its repository or project and not a fork, a look-alike owner or another branch (RS256 and ES256
// issuers, GitLab- and GitHub-shaped tokens), and a job token stays in its project. Runs on SQLite
// and, with CL_E2E_DATABASE=postgres, on PostgreSQL (setup: tests/e2e/keyless_fixture.mjs).
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {api, missingPrerequisite, show} from './harness.mjs';
import {exchange, ORG, startKeylessStack, stopKeylessStack} from './keyless_fixture.mjs';

const skip = missingPrerequisite();

describe('keyless CI authentication: trust policies', () => {
  const k = {};
  let stack;
  let issuer;
  let stranger;
  let github;
  let ec;
  let owner;
  let viewer;
  let ci;
  let policyId;

  const ciRun = (args, token) => ci.run(['--org', ORG, ...args], {
    env: {CHAINLOOP_OIDC_TOKEN: token},
  });

  before(async () => {
    if (skip) return;
    try {
      await startKeylessStack(k);
    } finally {
      ({stack, issuer, stranger, github, ec, owner, viewer, ci} = k);
    }
  });
  after(async () => {
    await stopKeylessStack(k);
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
});
