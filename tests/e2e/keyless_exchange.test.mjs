// End to end: keyless CI authentication, the RFC 8693 token exchange and the checks on CI ID
// tokens: short-lived clfed_ tokens, one use per ID token, a distinct refusal for each bad, forged,
// premature or malformed token, and the issuers' key sets (malformed and oversized sets, rotation
// and the refetch cooldown, cached keys while the issuer is down). Runs on SQLite and, with
// CL_E2E_DATABASE=postgres, on PostgreSQL (setup: tests/e2e/keyless_fixture.mjs).
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {newKey} from './ci_issuer.mjs';
import {api, missingPrerequisite, sleep} from './harness.mjs';
import {
  COOLDOWN_S, exchange, ORG, signaturesOf, startKeylessStack, stopKeylessStack,
} from './keyless_fixture.mjs';

const skip = missingPrerequisite();

describe('keyless CI authentication: token exchange and key sets', () => {
  const k = {};
  let stack;
  let issuer;
  let stranger;
  let github;
  let ec;
  let rot;
  let cold;
  let badJwks;
  let bigJwks;
  let rotWarmAt = 0;

  before(async () => {
    if (skip) return;
    try {
      await startKeylessStack(k, {gitlabPolicy: true});
    } finally {
      ({stack, issuer, stranger, github, ec, rot, cold, badJwks, bigJwks, rotWarmAt} = k);
    }
  });
  after(async () => {
    await stopKeylessStack(k);
  });

  test('exchange returns a short-lived clfed_ token, once per ID token', {skip}, async () => {
    const now = Math.floor(Date.now() / 1000);
    const long = issuer.mint({exp: now + 3600});
    const first = await exchange(stack, long);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(first.body.access_token, /^clfed_/);
    assert.equal(first.body.token_type, 'Bearer');
    assert.equal(first.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    // As long as the ID token is accepted: exp (1 h) and iat + the policy's max_token_age
    // (default 1 h), plus 60 s of leeway.
    assert.ok(
        first.body.expires_in <= 3660 && first.body.expires_in > 3560,
        `ends with the ID token's acceptance: ${first.body.expires_in}`);
    const brief = await exchange(stack, issuer.mint({exp: now + 300}));
    assert.equal(brief.status, 200, JSON.stringify(brief.body));
    assert.ok(brief.body.expires_in <= 360 && brief.body.expires_in > 260,
              `never beyond the ID token's exp: ${brief.body.expires_in}`);

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
