// The load balancer of a scale-out stack: deploy/nginx/chainloop.conf rendered for a private
// nginx prefix (free loopback ports, a throwaway TLS certificate, logs in a temp dir), checked
// with `nginx -t` and run with Debian's nginx; startScaleOutStack() puts N control planes (one
// database, one pepper, external URL = the balancer) behind it. Also the HTTP(S) client the
// scale-out tests use: it trusts the balancer's CA and can pick its source address (127.0.0.x).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';

import { repoRoot, STARTUP_TIMEOUT_MS } from './environment.mjs';
import {
  captureTail, freePort, makeTempDir, removeDir, sleep, stopProcess, track,
} from './processes.mjs';
import { startStack } from './stack.mjs';

export const nginxBin = '/usr/sbin/nginx';
export const balancerConfig = join(repoRoot, 'deploy', 'nginx', 'chainloop.conf');

// Why a balancer cannot run here (nginx or openssl missing), or false.
export function balancerMissing() {
  if (!existsSync(nginxBin)) return `nginx not installed (${nginxBin}; scripts/install-deps.sh)`;
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl CLI not installed';
  return false;
}

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

// A throwaway CA and a certificate for 127.0.0.1 signed by it, in `dir`: {ca, cert, key}.
export function makeTlsFiles(dir) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1',
    '-subj', '/CN=chainloop e2e balancer CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf'], dir);
  chmodSync(join(dir, 'server.key'), 0o600);
  chmodSync(join(dir, 'ca.key'), 0o600);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

// Replaces `from` (which must occur exactly `count` times, or at least once when count is
// undefined) in `text`: a template that no longer has what the harness rewrites fails loudly.
function replaceIn(text, from, to, count) {
  const found = text.split(from).length - 1;
  if (found === 0 || (count !== undefined && found !== count)) {
    throw new Error(`${balancerConfig}: expected ${count ?? 'some'} "${from}", found ${found}`);
  }
  return text.split(from).join(to);
}

// Renders chainloop.conf into `dir` for `upstreams` (['127.0.0.1:PORT', ...]) listening on
// 127.0.0.1:httpsPort (TLS) and 127.0.0.1:httpPort (the redirect), plus the nginx.conf a private
// prefix needs around it. Returns the path of that nginx.conf.
export function renderBalancerConfig(dir, { upstreams, httpsPort, httpPort, tls }) {
  // Without its comments (they name the placeholders too), the directives exactly as written.
  const lines = readFileSync(balancerConfig, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l));
  const instance = lines.filter((l) => l.includes('__INSTANCE__'));
  if (instance.length !== 1) throw new Error(`${balancerConfig}: want one __INSTANCE__ line`);
  let conf = lines.join('\n');
  conf = replaceIn(conf, instance[0],
      upstreams.map((u) => instance[0].replace('__INSTANCE__', u)).join('\n'), 1);
  conf = replaceIn(conf, 'listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`, 1);
  conf = replaceIn(conf, 'listen 80;', `listen 127.0.0.1:${httpPort};`, 1);
  conf = replaceIn(conf, '__SERVER_NAME__', '127.0.0.1');
  conf = replaceIn(conf, '__TLS_CERTIFICATE_KEY__', tls.key, 1);
  conf = replaceIn(conf, '__TLS_CERTIFICATE__', tls.cert, 1);
  conf = replaceIn(conf, '/var/log/nginx/', `${dir}/`);
  const left = conf.match(/__[A-Z_]+__/);
  if (left) throw new Error(`${balancerConfig}: placeholder ${left[0]} not rendered`);
  writeFileSync(join(dir, 'chainloop.conf'), conf);

  // What Debian's /etc/nginx/nginx.conf would hold, in the private prefix: two workers (as
  // `auto` gives on this 2-core machine), so the upstream zone's shared state is exercised.
  // Workers (nobody when run as root) need to reach their temp directories.
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(tmp, 0o755);
  const main = join(dir, 'nginx.conf');
  writeFileSync(main, [
    'daemon off;',
    'worker_processes 2;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 1024; }',
    'http {',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (t) => `  ${t}_temp_path ${tmp}/${t};`),
    `  include ${dir}/chainloop.conf;`,
    '}',
    '',
  ].join('\n'));
  return main;
}

// `nginx -t` of a rendered configuration: {ok, output}.
export function checkBalancerConfig(dir) {
  const r = spawnSync(nginxBin, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'],
      { encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Renders, checks and starts nginx in `dir` (on free ports unless given). Returns {url, httpUrl,
// ca, process, dir, accessLog(), errorLog(), stop()}; url is https://127.0.0.1:PORT.
export async function startBalancer(dir, { upstreams, tls, httpsPort, httpPort }) {
  httpsPort ??= await freePort();
  httpPort ??= await freePort();
  renderBalancerConfig(dir, { upstreams, httpsPort, httpPort, tls });
  const checked = checkBalancerConfig(dir);
  if (!checked.ok) throw new Error(`nginx -t failed:\n${checked.output}`);
  const child = track(spawn(nginxBin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'],
      { stdio: ['ignore', 'pipe', 'pipe'] }));
  const err = captureTail(child.stderr);
  captureTail(child.stdout);
  const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  const balancer = {
    url: `https://127.0.0.1:${httpsPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    ca: readFileSync(tls.ca),
    caFile: tls.ca,
    process: child,
    dir,
    accessLog: () => parseAccessLog(read('chainloop-access.log')),
    errorLog: () => read('chainloop-error.log') + read('error.log') + err.text,
    stop: () => stopProcess(child),
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (!(await canConnect(httpsPort))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`nginx did not start:\n${balancer.errorLog()}`);
    }
    await sleep(50);
  }
  return balancer;
}

// The access log written with deploy/nginx/chainloop.conf's `chainloop` format, one object per
// request: {client, method, path, status, upstreams: [addr], upstreamStatus: [..], sent: [..]}.
export function parseAccessLog(text) {
  const entries = [];
  const re = new RegExp('^(\\S+) \\[[^\\]]*\\] "(\\S+) (\\S+) [^"]*" (\\d{3}) \\d+ rt=\\S+ ' +
      'upstream=(.*) ustatus=(.*) usent=(.*) urt=');
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const list = (s) => (s === '-' ? [] : s.split(/, | : /));
    entries.push({
      client: m[1], method: m[2], path: m[3], status: Number(m[4]), upstreams: list(m[5]),
      upstreamStatus: list(m[6]), sent: list(m[7]).map(Number), line,
    });
  }
  return entries;
}

// Makes this test process's fetch() (the API helpers, the scripted browser) trust `caPem` only,
// through the dispatcher Node's fetch reads from the well-known global (undici's Agent: Node 20
// does not export it, so its class is taken from the default dispatcher).
export async function trustInFetch(caPem) {
  const key = Symbol.for('undici.globalDispatcher.1');
  await fetch('data:,'); // loads fetch and creates its default dispatcher
  const Agent = globalThis[key]?.constructor;
  if (typeof Agent !== 'function') throw new Error('cannot find the fetch() dispatcher');
  globalThis[key] = new Agent({ connect: { ca: caPem } });
}

// Three (or `instances`) control planes on one database and pepper, with external URL and
// IdP redirect URI = the balancer, and trusted_proxies = 127.0.0.1/32 (nginx's address as the
// servers see it), behind nginx running deploy/nginx/chainloop.conf. stack.baseUrl, users and
// api() then go through the balancer (HTTPS, trusted); stack.direct lists every instance
// ({baseUrl, port, process, logs()}, the main server first); stack.balancer is startBalancer's.
export async function startScaleOutStack({ instances = 3, extraArgs = [], ...options } = {}) {
  const dir = makeTempDir('cl-e2e-lb-');
  const tls = makeTlsFiles(dir);
  // The balancer's port is the servers' external URL: chosen before they start.
  const httpsPort = await freePort();
  const url = `https://127.0.0.1:${httpsPort}`;
  const stack = await startStack({
    ...options,
    externalUrl: url,
    extraArgs: ['--trusted-proxies', '127.0.0.1/32', ...extraArgs],
  });
  const cleanupStack = stack.cleanupProcesses;
  stack.cleanupProcesses = async () => {
    await stack.balancer?.stop();
    try {
      await cleanupStack();
    } finally {
      removeDir(dir);
    }
  };
  try {
    for (let i = 1; i < instances; i++) await stack.startInstance();
    stack.direct = [stack.server, ...stack.instances];
    stack.balancer = await startBalancer(dir, {
      upstreams: stack.direct.map((s) => `127.0.0.1:${s.port}`),
      tls,
      httpsPort,
    });
    stack.serverOutputs.push({
      what: 'nginx access and error logs',
      text: () => stack.balancer.accessLog().map((e) => e.line).join('\n') +
          stack.balancer.errorLog(),
    });
    stack.baseUrl = url;
    stack.cliArgs = ['--control-plane-ca', tls.ca];
    await trustInFetch(stack.balancer.ca);
    return stack;
  } catch (e) {
    await stack.cleanupProcesses();
    throw e;
  }
}

// One request with node:http(s) (fetch cannot choose its source address): resolves
// {status, headers, body (parsed JSON or text)}, rejects on a network error. `from` is the source
// address (127.0.0.x: distinct clients on one machine); `ca` the CA to trust for https; `agent`
// a keep-alive agent to reuse connections (default: one connection per request).
export function request(url, {
  method = 'GET', headers = {}, body, token, from, ca, agent, timeoutMs = 15_000,
} = {}) {
  const target = new URL(url);
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
    h['content-length'] = Buffer.byteLength(payload);
  }
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(target, {
      method, headers: h, localAddress: from, ca, agent: agent ?? false, timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${target.pathname} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
