// End to end: the CLI's list commands on a real control plane that pages its lists.
//  - `api-token list` shows every token without --limit, exactly --limit with it.
//  - Past the API's largest page (1000): the first 1000 with the note on stderr and -o json
//    still one document; a --limit above 1000 follows the server's real next_cursor.
//  - `audit list --action/--actor/--target/--since/--until` select the right events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, missingPrerequisite, show, startStack } from './harness.mjs';

const skip = missingPrerequisite();
const ORG = 'lists-org';
const TOKENS = 120;
const BIG_ORG = 'lists-big';
const BIG_TOKENS = 1010;

// show() without most of a long stdout (a thousand tokens are half a megabyte).
function brief(r) {
  return show({ ...r, stdout: r.stdout.length > 2000 ? `${r.stdout.slice(0, 2000)}...` : r.stdout });
}

function ok(r) {
  assert.equal(r.code, 0, brief(r));
  return r;
}

function parseJson(r) {
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    assert.fail(`stdout is not one JSON document (${e.message})\n${brief(r)}`);
  }
}

// The `limit` and `cursor` of each list request the CLI made, from its --debug lines.
function listRequests(r, path) {
  const out = [];
  for (const m of r.stderr.matchAll(/debug: --> GET (\S+)/g)) {
    const url = new URL(m[1]);
    if (url.pathname !== path) continue;
    out.push({ limit: url.searchParams.get('limit'), cursor: url.searchParams.get('cursor') });
  }
  return out;
}

describe('CLI lists', () => {
  let stack;
  let owner;
  let tokenIds = [];
  before(async () => {
    if (skip) return;
    // Creation is rate-limited per organization by default; this test needs many tokens fast.
    stack = await startStack({ extraArgs: ['--api-token-create-per-minute', '0'] });
    owner = stack.newUser('lia.owner');
    await owner.login();
    ok(await owner.run(['organization', 'create', '--name', ORG]));
    ok(await owner.run(['organization', 'set', '--name', ORG]));
    tokenIds = await createTokens(ORG, TOKENS);
  });
  after(async () => {
    await stack?.cleanup();
  });

  // Creates `count` tokens in `org`, a few requests at a time; returns their ids.
  async function createTokens(org, count) {
    const session = owner.sessionToken();
    const ids = [];
    for (let start = 0; start < count; start += 8) {
      const batch = [];
      for (let i = start; i < Math.min(count, start + 8); i++) {
        batch.push(api(stack, 'POST', `/v1/organizations/${org}/api-tokens`,
            { token: session, body: { name: `bulk-${i}` } }));
      }
      for (const r of await Promise.all(batch)) {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids.push(r.body.api_token.id);
      }
    }
    return ids;
  }

  test('api-token list: every token, or exactly --limit, as one JSON document', { skip },
      async () => {
        const path = `/v1/organizations/${ORG}/api-tokens`;
        const all = ok(await owner.run(['organization', 'api-token', 'list', '-o', 'json',
          '--debug']));
        const listed = parseJson(all).api_tokens;
        assert.equal(listed.length, TOKENS);
        assert.deepEqual(new Set(listed.map((t) => t.id)), new Set(tokenIds));
        assert.ok(!('next_cursor' in parseJson(all)), all.stdout.slice(0, 200));
        assert.doesNotMatch(all.stderr, /note: showing/);

        const fifty = ok(await owner.run(['organization', 'api-token', 'list', '--limit', '50',
          '-o', 'json', '--debug']));
        const first50 = parseJson(fifty).api_tokens;
        assert.equal(first50.length, 50);
        // Newest first, the same order as the full list.
        assert.deepEqual(first50.map((t) => t.id), listed.slice(0, 50).map((t) => t.id));
        assert.deepEqual(listRequests(fifty, path), [{ limit: '50', cursor: null }]);

        const table = ok(await owner.run(['organization', 'api-token', 'list', '--limit', '7']));
        assert.equal(table.stdout.trimEnd().split('\n').length, 1 + 7, brief(table));
      });

  test('past one page: the first 1000 with a note; --limit follows next_cursor', { skip },
      async () => {
        ok(await owner.run(['organization', 'create', '--name', BIG_ORG]));
        const ids = await createTokens(BIG_ORG, BIG_TOKENS);
        const path = `/v1/organizations/${BIG_ORG}/api-tokens`;
        const list = (...args) => owner.run(['organization', 'api-token', 'list', '-n', BIG_ORG,
          '-o', 'json', '--debug', ...args]);

        const capped = ok(await list());
        assert.equal(parseJson(capped).api_tokens.length, 1000);
        assert.match(capped.stderr,
            /^note: showing the first 1000 API tokens; use --limit to see more$/m);
        const asked = listRequests(capped, path);
        assert.equal(asked.length, 2, brief(capped));
        assert.deepEqual(asked[0], { limit: '1000', cursor: null });
        assert.equal(asked[1].limit, '1');
        assert.ok(asked[1].cursor, brief(capped));

        const everything = ok(await list('--limit', '2000'));
        const all = parseJson(everything).api_tokens;
        assert.equal(all.length, BIG_TOKENS);
        assert.deepEqual(new Set(all.map((t) => t.id)), new Set(ids));
        assert.doesNotMatch(everything.stderr, /note: showing/);
        const pages = listRequests(everything, path);
        assert.deepEqual(pages.map((p) => p.limit), ['1000', '1000']);
        assert.ok(pages[1].cursor, brief(everything));
      });

  test('audit list filters: action, target, actor, since and until', { skip }, async () => {
    const session = owner.sessionToken();
    const revoked = tokenIds.slice(0, 3);
    for (const id of revoked) {
      const r = await api(stack, 'POST', `/v1/organizations/${ORG}/api-tokens/${id}/revoke`,
          { token: session, body: {} });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const audit = async (...args) =>
      parseJson(ok(await owner.run(['organization', 'audit', 'list', '-o', 'json', ...args])))
          .audit_events;

    const byAction = await audit('--action', 'api_token.revoked');
    assert.deepEqual(new Set(byAction.map((e) => e.target_id)), new Set(revoked));

    const byTarget = await audit('--target', revoked[0]);
    assert.deepEqual(byTarget.map((e) => e.action).sort(),
        ['api_token.created', 'api_token.revoked']);

    // A user is named by email.
    const byActor = await audit('--actor', owner.email, '--action', 'api_token.revoked');
    assert.equal(byActor.length, 3);
    assert.deepEqual(await audit('--actor', 'nobody@example.com'), []);

    // Relative ages and RFC 3339: everything happened within the last hour, nothing before 2020.
    const recent = await audit('--since', '1h', '--action', 'api_token.revoked');
    assert.equal(recent.length, 3);
    assert.deepEqual(await audit('--until', '2020-01-01T00:00:00Z'), []);
    assert.deepEqual(await audit('--since', '2099-01-01T00:00:00+02:00'), []);
    const limited = await audit('--since', '1h', '--limit', '2');
    assert.equal(limited.length, 2);

    // A wrong action is refused on the command line, naming the known ones.
    const bad = await owner.run(['organization', 'audit', 'list', '--action', 'token.made']);
    assert.equal(bad.code, 2, brief(bad));
    assert.match(bad.stderr, /api_token\.revoked/);
  });
});
