// A fake CI OIDC issuer on loopback for keyless tests and benchmarks: OIDC discovery and a JWKS
// (RS256 and ES256 keys, rotation, replaceable documents), ID tokens shaped like GitLab CI's
// `id_tokens` and GitHub Actions' (claims per their public documentation), raw and forged JWTs
// for negative tests, and GitHub's ID token request endpoint (ACTIONS_ID_TOKEN_REQUEST_URL).
//
// Nothing here talks to anything but 127.0.0.1.
import {createHmac, generateKeyPairSync, randomBytes, randomUUID, sign} from 'node:crypto';
import * as http from 'node:http';

export function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

// A signing key with its public JWK. `alg` is RS256 or ES256.
export function newKey(alg = 'RS256', kid = `kid-${randomBytes(6).toString('hex')}`) {
  const {privateKey, publicKey} = alg === 'ES256' ?
      generateKeyPairSync('ec', {namedCurve: 'P-256'}) :
      generateKeyPairSync('rsa', {modulusLength: 2048});
  return {
    alg,
    kid,
    privateKey,
    publicKey,
    jwk: {...publicKey.export({format: 'jwk'}), kid, alg, use: 'sig'},
  };
}

// The JWS signature of `input` with `key` (ES256: raw r||s as JWS wants, not DER).
export function signatureOf(key, input) {
  if (key.alg === 'ES256') {
    return sign('sha256', Buffer.from(input), {key: key.privateKey, dsaEncoding: 'ieee-p1363'});
  }
  return sign('sha256', Buffer.from(input), key.privateKey);
}

// GitLab CI ID token claims (docs.gitlab.com, "OpenID Connect (OIDC) Authentication Using ID
// Tokens"), for project group/app on branch main.
export function gitlabClaims(issuer, audience, now) {
  return {
    namespace_id: '1001',
    namespace_path: 'group',
    project_id: '4242',
    project_path: 'group/app',
    project_visibility: 'private',
    user_id: '17',
    user_login: 'ci-bot',
    user_email: 'ci-bot@example.com',
    user_access_level: 'developer',
    pipeline_id: '987654',
    pipeline_source: 'push',
    job_id: '123456789',
    ref: 'main',
    ref_type: 'branch',
    ref_path: 'refs/heads/main',
    ref_protected: 'true',
    runner_id: 19,
    runner_environment: 'gitlab-hosted',
    sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
    ci_config_ref_uri: 'gitlab.example.com/group/app//.gitlab-ci.yml@refs/heads/main',
    ci_config_sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
    jti: randomUUID(),
    iss: issuer,
    iat: now,
    nbf: now - 1,
    exp: now + 600,
    sub: 'project_path:group/app:ref_type:branch:ref:main',
    aud: audience,
  };
}

// GitHub Actions ID token claims (docs.github.com, "About security hardening with OpenID
// Connect"), for octo-org/octo-repo's release workflow on main.
export function githubClaims(issuer, audience, now) {
  return {
    jti: randomUUID(),
    sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
    aud: audience,
    ref: 'refs/heads/main',
    ref_type: 'branch',
    ref_protected: 'true',
    sha: '5e8c5a7d3f3d1b5a4f3e2d1c0b9a8f7e6d5c4b3a',
    repository: 'octo-org/octo-repo',
    repository_id: '74',
    repository_owner: 'octo-org',
    repository_owner_id: '65',
    repository_visibility: 'private',
    run_id: '6620371931',
    run_number: '10',
    run_attempt: '2',
    runner_environment: 'github-hosted',
    actor: 'octocat',
    actor_id: '12',
    workflow: 'release',
    workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
    workflow_sha: '5e8c5a7d3f3d1b5a4f3e2d1c0b9a8f7e6d5c4b3a',
    job_workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
    job_workflow_sha: '5e8c5a7d3f3d1b5a4f3e2d1c0b9a8f7e6d5c4b3a',
    head_ref: '',
    base_ref: '',
    event_name: 'push',
    environment: 'production',
    iss: issuer,
    nbf: now - 5,
    iat: now,
    exp: now + 300,
  };
}

// Starts an issuer on 127.0.0.1:0. `provider` picks the token shape of mint(); `alg` the
// first signing key's algorithm. Every request's path is recorded in `requests`.
export async function startCiIssuer({provider = 'gitlab', alg = 'RS256'} = {}) {
  const first = newKey(alg);
  const issuer = {
    provider,
    key: first,  // signs mint() unless told otherwise
    published: [first],  // served in the JWKS
    jwksBody: null,  // when set, served verbatim instead of the published keys
    requests: [],
    minted: [],
    audience: undefined,  // default `aud` of minted tokens (set it to the control plane URL)
    actionsRequestToken: randomBytes(24).toString('hex'),
    actionsRequests: [],  // {authorization, audience} of each ID token request
    delayMs: 0,  // answer discovery and JWKS requests this late (a slow issuer)
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    issuer.requests.push(url.pathname);
    if (issuer.delayMs > 0 && url.pathname !== '/_apis/actions/idtoken') {
      await new Promise((r) => setTimeout(r, issuer.delayMs));
    }
    const json = (status, body) =>
        res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body));
    if (url.pathname === '/.well-known/openid-configuration') {
      json(200, {
        issuer: issuer.url,
        jwks_uri: `${issuer.url}/oauth/discovery/keys`,
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        response_types_supported: ['id_token'],
        subject_types_supported: ['public', 'pairwise'],
        claims_supported: Object.keys(issuer.claims(0)),
      });
    } else if (url.pathname === '/oauth/discovery/keys') {
      if (issuer.jwksBody !== null) {
        res.writeHead(200, {'content-type': 'application/json'}).end(issuer.jwksBody);
      } else {
        json(200, {keys: issuer.published.map((k) => k.jwk)});
      }
    } else if (url.pathname === '/_apis/actions/idtoken') {
      // GitHub's ID token request endpoint: bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, ?audience=.
      const authorization = req.headers.authorization ?? '';
      const audience = url.searchParams.get('audience');
      issuer.actionsRequests.push({authorization, audience});
      if (authorization.toLowerCase() !== `bearer ${issuer.actionsRequestToken}`) {
        json(401, {message: 'bad request token'});
      } else if (!audience) {
        json(400, {message: 'audience is required'});
      } else {
        json(200, {value: issuer.mint({aud: audience})});
      }
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', res);
  });
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  // What a GitHub runner puts in ACTIONS_ID_TOKEN_REQUEST_URL (query string included).
  issuer.actionsRequestUrl = `${issuer.url}/_apis/actions/idtoken?api-version=2.0`;
  issuer.stopped = false;
  issuer.stop = async () => {
    if (issuer.stopped) return;
    issuer.stopped = true;
    server.closeAllConnections();
    await new Promise((res) => server.close(res));
  };
  issuer.count = (path) => issuer.requests.filter((p) => p === path).length;
  issuer.jwksFetches = () => issuer.count('/oauth/discovery/keys');

  // Default claims of this issuer's provider at `now` (seconds).
  issuer.claims = (now) => (issuer.provider === 'github' ? githubClaims : gitlabClaims)(
      issuer.url, issuer.audience, now);

  // Adds a key to the JWKS and makes it the signing key (key rotation). Returns it.
  issuer.rotate = (keyAlg = 'RS256') => {
    const key = newKey(keyAlg);
    issuer.published.push(key);
    issuer.key = key;
    return key;
  };

  // Signs header and payload (objects are JSON-encoded, strings used as they are).
  // `signature` (a Buffer or string) replaces the real signature.
  issuer.signRaw = (header, payload, {signWith = issuer.key, signature} = {}) => {
    const enc = (part) => b64url(typeof part === 'string' ? part : JSON.stringify(part));
    const input = `${enc(header)}.${enc(payload)}`;
    const sig = signature ?? signatureOf(signWith, input);
    const jwt = `${input}.${b64url(sig)}`;
    issuer.minted.push(jwt);
    return jwt;
  };

  // A provider-shaped ID token. `claims` override the defaults (undefined removes a claim);
  // `signWith` signs with another key (its kid and alg go in the header); `header` overrides
  // header members.
  issuer.mint = (claims = {}, {signWith = issuer.key, header = {}} = {}) => {
    const payload = {...issuer.claims(Math.floor(Date.now() / 1000)), ...claims};
    for (const k of Object.keys(payload)) {
      if (payload[k] === undefined) delete payload[k];
    }
    const h = {alg: signWith.alg, typ: 'JWT', kid: signWith.kid, ...header};
    if (issuer.provider === 'github') h.x5t = b64url(randomBytes(20));
    return issuer.signRaw(h, payload, {signWith});
  };

  // Algorithm confusion: an HS256 token whose HMAC key is the RSA key's public PEM, as a
  // verifier that lets the token pick the algorithm would compute it.
  issuer.mintHs256WithPublicKey = (claims = {}) => {
    const payload = {...issuer.claims(Math.floor(Date.now() / 1000)), ...claims};
    const header = {alg: 'HS256', typ: 'JWT', kid: issuer.key.kid};
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const pem = issuer.key.publicKey.export({type: 'spki', format: 'pem'});
    const mac = createHmac('sha256', pem).update(input).digest();
    const jwt = `${input}.${b64url(mac)}`;
    issuer.minted.push(jwt);
    return jwt;
  };

  // `alg: none` with an empty signature, or (withSignature) a junk one.
  issuer.mintAlgNone = (claims = {}, {withSignature = false} = {}) => {
    const payload = {...issuer.claims(Math.floor(Date.now() / 1000)), ...claims};
    const header = {alg: 'none', typ: 'JWT'};
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const jwt = `${input}.${withSignature ? b64url(randomBytes(32)) : ''}`;
    issuer.minted.push(jwt);
    return jwt;
  };

  return issuer;
}
