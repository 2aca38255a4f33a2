// End-to-end test harness: starts real processes (development IdP, control plane, CLI) on
// loopback with temp directories, and guarantees they are all gone when the suite ends, also
// when a test fails or the runner is interrupted.
//
// Environment:
//   CL_BUILD_DIR       build tree holding server/ and cli/ binaries (default: <repo>/build)
//   CL_E2E_DATABASE    "sqlite" (default) or "postgres" (needs CL_TEST_POSTGRES_URL)
//   CL_E2E_STRICT=1    missing binaries/IdP fail the suite instead of skipping it
//   CL_E2E_KEEP=1      keep temp directories (logs, configs, SQLite files) for debugging
//   CL_E2E_SECRET_HYGIENE=0  skip the checkSecretHygiene() every stack runs at cleanup (it
//                      fails the suite if a credential it saw leaked into a log, error body, CLI
//                      stderr or the database)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const buildDir = resolve(process.env.CL_BUILD_DIR || join(repoRoot, 'build'));
export const serverBin = join(buildDir, 'server', 'chainloop-controlplane');
export const cliBin = join(buildDir, 'cli', 'chainloop');
export const idpScript = join(repoRoot, 'devenv', 'idp.mjs');
export const driverScript = join(repoRoot, 'devenv', 'driver.mjs');

export const CLIENT_ID = 'chainloop-dev';
export const CLIENT_SECRET = 'dev-secret';

const STARTUP_TIMEOUT_MS = 20_000;
const CLI_TIMEOUT_MS = 60_000;

// Why the suite cannot run here, or false when it can (node:test treats null as "skip").
// Tests pass it as each test's {skip}.
// With CL_E2E_STRICT=1 a missing prerequisite is an error instead (CI after a full build).
export function missingPrerequisite({ needDriver = true } = {}) {
  const wanted = [
    [serverBin, 'control plane binary'],
    [cliBin, 'CLI binary'],
    [idpScript, 'development IdP'],
    [join(repoRoot, 'devenv', 'node_modules', 'oidc-provider'), 'devenv npm packages'],
  ];
  if (needDriver) wanted.push([driverScript, 'scripted browser (devenv/driver.mjs)']);
  if (process.env.CL_E2E_DATABASE === 'postgres' && !process.env.CL_TEST_POSTGRES_URL) {
    return failOrSkip('CL_E2E_DATABASE=postgres but CL_TEST_POSTGRES_URL is not set');
  }
  for (const [path, what] of wanted) {
    if (!existsSync(path)) return failOrSkip(`${what} not found at ${path}`);
  }
  return false;
}

function failOrSkip(reason) {
  if (process.env.CL_E2E_STRICT === '1') throw new Error(`e2e prerequisite missing: ${reason}`);
  return reason;
}

// ---------------------------------------------------------------------------------------------
// Process tracking: every child is killed on cleanup(), and SIGKILLed if the runner exits.

const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const tempDirs = new Set();

process.once('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) removeDir(dir);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(130));
}

// Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited.
export async function stopProcess(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

// Keeps everything a stream says, for the secret hygiene check (which must see every line,
// not only the tail). Returns {text()}.
function captureAll(stream) {
  const chunks = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => chunks.push(chunk));
  return { text: () => chunks.join('') };
}

// Keeps the last `limit` characters of a stream, for error messages and assertions.
function captureTail(stream, limit = 64 * 1024) {
  const box = { text: '' };
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    box.text += chunk;
    if (box.text.length > limit) box.text = box.text.slice(-limit);
  });
  return box;
}

// ---------------------------------------------------------------------------------------------
// Small utilities.

export function sleep(ms) {
  return new Promise((res) => setTimeout(res, ms));
}

// A port that was free a moment ago on 127.0.0.1 (bind :0, read, close).
export function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

export function makeTempDir(prefix = 'cl-e2e-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeDir(dir) {
  tempDirs.delete(dir);
  if (process.env.CL_E2E_KEEP === '1') {
    process.stderr.write(`e2e: keeping ${dir}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

// Resolves with the first match of `regex` in the accumulated text of `stream`; rejects when
// the process exits first or after `timeoutMs`.
function waitForOutput(child, box, regex, timeoutMs, what) {
  return new Promise((res, rej) => {
    const check = () => {
      const m = box.text.match(regex);
      if (m) {
        done();
        res(m);
      }
    };
    const onExit = (code, signal) => {
      done();
      rej(new Error(`${what}: process exited (code ${code}, signal ${signal}) before output; ` +
          `output:\n${box.text.slice(-4000)}`));
    };
    const timer = setTimeout(() => {
      done();
      rej(new Error(`${what}: no matching output after ${timeoutMs} ms; output:\n` +
          box.text.slice(-4000)));
    }, timeoutMs);
    const stream = box.stream;
    const done = () => {
      clearTimeout(timer);
      stream.off('data', check);
      child.off('exit', onExit);
    };
    stream.on('data', check);
    child.on('exit', onExit);
    check();
  });
}

function exitOf(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

// ---------------------------------------------------------------------------------------------
// Development IdP.

// Starts devenv/idp.mjs on a free port. Returns {issuer, port, process, logs()}.
export async function startIdp({ redirectUris }) {
  const args = [idpScript, '--host', '127.0.0.1', '--port', '0'];
  for (const uri of redirectUris) args.push('--redirect-uri', uri);
  args.push('--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET);
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = captureTail(child.stdout);
  out.stream = child.stdout;
  const err = captureTail(child.stderr);
  let line;
  try {
    [line] = await waitForOutput(child, out, /^\{.*\}\s*$/m, STARTUP_TIMEOUT_MS, 'idp');
  } catch (e) {
    await stopProcess(child);
    throw new Error(`${e.message}\nidp stderr:\n${err.text.slice(-4000)}`);
  }
  const { issuer, port } = JSON.parse(line);
  return { issuer, port, process: child, logs: () => err.text };
}

// ---------------------------------------------------------------------------------------------
// Database per suite.

// Returns {url, drop()} for the database the server under test should use.
export async function createDatabase(dir) {
  if (process.env.CL_E2E_DATABASE !== 'postgres') {
    return { url: `sqlite:${join(dir, 'controlplane.db')}`, kind: 'sqlite', drop: async () => {} };
  }
  const base = process.env.CL_TEST_POSTGRES_URL;
  const name = `cl_e2e_${process.pid}_${randomBytes(4).toString('hex')}`;
  psql(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'postgres',
    drop: async () => psql(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

// Runs one statement; returns its unaligned, tuples-only output.
function psql(url, sql) {
  const r = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`psql failed (${sql}): ${r.error ?? ''} ${r.stderr}`);
  return r.stdout.trim();
}

// Runs one SQL statement directly on the stack's database (SQLite file or PostgreSQL), for
// tests that must simulate what cannot happen in real time (e.g. a token's age). Returns the
// output as text: one row per line, columns separated by '|'.
export function sql(stack, statement) {
  const { url, kind } = stack.database;
  if (kind === 'postgres') return psql(url, statement);
  const file = url.slice('sqlite:'.length);
  const r = spawnSync('sqlite3', ['-batch', '-bail', '-cmd', '.timeout 10000', file, statement], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) {
    throw new Error(`sqlite3 failed (${statement}): ${r.error ?? ''} ${r.stderr}`);
  }
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------------
// Control plane.

async function waitReady(baseUrl, child, errBox) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (code ${child.exitCode}, signal ${child.signalCode}) ` +
          `before ready; stderr:\n${errBox.text.slice(-4000)}`);
    }
    try {
      const r = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return;
      last = `readyz ${r.status}`;
    } catch (e) {
      last = String(e.cause?.code ?? e.message);
    }
    await sleep(100);
  }
  throw new Error(`server not ready after ${STARTUP_TIMEOUT_MS} ms (${last}); stderr:\n` +
      errBox.text.slice(-4000));
}

// ---------------------------------------------------------------------------------------------
// A stack: its own IdP, database, data dir and control plane. cleanup() stops all of it.
//
// Options: `logLevel` (default 'info') is the servers' --log-level; `secretHygiene` (default on,
// off with CL_E2E_SECRET_HYGIENE=0) runs checkSecretHygiene() at cleanup, which then throws on a
// leak (after stopping everything); `oidcIssuer` points the servers at another login IdP than
// the stack's development IdP (e.g. tests/e2e/slow_idp.mjs).
export async function startStack({
  sessionLifetime = '24h', extraArgs = [], extraEnv = {}, logLevel = 'info',
  secretHygiene = process.env.CL_E2E_SECRET_HYGIENE !== '0', oidcIssuer,
} = {}) {
  const dir = makeTempDir();
  const stack = {
    dir,
    users: [],
    instances: [], // extra servers from startInstance()
    // For checkSecretHygiene(): every credential the helpers saw (value -> where it came from),
    // every server process's complete output, every error response body.
    secrets: new Map(),
    serverOutputs: [],
    errorBodies: [],
    cliStderr: [],
    async cleanup() {
      let hygieneError;
      if (secretHygiene && stack.server) {
        try {
          checkSecretHygiene(stack);
        } catch (e) {
          hygieneError = e;
        }
      }
      try {
        await stack.cleanupProcesses();
      } finally {
        if (hygieneError) throw hygieneError; // eslint-disable-line no-unsafe-finally
      }
    },
    async cleanupProcesses() {
      await Promise.all(stack.instances.map((s) => stopProcess(s.process)));
      await stopProcess(stack.server?.process);
      await stopProcess(stack.idp?.process);
      await Promise.all(stack.users.map((u) => u.stopAll()));
      try {
        await stack.database?.drop();
      } finally {
        removeDir(dir);
      }
    },
  };
  try {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    stack.idp = await startIdp({ redirectUris: [`${baseUrl}/auth/callback`] });
    stack.database = await createDatabase(dir);
    stack.pepperFile = join(dir, 'data', 'pepper');
    // What every instance of this stack shares: database, IdP, session lifetime, pepper.
    stack.serverOptions = { sessionLifetime, extraArgs, extraEnv, logLevel, oidcIssuer };
    recordSecret(stack, CLIENT_SECRET, 'OIDC client secret');
    stack.server = await launchServer(stack, { port, dataDir: join(dir, 'data') });
    recordPepper(stack);
    if (stack.database.kind === 'postgres') {
      // Proves the server really uses this database: its migrations created tables there.
      const tables = Number(psql(stack.database.url,
          "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"));
      if (!(tables > 0)) throw new Error(`server did not migrate ${stack.database.url}`);
    }
    stack.baseUrl = baseUrl;
    stack.newUser = (login) => {
      const user = newUser(stack, login);
      stack.users.push(user);
      return user;
    };
    // Stops the main server gracefully (SIGTERM) and starts it again on the same port, data
    // directory and database; `extraArgs` replace the stack's extra arguments when given.
    stack.restartServer = async ({ extraArgs: args } = {}) => {
      await stopProcess(stack.server.process, 10_000);
      const { exitCode: code, signalCode: signal } = stack.server.process;
      const exited = { code, signal };
      stack.server = await launchServer(stack, {
        port: stack.server.port,
        dataDir: join(dir, 'data'),
        extraArgs: args,
      });
      return exited;
    };
    // kill -9 of the main server (no graceful shutdown, no flush); resolves once it has exited
    // with {code, signal}. restartServer() then starts it again on the same data.
    stack.killServer = async () => {
      const child = stack.server.process;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = exitOf(child);
        child.kill('SIGKILL');
        await exited;
      }
      return { code: child.exitCode, signal: child.signalCode };
    };
    // Another control plane on the same database and pepper, its own port and data directory
    // (for multi-instance behaviour). Users log in through the main server only.
    stack.startInstance = async ({ extraArgs: args } = {}) => {
      const instance = await launchServer(stack, {
        port: await freePort(),
        dataDir: makeInstanceDir(dir),
        extraArgs: args,
      });
      stack.instances.push(instance);
      return instance;
    };
    return stack;
  } catch (e) {
    await stack.cleanupProcesses();
    throw e;
  }
}

let instanceCount = 0;
function makeInstanceDir(dir) {
  instanceCount += 1;
  return join(dir, `instance-${instanceCount}`);
}

// Spawns one control plane process of `stack` and waits until it is ready.
// Returns {process, baseUrl, port, logs()}.
async function launchServer(stack, { port, dataDir, extraArgs }) {
  const { sessionLifetime, extraEnv } = stack.serverOptions;
  const baseUrl = `http://127.0.0.1:${port}`;
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--external-url', baseUrl,
    '--database', stack.database.url,
    '--data-dir', dataDir,
    '--pepper-file', stack.pepperFile,
    '--oidc-issuer', stack.serverOptions.oidcIssuer ?? stack.idp.issuer,
    '--oidc-client-id', CLIENT_ID,
    '--session-lifetime', sessionLifetime,
    '--log-level', stack.serverOptions.logLevel ?? 'info',
    ...(extraArgs ?? stack.serverOptions.extraArgs),
  ];
  const env = { ...cleanEnv(), CHAINLOOP_OIDC_CLIENT_SECRET: CLIENT_SECRET, ...extraEnv };
  const child = track(spawn(serverBin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = captureTail(child.stdout);
  const err = captureTail(child.stderr, 256 * 1024);
  const allOut = captureAll(child.stdout);
  const allErr = captureAll(child.stderr);
  stack.serverOutputs?.push({
    what: `server :${port} (pid ${child.pid})`,
    text: () => allErr.text() + allOut.text(),
  });
  const server = { process: child, baseUrl, port, logs: () => err.text + out.text };
  try {
    await waitReady(baseUrl, child, err);
  } catch (e) {
    await stopProcess(child);
    throw e;
  }
  return server;
}

// The environment without anything that would make a child use the developer's own state.
function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('CHAINLOOP_')) delete env[k];
  }
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT; // set by node --test; children are not test files
  return env;
}

// Runs `chainloop-controlplane jobs run JOB` against the stack's database, data directory and
// pepper (as an operator would next to the running server). Resolves with {code, signal,
// stdout, stderr}; it does not throw on a non-zero exit.
export async function runServerJob(stack, job,
    { extraArgs = [], timeoutMs = CLI_TIMEOUT_MS } = {}) {
  const args = [
    'jobs', 'run', job,
    '--database', stack.database.url,
    '--data-dir', join(stack.dir, 'data'),
    '--pepper-file', stack.pepperFile,
    '--log-level', 'warn',
    ...extraArgs,
  ];
  const child = track(spawn(serverBin, args, {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const closed = new Promise((res) => child.once('close', (code, signal) => res({ code, signal })));
  const out = captureTail(child.stdout, 1 << 20);
  const err = captureTail(child.stderr, 1 << 20);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await closed;
  clearTimeout(timer);
  stack.serverOutputs?.push({ what: `jobs run ${job}`, text: () => err.text + out.text });
  return { code, signal, stdout: out.text, stderr: err.text };
}

// ---------------------------------------------------------------------------------------------
// Simulated users: each has its own config file and XDG/HOME directory.

function newUser(stack, login) {
  const home = makeTempDir('cl-e2e-user-');
  const email = login.includes('@') ? login : `${login}@example.com`;
  const configPath = join(home, 'chainloop', 'config.toml');
  const running = new Set();
  const user = {
    stack,
    account: login, // the IdP account name; the IdP derives the email from it
    email,
    home,
    configPath,
    env() {
      return {
        ...cleanEnv(),
        HOME: home,
        XDG_CONFIG_HOME: home,
        BROWSER: 'true', // never open a real browser
        DISPLAY: '',
        CHAINLOOP_LOGIN_TIMEOUT_SECONDS: '30',
      };
    },
    argv(args) {
      return ['--control-plane', stack.baseUrl, '-c', configPath, ...args];
    },
    // Runs the CLI to completion: {code, stdout, stderr}.
    async run(args, { env = {}, timeoutMs = CLI_TIMEOUT_MS, input } = {}) {
      for (const k of ['CHAINLOOP_TOKEN', 'CHAINLOOP_OIDC_TOKEN']) {
        if (env[k]) recordSecret(stack, env[k], `$${k} of a CLI run`);
      }
      const r = await runCli(user.argv(args),
          { env: { ...user.env(), ...env }, timeoutMs, input, running });
      recordSecretsIn(stack, r.stdout, `output of chainloop ${args.slice(0, 3).join(' ')}`);
      stack.cliStderr.push(r.stderr);
      return r;
    },
    // The session token stored by the last login, or null.
    sessionToken() {
      if (!existsSync(configPath)) return null;
      const m = readFileSync(configPath, 'utf8').match(/clses_[A-Za-z0-9]+/);
      return m ? m[0] : null;
    },
    login: (opts) => browserLogin(user, opts),
    deviceLogin: (opts) => deviceLogin(user, opts),
    async stopAll() {
      await Promise.all([...running].map((c) => stopProcess(c, 1000)));
      removeDir(home);
    },
  };
  return user;
}

export async function runCli(argv, { env, timeoutMs = CLI_TIMEOUT_MS, input, running } = {}) {
  const child = track(spawn(cliBin, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  // 'close' comes after 'exit' and after all output has been read.
  const closed = new Promise((res) => child.once('close', (code, signal) => res({ code, signal })));
  running?.add(child);
  const out = captureTail(child.stdout, 1 << 20);
  const err = captureTail(child.stderr, 1 << 20);
  child.stdin.on('error', () => {}); // the CLI may exit without reading its input
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await closed;
  clearTimeout(timer);
  running?.delete(child);
  return { code, signal, stdout: out.text, stderr: err.text };
}

let driverModule;
async function driver() {
  driverModule ??= await import(pathToFileURL(driverScript).href);
  return driverModule;
}

// Spawns `auth login` (extra args allowed), waits for `regex` on stderr, calls
// drive(match) and waits for the CLI to exit. Returns the CLI's result plus the match.
async function interactiveLogin(user, loginArgs, regex, drive, timeoutMs) {
  const child = track(spawn(cliBin, user.argv(['auth', 'login', ...loginArgs]), {
    env: user.env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const out = captureTail(child.stdout);
  const err = captureTail(child.stderr);
  err.stream = child.stderr;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const match = await waitForOutput(child, err, regex, timeoutMs, 'chainloop auth login');
    const driven = await drive(match);
    const { code, signal } = await exitOf(child);
    return { code, signal, stdout: out.text, stderr: err.text, match, driven };
  } finally {
    clearTimeout(timer);
    await stopProcess(child, 1000);
  }
}

// Browser login: the CLI prints the URL; the scripted browser completes it as `user`.
// Throws unless the CLI exits 0.
export async function browserLogin(user, { timeoutMs = 45_000 } = {}) {
  const { completeBrowserLogin } = await driver();
  const r = await interactiveLogin(
    user, [], /Open this URL in your browser to log in: (\S+)/,
    (m) => completeBrowserLogin(m[1], { login: user.account }), timeoutMs);
  if (r.code !== 0) {
    throw new Error(`auth login exited ${r.code}/${r.signal}:\n${r.stderr}\n${r.stdout}`);
  }
  recordLogin(user, r);
  // The one-time code the control plane handed to the CLI's loopback listener.
  const finalUrl = r.driven?.finalUrl;
  if (finalUrl) {
    const code = new URL(finalUrl).searchParams.get('code');
    if (code) recordSecret(user.stack, code, `one-time login code of ${user.account}`);
  }
  return r;
}

// Device flow (`auth login --skip-browser`): the scripted browser approves the code.
export async function deviceLogin(user, { timeoutMs = 60_000 } = {}) {
  const { approveDevice } = await driver();
  const r = await interactiveLogin(
    user, ['--skip-browser'],
    /To log in, open (\S+) in any browser and confirm the code (\S+)/,
    (m) => approveDevice(m[1], { login: user.account }), timeoutMs);
  if (r.code !== 0) {
    throw new Error(`auth login --skip-browser exited ${r.code}/${r.signal}:\n${r.stderr}\n` +
        r.stdout);
  }
  recordLogin(user, r);
  recordSecret(user.stack, r.match[2], `device user code of ${user.account}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Secret hygiene: the helpers record every credential they see per stack; checkSecretHygiene()
// then looks for each of them in every server log line, every error body, every CLI stderr and
// a full dump of the database.

// Credentials the control plane issues (`<prefix>_<base62 secret><checksum>`) and JWTs.
const CREDENTIAL_RE = /\bcl(?:api|ses|fed|code|dev)_[A-Za-z0-9]{20,}/g;
const JWT_RE = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;

// Remembers `value` as a secret of `stack` (values shorter than 8 characters are ignored: they
// would match by chance).
export function recordSecret(stack, value, what) {
  if (!stack?.secrets || typeof value !== 'string') return;
  const v = value.trim();
  if (v.length < 8 || stack.secrets.has(v)) return;
  stack.secrets.set(v, what);
}

// Records every credential-shaped string in `text`.
export function recordSecretsIn(stack, text, what) {
  if (!stack?.secrets || !text) return;
  for (const re of [CREDENTIAL_RE, JWT_RE]) {
    for (const m of String(text).matchAll(re)) recordSecret(stack, m[0], what);
  }
}

function recordRequestSecrets(stack, headers) {
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (key === 'authorization') {
      recordSecret(stack, String(v).replace(/^\s*(Bearer|Basic)\s+/i, ''), 'Authorization header');
    } else if (key === 'cookie') {
      for (const pair of String(v).split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0) recordSecret(stack, pair.slice(eq + 1), `cookie ${pair.slice(0, eq).trim()}`);
      }
    } else if (key === 'x-csrf-token') {
      recordSecret(stack, String(v), 'X-CSRF-Token header');
    }
  }
}

function recordLogin(user, r) {
  recordSecret(user.stack, user.sessionToken(), `session token of ${user.account}`);
  recordSecretsIn(user.stack, r.stdout, `output of auth login (${user.account})`);
  // The device flow's user code is meant to be shown there; anything else is not.
  const userCode = r.match?.[2];
  user.stack?.cliStderr?.push(userCode ? r.stderr.replaceAll(userCode, '<user code>') : r.stderr);
}

// The pepper file may hold several peppers (one per line, newest first).
function recordPepper(stack) {
  if (!existsSync(stack.pepperFile)) return;
  for (const line of readFileSync(stack.pepperFile, 'utf8').split(/\r?\n/)) {
    recordSecret(stack, line, 'pepper');
  }
}

// What to search for to find `secret`: the value itself and, for a control-plane credential,
// both ends of its secret part (so a truncated or prefix-less copy is found too), and for a JWT
// its signature (a copy without the signature is not a usable credential).
function needlesOf(secret) {
  const needles = [secret];
  const cred = /^cl[a-z]+_([A-Za-z0-9]+)$/.exec(secret);
  if (cred && cred[1].length >= 40) needles.push(cred[1].slice(0, 24), cred[1].slice(-24));
  const jwt = secret.split('.');
  if (jwt.length === 3 && jwt[2].length >= 16) needles.push(jwt[2]);
  return needles;
}

// A full text dump of the stack's database (every table, every column).
export function dumpDatabase(stack) {
  const { url, kind } = stack.database;
  const r = kind === 'postgres' ?
    spawnSync('pg_dump', ['--data-only', '--no-owner', '--no-privileges', '-d', url],
        { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 }) :
    spawnSync('sqlite3', ['-batch', '-bail', '-cmd', '.timeout 10000',
      url.slice('sqlite:'.length), '.dump'],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`database dump failed: ${r.error ?? ''} ${r.stderr}`);
  return r.stdout;
}

function masked(secret) {
  return `${secret.slice(0, Math.min(8, secret.length >> 2))}... (${secret.length} chars)`;
}

// Looks for every credential recorded for `stack` (plus `extraSecrets`: [{value, what}]) in
// every log line of every server process the stack started (including killed ones and
// `jobs run`), every error response body seen by api(), the stderr of every CLI run, and a full
// dump of the database; also flags any control-plane credential or JWT in the logs or the
// database even if no helper saw it. Throws an Error listing the leaks (secrets masked).
// Returns {secrets, logBytes, dbBytes, errorBodies} when clean.
export function checkSecretHygiene(stack, { extraSecrets = [] } = {}) {
  for (const { value, what } of extraSecrets) recordSecret(stack, value, what);
  recordPepper(stack);
  const db = dumpDatabase(stack);
  const sources = [
    ...stack.serverOutputs.map((o) => ({ what: `log of ${o.what}`, text: o.text(), unseen: true })),
    ...stack.errorBodies.map((b) => ({ what: `error body of ${b.what}`, text: b.text })),
    ...stack.cliStderr.map((t, i) => ({ what: `stderr of CLI run #${i + 1}`, text: t })),
    { what: `database dump (${stack.database.kind})`, text: db, unseen: true },
  ];
  const leaks = [];
  for (const source of sources) {
    for (const [secret, what] of stack.secrets) {
      if (needlesOf(secret).some((n) => source.text.includes(n))) {
        leaks.push(`${what} ${masked(secret)} appears in ${source.what}`);
      }
    }
    if (!source.unseen) continue;
    // Credentials nobody recorded (an upstream ID token, a token made by another process).
    for (const re of [CREDENTIAL_RE, JWT_RE]) {
      for (const m of source.text.matchAll(re)) {
        if (!stack.secrets.has(m[0])) leaks.push(`a credential ${masked(m[0])} appears in ${source.what}`);
      }
    }
  }
  if (leaks.length > 0) {
    throw new Error(`secret hygiene: ${leaks.length} leak(s):\n  ${[...new Set(leaks)].join('\n  ')}`);
  }
  const logBytes = sources.filter((s) => s.what.startsWith('log of'))
      .reduce((n, s) => n + s.text.length, 0);
  return { secrets: stack.secrets.size, logBytes, dbBytes: db.length,
    errorBodies: stack.errorBodies.length };
}

// ---------------------------------------------------------------------------------------------
// Direct API calls.

// fetch() against the stack; returns {status, headers, body (parsed JSON or text)}.
// `baseUrl` targets another instance of the stack (default: the main server).
export async function api(stack, method, path,
    { token, body, rawBody, headers = {}, baseUrl } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  recordRequestSecrets(stack, h);
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    h['content-type'] ??= 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const r = await fetch(`${baseUrl ?? stack.baseUrl}${path}`, {
    method,
    headers: h,
    body: payload,
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  recordSecretsIn(stack, text, `response to ${method} ${path}`);
  if (r.status >= 400) {
    const where = path.replace(CREDENTIAL_RE, '<credential>').replace(JWT_RE, '<jwt>');
    stack?.errorBodies?.push({ what: `${r.status} ${method} ${where}`, text });
  }
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON; keep text
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

// An in-toto Statement v1 with one subject; `overrides` replace top-level fields
// (set a field to undefined to drop it).
export function statement(overrides = {}) {
  const s = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'app', digest: { sha256: randomBytes(32).toString('hex') } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {},
    ...overrides,
  };
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}

export function writeJson(dir, name, value) {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

// A readable dump for assertion messages.
export function show(r) {
  return `exit ${r.code}${r.signal ? `/${r.signal}` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n` +
      r.stderr;
}
