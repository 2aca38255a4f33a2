// A test stack: its own development IdP, database, data directory and control plane (plus
// extra instances on the same database), restart and kill -9 of the server, and
// `chainloop-controlplane jobs run` next to it. cleanup() stops all of it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { createDatabase, psql } from './database.mjs';
import {
  CLI_TIMEOUT_MS, CLIENT_ID, CLIENT_SECRET, idpScript, serverBin, STARTUP_TIMEOUT_MS,
} from './environment.mjs';
import {
  captureAll, captureTail, cleanEnv, exitOf, freePort, makeTempDir, removeDir, sleep, stopProcess,
  track, waitForOutput,
} from './processes.mjs';
import { checkSecretHygiene, recordPepper, recordSecret } from './secret_hygiene.mjs';
import { newUser } from './users.mjs';

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

// A stack: its own IdP, database, data dir and control plane. cleanup() stops all of it.
//
// Options: `logLevel` (default 'info') is the servers' --log-level; `secretHygiene` (default on,
// off with CL_E2E_SECRET_HYGIENE=0) runs checkSecretHygiene() at cleanup, which then throws on a
// leak (after stopping everything); `oidcIssuer` points the servers at another login IdP than
// the stack's development IdP (e.g. tests/e2e/slow_idp.mjs); `externalUrl` is every server's
// --external-url and the IdP's redirect URI (a load balancer in front of them, see
// balancer.mjs); by default each server's own URL.
export async function startStack({
  sessionLifetime = '24h', extraArgs = [], extraEnv = {}, logLevel = 'info',
  secretHygiene = process.env.CL_E2E_SECRET_HYGIENE !== '0', oidcIssuer, externalUrl,
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
    stack.idp = await startIdp({ redirectUris: [`${externalUrl ?? baseUrl}/auth/callback`] });
    stack.database = await createDatabase(dir);
    stack.pepperFile = join(dir, 'data', 'pepper');
    // What every instance of this stack shares: database, IdP, session lifetime, pepper.
    stack.serverOptions = {
      sessionLifetime, extraArgs, extraEnv, logLevel, oidcIssuer, externalUrl,
    };
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
    // (for multi-instance behaviour). Users log in through the main server (or `externalUrl`).
    // `database` is another URL of the same database (e.g. through a connection pooler).
    stack.startInstance = async ({ extraArgs: args, database } = {}) => {
      const instance = await launchServer(stack, {
        port: await freePort(),
        dataDir: makeInstanceDir(dir),
        extraArgs: args,
        database,
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
async function launchServer(stack, { port, dataDir, extraArgs, database }) {
  const { sessionLifetime, extraEnv } = stack.serverOptions;
  const baseUrl = `http://127.0.0.1:${port}`;
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--external-url', stack.serverOptions.externalUrl ?? baseUrl,
    '--database', database ?? stack.database.url,
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
