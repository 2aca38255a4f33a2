// Self-test of the development IdP and the scripted browser (`npm test` in devenv/).
//
// Starts idp.mjs on port 0 with a redirect URI on a tiny local HTTP server, then runs:
//  1. authorization code + PKCE through driver.mjs, code exchange, ID token checks;
//  2. the same with prompt=consent (the consent form must be filled) and an unverified account;
//  3. the device flow end to end.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { approveDevice, completeBrowserLogin } from './driver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT_ID = 'selftest-client';
const CLIENT_SECRET = 'selftest-secret';
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function startCallbackServer() {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('you can close this window');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, hits, port: server.address().port }));
  });
}

// A stand-in for the control plane: /auth/login redirects to the IdP, /auth/callback either
// redirects to the "CLI" loopback listener (state=ok) or answers an error page (state=fail).
function startFakeControlPlane(cliUrl) {
  const ctx = { authorizationEndpoint: '' };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname === '/auth/login') {
      const auth = new URL(ctx.authorizationEndpoint);
      auth.search = new URLSearchParams({
        response_type: 'code',
        client_id: CLIENT_ID,
        redirect_uri: ctx.redirectUri,
        scope: 'openid email profile',
        state: u.searchParams.get('mode') ?? 'ok',
        code_challenge: b64url(crypto.createHash('sha256').update('v'.repeat(43)).digest()),
        code_challenge_method: 'S256',
      }).toString();
      res.writeHead(302, { location: auth.href }).end();
    } else if (u.pathname === '/auth/callback' && u.searchParams.get('state') === 'ok') {
      res.writeHead(302, { location: `${cliUrl}?code=cli-code` }).end();
    } else {
      res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>idp_unavailable</h1>');
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      ctx.port = server.address().port;
      ctx.redirectUri = `http://127.0.0.1:${ctx.port}/auth/callback`;
      resolve({ server, ctx });
    });
  });
}

function startIdp(redirectUri, extraRedirectUri) {
  const child = spawn(
    process.execPath,
    [
      join(here, 'idp.mjs'),
      '--port',
      '0',
      '--redirect-uri',
      redirectUri,
      '--redirect-uri',
      extraRedirectUri,
      '--client-id',
      CLIENT_ID,
      '--client-secret',
      CLIENT_SECRET,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`idp did not start:\n${stderr}`)), 10000);
    child.on('exit', (code) => reject(new Error(`idp exited with ${code}:\n${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, ...JSON.parse(line) });
    });
  });
}

const basicAuth = `Basic ${Buffer.from(
  `${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`,
).toString('base64')}`;

async function postForm(url, fields) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: basicAuth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, json: await res.json() };
}

async function verifyIdToken(idToken, discovery) {
  const [h, p, s] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  assert.equal(header.alg, 'RS256');
  const jwks = await (await fetch(discovery.jwks_uri)).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in the IdP's JWKS`);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
  assert.ok(ok, 'ID token signature does not verify');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  assert.equal(claims.iss, discovery.issuer);
  assert.equal(claims.aud, CLIENT_ID);
  return claims;
}

async function codeFlow({ discovery, redirectUri, cb, login, extra = {} }) {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(16));
  const nonce = b64url(crypto.randomBytes(16));
  const auth = new URL(discovery.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  })) {
    auth.searchParams.set(k, v);
  }
  const before = cb.hits.length;
  const r = await completeBrowserLogin(auth.href, { login });
  assert.ok(r.reachedFinal, `driver stopped at ${r.finalUrl} (${r.status}): ${r.body.slice(0, 500)}`);
  assert.equal(r.status, 200);
  assert.equal(cb.hits.length, before + 1, 'the callback server was not hit exactly once');
  const final = new URL(r.finalUrl);
  assert.equal(`${final.origin}${final.pathname}`, redirectUri);
  assert.equal(final.searchParams.get('state'), state);
  assert.equal(final.searchParams.get('iss'), discovery.issuer);
  const code = final.searchParams.get('code');
  assert.ok(code, 'no code in the redirect');

  // PKCE is enforced: the wrong verifier is refused.
  const bad = await postForm(discovery.token_endpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: b64url(crypto.randomBytes(32)),
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'invalid_grant');

  // The happy path on a fresh login (the code above may have been spent by the failed attempt).
  const r2 = await completeBrowserLogin(auth.href, { login });
  const code2 = new URL(r2.finalUrl).searchParams.get('code');
  const tok = await postForm(discovery.token_endpoint, {
    grant_type: 'authorization_code',
    code: code2,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  const claims = await verifyIdToken(tok.json.id_token, discovery);
  assert.equal(claims.nonce, nonce);
  return claims;
}

async function main() {
  const cb = await startCallbackServer();
  const redirectUri = `http://127.0.0.1:${cb.port}/cb`;
  const cp = await startFakeControlPlane(`http://127.0.0.1:${cb.port}/cli`);
  const idp = await startIdp(redirectUri, cp.ctx.redirectUri);
  try {
    assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, idp.issuer);
    assert.ok(discovery.device_authorization_endpoint);

    // 1. Authorization code + PKCE.
    const alice = await codeFlow({ discovery, redirectUri, cb, login: 'alice.smith' });
    assert.equal(alice.sub, 'alice.smith');
    assert.equal(alice.email, 'alice.smith@example.com');
    assert.equal(alice.email_verified, true);
    assert.equal(alice.name, 'Alice Smith');
    console.error('selftest: code flow ok', alice.email);

    // 2. Forced consent and an unverified account with its own email.
    const bob = await codeFlow({
      discovery,
      redirectUri,
      cb,
      login: 'unverified-bob@corp.test',
      extra: { prompt: 'consent' },
    });
    assert.equal(bob.email, 'unverified-bob@corp.test');
    assert.equal(bob.email_verified, false);
    console.error('selftest: consent flow ok', bob.email);

    // PKCE is required: an authorization request without code_challenge is refused.
    const noPkce = new URL(discovery.authorization_endpoint);
    noPkce.search = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 's',
    }).toString();
    const refused = await completeBrowserLogin(noPkce.href, { login: 'carol' });
    const refusedUrl = new URL(refused.finalUrl);
    assert.equal(refusedUrl.searchParams.get('error'), 'invalid_request');

    // Through a control plane: start host -> IdP -> start host -> CLI listener, and the error
    // page case.
    cp.ctx.authorizationEndpoint = discovery.authorization_endpoint;
    const viaCp = await completeBrowserLogin(`http://127.0.0.1:${cp.ctx.port}/auth/login`, {
      login: 'erin',
    });
    assert.ok(viaCp.reachedFinal);
    assert.equal(viaCp.finalUrl, `http://127.0.0.1:${cb.port}/cli?code=cli-code`);
    assert.equal(viaCp.status, 200);
    const failed = await completeBrowserLogin(
      `http://127.0.0.1:${cp.ctx.port}/auth/login?mode=fail`,
      { login: 'erin' },
    );
    assert.equal(failed.reachedFinal, false);
    assert.equal(failed.status, 503);
    assert.match(failed.body, /idp_unavailable/);
    console.error('selftest: control plane round trip ok');

    // 3. Device flow.
    const dev = await postForm(discovery.device_authorization_endpoint, {
      client_id: CLIENT_ID,
      scope: 'openid email profile',
    });
    assert.equal(dev.status, 200, JSON.stringify(dev.json));
    const pending = await postForm(discovery.token_endpoint, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: dev.json.device_code,
    });
    assert.equal(pending.json.error, 'authorization_pending');
    await approveDevice(dev.json.verification_uri_complete, { login: 'dave' });
    const devTok = await postForm(discovery.token_endpoint, {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: dev.json.device_code,
    });
    assert.equal(devTok.status, 200, JSON.stringify(devTok.json));
    const dave = await verifyIdToken(devTok.json.id_token, discovery);
    assert.equal(dave.sub, 'dave');
    assert.equal(dave.email, 'dave@example.com');
    assert.equal(dave.name, 'Dave');
    console.error('selftest: device flow ok', dave.email);
  } finally {
    idp.child.kill('SIGTERM');
    cb.server.close();
    cp.server.close();
  }
  console.error('selftest: all passed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
