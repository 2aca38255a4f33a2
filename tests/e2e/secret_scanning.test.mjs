// End to end: leaked-credential reports from secret scanners (docs/secret-scanning.md). A fake
// "GitHub" on 127.0.0.1 serves a key list and signs reports with a P-256 key it generated; the
// control plane is configured with its URL (a loopback URL, allowed explicitly) and with an HMAC
// secret file for the generic variant. Reported live API tokens are revoked at once (whoami 401
// token_revoked), recorded in the audit log with the URL and answered true_positive; unknown
// and malformed tokens are false positives; bad signatures, unknown keys and stale timestamps
// are 401 and change nothing. Runs on SQLite and PostgreSQL (CL_E2E_DATABASE).
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, randomInt, sign } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import {
  api, makeTempDir, missingPrerequisite, recordSecret, show, startStack,
} from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'scan-org';
const LEAK_URL = 'https://github.com/acme/app/blob/main/.github/workflows/ci.yml';
const HMAC_SECRET = 'e2e-shared-secret-for-the-generic-scanner-0123456789';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// A well-formed credential (right prefix, length and checksum) that was never issued.
function unknownToken(prefix = 'clapi') {
  let secret = '';
  for (let i = 0; i < 43; i++) secret += BASE62[randomInt(62)];
  let crc = crc32(`${prefix}_${secret}`);
  let sum = '';
  for (let i = 0; i < 6; i++) {
    sum = BASE62[crc % 62] + sum;
    crc = Math.floor(crc / 62);
  }
  return `${prefix}_${secret}${sum}`;
}

const sha256Hex = (text) => createHash('sha256').update(text).digest('hex');

// A fake GitHub: the key list at /keys (fetches counted), and report signing.
async function startFakeGithub() {
  const current = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }); // never published
  const github = { fetches: 0, keyId: 'k-current', up: true };
  const server = createServer((req, res) => {
    if (req.url !== '/keys') {
      res.writeHead(404).end();
      return;
    }
    github.fetches += 1;
    if (!github.up) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      public_keys: [{
        key_identifier: github.keyId,
        key: current.publicKey.export({ type: 'spki', format: 'pem' }),
        is_current: true,
      }],
    }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  github.url = `http://127.0.0.1:${server.address().port}/keys`;
  github.close = () => new Promise((resolve) => server.close(resolve));
  // DER ECDSA P-256 / SHA-256 over the raw body, base64: what GitHub sends.
  github.sign = (body, key = current) => sign('sha256', Buffer.from(body), key.privateKey)
      .toString('base64');
  github.other = other;
  return github;
}

function reportBody(tokens, url = LEAK_URL) {
  return JSON.stringify(tokens.map((token) => ({
    token, type: 'chainloop_api_token', url, source: 'content',
  })));
}

describe('secret scanning reports', { skip }, () => {
  let stack;
  let github;
  let owner;
  let ownerToken;

  async function newApiToken(name) {
    const r = await owner.run(['organization', 'api-token', 'create', '--name', name,
      '--project', 'app', '-o', 'json']);
    assert.equal(r.code, 0, show(r));
    const token = JSON.parse(r.stdout).token;
    recordSecret(stack, token, `API token ${name}`);
    return token;
  }

  const whoami = (token) => api(stack, 'GET', '/v1/auth/whoami', { token });

  // Reports come "from" a per-test address (the server trusts 127.0.0.1 as a proxy), so each
  // test has its own rate-limit bucket and failed-verification count.
  let from = '198.51.100.1';

  function postGithub(body, { keyId = github.keyId, signature = github.sign(body) } = {}) {
    return api(stack, 'POST', '/v1/secret-scanning/github', {
      rawBody: body,
      headers: {
        'github-public-key-identifier': keyId,
        'github-public-key-signature': signature,
        'x-forwarded-for': from,
      },
    });
  }

  function postGeneric(body, { ts = Math.floor(Date.now() / 1000), secret = HMAC_SECRET } = {}) {
    const mac = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
    return api(stack, 'POST', '/v1/secret-scanning/generic', {
      rawBody: body,
      headers: {
        'x-chainloop-timestamp': String(ts),
        'x-chainloop-signature-256': `sha256=${mac}`,
        'x-forwarded-for': from,
      },
    });
  }

  async function auditEvents(action) {
    const r = await api(stack, 'GET', `/v1/organizations/${ORG}/audit-events?limit=1000`,
      { token: ownerToken });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.audit_events.filter((e) => e.action === action);
  }

  before(async () => {
    github = await startFakeGithub();
    const dir = makeTempDir('cl-scan-');
    const secretFile = join(dir, 'scan-secret');
    writeFileSync(secretFile, `${HMAC_SECRET}\n`);
    chmodSync(secretFile, 0o600);
    stack = await startStack({
      extraArgs: [
        '--secret-scanning-github-keys-url', github.url,
        '--secret-scanning-hmac-secret-file', secretFile,
        '--trusted-proxies', '127.0.0.1/32',
        '--auth-failure-limit', '12',
      ],
    });
    owner = stack.newUser('scan-owner');
    await owner.login();
    ownerToken = owner.sessionToken();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', 'app'],
    ]) {
      const r = await owner.run(args);
      assert.equal(r.code, 0, show(r));
    }
  });

  after(async () => {
    await stack?.cleanup();
    await github?.close();
  });

  test('a leaked API token reported by GitHub is revoked at once, audited with the URL, and ' +
       'answered true_positive; unknown and malformed tokens are false positives', async () => {
    from = '198.51.100.1';
    const leaked = await newApiToken('leaked');
    assert.equal((await whoami(leaked)).status, 200);
    // On PostgreSQL a second instance, which has the token cached, hears of the revocation.
    const other = stack.database.kind === 'postgres' ? await stack.startInstance() : null;
    if (other) {
      assert.equal((await api(stack, 'GET', '/v1/auth/whoami', { token: leaked,
        baseUrl: other.baseUrl })).status, 200);
    }
    const unknown = unknownToken();
    const malformed = `${leaked.slice(0, -1)}${leaked.endsWith('A') ? 'B' : 'A'}`;
    const body = reportBody([leaked, unknown, malformed, 'ghp_not_ours']);
    const r = await postGithub(body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, [
      { token_hash: sha256Hex(leaked), token_type: 'chainloop_api_token', label: 'true_positive' },
      { token_hash: sha256Hex(unknown), token_type: 'chainloop_api_token',
        label: 'false_positive' },
      { token_hash: sha256Hex(malformed), token_type: 'chainloop_api_token',
        label: 'false_positive' },
      { token_hash: sha256Hex('ghp_not_ours'), token_type: 'chainloop_api_token',
        label: 'false_positive' },
    ]);
    assert.equal(r.headers.get('cache-control'), 'no-store');

    const who = await whoami(leaked);
    assert.equal(who.status, 401);
    assert.equal(who.body.error.code, 'token_revoked');
    if (other) {
      let there;
      for (let i = 0; i < 50; i++) {
        there = await api(stack, 'GET', '/v1/auth/whoami', { token: leaked,
          baseUrl: other.baseUrl });
        if (there.status === 401) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(there.status, 401, 'the other instance refuses it within a second');
      assert.equal(there.body.error.code, 'token_revoked');
    }

    const events = await auditEvents('api_token.leaked');
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.ok(events[0].message.includes(LEAK_URL), events[0].message);
    assert.equal(events[0].target_kind, 'api_token');
    assert.equal(events[0].actor_name, 'GitHub secret scanning');
    assert.equal(events[0].client_address, from);

    const list = await api(stack, 'GET', `/v1/organizations/${ORG}/api-tokens?status=revoked`,
      { token: ownerToken });
    const row = list.body.api_tokens.find((t) => t.name === 'leaked');
    assert.equal(row?.revocation_reason, 'leaked', JSON.stringify(list.body));

    // Reported again: already revoked, so a false positive, and nothing more is written.
    const again = await postGithub(reportBody([leaked]));
    assert.equal(again.status, 200);
    assert.equal(again.body[0].label, 'false_positive');
    assert.equal((await auditEvents('api_token.leaked')).length, 1);
  });

  test('a bad signature, another key, a tampered body or an unknown key id is 401 and the ' +
       'token keeps working; an unknown key id refetches the key list once', async () => {
    from = '198.51.100.2';
    const token = await newApiToken('survivor');
    const body = reportBody([token]);
    const fetchesBefore = github.fetches;
    const attempts = [
      { signature: github.sign(body, github.other) }, // a key GitHub never published
      { signature: github.sign(`${body} `) }, // signed another body
      { signature: 'not base64 at all!' },
      { signature: Buffer.from('not DER').toString('base64') },
      { signature: '' },
    ];
    for (const attempt of attempts) {
      const r = await postGithub(body, attempt);
      assert.equal(r.status, 401, JSON.stringify({ attempt, body: r.body }));
      assert.equal(r.body.error.code, 'bad_signature');
    }
    assert.equal(github.fetches, fetchesBefore, 'known key id: no refetch');
    // Unknown key ids: one refetch, then the cooldown holds however many follow.
    for (let i = 0; i < 5; i++) {
      const r = await postGithub(body, { keyId: `made-up-${i}` });
      assert.equal(r.status, 401);
    }
    assert.equal(github.fetches, fetchesBefore + 1);
    assert.equal((await whoami(token)).status, 200, 'a refused report revokes nothing');
  });

  test('the generic HMAC variant revokes a reported token; a replay outside the window, a ' +
       'wrong secret or a changed timestamp is refused', async () => {
    from = '198.51.100.3';
    const stale = await newApiToken('stale-report');
    const old = Math.floor(Date.now() / 1000) - 400;
    let r = await postGeneric(reportBody([stale]), { ts: old });
    assert.equal(r.status, 401, JSON.stringify(r.body));
    r = await postGeneric(reportBody([stale]), { ts: Math.floor(Date.now() / 1000) + 400 });
    assert.equal(r.status, 401);
    r = await postGeneric(reportBody([stale]), { secret: 'another-secret-of-the-same-size-000' });
    assert.equal(r.status, 401);
    // The timestamp is signed: the same signature under another timestamp fails.
    const ts = Math.floor(Date.now() / 1000);
    const body = reportBody([stale]);
    const mac = createHmac('sha256', HMAC_SECRET).update(`${ts}.${body}`).digest('hex');
    r = await api(stack, 'POST', '/v1/secret-scanning/generic', {
      rawBody: body,
      headers: { 'x-chainloop-timestamp': String(ts - 1), 'x-chainloop-signature-256':
        `sha256=${mac}` },
    });
    assert.equal(r.status, 401);
    assert.equal((await whoami(stale)).status, 200, 'refused reports revoke nothing');

    const leaked = await newApiToken('generic-leak');
    r = await postGeneric(reportBody([leaked, unknownToken()], 'https://gitlab.example/x'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.map((f) => f.label), ['true_positive', 'false_positive']);
    assert.equal(r.body[0].token_hash, sha256Hex(leaked));
    const who = await whoami(leaked);
    assert.equal(who.status, 401);
    assert.equal(who.body.error.code, 'token_revoked');
    const events = await auditEvents('api_token.leaked');
    assert.ok(events.some((e) => e.message.includes('https://gitlab.example/x') &&
      e.actor_name === 'secret scanner'), JSON.stringify(events));
  });

  test('a leaked session ends at once', async () => {
    from = '198.51.100.4';
    const person = stack.newUser('scan-leaky-person');
    await person.login();
    const session = person.sessionToken();
    assert.equal((await whoami(session)).status, 200);
    const r = await postGithub(reportBody([session, unknownToken('clses')]));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.map((f) => f.label), ['true_positive', 'false_positive']);
    const who = await whoami(session);
    assert.equal(who.status, 401);
    assert.equal(who.body.error.code, 'session_revoked');
  });

  test('bodies that are not reports are 400 and oversized ones 413, after the signature',
    async () => {
      from = '198.51.100.5';
      for (const body of ['{}', '[1]', '[{"type":"x"}]', 'not json']) {
        const r = await postGithub(body);
        assert.equal(r.status, 400, `${body}: ${JSON.stringify(r.body)}`);
      }
      const unsigned = await postGithub('{}', { signature: github.sign('[]') });
      assert.equal(unsigned.status, 401, 'unsigned garbage is refused before it is parsed');
      const huge = `[${' '.repeat(1024 * 1024)}]`;
      assert.equal((await postGithub(huge)).status, 413);
      assert.equal((await postGeneric(huge)).status, 413);
      assert.equal((await postGeneric('[{"token":5}]')).status, 400);
    });

  test('reports are rate-limited per address before any work (429)', async () => {
    from = '198.51.100.6';
    let last;
    for (let i = 0; i < 40; i++) {
      last = await postGithub('[]');
      if (last.status === 429) break;
      assert.equal(last.status, 200, JSON.stringify(last.body));
    }
    assert.equal(last.status, 429, JSON.stringify(last.body));
    assert.equal(last.body.error.code, 'rate_limited');
    assert.ok(last.headers.get('retry-after'));
  });

  test('failed verifications count toward the address ban (429)', async () => {
    from = '198.51.100.7';
    let last;
    for (let i = 0; i < 14; i++) {
      last = await postGeneric('[]', { secret: 'wrong-secret-wrong-secret-wrong-secret' });
      if (last.status === 429) break;
    }
    assert.equal(last.status, 429, JSON.stringify(last.body));
    assert.equal(last.body.error.code, 'too_many_failed_attempts');
    assert.ok(last.headers.get('retry-after'));
  });
});

describe('secret scanning: each variant off unless configured; no key list, no reports',
  { skip }, () => {
    let stack;
    let github;
    before(async () => {
      github = await startFakeGithub();
      github.up = false;
      stack = await startStack({ extraArgs: ['--secret-scanning-github-keys-url', github.url] });
    });
    after(async () => {
      await stack?.cleanup();
      await github?.close();
    });

    test('the generic variant without its secret file answers 404', async () => {
      const r = await api(stack, 'POST', '/v1/secret-scanning/generic', { rawBody: '[]' });
      assert.equal(r.status, 404, JSON.stringify(r.body));
    });

    test('GitHub reports while its key list cannot be fetched are 503, nothing done', async () => {
      const r = await api(stack, 'POST', '/v1/secret-scanning/github', {
        rawBody: '[]',
        headers: {
          'github-public-key-identifier': github.keyId,
          'github-public-key-signature': github.sign('[]'),
        },
      });
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.ok(r.headers.get('retry-after'));
      assert.equal(github.fetches, 1);
    });
  });

describe('secret scanning off by default', { skip }, () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('without configuration the GitHub route answers 404', async () => {
    const r = await api(stack, 'POST', '/v1/secret-scanning/github', { rawBody: '[]' });
    assert.equal(r.status, 404, JSON.stringify(r.body));
  });
});
