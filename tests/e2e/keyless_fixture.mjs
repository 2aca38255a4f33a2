// Shared setup of the keyless CI authentication suites (keyless_*.test.mjs): fake CI issuers on
// loopback (tests/e2e/ci_issuer.mjs) trusted through --federation-issuers, a stack with an
// organization, two projects, an owner, a viewer and a CI job user, the organization's trust
// policies, and the requests the suites send (RFC 8693 token exchange, trust policy creation,
// audit events).
import assert from 'node:assert/strict';

import {startCiIssuer} from './ci_issuer.mjs';
import {api, recordedFetch, show, startStack} from './harness.mjs';

export const COOLDOWN_S = 8;  // the key-set refetch cooldown the stack runs with

export const ORG = 'keyless-org';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

// POST /v1/auth/federated/exchange, form-encoded as RFC 8693 describes.
export async function exchange(stack, subjectToken, org = ORG) {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: ID_TOKEN_TYPE,
    organization: org,
  });
  const r = await recordedFetch(`${stack.baseUrl}/v1/auth/federated/exchange`, {
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

export function runsOf(r) {
  const parsed = JSON.parse(r.stdout);
  return Array.isArray(parsed) ? parsed : parsed.workflow_runs;
}

// Creates a trust policy through the API as `user`; returns its id.
export async function createPolicy(stack, user, body) {
  const r = await api(stack, 'POST', `/v1/organizations/${ORG}/federation-policies`, {
    token: user.sessionToken(),
    body,
  });
  assert.equal(r.status, 201, `${body.name}: ${JSON.stringify(r.body)}`);
  return r.body.id ?? r.body.policy?.id;
}

// The (non-trivial) signature parts of every token the issuers minted: no log line or audit
// event may contain one. (`alg: none` tokens have an empty signature.)
export function signaturesOf(issuers) {
  return issuers.flatMap((i) => i.minted.map((jwt) => jwt.split('.')[2] ?? ''))
      .filter((sig) => sig.length >= 32);
}

export async function auditEvents(stack, user) {
  const r = await api(stack, 'GET', `/v1/organizations/${ORG}/audit-events?limit=1000`, {
    token: user.sessionToken(),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.audit_events;
}

// Starts the issuers and the stack and creates the organization, its projects, users and trust
// policies, filling `k` as it goes (so stopKeylessStack(k) cleans up after a partial start):
//   issuer   GitLab-shaped, RS256: the main trusted issuer
//   stranger an issuer that is NOT in --federation-issuers
//   github   GitHub-Actions-shaped, RS256, with the ID token request endpoint
//   ec       GitLab-shaped, ES256 keys, glob policy
//   rot      key rotation (its key set is fetched once here; rotWarmAt says when)
//   cold     trusted but down before anything was cached
//   badJwks, bigJwks  serve a malformed / oversized JWKS once a test sets jwksBody
//   owner, viewer     logged-in users; ci: a CI job (no login, only the ID token)
// With `gitlabPolicy`, also the trust policy 'gl' for `issuer` (project_id 4242, project app),
// whose id is k.glPolicyId; the trust policy suite creates it itself, through the CLI.
export async function startKeylessStack(k, {gitlabPolicy = false} = {}) {
  k.issuer = await startCiIssuer();
  k.stranger = await startCiIssuer();
  k.github = await startCiIssuer({provider: 'github'});
  k.ec = await startCiIssuer({alg: 'ES256'});
  k.rot = await startCiIssuer();
  k.cold = await startCiIssuer();
  k.badJwks = await startCiIssuer();
  k.bigJwks = await startCiIssuer();
  const {issuer, stranger, github, ec, rot, cold, badJwks, bigJwks} = k;
  const trusted = [issuer, github, ec, rot, cold, badJwks, bigJwks];
  // Failed-authentication throttling off: these suites send many bad tokens from one address.
  const stack = k.stack = await startStack({
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
  k.rotWarmAt = Date.now();

  const owner = k.owner = stack.newUser('olga.owner');
  const viewer = k.viewer = stack.newUser('vera.viewer');
  k.ci = stack.newUser('gitlab-job');
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

  if (gitlabPolicy) {
    k.glPolicyId = await createPolicy(stack, owner, {
      name: 'gl',
      issuer: issuer.url,
      provider: 'gitlab',
      bound_claims: {project_id: '4242'},
      project: 'app',
    });
  }
  await cold.stop();
}

// Stops whatever startKeylessStack(k) started.
export async function stopKeylessStack(k) {
  await k.stack?.cleanup();
  for (const i of [k.issuer, k.stranger, k.github, k.ec, k.rot, k.cold, k.badJwks, k.bigJwks]) {
    await i?.stop();
  }
}
