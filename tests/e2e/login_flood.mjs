// Anonymous login traffic for tests and benchmarks, run in a worker thread so that the caller's
// own event loop stays free for latency probes (a probe sharing the loop with hundreds of
// clients would measure the load generator, not the server).
//
// floodInWorker() runs `clients` closed-loop clients for `ms` milliseconds; each uses its own
// loopback source address (127.<base>.x.y; all on `oneAddress` when given) and cycles through
// `routes`:
//   device    POST /v1/auth/device
//   login     GET /auth/login, then GET /auth/callback with that login's state and a wrong code
//             (the server redeems it at the IdP's token endpoint)
//   callback  GET /auth/callback with a bogus state
//   exchange  POST /v1/auth/federated/exchange with the next of `tokens` (CI ID tokens)
// Resolves with {answers: {"<route> <status> <reason>": count}, idpBusy: [{ms, retryAfter}]}
// (idpBusy: every 503 idp_unavailable or issuer_unavailable).
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export function floodInWorker({ baseUrl, clients, ms, routes = ['device', 'login', 'callback'],
  addressBase = 1, oneAddress, tokens = [] }) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url),
        { workerData: { baseUrl, clients, ms, routes, addressBase, oneAddress, tokens } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`flood worker exited ${code}`));
    });
  });
}

// One request; resolves {status, reason, json, body (JSON or text), headers, location, retryAfter,
// ms} (status 0 on a network error).
export function request(baseUrl, method, path, { from = '127.0.0.1', token, body, agent } = {}) {
  return new Promise((resolve) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const started = performance.now();
    const req = http.request(new URL(path, baseUrl),
        { method, headers, localAddress: from, agent: agent ?? false, timeout: 30_000 }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let reason = '';
            let json = null;
            try {
              json = JSON.parse(text);
              reason = json?.error?.code ?? '';
            } catch {
              // the browser legs answer text: "Login failed: ... (reason)"
              reason = /\(([a-z_]+)\)\s*$/.exec(text)?.[1] ?? '';
            }
            resolve({ status: res.statusCode, reason, json, body: json ?? text,
              headers: res.headers, location: res.headers.location,
              retryAfter: res.headers['retry-after'], ms: performance.now() - started });
          });
        });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, reason: e.code ?? e.message,
      ms: performance.now() - started }));
    req.end(payload);
  });
}

export function loginStartPath() {
  const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
  return `/auth/login?${new URLSearchParams({
    redirect_uri: 'http://127.0.0.1:5555/callback', state: randomBytes(12).toString('base64url'),
    code_challenge: challenge, code_challenge_method: 'S256',
  })}`;
}

async function flood({ baseUrl, clients, ms, routes, addressBase, oneAddress, tokens }) {
  const deadline = Date.now() + ms;
  const answers = {};
  const idpBusy = [];
  const note = (route, r) => {
    const k = `${route} ${r.status} ${r.reason}`;
    answers[k] = (answers[k] ?? 0) + 1;
    if (r.status === 503 && (r.reason === 'idp_unavailable' || r.reason === 'issuer_unavailable')) {
      idpBusy.push({ ms: r.ms, retryAfter: r.retryAfter });
    }
  };
  const client = async (i) => {
    const from = oneAddress ?? `127.${addressBase}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let n = i; Date.now() < deadline; n++) {
      const route = routes[n % routes.length];
      if (route === 'device') {
        note('POST /v1/auth/device',
            await request(baseUrl, 'POST', '/v1/auth/device', { from, body: {}, agent }));
      } else if (route === 'login') {
        const start = await request(baseUrl, 'GET', loginStartPath(), { from, agent });
        note('GET /auth/login', start);
        if (start.status === 302) {
          const state = new URL(start.location).searchParams.get('state');
          note('GET /auth/callback (valid state)', await request(baseUrl, 'GET',
              `/auth/callback?code=wrong&state=${encodeURIComponent(state)}`, { from, agent }));
        }
      } else if (route === 'exchange') {
        note('POST /v1/auth/federated/exchange', await request(baseUrl, 'POST',
            '/v1/auth/federated/exchange', { from, agent, body: {
              grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
              subject_token: tokens[n % tokens.length],
              subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
              organization: 'no-such-org',
            } }));
      } else if (route === 'callback') {
        note('GET /auth/callback (bogus state)', await request(baseUrl, 'GET',
            `/auth/callback?code=x&state=${randomBytes(32).toString('base64url')}`,
            { from, agent }));
      } else {
        throw new Error(`unknown route ${route}`);
      }
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  return { answers, idpBusy };
}

if (!isMainThread && workerData?.baseUrl) {
  parentPort.postMessage(await flood(workerData));
}
