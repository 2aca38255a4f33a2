// End to end: organizations, invitations by email, roles and permission checks, through the CLI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, show, startStack } from './harness.mjs';

const skip = missingPrerequisite();

describe('organizations and roles', () => {
  let stack;
  let owner;
  let viewer;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    owner = stack.newUser('olivia');
    viewer = stack.newUser('victor');
    await owner.login();
  });
  after(async () => {
    await stack?.cleanup();
  });

  test('create, describe and list an organization', { skip }, async () => {
    const created = await owner.run(['organization', 'create', '--name', 'acme']);
    assert.equal(created.code, 0, show(created));

    const set = await owner.run(['organization', 'set', '--name', 'acme']);
    assert.equal(set.code, 0, show(set));

    const described = await owner.run(['organization', 'describe']);
    assert.equal(described.code, 0, show(described));
    assert.match(described.stdout, /acme/);

    const list = await owner.run(['organization', 'list']);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /acme/);
    assert.match(list.stdout, /owner/i);

    const dup = await owner.run(['organization', 'create', '--name', 'acme']);
    assert.notEqual(dup.code, 0, `a taken name is refused\n${show(dup)}`);
  });

  test('an invited viewer gets membership at next login', { skip }, async () => {
    const inv = await owner.run([
      'organization', 'invitation', 'create', '--receiver', viewer.email, '--role', 'viewer',
    ]);
    assert.equal(inv.code, 0, show(inv));

    const before = await owner.run(['organization', 'member', 'list']);
    assert.equal(before.code, 0, show(before));
    assert.doesNotMatch(before.stdout, /victor@example\.com/, 'not a member before login');

    await viewer.login();
    const members = await owner.run(['organization', 'member', 'list']);
    assert.equal(members.code, 0, show(members));
    const line = members.stdout.split('\n').find((l) => l.includes('victor@example.com'));
    assert.ok(line, `member list shows the viewer\n${show(members)}`);
    assert.match(line, /viewer/i);

    const mine = await viewer.run(['organization', 'list']);
    assert.equal(mine.code, 0, show(mine));
    assert.match(mine.stdout, /acme/);
  });

  test('a viewer cannot create a project; the owner can', { skip }, async () => {
    const set = await viewer.run(['organization', 'set', '--name', 'acme']);
    assert.equal(set.code, 0, show(set));
    const denied = await viewer.run(['project', 'create', '--name', 'forbidden']);
    assert.equal(denied.code, 1, show(denied));
    // A permission message: names the missing permission (or says "permission").
    assert.match(denied.stderr, /project:create|permission/i, show(denied));

    // The same request straight to the API is a 403 with the documented code.
    const raw = await api(stack, 'POST', '/v1/organizations/acme/projects', {
      token: viewer.sessionToken(),
      body: { name: 'forbidden' },
    });
    assert.equal(raw.status, 403, JSON.stringify(raw.body));
    assert.equal(raw.body?.error?.code, 'permission_denied');

    const ok = await owner.run(['project', 'create', '--name', 'web']);
    assert.equal(ok.code, 0, show(ok));
    const list = await owner.run(['project', 'list']);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /\bweb\b/);
    assert.doesNotMatch(list.stdout, /forbidden/);
  });

  test('an outsider cannot read the organization', { skip }, async () => {
    const mallory = stack.newUser('mallory');
    await mallory.login();
    const r = await api(stack, 'GET', '/v1/organizations/acme/members', {
      token: mallory.sessionToken(),
    });
    assert.ok([403, 404].includes(r.status), `outsider gets 403/404, got ${r.status}`);
  });
});
