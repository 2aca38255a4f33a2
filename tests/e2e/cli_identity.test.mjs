// End to end: what the real CLI sends where, and whose pending attestation is whose.
//  - A login session goes only to the control plane that issued it: naming another control plane
//    (--control-plane, $CHAINLOOP_CONTROL_PLANE_API) sends it nothing, not even a request.
//  - `attestation init` with $CHAINLOOP_TOKEN keeps its own pending run: the user's init, the
//    token's init, then both pushes succeed, each attested by its own principal.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { missingPrerequisite, runCli, show, startStack, statement, writeJson } from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'identity-org';

function ok(r) {
  assert.equal(r.code, 0, show(r));
  return r;
}

// A stand-in for "another control plane" that records every request it gets.
async function recordingServer() {
  const requests = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"organizations":[],"projects":[]}');
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((res) => server.close(res)),
  };
}

describe('CLI identity', () => {
  let stack;
  let owner;
  let other;
  before(async () => {
    if (skip) return;
    stack = await startStack();
    other = await recordingServer();
    owner = stack.newUser('ida.owner');
    await owner.login();
    for (const args of [
      ['organization', 'create', '--name', ORG],
      ['organization', 'set', '--name', ORG],
      ['project', 'create', '--name', 'app'],
    ]) {
      ok(await owner.run(args));
    }
  });
  after(async () => {
    await other?.close();
    await stack?.cleanup();
  });

  test('the login session is never sent to another control plane', { skip }, async () => {
    const session = owner.sessionToken();
    assert.ok(session);
    const cli = (argv, env = {}) =>
        runCli(['-c', owner.configPath, ...argv], { env: { ...owner.env(), ...env } });
    for (const [how, argv, env] of [
      ['--control-plane', ['--control-plane', other.url, 'organization', 'list'], {}],
      ['$CHAINLOOP_CONTROL_PLANE_API', ['project', 'list'],
        { CHAINLOOP_CONTROL_PLANE_API: other.url }],
      ['auth logout', ['--control-plane', other.url, 'auth', 'logout'], {}],
    ]) {
      const r = await cli(argv, env);
      if (how === 'auth logout') {
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /Not logged in to/, show(r));
      } else {
        assert.equal(r.code, 1, `${how}\n${show(r)}`);
        assert.match(r.stderr, new RegExp(`not logged in to ${other.url} \\(your session is for `),
            show(r));
        assert.match(r.stderr, /chainloop auth login --control-plane/, show(r));
      }
      assert.ok(!(r.stdout + r.stderr).includes(session));
    }
    assert.deepEqual(other.requests, [], 'the other control plane heard nothing');

    // The session still works against its own control plane (and logout elsewhere kept it).
    const status = ok(await owner.run(['auth', 'status']));
    assert.match(status.stdout, new RegExp(`Control plane: ${stack.baseUrl}`), show(status));
    assert.equal(owner.sessionToken(), session);
  });

  test('a token\'s attestation init does not clobber the user\'s pending one', { skip },
      async () => {
        const created = ok(await owner.run(['organization', 'api-token', 'create', '--name',
          'same-machine', '-o', 'token']));
        const token = created.stdout.trim();
        const file = writeJson(owner.home, 'statement.json', statement());
        const init = ['attestation', 'init', '--workflow', 'build', '--project', 'app'];
        const push = ['attestation', 'push', '--statement', file];
        const asToken = { env: { CHAINLOOP_TOKEN: token } };

        const userInit = ok(await owner.run(init));
        const tokenInit = ok(await owner.run(init, asToken));
        const idOf = (r) => r.stdout.match(/Attestation ID: (\S+)/)?.[1];
        assert.ok(idOf(userInit) && idOf(tokenInit), show(userInit) + show(tokenInit));
        assert.notEqual(idOf(userInit), idOf(tokenInit));

        const userPush = ok(await owner.run(push));
        assert.match(userPush.stdout, new RegExp(`Attestation ID: ${idOf(userInit)}`),
            show(userPush));
        assert.match(userPush.stdout, /Attested by: ida\.owner@example\.com/, show(userPush));
        const tokenPush = ok(await owner.run(push, asToken));
        assert.match(tokenPush.stdout, new RegExp(`Attestation ID: ${idOf(tokenInit)}`),
            show(tokenPush));
        assert.match(tokenPush.stdout, /Attested by: same-machine \(api_token\)/, show(tokenPush));

        // The pending-run files: private, no credential inside or in their names.
        ok(await owner.run(init, asToken));
        const dir = join(owner.home, 'chainloop', 'attestations');
        const files = readdirSync(dir);
        assert.equal(files.length, 1, files.join(', '));
        for (const f of files) {
          assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
          const text = readFileSync(join(dir, f), 'utf8');
          assert.ok(!text.includes(token) && !f.includes(token.slice(6, 16)));
          assert.ok(!text.includes(owner.sessionToken()));
        }
      });
});
