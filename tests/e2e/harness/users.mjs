// Simulated users of a test stack, each with its own config file and XDG/HOME directory:
// CLI runs, and browser and device-flow logins completed by the scripted browser.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { CLI_TIMEOUT_MS, cliBin, driverScript } from './environment.mjs';
import {
  captureTail, cleanEnv, exitOf, makeTempDir, removeDir, stopProcess, track, waitForOutput,
} from './processes.mjs';
import { recordLogin, recordSecret, recordSecretsIn } from './secret_hygiene.mjs';

export function newUser(stack, login) {
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
        TMPDIR: home, // keyless CI jobs cache their exchanged token under it
        BROWSER: 'true', // never open a real browser
        DISPLAY: '',
        CHAINLOOP_LOGIN_TIMEOUT_SECONDS: '30',
      };
    },
    argv(args) {
      // stack.cliArgs: global options every run needs, e.g. --control-plane-ca for a balancer.
      const global = stack.cliArgs ?? [];
      return ['--control-plane', stack.baseUrl, ...global, '-c', configPath, ...args];
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

// A readable dump for assertion messages.
export function show(r) {
  return `exit ${r.code}${r.signal ? `/${r.signal}` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n` +
      r.stderr;
}
