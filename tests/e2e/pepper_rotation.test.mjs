// End to end: pepper rotation ("Secret hygiene and key rotation"), on SQLite and
// PostgreSQL. The stack starts with its generated pepper A; API tokens and login sessions are
// issued under it. Restarting with `--pepper-files B,A` keeps every credential working and moves
// the ones that are used to B (`chainloop-controlplane pepper status` shows the counts move);
// restarting with B alone keeps the moved ones and refuses the unused ones (invalid_token). A
// pepper file readable by group or others keeps the server from starting, with a message that
// names the file and never its contents.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, serverBin, show, sql, startStack } from './harness.mjs';

const skip = missingPrerequisite();

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

// The id the server gives a pepper: the first 8 hex characters of SHA-256 of its text.
function pepperId(file) {
  const pepper = readFileSync(file, 'utf8').trimEnd();
  return createHash('sha256').update(pepper).digest('hex').slice(0, 8);
}

function writePepper(file, mode = 0o600) {
  const pepper = randomBytes(32).toString('hex');
  writeFileSync(file, `${pepper}\n`, { mode });
  chmodSync(file, mode); // the umask may have masked bits off
  return pepper;
}

// Runs the server binary to completion with `args` (plus the stack's database); resolves with
// {code, signal, stdout, stderr}. Kills it after `timeoutMs` (a server that should have refused
// to start but did not).
function runServer(stack, args, { timeoutMs = 20_000 } = {}) {
  return new Promise((resolve) => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('CHAINLOOP_')) delete env[k];
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(serverBin, [...args, '--database', stack.database.url,
      '--data-dir', join(stack.dir, 'data'), '--log-level', 'warn'], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// `pepper status` as {pepperId: {state, apiTokens, sessions}}, plus the summary line.
async function pepperStatus(stack, pepperFiles) {
  const r = ok(await runServer(stack, ['pepper', 'status', '--pepper-files', pepperFiles.join(',')]));
  const rows = {};
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^(\S+)\s+(current|older|NOT CONFIGURED|unattributed)\s+(\d+)\s+(\d+)/);
    if (m) rows[m[1]] = { state: m[2], apiTokens: Number(m[3]), sessions: Number(m[4]) };
  }
  const summary = r.stdout.match(/not on the current pepper: (\d+) API tokens, (\d+) sessions/);
  assert.ok(summary, show(r));
  return { rows, notCurrent: { apiTokens: Number(summary[1]), sessions: Number(summary[2]) },
    text: r.stdout };
}

const whoami = (stack, token) => api(stack, 'GET', '/v1/auth/whoami', { token });

async function createToken(owner, name) {
  const r = ok(await owner.run(['organization', 'api-token', 'create', '--name', name,
    '-o', 'json']));
  const body = JSON.parse(r.stdout);
  assert.match(body.token ?? '', /^clapi_/, r.stdout);
  return { token: body.token, id: body.api_token.id };
}

describe('pepper rotation', () => {
  let stack;
  let pepperA; // the stack's generated pepper file
  let pepperB;
  let idA;
  let idB;
  let used; // API token used after the rotation
  let unused; // API token never used after the rotation
  let fresh; // API token created after the rotation
  let aliceSession; // used after the rotation
  let bobSession; // never used after the rotation

  before(async () => {
    if (skip) return;
    stack = await startStack();
    pepperA = stack.pepperFile;
    pepperB = join(stack.dir, 'pepper-b');
    writePepper(pepperB);
    idA = pepperId(pepperA);
    idB = pepperId(pepperB);
    assert.notEqual(idA, idB);
    const alice = stack.newUser('alice');
    await alice.login();
    ok(await alice.run(['organization', 'create', '--name', 'acme']));
    ok(await alice.run(['organization', 'set', '--name', 'acme']));
    used = await createToken(alice, 'used');
    unused = await createToken(alice, 'unused');
    aliceSession = alice.sessionToken();
    const bob = stack.newUser('bob');
    await bob.login();
    bobSession = bob.sessionToken();
    assert.ok(aliceSession && bobSession);
    for (const t of [used.token, unused.token, aliceSession, bobSession]) {
      assert.equal((await whoami(stack, t)).status, 200);
    }
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('before the rotation everything is under the generated pepper', { skip }, async () => {
    const status = await pepperStatus(stack, [pepperA]);
    assert.deepEqual(Object.keys(status.rows), [idA], status.text);
    assert.equal(status.rows[idA].state, 'current');
    assert.equal(status.rows[idA].apiTokens, 2, status.text);
    assert.equal(status.rows[idA].sessions, 2, status.text);
    assert.deepEqual(status.notCurrent, { apiTokens: 0, sessions: 0 });
  });

  test('with [B, A] every credential works and the used ones move to B', { skip }, async () => {
    await stack.restartServer({ extraArgs: ['--pepper-files', `${pepperB},${pepperA}`] });
    let status = await pepperStatus(stack, [pepperB, pepperA]);
    assert.equal(status.rows[idB]?.apiTokens ?? 0, 0, status.text);
    assert.equal(status.rows[idA].state, 'older');
    assert.equal(status.rows[idA].apiTokens, 2, status.text);

    const who = await whoami(stack, used.token);
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal((await whoami(stack, aliceSession)).status, 200);
    // Moved in the database: stored under B, with B's id; the unused ones untouched.
    assert.equal(sql(stack, `SELECT pepper_id FROM api_tokens WHERE id = '${used.id}'`), idB);
    assert.equal(sql(stack, `SELECT pepper_id FROM api_tokens WHERE id = '${unused.id}'`), idA);
    // A token created now is hashed under B from the start.
    const alice = stack.users.find((u) => u.account === 'alice');
    fresh = await createToken(alice, 'fresh');
    assert.equal(sql(stack, `SELECT pepper_id FROM api_tokens WHERE id = '${fresh.id}'`), idB);

    status = await pepperStatus(stack, [pepperB, pepperA]);
    assert.equal(status.rows[idB].state, 'current');
    assert.equal(status.rows[idB].apiTokens, 2, status.text); // used + fresh
    assert.equal(status.rows[idB].sessions, 1, status.text); // alice
    assert.equal(status.rows[idA].apiTokens, 1, status.text); // unused
    assert.equal(status.rows[idA].sessions, 1, status.text); // bob
    assert.deepEqual(status.notCurrent, { apiTokens: 1, sessions: 1 });
    // Using it again changes nothing (already under B).
    assert.equal((await whoami(stack, used.token)).status, 200);
    assert.equal(sql(stack, `SELECT pepper_id FROM api_tokens WHERE id = '${used.id}'`), idB);
  });

  test('with [B] only the moved credentials work and the unused ones are refused', { skip },
    async () => {
      await stack.restartServer({ extraArgs: ['--pepper-files', pepperB] });
      for (const t of [used.token, fresh.token, aliceSession]) {
        const who = await whoami(stack, t);
        assert.equal(who.status, 200, JSON.stringify(who.body));
      }
      for (const t of [unused.token, bobSession]) {
        const who = await whoami(stack, t);
        assert.equal(who.status, 401, JSON.stringify(who.body));
        assert.equal(who.body?.error?.code, 'invalid_token');
      }
      // The status names what B cannot verify: rows under A, which is not configured anymore.
      const status = await pepperStatus(stack, [pepperB]);
      assert.equal(status.rows[idA].state, 'NOT CONFIGURED', status.text);
      assert.equal(status.rows[idA].apiTokens, 1, status.text);
      assert.equal(status.rows[idB].apiTokens, 2, status.text);
    });

  test('a pepper file readable by others keeps the server from starting', { skip }, async () => {
    const loose = join(stack.dir, 'pepper-loose');
    const secret = writePepper(loose, 0o644);
    for (const args of [['--pepper-files', `${pepperB},${loose}`], ['--pepper-file', loose]]) {
      const r = await runServer(stack, ['serve', '--listen', '127.0.0.1:0', ...args]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /pepper file \S*pepper-loose must not be readable by group or others \(chmod 600\)/,
        show(r));
      assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'pepper leaked');
    }
    // The same for the status command, and a missing file is named too.
    const status = await runServer(stack, ['pepper', 'status', '--pepper-files', loose]);
    assert.equal(status.code, 1, show(status));
    assert.match(status.stderr, /pepper-loose/);
    const missing = await runServer(stack, ['pepper', 'status', '--pepper-files',
      join(stack.dir, 'no-such-pepper')]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /no-such-pepper/);
    // Tightened to 0600 it is accepted.
    chmodSync(loose, 0o600);
    ok(await runServer(stack, ['pepper', 'status', '--pepper-files', `${pepperB},${loose}`]));
  });
});
