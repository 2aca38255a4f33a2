// End to end: attestation init + push of an in-toto Statement, and the recorded workflow run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { missingPrerequisite, show, startStack, statement, writeJson } from './harness.mjs';

const skip = missingPrerequisite();
const INIT = ['attestation', 'init', '--workflow', 'build', '--project', 'app'];

describe('attestations', () => {
  let stack;
  let alice;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    alice = stack.newUser('alice.builder');
    await alice.login();
    for (const args of [
      ['organization', 'create', '--name', 'builders'],
      ['organization', 'set', '--name', 'builders'],
      ['project', 'create', '--name', 'app'],
    ]) {
      const r = await alice.run(args);
      assert.equal(r.code, 0, show(r));
    }
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('init + push records a run attested by the user', { skip }, async () => {
    const stmt = statement();
    const file = writeJson(alice.home, 'statement.json', stmt);

    const init = await alice.run(INIT);
    assert.equal(init.code, 0, show(init));
    const push = await alice.run(['attestation', 'push', '--statement', file]);
    assert.equal(push.code, 0, show(push));

    const list = await alice.run(['workflow', 'run', 'list']);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /ATTESTED BY/, show(list));
    const line = list.stdout.split('\n').find((l) => l.includes('alice.builder@example.com'));
    assert.ok(line, `run list names the attesting user\n${show(list)}`);
    assert.match(line, /\bbuild\b/);

    const json = await alice.run(['workflow', 'run', 'list', '-o', 'json']);
    assert.equal(json.code, 0, show(json));
    const parsed = JSON.parse(json.stdout);
    const runs = Array.isArray(parsed) ? parsed : parsed.workflow_runs;
    assert.ok(Array.isArray(runs) && runs.length === 1, json.stdout);
    assert.equal(runs[0].attested_by?.kind, 'user', json.stdout);
    assert.match(JSON.stringify(runs[0].attested_by), /alice\.builder@example\.com/);
    assert.equal(runs[0].predicate_type, 'https://slsa.dev/provenance/v1');

    const described = await alice.run(['workflow', 'run', 'describe', '--id', runs[0].id]);
    assert.equal(described.code, 0, show(described));
    assert.match(described.stdout, /alice\.builder@example\.com/);
    assert.match(described.stdout, /succeeded/i);

    // The stored statement is the one pushed.
    const djson = await alice.run(['workflow', 'run', 'describe', '--id', runs[0].id, '-o',
      'json']);
    assert.equal(djson.code, 0, show(djson));
    const run = JSON.parse(djson.stdout);
    const stored = (run.workflow_run ?? run).statement;
    assert.deepEqual(stored?.subject, stmt.subject, djson.stdout);
  });

  test('a statement without subject is refused with a clear error', { skip }, async () => {
    const file = writeJson(alice.home, 'bad.json', statement({ subject: undefined }));
    const init = await alice.run(INIT);
    assert.equal(init.code, 0, show(init));
    const push = await alice.run(['attestation', 'push', '--statement', file]);
    assert.notEqual(push.code, 0, show(push));
    assert.match(push.stderr, /subject/i, show(push));
  });

  test('a file that is not JSON is refused', { skip }, async () => {
    const file = writeJson(alice.home, 'garbage.json', 'placeholder');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, '{"_type": ');
    const push = await alice.run(['attestation', 'push', '--statement', file]);
    assert.notEqual(push.code, 0, show(push));
    assert.ok(push.stderr.trim().length > 0, 'an error message is printed');
  });

  // workflow:create guards creating a workflow: a token with only workflow_run:create attests
  // to existing workflows, and naming a new one is refused without creating it.
  test('a token without workflow:create cannot create a workflow', { skip }, async () => {
    const seeded = await alice.run(['attestation', 'init', '--workflow', 'seeded', '--project',
      'app']);
    assert.equal(seeded.code, 0, show(seeded));
    const created = await alice.run(['organization', 'api-token', 'create', '--name', 'runs-only',
      '--permission', 'workflow_run:create', '-o', 'token']);
    assert.equal(created.code, 0, show(created));
    const env = { CHAINLOOP_TOKEN: created.stdout.trim() };

    const fresh = await alice.run(['attestation', 'init', '--workflow', 'brand-new', '--project',
      'app', '--org', 'builders'], { env });
    assert.notEqual(fresh.code, 0, show(fresh));
    assert.match(fresh.stderr, /workflow:create/, show(fresh));
    const list = await alice.run(['workflow', 'list', '-o', 'json']);
    assert.equal(list.code, 0, show(list));
    assert.doesNotMatch(list.stdout, /brand-new/, show(list));

    const existing = await alice.run(['attestation', 'init', '--workflow', 'seeded', '--project',
      'app', '--org', 'builders'], { env });
    assert.equal(existing.code, 0, show(existing));
  });
});
