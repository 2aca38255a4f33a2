// End to end: keyless CI authentication, CI jobs attesting with their ID tokens: through the CLI
// (a token in $CHAINLOOP_OIDC_TOKEN, GitHub Actions' ID token request, GitLab's $GITLAB_OIDC) and
// as a raw Bearer credential on the attestation endpoints; the stored runs record the CI
// identity, a trusted issuer that is down refuses with 503, and every exchange and direct use is
// audited. Runs on SQLite and, with CL_E2E_DATABASE=postgres, on PostgreSQL (setup:
// tests/e2e/keyless_fixture.mjs).
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {api, missingPrerequisite, show, statement, writeJson} from './harness.mjs';
import {
  auditEvents, exchange, ORG, runsOf, signaturesOf, startKeylessStack, stopKeylessStack,
} from './keyless_fixture.mjs';

const skip = missingPrerequisite();

describe('keyless CI authentication: attestation by CI jobs', () => {
  const k = {};
  let stack;
  let issuer;
  let github;
  let ec;
  let cold;
  let owner;
  let ci;
  let policyId;

  const ciRun = (args, token) => ci.run(['--org', ORG, ...args], {
    env: {CHAINLOOP_OIDC_TOKEN: token},
  });

  before(async () => {
    if (skip) return;
    try {
      await startKeylessStack(k, {gitlabPolicy: true});
    } finally {
      ({stack, issuer, github, ec, cold, owner, ci} = k);
      policyId = k.glPolicyId;
    }
  });
  after(async () => {
    await stopKeylessStack(k);
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
    assert.match(outside.stderr, /ignoring \$GITLAB_OIDC: .*\$GITLAB_CI .*not set/, show(outside));

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

  // One GitLab ID token for a whole job: exchanged once, by the first command, and the
  // short-lived token reused by every later one (it used to end in replayed_token).
  test('GitLab CI: one ID token serves every command of a job', {skip}, async () => {
    const job = stack.newUser('gitlab-long-job');
    const token = issuer.mint({ref: 'main', pipeline_id: '777001', job_id: '777002'});
    const env = {
      GITLAB_CI: 'true',
      CI_JOB_URL: 'https://gitlab.example.com/group/app/-/jobs/777002',
      GITLAB_OIDC: token,
      ACTIONS_ID_TOKEN_REQUEST_URL: '',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
    };
    const file = writeJson(job.home, 'statement.json', statement());
    const run = (args) => job.run(['--org', ORG, ...args], {env});
    const before = (await auditEvents(stack, owner))
                       .filter((e) => e.action === 'federation.token_exchanged').length;

    const results = [];
    for (const args of [
      ['attestation', 'init', '--workflow', 'gl-job', '--project', 'app'],
      ['project', 'list'],
      ['workflow', 'list'],
      ['attestation', 'push', '--statement', file],
      ['workflow', 'run', 'list'],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 0, `${args.join(' ')}\n${show(r)}`);
      assert.ok(!(r.stdout + r.stderr).includes(token));
      results.push(r);
    }
    assert.match(results[4].stdout, /gl-job/, show(results[4]));
    const exchanges = (await auditEvents(stack, owner))
                          .filter((e) => e.action === 'federation.token_exchanged').length;
    assert.equal(exchanges - before, 1, 'one exchange for the whole job');
    // The ID token itself is spent: nobody can exchange it again.
    const again = await exchange(stack, token);
    assert.equal(again.status, 401, JSON.stringify(again.body));
    assert.equal(again.body?.error?.code, 'replayed_token');
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
});
