// End to end: `chainloop-controlplane backup --to FILE` while the server is under write load.
// Clients keep creating API tokens; the backup runs in the middle. Restored into a fresh data
// directory (a second server on the copy, with the same pepper), every token acknowledged before
// the backup started works, and a token created after it finished does not exist there (the
// copy is a snapshot, not the live file). The backup file is mode 0600 and never overwritten. On
// PostgreSQL the command refuses, pointing to pg_dump, and names no password.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, serverBin, show, startStack } from './harness.mjs';
import { cleanEnv, track } from './harness/processes.mjs';

const skip = missingPrerequisite();
const ORG = 'acme';

function runBackup(stack, to) {
  return new Promise((resolve) => {
    const child = track(spawn(serverBin, ['backup', '--to', to, '--database', stack.database.url,
      '--data-dir', join(stack.dir, 'data'), '--log-level', 'warn'],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('backup', () => {
  let stack;
  let session;
  before(async () => {
    if (skip) return;
    stack = await startStack({ extraArgs: ['--api-token-create-per-minute', '0'] });
    const alice = stack.newUser('alice');
    await alice.login();
    const r = await alice.run(['organization', 'create', '--name', ORG]);
    assert.equal(r.code, 0, show(r));
    session = alice.sessionToken();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('on PostgreSQL it refuses and points to pg_dump', { skip }, async (t) => {
    if (stack.database.kind !== 'postgres') return t.skip('SQLite stack');
    const r = await runBackup(stack, join(stack.dir, 'backup.db'));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /pg_dump/);
    const password = new URL(stack.database.url).password;
    if (password) assert.ok(!r.stderr.includes(password));
    return undefined;
  });

  test('a backup under write load restores every acknowledged token', { skip }, async (t) => {
    if (stack.database.kind !== 'sqlite') return t.skip('PostgreSQL: pg_dump is the backup');
    // {token, started, ended}: the phase ('before', 'during', 'after' the backup) in which the
    // request was sent and in which its 201 arrived.
    const acknowledged = [];
    let phase = 'before';
    let stop = false;
    const errors = [];
    const writer = async (n) => {
      for (let i = 0; !stop; i += 1) {
        const started = phase;
        const r = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens`,
            { token: session, body: { name: `w${n}-${i}` } });
        if (r.status !== 201) {
          errors.push(`${r.status} ${JSON.stringify(r.body)}`);
          return;
        }
        acknowledged.push({ token: r.body.token, started, ended: phase });
      }
    };
    const writers = [writer(1), writer(2), writer(3)];
    while (acknowledged.length < 30 && errors.length === 0) {
      await new Promise((r) => { setTimeout(r, 20); });
    }
    const to = join(stack.dir, 'backup.db');
    phase = 'during';
    const before = acknowledged.filter((a) => a.ended === 'before');
    const backup = await runBackup(stack, to);
    phase = 'after';
    const wait = () => new Promise((r) => { setTimeout(r, 20); });
    while (!acknowledged.some((a) => a.started === 'after') && errors.length === 0) await wait();
    stop = true;
    await Promise.all(writers);
    assert.deepEqual(errors, []);
    assert.equal(backup.code, 0, show(backup));
    assert.match(backup.stdout, /backed up \d+ pages/);
    assert.ok(acknowledged.some((a) => a.started === 'during'), 'no write while the backup ran');
    assert.equal(statSync(to).mode & 0o777, 0o600);

    // Never overwritten.
    const bytes = readFileSync(to);
    const again = await runBackup(stack, to);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /exists; refusing to overwrite/);
    assert.ok(readFileSync(to).equals(bytes));

    // Restore: the copy as the database of a fresh data directory, the same pepper.
    const restoredDir = join(stack.dir, 'restored');
    mkdirSync(restoredDir, { mode: 0o700 });
    copyFileSync(to, join(restoredDir, 'controlplane.db'));
    const restored = await stack.startInstance({
      database: `sqlite:${join(restoredDir, 'controlplane.db')}`,
      extraArgs: ['--auth-failure-limit', '0'],
    });
    const whoami = (token) => api(stack, 'GET', '/v1/auth/whoami',
        { token, baseUrl: restored.baseUrl });
    assert.ok(before.length >= 30);
    for (const { token } of before) {
      const r = await whoami(token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const later = acknowledged.filter((a) => a.started === 'after');
    assert.ok(later.length > 0);
    const r = await whoami(later[later.length - 1].token);
    assert.equal(r.status, 401, 'a token created after the backup exists in the copy');
    return undefined;
  });
});
