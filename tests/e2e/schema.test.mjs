// End to end: `chainloop-controlplane migrate`, and a server on a schema newer than it knows (a
// newer release migrated it, or after a downgrade): it runs, with a warning, when the newer
// migrations are additive, and refuses when one is marked as breaking servers that old. SQLite
// only: the rule lives in the shared startup code, and the dialects' migration runners are
// covered by the store suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { makeTempDir, missingPrerequisite, serverBin, stopProcess } from './harness.mjs';
import { captureTail, track, waitForOutput } from './harness/processes.mjs';

const skip = missingPrerequisite({ needDriver: false }) ||
             (spawnSync('sqlite3', ['-version']).status === 0 ? false : 'sqlite3 CLI not installed');

test('migrate applies the schema; a newer schema is run on when additive, refused when breaking',
     { skip }, async () => {
  const dir = makeTempDir('cl-e2e-schema-');
  try {
    const db = join(dir, 'cp.db');
    const args = ['--database', `sqlite:${db}`, '--data-dir', dir];
    const migrate = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.equal(migrate.status, 0, migrate.stderr);
    assert.match(migrate.stdout, /schema at version \d+ \(was 0\); applied \d+ migration/);
    assert.match(migrate.stderr, /"msg":"database migrated"/);
    assert.ok(existsSync(db));

    const again = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /nothing to apply/);
    assert.doesNotMatch(again.stderr, /database migrated/);
    const version = Number(again.stdout.match(/schema at version (\d+)/)[1]);

    // A newer release applied an additive migration: this one still serves, and says so.
    const record = (v, marker) => {
      const bump = spawnSync('sqlite3', [db, 'INSERT INTO schema_migrations ' +
          `(version, applied_at, breaks_readers_below) VALUES (${v}, 0, ${marker})`],
                             { encoding: 'utf8' });
      assert.equal(bump.status, 0, bump.stderr);
    };
    record(version + 1, 'NULL');
    const server = track(spawn(serverBin, ['serve', ...args, '--listen', '127.0.0.1:0'],
                               { stdio: ['ignore', 'ignore', 'pipe'] }));
    const stderr = captureTail(server.stderr);
    stderr.stream = server.stderr;
    try {
      await waitForOutput(server, stderr, /"msg":"listening"/, 20_000, 'server on a newer schema');
      assert.match(stderr.text, new RegExp(`"level":"warn","msg":"the database schema is newer ` +
          `than this server knows[^\\n]*"database_version":${version + 1},` +
          `"server_version":${version}`));
    } finally {
      await stopProcess(server);
    }
    const additive = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.equal(additive.status, 0, additive.stderr);
    assert.match(additive.stdout, new RegExp(`schema at version ${version + 1}, newer than this ` +
        `binary \\(${version}\\); nothing to apply`));

    // Then one that servers knowing fewer than version + 2 migrations cannot run on.
    record(version + 2, version + 2);
    const serve = spawnSync(serverBin, ['serve', ...args, '--listen', '127.0.0.1:0'],
                            { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(serve.status, 0, 'the server must not start on a schema that breaks it');
    assert.match(serve.stderr, new RegExp(`servers knowing fewer than ${version + 2} migrations ` +
        `cannot run on; this server knows ${version}: upgrade the server`));
    const refused = spawnSync(serverBin, ['migrate', ...args], { encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /upgrade the server/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
