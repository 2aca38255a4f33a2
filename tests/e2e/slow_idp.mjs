// A minimal OpenID Provider on loopback whose server-facing endpoints answer after `delayMs`,
// like an IdP under load: discovery, JWKS, token (authorization code and device grants) and
// device authorization. The authorization endpoint approves at once and redirects back with a
// code, so a login can be driven with plain HTTP requests (no browser). It records how many
// server calls were in flight at once (`maxInFlight`): the control plane's IdP call cap.
//
// Used by tests/e2e/anonymous_load.test.mjs and bench/anonymous_load_bench.mjs. Loopback only.
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';

import { b64url, newKey, signatureOf } from './ci_issuer.mjs';

export async function startSlowIdp({ clientId, delayMs = 0 } = {}) {
  const key = newKey('RS256');
  const codes = new Map(); // code -> {nonce, challenge, redirectUri}
  const idp = {
    delayMs,
    inFlight: 0,
    maxInFlight: 0,
    calls: new Map(), // path -> count (server-facing endpoints)
  };

  function idToken(nonce) {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', kid: key.kid, typ: 'JWT' };
    const payload = {
      iss: idp.url, sub: 'slow-idp-user', aud: clientId, iat: now, exp: now + 300,
      email: 'slow.user@example.com', email_verified: true, name: 'Slow User',
      ...(nonce ? { nonce } : {}),
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    return `${input}.${b64url(signatureOf(key, input))}`;
  }

  async function readForm(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return new URLSearchParams(Buffer.concat(chunks).toString());
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const json = (status, body) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/authorize') {
      // The person's browser: approve at once, no delay (only server calls are slow).
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        nonce: url.searchParams.get('nonce'),
        challenge: url.searchParams.get('code_challenge'),
      });
      const back = new URL(url.searchParams.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state'));
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    idp.calls.set(url.pathname, (idp.calls.get(url.pathname) ?? 0) + 1);
    idp.inFlight += 1;
    idp.maxInFlight = Math.max(idp.maxInFlight, idp.inFlight);
    try {
      const form = req.method === 'POST' ? await readForm(req) : null;
      if (idp.delayMs > 0) await new Promise((r) => setTimeout(r, idp.delayMs));
      if (url.pathname === '/.well-known/openid-configuration') {
        json(200, {
          issuer: idp.url,
          authorization_endpoint: `${idp.url}/authorize`,
          token_endpoint: `${idp.url}/token`,
          jwks_uri: `${idp.url}/jwks`,
          device_authorization_endpoint: `${idp.url}/device`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
        });
      } else if (url.pathname === '/jwks') {
        json(200, { keys: [key.jwk] });
      } else if (url.pathname === '/device') {
        json(200, {
          device_code: randomBytes(16).toString('hex'),
          user_code: 'SLOW-IDPX',
          verification_uri: `${idp.url}/activate`,
          expires_in: 600,
          interval: 5,
        });
      } else if (url.pathname === '/token') {
        const grant = form.get('grant_type');
        if (grant === 'urn:ietf:params:oauth:grant-type:device_code') {
          json(400, { error: 'authorization_pending' });
          return;
        }
        const entry = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        if (grant !== 'authorization_code' || !entry ||
            createHash('sha256').update(verifier).digest('base64url') !== entry.challenge) {
          json(400, { error: 'invalid_grant' });
          return;
        }
        json(200, {
          access_token: randomBytes(16).toString('hex'),
          token_type: 'Bearer',
          expires_in: 300,
          id_token: idToken(entry.nonce),
        });
      } else {
        res.writeHead(404).end();
      }
    } finally {
      idp.inFlight -= 1;
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  idp.url = `http://127.0.0.1:${server.address().port}`;
  idp.stop = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return idp;
}

// A person's login through the control plane at `baseUrl` and this kind of IdP, with plain
// HTTP (the CLI's browser flow, RFC 8252 + PKCE): returns the session token.
export async function loginThroughIdp(baseUrl) {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const start = new URL('/auth/login', baseUrl);
  start.search = new URLSearchParams({
    redirect_uri: 'http://127.0.0.1:5555/callback', state, code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  const hop = async (url) => {
    const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    const location = r.headers.get('location');
    if (r.status !== 302 || !location) {
      throw new Error(`login: ${url} answered ${r.status}: ${await r.text()}`);
    }
    return location;
  };
  const toIdp = await hop(start);
  const toCallback = await hop(toIdp);
  const toCli = new URL(await hop(toCallback));
  if (toCli.searchParams.get('state') !== state) throw new Error('login: state mismatch');
  const r = await fetch(new URL('/v1/auth/token', baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: toCli.searchParams.get('code'), code_verifier: verifier }),
  });
  const body = await r.json();
  if (r.status !== 200) throw new Error(`login: token exchange ${r.status}: ${JSON.stringify(body)}`);
  return body.session_token;
}
