// Tests of the response checker (validate_responses.mjs) on a fixture recording: it passes
// responses that match docs/openapi.yaml, and fails a wrong schema, an unlisted status, an
// unlisted content type, an undescribed field and an undocumented method.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadSpec, main, readRecordings, ResponseChecker } from './validate_responses.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, 'fixtures', 'recording.jsonl');
const records = () => readRecordings([fixture]);
const check = (doc, recs = records()) => new ResponseChecker(doc).check(recs);

describe('validate_responses', () => {
  test('the fixture recording matches docs/openapi.yaml', () => {
    const { problems, seen, outside, ignored } = check(loadSpec());
    assert.deepEqual(problems, []);
    assert.equal(ignored, 1, 'the answer without X-Request-Id is not the control plane\'s');
    assert.deepEqual([...outside.keys()], ['GET /v2/nothing 404']);
    assert.ok(seen.get('POST /v1/organizations/{org}/api-tokens').has('201'));
    assert.ok(seen.get('POST /v1/organizations/{org}/api-tokens/{id}/revoke').has('409'));
  });

  test('a field typed integer in the schema but sent as a string fails', () => {
    const doc = loadSpec();
    doc.components.schemas.Organization.properties.name = { type: 'integer' };
    const { problems } = check(doc);
    assert.ok(problems.length >= 2, JSON.stringify(problems));
    for (const p of problems) {
      assert.match(p.message, /\/organization\/name must be integer/);
    }
    assert.ok(problems.some((p) => p.key === 'POST /v1/organizations -> 201'));
  });

  test('a status the operation does not list fails', () => {
    const doc = loadSpec();
    delete doc.paths['/v1/organizations/{org}'].get.responses['404'];
    const { problems } = check(doc);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].key, 'GET /v1/organizations/{org} -> 404');
    assert.match(problems[0].message, /status 404 is not listed/);
  });

  test('the HTTP layer\'s refusals are accepted on any route, with their own codes only', () => {
    const recs = records();
    const whoami = recs.find((r) => r.path === '/v1/auth/whoami');
    whoami.status = 431;
    whoami.body = JSON.stringify({ error: { code: 'headers_too_large', message: 'too many' } });
    assert.deepEqual(check(loadSpec(), recs).problems, []);
    whoami.body = JSON.stringify({ error: { code: 'invalid_token', message: 'unknown' } });
    const { problems } = check(loadSpec(), recs);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].key, 'GET /v1/auth/whoami -> 431');
    assert.match(problems[0].message, /must be equal to one of the allowed values/);
  });

  test('an unlisted content type, an extra field and a renamed field fail', () => {
    const recs = records();
    const health = recs.find((r) => r.path === '/healthz');
    health.content_type = 'text/html';
    const created = recs.find((r) => r.method === 'POST' && r.path === '/v1/organizations');
    const body = JSON.parse(created.body);
    body.organization.owner = 'ann';
    body.organization.title = body.organization.name;
    delete body.organization.name;
    created.body = JSON.stringify(body);
    const { problems } = check(loadSpec(), recs);
    assert.equal(problems.length, 2, JSON.stringify(problems));
    assert.match(problems[0].message, /content type 'text\/html' is not listed/);
    assert.match(problems[1].message, /must have required property 'name'/);
    assert.match(problems[1].message, /additional properties 'owner'/);
  });

  test('a body where the status describes none, and an undocumented method, fail', () => {
    const recs = records();
    recs.find((r) => r.status === 204).body = '{}';
    recs.push({ ...recs[0], method: 'PUT', status: 200 });
    const { problems } = check(loadSpec(), recs);
    assert.equal(problems.length, 2, JSON.stringify(problems));
    assert.match(problems[0].message, /has a body but 204 describes none/);
    assert.match(problems[1].message, /method PUT is not documented for \/healthz/);
  });

  test('coverage: a listed pair never seen fails unless allow-listed, which is skipped', () => {
    const checker = new ResponseChecker(loadSpec());
    const { seen } = checker.check(records());
    const none = () => undefined;
    const cov = checker.coverage(seen, none);
    assert.ok(cov.unseen.includes('GET /readyz 503'), cov.unseen.join(', '));
    assert.ok(!cov.unseen.includes('GET /healthz 200'), 'the fixture has a /healthz 200');
    assert.deepEqual(cov.skipped, []);
    assert.equal(cov.responsesSeen + cov.unseen.length, cov.responses);
    const readyz = (key, status) => (key === 'GET /readyz' && status === '503'
      ? { reason: 'no outage' } : undefined);
    const excused = checker.coverage(seen, readyz);
    assert.ok(!excused.unseen.includes('GET /readyz 503'));
    assert.deepEqual(excused.skipped, [{ key: 'GET /readyz', status: '503', reason: 'no outage' }]);
    assert.equal(excused.responsesSeen, cov.responsesSeen, 'skipped is not seen');
  });

  test('main --require-coverage: exit 1 while a listed pair is neither seen nor allow-listed', () => {
    const out = [];
    assert.equal(main(['--require-coverage', fixture], (l) => out.push(l)), 1);
    assert.match(out.join('\n'), /^FAIL POST \/v1\/auth\/token 200 never seen$/m);
    assert.match(out.join('\n'), /^SKIP .*GET \/auth\/login 500.*: internal error/m);
    assert.match(out.join('\n'), /RESULT: \d+ listed responses never seen/);
  });

  test('main: exit 0 on the fixture, 1 on a violation or when nothing was recorded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oapi-check-'));
    try {
      const out = [];
      assert.equal(main([fixture], (l) => out.push(l)), 0, out.join('\n'));
      assert.match(out.join('\n'), /operations seen: 10\/\d+/);
      const empty = join(dir, 'empty');
      writeFileSync(join(dir, 'none.jsonl'), '');
      assert.equal(main([join(dir, 'none.jsonl')], () => {}), 1);
      const bad = records()[0];
      bad.status = 299;
      writeFileSync(empty, `${JSON.stringify(bad)}\n`);
      const lines = [];
      assert.equal(main([empty], (l) => lines.push(l)), 1);
      assert.match(lines.join('\n'), /FAIL GET \/healthz -> 299: status 299 is not listed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
