// End to end: the deployment files in deploy/ are exercised, not only present.
// - deploy/systemd/chainloop-controlplane.service: `systemd-analyze verify` accepts it (a temp
//   copy whose ExecStart is the built binary), `systemd-analyze security --offline` scores its
//   sandbox at most 1.1 (a copy without the sandbox fails that threshold), and the server
//   started with exactly the unit's settings (state directory, credentials directory for the
//   pepper and the OIDC client secret, config file) serves, keeps its SQLite database in the
//   state directory and logs a user in with the client secret read from the credential.
// - deploy/prometheus/alerts.yml: `promtool check rules` accepts it, `promtool test rules`
//   passes its unit tests (alerts.test.yml), and every chainloop_* metric an alert uses is on the
//   /metrics of a real server driven to produce them (failed and throttled authentication, an
//   organization over its rate limit, a refused login start, refused connections, a sweep);
//   `promtool check metrics` accepts that /metrics output. That server has an admin listener
//   (--admin-listen): /metrics is served there only, /healthz and /readyz on both ports, and the
//   admin port serves nothing else.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  api, CLIENT_ID, CLIENT_SECRET, createDatabase, freePort, makeTempDir, missingPrerequisite,
  repoRoot, serverBin, show, sleep, startIdp, startStack, stopProcess,
} from './harness.mjs';
import { captureTail, cleanEnv, removeDir, track } from './harness/processes.mjs';
import { newUser } from './harness/users.mjs';

const skip = missingPrerequisite();
const unitFile = join(repoRoot, 'deploy', 'systemd', 'chainloop-controlplane.service');

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...options });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function have(tool) {
  return run('sh', ['-c', `command -v ${tool}`]).code === 0;
}

// A copy of the unit (same file name, so that systemd names it the same) whose ExecStart is
// the built server; `edit` may change the text further.
function unitCopy(dir, edit = (text) => text) {
  mkdirSync(dir, { recursive: true });
  const text = readFileSync(unitFile, 'utf8')
      .replace(/^ExecStart=\S+/m, `ExecStart=${serverBin}`);
  assert.match(text, new RegExp(`^ExecStart=${serverBin} serve$`, 'm'));
  const path = join(dir, 'chainloop-controlplane.service');
  writeFileSync(path, edit(text));
  return path;
}

// The unit's Environment= settings, with %S and %d resolved to `stateRoot` and `credentials`.
function unitEnvironment(stateRoot, credentials) {
  const env = {};
  for (const m of readFileSync(unitFile, 'utf8').matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)) {
    env[m[1]] = m[2].replaceAll('%S', stateRoot).replaceAll('%d', credentials);
  }
  return env;
}

// The unit's LoadCredential= entries: {name: source path}.
function unitCredentials() {
  const out = {};
  for (const m of readFileSync(unitFile, 'utf8').matchAll(/^LoadCredential=([^:]+):(.*)$/gm)) {
    out[m[1]] = m[2];
  }
  return out;
}

function toolMissing(tool) {
  if (have(tool)) return false;
  if (process.env.CL_E2E_STRICT === '1') return false; // the test then fails on the missing tool
  return `${tool} not installed (scripts/install-deps.sh installs it)`;
}

describe('systemd unit', () => {
  const dir = makeTempDir('cl-e2e-unit-');
  after(() => removeDir(dir));

  test('systemd-analyze verify accepts it', { skip: skip || toolMissing('systemd-analyze') },
    () => {
      const r = run('systemd-analyze', ['verify', unitCopy(join(dir, 'verify'))]);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stderr.trim(), '', `systemd-analyze verify warned:\n${r.stderr}`);
    });

  test('its sandbox scores 1.1 at most; without the sandbox the same check fails',
    { skip: skip || toolMissing('systemd-analyze') }, () => {
      const score = (path) => run('systemd-analyze',
          ['security', '--offline=yes', '--threshold=11', '--no-pager', path]);
      const hardened = score(unitCopy(join(dir, 'hardened')));
      assert.equal(hardened.code, 0, show(hardened));
      assert.match(hardened.stdout, /Overall exposure level for chainloop-controlplane\.service: (0\.\d|1\.[01]) /);
      // What the unit says about users, privileges and the file system, each being checked.
      for (const setting of ['DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict',
        'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=\n',
        'SystemCallFilter=@system-service', 'MemoryDenyWriteExecute=yes',
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX', 'StateDirectory=chainloop-controlplane']) {
        assert.ok(readFileSync(unitFile, 'utf8').includes(setting), `unit lacks ${setting}`);
      }
      const loose = score(unitCopy(join(dir, 'loose'), (text) => text.replace(
          /^(SystemCallFilter|CapabilityBoundingSet|ProtectSystem|PrivateUsers)=.*\n/gm, '')));
      assert.notEqual(loose.code, 0, `a unit without the sandbox passed:\n${loose.stdout}`);
    });

  describe('the server with the unit\'s settings', () => {
    let idp;
    let server;
    let serverErr;
    let database;
    const root = join(dir, 'root');
    const stateRoot = join(root, 'var', 'lib'); // %S
    const credentials = join(root, 'run', 'credentials'); // %d
    const configDir = join(root, 'etc', 'chainloop-controlplane');
    const pepper = randomBytes(32).toString('hex');
    let baseUrl;
    const stack = { secrets: new Map(), cliStderr: [], errorBodies: [], users: [] };

    before(async () => {
      if (skip) return;
      for (const d of [stateRoot, credentials, configDir]) mkdirSync(d, { recursive: true });
      // What systemd's LoadCredential= gives the service: read-only files only it can read.
      const names = Object.keys(unitCredentials()).sort();
      assert.deepEqual(names, ['oidc-client-secret', 'pepper']);
      writeFileSync(join(credentials, 'pepper'), `${pepper}\n`);
      writeFileSync(join(credentials, 'oidc-client-secret'), `${CLIENT_SECRET}\n`);
      for (const n of names) chmodSync(join(credentials, n), 0o400);

      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      idp = await startIdp({ redirectUris: [`${baseUrl}/auth/callback`] });
      database = await createDatabase(root);
      const env = unitEnvironment(stateRoot, credentials);
      const configFile = env.CHAINLOOP_CONFIG.replace('/etc/chainloop-controlplane', configDir);
      assert.notEqual(configFile, env.CHAINLOOP_CONFIG, 'the unit\'s config file moved');
      env.CHAINLOOP_CONFIG = configFile;
      // The site's settings, as an operator writes them (the database only on PostgreSQL: on
      // SQLite the unit's state directory holds it).
      const lines = [`listen = "127.0.0.1:${port}"`, `external_url = "${baseUrl}"`,
        `oidc_issuer = "${idp.issuer}"`, `oidc_client_id = "${CLIENT_ID}"`];
      if (database.kind === 'postgres') lines.push(`database = "${database.url}"`);
      writeFileSync(configFile, `${lines.join('\n')}\n`, { mode: 0o644 });

      const execArgs = readFileSync(unitFile, 'utf8').match(/^ExecStart=\S+ (.*)$/m)[1].split(' ');
      const child = track(spawn(serverBin, execArgs, {
        env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
      }));
      serverErr = captureTail(child.stderr, 256 * 1024);
      server = child;
      for (let i = 0; i < 200; i += 1) {
        if (child.exitCode !== null) break;
        try {
          if ((await fetch(`${baseUrl}/readyz`)).status === 200) break;
        } catch { /* not listening yet */ }
        await sleep(100);
      }
      stack.baseUrl = baseUrl;
    });
    after(async () => {
      await Promise.all(stack.users.map((u) => u.stopAll()));
      await stopProcess(server);
      await stopProcess(idp?.process);
      await database?.drop();
    });

    test('it serves, with its database in the state directory and the pepper credential',
      { skip }, async () => {
        const r = await api(stack, 'GET', '/readyz');
        assert.equal(r.status, 200, serverErr.text.slice(-4000));
        const stateDir = join(stateRoot, 'chainloop-controlplane');
        if (database.kind === 'sqlite') {
          assert.ok(existsSync(join(stateDir, 'controlplane.db')), 'no database in the state dir');
        }
        // The pepper came from the credential: none was generated in the state directory.
        assert.ok(!existsSync(join(stateDir, 'pepper')), 'a pepper was generated');
        assert.doesNotMatch(serverErr.text, new RegExp(pepper));
      });

    test('a user logs in: the OIDC client secret was read from its credential', { skip },
      async () => {
        const alice = newUser(stack, 'alice');
        stack.users.push(alice);
        await alice.login();
        const r = await alice.run(['auth', 'status', '-o', 'json']);
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /alice@example\.com/);
        assert.doesNotMatch(serverErr.text, new RegExp(CLIENT_SECRET));
      });
  });
});

const promDir = join(repoRoot, 'deploy', 'prometheus');

// Opens `n` TCP connections to `port` at once and closes them; resolves when all are done.
async function openConnections(port, n) {
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => resolve(s));
    s.on('connect', () => resolve(s));
  })));
  await sleep(300);
  for (const s of sockets) s.destroy();
}

describe('Prometheus alert rules', () => {
  test('promtool check rules accepts alerts.yml', { skip: toolMissing('promtool') }, () => {
    const r = run('promtool', ['check', 'rules', join(promDir, 'alerts.yml')]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /SUCCESS: \d+ rules found/);
  });

  test('promtool test rules: each alert fires on its unit test series',
    { skip: toolMissing('promtool') }, () => {
      const r = run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: promDir });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /SUCCESS/);
    });

  describe('against a real server', () => {
    let stack;
    let metrics;
    let adminUrl;
    before(async () => {
      if (skip) return;
      const adminPort = await freePort();
      adminUrl = `http://127.0.0.1:${adminPort}`;
      stack = await startStack({
        extraArgs: ['--admin-listen', `127.0.0.1:${adminPort}`,
          '--token-revoker-initial-delay', '0', '--auth-failure-limit', '2',
          '--login-start-per-minute', '1', '--login-start-burst', '1',
          '--api-token-create-per-minute', '1', '--max-connections-per-ip', '16'],
      });
      const alice = stack.newUser('alice');
      await alice.login(); // spends the one login start
      for (const args of [['organization', 'create', '--name', 'acme'],
        ['organization', 'set', '--name', 'acme']]) {
        const r = await alice.run(args);
        assert.equal(r.code, 0, show(r));
      }
      const created = [];
      for (const name of ['one', 'two']) {
        created.push(await alice.run(['organization', 'api-token', 'create', '--name', name]));
      }
      assert.equal(created[0].code, 0, show(created[0]));
      assert.match(created[1].stderr, /rate/i, show(created[1]));
      const device = await api(stack, 'POST', '/v1/auth/device');
      assert.equal(device.status, 429, JSON.stringify(device.body));
      await openConnections(stack.server.port, 24);
      const bogus = `clapi_${'A'.repeat(43)}`;
      const refusals = [];
      for (let i = 0; i < 4; i += 1) {
        refusals.push((await api(stack, 'GET', '/v1/auth/whoami', { token: bogus })).status);
      }
      assert.ok(refusals.includes(429), `no throttling: ${refusals}`);
      const r = await fetch(`${adminUrl}/metrics`);
      assert.equal(r.status, 200);
      metrics = await r.text();
    });
    after(async () => {
      await stack?.cleanup();
    });

    test('promtool check metrics accepts its /metrics', { skip: skip || toolMissing('promtool') },
      () => {
        const r = run('promtool', ['check', 'metrics'], { input: metrics });
        assert.equal(r.code, 0, show(r));
        assert.equal(`${r.stdout}${r.stderr}`.trim(), '', show(r));
      });

    test('/metrics is on the admin listener only; the probes are on both', { skip }, async () => {
      const pub = await fetch(`${stack.baseUrl}/metrics`);
      assert.equal(pub.status, 404);
      assert.doesNotMatch(await pub.text(), /chainloop_/);
      for (const base of [stack.baseUrl, adminUrl]) {
        for (const probe of ['/healthz', '/readyz']) {
          const r = await fetch(`${base}${probe}`);
          assert.equal(r.status, 200, `${base}${probe}`);
        }
      }
      for (const path of ['/v1/version', '/v1/auth/whoami', '/']) {
        const r = await fetch(`${adminUrl}${path}`);
        assert.equal(r.status, 404, `admin ${path}`);
      }
    });

    test('the operator families are there, with plausible values', { skip }, () => {
      const value = (series) => {
        const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
        assert.ok(line, `${series} not on /metrics:\n${metrics}`);
        return Number(line.slice(series.length + 1));
      };
      assert.ok(value('process_open_fds') > 3);
      assert.ok(value('process_max_fds') >= value('process_open_fds'));
      assert.ok(value('process_resident_memory_bytes') > 1e6);
      assert.ok(Math.abs(value('process_start_time_seconds') - Date.now() / 1000) < 600);
      assert.ok(value('process_cpu_seconds_total') > 0);
      assert.ok(value('chainloop_db_duration_seconds_count{operation="transaction"}') > 0);
      assert.ok(value('chainloop_db_pool_size') >= 1);
      assert.equal(value('chainloop_login_flows_total{flow="browser",event="completed"}'), 1);
      assert.equal(value('chainloop_sessions_created_total'), 1);
      assert.ok(value('chainloop_auth_successes_total{kind="user"}') > 0);
      // The bogus API token above fails its checksum: malformed, not an unknown API token.
      assert.ok(
        value('chainloop_auth_failures_total{kind="malformed",reason="malformed_token"}') > 0);
      assert.ok(value('chainloop_auth_cache_requests_total{result="miss"}') > 0);
    });

    test('every metric the alerts use is on its /metrics', { skip }, () => {
      const rules = readFileSync(join(promDir, 'alerts.yml'), 'utf8');
      const used = new Set(rules.match(/\b(?:chainloop|process)_[a-z_]+\b/g));
      assert.ok(used.size >= 10, [...used].join(' '));
      for (const name of ['chainloop_db_duration_seconds_bucket', 'chainloop_db_pool_waiting',
        'process_open_fds', 'process_max_fds', 'process_resident_memory_bytes']) {
        assert.ok(used.has(name), `alerts.yml no longer uses ${name}`);
      }
      // Sample names, and family names from TYPE lines (a histogram's samples are _bucket...).
      const present = new Set();
      for (const line of metrics.split('\n')) {
        const m = line.match(/^(?:# TYPE )?([a-z_]+)/);
        if (m && !line.startsWith('# HELP')) present.add(m[1]);
      }
      const missing = [...used].filter((name) => !present.has(name));
      assert.deepEqual(missing, [], `not on /metrics:\n${metrics}`);
    });
  });
});
