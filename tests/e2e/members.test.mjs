// End to end, through the real CLI (SQLite, or PostgreSQL with CL_E2E_DATABASE=postgres): token
// states (an expired token is listed as expired, not active, with no auto-revoke date), member
// role changes and removal (the removed member is refused at once), the last owner protected,
// and pending invitations cancelled, each change in the audit log.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, show, sleep, startStack } from './harness.mjs';

const skip = missingPrerequisite();

const lines = (text) => text.split('\n').filter((l) => l.trim() !== '');

describe('token states, members and invitations', () => {
  let stack;
  let owner;
  let bob;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    owner = stack.newUser('olivia');
    bob = stack.newUser('bob');
    await owner.login();
    for (const args of [['organization', 'create', '--name', 'acme'],
                        ['organization', 'set', '--name', 'acme']]) {
      const r = await owner.run(args);
      assert.equal(r.code, 0, show(r));
    }
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('an expired token is listed as expired, not active, without an auto-revoke date',
      { skip }, async () => {
        const update = await owner.run(
            ['organization', 'update', '--api-token-max-days-inactive', '1']);
        assert.equal(update.code, 0, show(update));
        const described = await owner.run(['organization', 'describe']);
        assert.ok(lines(described.stdout).includes('API token auto-revoke after: 1 day inactive'),
            show(described));

        for (const [name, expiration] of [['short', '2s'], ['long', '720h']]) {
          const r = await owner.run(['organization', 'api-token', 'create', '--name', name,
            '--expiration', expiration, '-o', 'json']);
          assert.equal(r.code, 0, show(r));
        }
        await sleep(2500);

        const active = await owner.run(['organization', 'api-token', 'list', '-o', 'json']);
        assert.equal(active.code, 0, show(active));
        const activeNames = JSON.parse(active.stdout).api_tokens.map((t) => t.name);
        assert.deepEqual(activeNames, ['long']);

        const expired = await owner.run(
            ['organization', 'api-token', 'list', '--status', 'expired']);
        assert.equal(expired.code, 0, show(expired));
        assert.match(expired.stdout, /\bshort\b/, show(expired));
        assert.doesNotMatch(expired.stdout, /\blong\b/, show(expired));

        const all = await owner.run(['organization', 'api-token', 'list', '--all', '-o', 'json']);
        assert.equal(all.code, 0, show(all));
        const byName = Object.fromEntries(JSON.parse(all.stdout).api_tokens.map((t) => [t.name, t]));
        assert.equal(byName.short.state, 'expired');
        assert.equal(byName.short.auto_revoke_at, null);
        assert.equal(byName.short.revoked_at, null);
        assert.equal(byName.long.state, 'active');
        assert.equal(typeof byName.long.auto_revoke_at, 'string');

        const table = await owner.run(['organization', 'api-token', 'list', '--all']);
        assert.equal(table.code, 0, show(table));
        assert.match(table.stdout, /^ID +NAME +STATE/m, show(table));
        assert.match(table.stdout, /\bshort +expired\b/, show(table));
      });

  test('an owner changes a role, and a removed member is refused at once', { skip }, async () => {
    const inv = await owner.run(['organization', 'invitation', 'create', '--receiver', bob.email,
      '--role', 'admin']);
    assert.equal(inv.code, 0, show(inv));
    await bob.login();
    const set = await bob.run(['organization', 'set', '--name', 'acme']);
    assert.equal(set.code, 0, show(set));
    assert.match(set.stdout, /your role: admin/, show(set));

    const demoted = await owner.run(['organization', 'member', 'update', '--email', bob.email,
      '--role', 'viewer']);
    assert.equal(demoted.code, 0, show(demoted));
    assert.match(demoted.stdout, /is now viewer/, show(demoted));
    const refused = await bob.run(['organization', 'invitation', 'create', '--receiver',
      'x@example.com', '--role', 'viewer']);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /invitation:create|permission/i, show(refused));

    const removed = await owner.run(['organization', 'member', 'delete', '--email', bob.email]);
    assert.equal(removed.code, 0, show(removed));
    const gone = await bob.run(['organization', 'describe']);
    assert.equal(gone.code, 1, show(gone));
    const raw = await api(stack, 'GET', '/v1/organizations/acme/projects',
        { token: bob.sessionToken() });
    assert.equal(raw.status, 404, JSON.stringify(raw.body));
    const members = await owner.run(['organization', 'member', 'list']);
    assert.doesNotMatch(members.stdout, /bob@example\.com/, show(members));
  });

  test('the last owner can neither be demoted nor leave', { skip }, async () => {
    for (const args of [['update', '--email', owner.email, '--role', 'admin'],
                        ['delete', '--email', owner.email, '--yes']]) {
      const r = await owner.run(['organization', 'member', ...args]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /only owner/, show(r));
    }
    const raw = await api(stack, 'PATCH', '/v1/organizations/acme/members/00000000-0000-4000-8000-000000000000',
        { token: owner.sessionToken(), body: { role: 'viewer' } });
    assert.equal(raw.status, 404, JSON.stringify(raw.body));
    const described = await owner.run(['organization', 'describe']);
    assert.match(described.stdout, /Your role: owner/, show(described));
  });

  test('a pending invitation is listed and cancelled; every change is audited', { skip },
      async () => {
        const carol = stack.newUser('carol');
        const inv = await owner.run(['organization', 'invitation', 'create', '--receiver',
          carol.email, '--role', 'member', '-o', 'json']);
        assert.equal(inv.code, 0, show(inv));
        const id = JSON.parse(inv.stdout).invitation.id;
        const listed = await owner.run(['organization', 'invitation', 'list']);
        assert.match(listed.stdout, new RegExp(id), show(listed));

        const revoked = await owner.run(['organization', 'invitation', 'revoke', '--id', id]);
        assert.equal(revoked.code, 0, show(revoked));
        const after = await owner.run(['organization', 'invitation', 'list']);
        assert.doesNotMatch(after.stdout, new RegExp(id), show(after));
        const again = await owner.run(['organization', 'invitation', 'revoke', '--id', id]);
        assert.equal(again.code, 1, show(again));

        await carol.login();
        const mine = await carol.run(['organization', 'list']);
        assert.doesNotMatch(mine.stdout, /acme/, show(mine));

        const audit = await owner.run(['organization', 'audit', 'list']);
        assert.equal(audit.code, 0, show(audit));
        for (const action of ['member.role_changed', 'member.removed', 'invitation.revoked']) {
          assert.match(audit.stdout, new RegExp(action.replace('.', '\\.')), show(audit));
        }
      });
});
