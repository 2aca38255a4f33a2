// End to end: `chainloop-controlplane migrate`, and a server that refuses a schema newer than
// it knows (after a downgrade) instead of running on it. SQLite only: the rule lives in the
// shared startup code, and the dialects' migration runners are covered by the store suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { makeTempDir, missingPrerequisite, serverBin } from './harness.mjs';

const skip = missingPrerequisite({ needDriver: false }) ||
             (spawnSync('sqlite3', ['-version']).status === 0 ? false : 'sqlite3 CLI not installed');

test('migrate applies the schema; the server refuses a newer one', { skip }, () => {
  const dir = makeTempDir('cl-e2e-schema-');
  try {
    const db = join(dir, 'cp.db');
    const args = ['--database', `sqlite:${db}`, '--data-dir', dir];
    const migrate = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.equal(migrate.status, 0, migrate.stderr);
    assert.match(migrate.stdout, /schema at version \d+ \(was 0\)/);
    assert.ok(existsSync(db));

    const again = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    const version = Number(again.stdout.match(/schema at version (\d+)/)[1]);

    // A newer binary migrated this database, then this one was started again.
    const bump = spawnSync('sqlite3', [db, `INSERT INTO schema_migrations VALUES (${version + 1}, 0)`],
                           { encoding: 'utf8' });
    assert.equal(bump.status, 0, bump.stderr);
    const serve = spawnSync(serverBin, ['serve', ...args, '--listen', '127.0.0.1:0'],
                            { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(serve.status, 0, 'the server must not start on a newer schema');
    assert.match(serve.stderr, /newer than this server knows/);
    const refused = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /newer than this binary knows/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
